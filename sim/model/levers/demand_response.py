"""Demand response: substitution that follows price with a lag, and end-of-life recycling.

**Substitution.** Each `substitution` event covers some buyers (materials x regions x
sectors). Every step it reads the price each buyer faces (its material's product in its tier,
as producers see it: the scarcity of the last step) against that product's base price. The
share of demand switched away moves towards a target, ``max_share`` times where the price
ratio sits between ``trigger_price_ratio`` (nothing) and ``full_price_ratio`` (all of it), by
``1 - exp(-1/adoption_months)`` of the gap a month. Unless ``reversible``, the share never
falls: redesigned motors stay redesigned. A buyer's demand is its demand path times the
product of ``1 - share`` over the events that cover it. Switched demand leaves the market; it
is not a shortfall.

**End-of-life recycling.** A `recycling` event returns, each month, ``collection_share`` (ramped
linearly over ``ramp_months`` from ``start``) of the magnets the region's buyers of that magnet
bought ``life_years`` earlier (their demand path extended back), as the elements of the magnet
recipe, recovered at the swarf recovery rate, into a separation plant's output. That mass
enters the books as ``recycled_in``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.levers.timing import active_fraction, ramp_average


@dataclass
class SubstitutionState:
    """One substitution event: its buyers, rules (one value a sample) and switched share."""

    buyers: np.ndarray  # indices into the chain's buyers
    product: np.ndarray  # [B] index of each buyer's price product (-1: no price, no switch)
    tier: np.ndarray  # [B] index of each buyer's price tier
    max_share: np.ndarray  # [S]
    trigger: np.ndarray  # [S]
    full: np.ndarray  # [S]
    speed: np.ndarray  # [S] share of the gap closed a month
    start: np.ndarray
    end: np.ndarray
    reversible: bool
    share: np.ndarray  # [S, B] switched away


def speed(adoption_months: np.ndarray) -> np.ndarray:
    """Share of the gap to target closed in a month for a time constant (0 = at once)."""
    safe = np.where(adoption_months > 0, adoption_months, 1.0)
    return np.where(adoption_months > 0, 1.0 - np.exp(-1.0 / safe), 1.0)


def adapt(sub: SubstitutionState, ratio: np.ndarray, step: int) -> None:
    """Move the switched share one month towards its target for price ratios ``[S, B]``."""
    active = active_fraction(sub.start, sub.end, step)[:, None]
    span = (sub.full - sub.trigger)[:, None]
    reach = np.clip((ratio - sub.trigger[:, None]) / span, 0.0, 1.0)
    target = np.where(sub.product[None] >= 0, sub.max_share[:, None] * reach, 0.0)
    moved = sub.share + (target - sub.share) * (sub.speed[:, None] * active)
    sub.share = moved if sub.reversible else np.maximum(sub.share, moved)


@dataclass
class RecyclingState:
    """One recycling event: the plant it feeds and the element yield per step, ``[S, T', E]``
    computed up front (from the demand path extended back by the product life)."""

    plant: int  # index among separation plants
    start: np.ndarray  # [S]
    ramp: np.ndarray  # [S]
    collection: np.ndarray  # [S]
    scrap: np.ndarray  # [S, steps incl. warm-up] t of magnet reaching end of life a month
    content: np.ndarray  # [E] recovered element per t of magnet scrap


def recovered(rec: RecyclingState, step: int, warmup: int) -> np.ndarray:
    """``[S, E]`` elements recovered from end-of-life scrap this step."""
    level = ramp_average(rec.start, rec.ramp, step) * rec.collection
    return (level * rec.scrap[:, step + warmup])[:, None] * rec.content[None]

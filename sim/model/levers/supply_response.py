"""Supply that answers price: capacity that grows faster or slower than its trend as the price
of its product stands above or below its base (`sim.world.world.SupplyResponse`).

Each rule watches one price cell. Its facilities' capacity is multiplied by a level that moves
each month ``1 - exp(-1 / lag)`` of the way (in logs) to ``(price / base) ** elasticity``,
kept within ``level_min .. level_max``: a quota set on last year's market, idle capacity
brought back, a mine expanded on the price its owners see, each with its delay. The target is
a level, not a growth rate, so supply settles where price and capacity agree instead of
overshooting. The level is 1 until the first reported step (the data's capacities and growth
hold until then).

`build` returns the rules; the levels and smoothed prices are part of the run's state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.layout import Layout
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS


@dataclass(frozen=True)
class ResponseRules:
    """One rule: its facilities (indices), the price cell it watches and its response."""

    facilities: np.ndarray
    product: int
    tier: int
    elasticity: float
    low: float
    high: float
    lag_months: float


@dataclass(frozen=True)
class Responses:
    """The world's rules, and what ``settle`` reads of them each step as arrays (one entry a
    rule): the price cell each watches, its elasticity, bounds and monthly weight."""

    rules: tuple[ResponseRules, ...]
    product: np.ndarray
    tier: np.ndarray
    elasticity: np.ndarray
    low: np.ndarray
    high: np.ndarray
    weight: np.ndarray  # share of the gap (in logs) closed a month: 1 - exp(-1 / lag)
    # every rule's facilities and each one's rule, where no facility is in two rules (None
    # otherwise: `apply` then scales rule by rule, in order)
    each: tuple[np.ndarray, np.ndarray] | None

    @classmethod
    def of(cls, rules: list[ResponseRules]) -> Responses:
        lags = np.array([r.lag_months for r in rules], dtype=float)
        facilities = np.concatenate([r.facilities for r in rules] + [np.zeros(0, dtype=int)])
        rule = np.repeat(np.arange(len(rules)), [len(r.facilities) for r in rules])
        disjoint = len(np.unique(facilities)) == len(facilities)
        return cls(
            tuple(rules),
            np.array([r.product for r in rules], dtype=int),
            np.array([r.tier for r in rules], dtype=int),
            np.array([r.elasticity for r in rules], dtype=float),
            np.array([r.low for r in rules], dtype=float),
            np.array([r.high for r in rules], dtype=float),
            1.0 - np.exp(-1.0 / np.maximum(lags, 1e-9)),
            (facilities.astype(np.intp), rule.astype(np.intp)) if disjoint else None,
        )

    def __len__(self) -> int:
        return len(self.rules)


def build(layout: Layout) -> Responses:
    """The world's supply responses over the facilities the layout has."""
    rules = []
    for r in layout.world.supply_responses:
        facilities = [layout.index[f] for f in r.facilities if f in layout.index]
        if facilities:
            rules.append(
                ResponseRules(
                    np.array(facilities, dtype=int),
                    PRICE_PRODUCTS.index(r.product),
                    TIERS.index(r.tier),
                    r.elasticity,
                    r.level_min,
                    r.level_max,
                    r.lag_months,
                )
            )
    return Responses.of(rules)


def apply(responses: Responses, levels: np.ndarray, capacity: np.ndarray) -> None:
    """Scale the rules' facilities' ``capacity[S, F]`` (in place) by their ``levels[S, R]``."""
    if responses.each is not None:  # each facility scaled once: all at once
        facilities, of_rule = responses.each
        capacity[:, facilities] *= np.take(levels, of_rule, axis=1)
        return
    for j, rule in enumerate(responses.rules):
        capacity[:, rule.facilities] *= levels[:, j, None]


def settle(
    responses: Responses, levels: np.ndarray, prices: np.ndarray, base: np.ndarray, step: int
) -> np.ndarray:
    """Next month's ``levels[S, R]`` from the market's ``prices[S, P, K]`` and the ``base[S,
    P, K]`` prices (1 during the warm-up)."""
    if not responses.rules or step < 0:
        return levels
    r = responses
    now, then = prices[:, r.product, r.tier], base[:, r.product, r.tier]  # [S, R]
    ok = (now > 0) & (then > 0)  # a rule's price over its base (1 where either is not positive)
    ratio = np.where(ok, now / np.where(ok, then, 1.0), 1.0)
    goal = np.clip(ratio ** r.elasticity[None], r.low[None], r.high[None])
    return levels * (goal / levels) ** r.weight[None]

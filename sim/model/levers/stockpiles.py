"""Stockpiles: holdings of one material in one region, released to its buyers by rule.

Each step, just before buyers consume, an active stockpile looks at the buyers it serves
(region x sectors, of its material): if the share of their demand they would go short of this
month exceeds its threshold, it releases up to its monthly maximum into their inventories, in
proportion to each one's gap. While none of them is short, it may buy: it takes up to its
monthly purchase from their stock beyond this month's use, up to its target, and the buyers
reorder that from the market. Material only moves between stocks, so the mass balance holds
with the stockpile counted in `Chain.holdings`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.levers.timing import active_fraction

TINY = 1e-12


@dataclass
class StockpileState:
    """One stockpile: the buyers it serves, its rules (one value a sample) and its holding."""

    buyers: np.ndarray  # indices into the chain's buyers
    content: np.ndarray  # [E] element content of a tonne of its material
    held: np.ndarray  # [S] t of material
    start: np.ndarray
    end: np.ndarray
    threshold: np.ndarray
    max_release: np.ndarray
    purchase: np.ndarray
    target: np.ndarray
    released: np.ndarray | None = None  # [S] this step's release, t


def draw(pile: StockpileState, demand: np.ndarray, inventory: np.ndarray, step: int) -> np.ndarray:
    """Release or buy for one step; returns the change ``[S, B]`` to the served buyers'
    inventory (positive: released to them) and updates ``pile.held``.

    Args:
        pile: the stockpile.
        demand: ``[S, B]`` this step's demand of the served buyers.
        inventory: ``[S, B]`` what they hold before consuming.
        step: the step.
    """
    active = active_fraction(pile.start, pile.end, step)
    gap = np.maximum(demand - inventory, 0.0)
    short = gap.sum(axis=1)
    share = np.divide(
        short, demand.sum(axis=1), out=np.zeros_like(short), where=demand.sum(axis=1) > TINY
    )
    release = np.where(share > pile.threshold, np.minimum(short, pile.max_release * active), 0.0)
    release = np.minimum(release, pile.held)
    to_buyers = (
        gap * np.divide(release, short, out=np.zeros_like(short), where=short > TINY)[:, None]
    )
    surplus = np.maximum(inventory - demand, 0.0)
    room = np.maximum(pile.target - pile.held, 0.0)
    buy = np.where(short <= TINY, np.minimum(pile.purchase * active, room), 0.0)
    buy = np.minimum(buy, surplus.sum(axis=1))
    from_buyers = (
        surplus
        * np.divide(
            buy, surplus.sum(axis=1), out=np.zeros_like(buy), where=surplus.sum(axis=1) > TINY
        )[:, None]
    )
    pile.held = pile.held - to_buyers.sum(axis=1) + from_buyers.sum(axis=1)
    pile.released = to_buyers.sum(axis=1) - from_buyers.sum(axis=1)
    return to_buyers - from_buyers

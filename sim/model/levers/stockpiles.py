"""Stockpiles: holdings of one material in one region, released to its buyers by rule.

Each step, just before buyers consume, an active stockpile looks at the buyers it serves
(region x sectors, of its material): if the share of their demand they would go short of this
month exceeds its threshold, it releases up to its monthly maximum into their inventories, in
proportion to each one's gap. While none of them is short, it may buy: it takes up to its
monthly purchase from their stock beyond this month's use, up to its target, and the buyers
reorder that from the market. Material only moves between stocks, so the mass balance holds
with the stockpile counted in `sim.model.state.State.holdings`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config.events import Stockpile
from sim.model.levers.timing import EventValues, active_fraction
from sim.units import ELEMENTS
from sim.world.world import Buyer

TINY = 1e-12


@dataclass(frozen=True)
class StockpileRules:
    """One stockpile: the buyers it serves and its rules (one value a sample)."""

    buyers: np.ndarray  # indices into the chain's buyers
    content: np.ndarray  # [E] element content of a tonne of its material
    initial_t: np.ndarray  # [S] t of material held at first
    start: np.ndarray
    end: np.ndarray
    threshold: np.ndarray
    max_release: np.ndarray
    purchase: np.ndarray
    target: np.ndarray


@dataclass
class StockpileState:
    """One stockpile's holding and this step's release, a sample each."""

    held: np.ndarray  # [S] t of material
    thrifted: np.ndarray  # [S, L] its thrifted tonnes of each lever (`sim.model.levers.thrifting`)
    released: np.ndarray | None = None  # [S] this step's release, t

    def copy(self) -> StockpileState:
        return StockpileState(
            self.held.copy(),
            self.thrifted.copy(),
            None if self.released is None else self.released.copy(),
        )

    def repeat(self, samples: int) -> StockpileState:
        """A one-sample state for ``samples`` samples."""
        released = None if self.released is None else np.repeat(self.released, samples, axis=0)
        return StockpileState(
            np.repeat(self.held, samples, axis=0),
            np.repeat(self.thrifted, samples, axis=0),
            released,
        )


def build(events: EventValues, buyers: list[Buyer], content: np.ndarray) -> list[StockpileRules]:
    """The scenario's stockpiles, in its order (``content``: each buyer's element content a
    tonne, ``[B, E]``; every stockpile serves some buyers, checked by loading)."""
    return [_stockpile(events, i, ev, buyers, content) for i, ev in events.of_kind(Stockpile)]


def _stockpile(
    events: EventValues, i: int, ev: Stockpile, buyers: list[Buyer], content: np.ndarray
) -> StockpileRules:
    served = _served(ev, buyers)
    target = events.value(i, "target_t") if ev.target_t is not None else np.zeros(events.samples)
    return StockpileRules(
        buyers=served,
        content=content[served[0]] if served.size else np.zeros(len(ELEMENTS)),
        initial_t=events.value(i, "initial_t"),
        start=events.when(i, "start", 0.0),
        end=events.when(i, "end", np.inf),
        threshold=events.value(i, "release_threshold"),
        max_release=events.value(i, "max_release_t_per_month"),
        purchase=events.value(i, "purchase_t_per_month"),
        target=target,
    )


def _served(ev: Stockpile, buyers: list[Buyer]) -> np.ndarray:
    """Indices of the buyers a stockpile serves: of its region, material and sectors."""
    return np.array(
        [
            k
            for k, b in enumerate(buyers)
            if b.region == ev.region
            and b.material == ev.material
            and (ev.sectors == "all" or b.sector in ev.sectors)
        ],
        dtype=int,
    )


def draw(
    pile: StockpileRules,
    state: StockpileState,
    demand: np.ndarray,
    inventory: np.ndarray,
    step: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Release or buy for one step; returns what goes to and what comes from each served
    buyer, ``[S, B]`` each, and updates ``state`` (its holding; what it released net).

    Args:
        pile: the stockpile's rules.
        state: its holding.
        demand: ``[S, B]`` this step's demand of the served buyers.
        inventory: ``[S, B]`` what they hold before consuming.
        step: the step.
    """
    active = active_fraction(pile.start, pile.end, step)
    gap = np.maximum(demand - inventory, 0.0)
    short = gap.sum(axis=1)
    to_buyers = _release(pile, state, gap, short, demand, active)
    from_buyers = _purchase(pile, state, np.maximum(inventory - demand, 0.0), short, active)
    state.held = state.held - to_buyers.sum(axis=1) + from_buyers.sum(axis=1)
    state.released = to_buyers.sum(axis=1) - from_buyers.sum(axis=1)
    return to_buyers, from_buyers


def _release(
    pile: StockpileRules,
    state: StockpileState,
    gap: np.ndarray,
    short: np.ndarray,
    demand: np.ndarray,
    active: np.ndarray,
) -> np.ndarray:
    """What the stockpile releases to each buyer, ``[S, B]``, in proportion to its ``gap``
    (``short``: their total), when the share of demand short exceeds the threshold."""
    share = np.divide(
        short, demand.sum(axis=1), out=np.zeros_like(short), where=demand.sum(axis=1) > TINY
    )
    release = np.where(share > pile.threshold, np.minimum(short, pile.max_release * active), 0.0)
    release = np.minimum(release, state.held)
    return gap * np.divide(release, short, out=np.zeros_like(short), where=short > TINY)[:, None]


def _purchase(
    pile: StockpileRules,
    state: StockpileState,
    surplus: np.ndarray,
    short: np.ndarray,
    active: np.ndarray,
) -> np.ndarray:
    """What the stockpile buys from each buyer's ``surplus`` beyond this step's use, ``[S,
    B]``, while none of them is ``short``, up to its target."""
    room = np.maximum(pile.target - state.held, 0.0)
    buy = np.where(short <= TINY, np.minimum(pile.purchase * active, room), 0.0)
    buy = np.minimum(buy, surplus.sum(axis=1))
    return (
        surplus
        * np.divide(
            buy, surplus.sum(axis=1), out=np.zeros_like(buy), where=surplus.sum(axis=1) > TINY
        )[:, None]
    )

"""Prices during a run, producer economics and price floors.

Prices are per product and market tier (China domestic, ex-China). Their base level (the
2024 price, or a `price_level` event's) is the anchor from which stocks move them
(`sim.model.levers.prices`); during a run a producer sees the price the previous step
cleared at.

A `Producer` (sim/world/data/producers.csv) compares its realised price (the market price, or a
floor's if higher) with its cash cost every step: below cost for long enough it curtails, then
idles; back at or above cost for long enough it restarts. Its level multiplies its
facilities' capacity. A `price_floor` pays the beneficiary the gap between the floor and the
market price on each kilogram of the product it separates; the payments are recorded as the
payer's cost. A `price_cap` bounds the prices reported and seen by producers.

`build` returns the rules (`Economics`); producers' running levels (`ProducerState`) are part
of the run's state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.arrays import spread
from sim.config.events import PriceCap, PriceFloor, PriceLevel
from sim.model.layout import Layout
from sim.model.levers.timing import EventValues, active_fraction
from sim.units import ELEMENT_INDEX, ELEMENTS, MAGNETS
from sim.world.world import Producer

PRICE_PRODUCTS: tuple[str, ...] = (
    *(f"{e}_oxide" for e in ELEMENTS),
    *(f"{m}_magnet" for m in MAGNETS),
)
TIERS: tuple[str, ...] = ("china", "ex_china")
KG_PER_T = 1000.0

Cells = tuple[np.ndarray, np.ndarray]  # products and tiers of some cells of the price table


@dataclass(frozen=True)
class ProducerRules:
    """One producer: its facilities, product, cost and how it reacts to prices."""

    id: str
    facilities: np.ndarray  # indices into the chain's facilities
    separators: np.ndarray  # its separation plants, indices among them (the floor's volume)
    product: int  # index into PRICE_PRODUCTS
    tier: int  # index into TIERS
    cost: float
    curtail_after: float
    curtail_share: float
    idle_after: float
    restart: float


@dataclass
class ProducerState:
    """One producer's running level and its months below and above cost, a sample each."""

    level: np.ndarray  # [S] share of capacity it runs at
    below: np.ndarray  # [S] consecutive months below cost
    above: np.ndarray  # [S] consecutive months at or above cost

    def copy(self) -> ProducerState:
        return ProducerState(self.level.copy(), self.below.copy(), self.above.copy())

    def repeat(self, samples: int) -> ProducerState:
        """A one-sample state for ``samples`` samples."""
        return ProducerState(
            *(np.repeat(a, samples, axis=0) for a in (self.level, self.below, self.above))
        )


@dataclass(frozen=True)
class FloorRules:
    """A price floor: its producer, level and dates (one value a sample), the separation
    plants whose output it pays on and the price cell (product, tier) it floors."""

    producer: int | None  # index into the producers; None: a company or site without costs
    usd_per_kg: np.ndarray
    start: np.ndarray
    end: np.ndarray
    separators: np.ndarray  # indices among the separation plants
    cell: tuple[int, int]  # indices into PRICE_PRODUCTS and TIERS


@dataclass(frozen=True)
class LevelRules:
    """A `price_level` or `price_cap` event: product, tiers, price and dates."""

    product: int
    tiers: np.ndarray  # [K] booleans
    usd_per_kg: np.ndarray
    start: np.ndarray
    end: np.ndarray


def tier_members(regions: list[str]) -> dict[str, np.ndarray]:
    """Which of some parties (by region) are in each price tier, a mask each."""
    china = np.array([r == "CN" for r in regions], dtype=bool)
    return {"china": china, "ex_china": ~china}


@dataclass(frozen=True)
class FillCells:
    """The price cells (product and tier, indices into `PRICE_PRODUCTS` and `TIERS`) whose
    fill shares the magnet and oxide markets record, and the customers each one covers."""

    magnet: list[tuple[int, int, np.ndarray]]  # product, tier, magnet buyers (a mask)
    oxide_tiers: list[tuple[int, np.ndarray]]  # tier, oxide customers (metal plants, pools)
    oxide_products: np.ndarray  # [E] each element's oxide
    magnet_members: Members  # the magnet cells' buyers as runs (`group_members`)
    oxide_members: Members  # the oxide tiers' customers as runs

    @classmethod
    def build(
        cls, magnet_regions: list[str], magnet_materials: np.ndarray, oxide_regions: list[str]
    ) -> FillCells:
        """The cells of magnet buyers with these regions and materials, and of the oxide
        market's customers with these regions."""
        magnet = [
            (
                PRICE_PRODUCTS.index(f"{name}_magnet"),
                TIERS.index(tier),
                members & (magnet_materials == name),
            )
            for tier, members in tier_members(magnet_regions).items()
            for name in MAGNETS
        ]
        oxide_tiers = [(TIERS.index(t), m) for t, m in tier_members(oxide_regions).items()]
        oxide_products = np.array([PRICE_PRODUCTS.index(f"{name}_oxide") for name in ELEMENTS])
        return cls(
            magnet,
            oxide_tiers,
            oxide_products,
            group_members([members for _, _, members in magnet]),
            group_members([members for _, members in oxide_tiers]),
        )


Members = tuple[np.ndarray, np.ndarray]  # where each group's run starts (and the end), members


def group_members(groups: list[np.ndarray]) -> Members:
    """Groups (boolean masks) as their members listed one group after another, and where each
    group's run starts (with the end: ``[groups + 1]``)."""
    members = [np.flatnonzero(group) for group in groups]
    ptr = np.cumsum([0] + [m.size for m in members]).astype(np.int64)
    idx = np.concatenate(members + [np.zeros(0, dtype=np.int64)]).astype(np.int64)
    return ptr, idx


def base_table(prices: dict[tuple[str, str], float]) -> np.ndarray:
    """``[P, K]`` 2024 base prices (NaN where the world has none)."""
    return np.array([[prices.get((p, t), np.nan) for t in TIERS] for p in PRICE_PRODUCTS])


@dataclass(frozen=True)
class Economics:
    """Producers, price floors, levels and caps, and how prices are formed."""

    producers: list[ProducerRules]
    floors: list[FloorRules]
    price_levels: list[LevelRules]
    price_caps: list[LevelRules]
    base_prices: np.ndarray  # [P, K] 2024 prices
    samples: int

    def initial_producers(self) -> list[ProducerState]:
        """Every producer running at full capacity."""
        S = self.samples
        return [ProducerState(np.ones(S), np.zeros(S), np.zeros(S)) for _ in self.producers]

    def base_at(self, step: int) -> np.ndarray:
        """``[S, P, K]`` base prices at ``step``: 2024 levels, moved pro rata by `price_level`s
        (without them, a read-only view of the 2024 levels)."""
        base = spread(self.base_prices, (self.samples, *self.base_prices.shape))
        if not self.price_levels:
            return base
        base = base.copy()
        for lv in self.price_levels:
            share = active_fraction(lv.start, lv.end, step)[:, None]
            row = base[:, lv.product]
            base[:, lv.product] = np.where(
                lv.tiers[None], row * (1 - share) + lv.usd_per_kg[:, None] * share, row
            )
        return base

    def capped(self, prices: np.ndarray, step: int, cells: Cells | None = None) -> np.ndarray:
        """``prices[S, P, K]`` at ``step`` under the `price_cap`s (pro rata within the step),
        or ``prices[S, n]`` of some ``cells`` (their products and tiers, ``[n]`` each)."""
        if not self.price_caps:
            return prices
        shape = prices.shape
        if cells is None:  # every cell
            P, K = shape[1:]
            cells = (np.repeat(np.arange(P), K), np.tile(np.arange(K), P))
            prices = prices.reshape(shape[0], P * K)
        product, tier = cells
        for cap in self.price_caps:
            share = active_fraction(cap.start, cap.end, step)[:, None]
            low = np.minimum(prices, cap.usd_per_kg[:, None])
            on = (product == cap.product) & cap.tiers[tier]
            prices = np.where(on[None], prices * (1 - share) + low * share, prices)
        return prices.reshape(shape)

    def market_price(self, prices: np.ndarray, step: int, cells: Cells | None = None) -> np.ndarray:
        """``[S, P, K]`` prices a producer sees at ``step``, the market's ``prices[S, P, K]``
        under the caps, or ``[S, n]`` of some ``cells`` alone (their products and tiers)."""
        if cells is not None:
            prices = prices[:, cells[0], cells[1]]
        return self.capped(prices, step, cells)


def build(layout: Layout, events: EventValues) -> Economics:
    """The world's producers and the scenario's price floors, levels and caps."""
    producers = [_producer(p, layout) for p in layout.world.producers]
    levels = [(i, ev) for i, ev in events.of_kind(PriceLevel)]  # caps are price levels too
    return Economics(
        producers,
        _floor_rules(events, producers, layout),
        [_level(events, i, ev) for i, ev in levels if not isinstance(ev, PriceCap)],
        [_level(events, i, ev) for i, ev in levels if isinstance(ev, PriceCap)],
        base_table(layout.world.prices_usd_per_kg),
        events.samples,
    )


def _floor_rules(
    events: EventValues, producers: list[ProducerRules], layout: Layout
) -> list[FloorRules]:
    """The scenario's price floors: a producer's (its separation plants, product and tier),
    or a company's or site's (its separation plants, in its tier)."""
    floors = []
    ids = [p.id for p in producers]
    for i, floor in events.of_kind(PriceFloor):
        start = events.when(i, "start", 0.0)
        years = events.value(i, "years")
        usd = events.value(i, "usd_per_kg")
        if floor.beneficiary in ids:
            k = ids.index(floor.beneficiary)
            paid_on, cell = producers[k].separators, (producers[k].product, producers[k].tier)
            floors.append(FloorRules(k, usd, start, start + 12.0 * years, paid_on, cell))
        else:
            paid_on, cell = _named_separators(layout, floor.beneficiary, floor.product)
            floors.append(FloorRules(None, usd, start, start + 12.0 * years, paid_on, cell))
    return floors


def _named_separators(
    layout: Layout, name: str, product: str
) -> tuple[np.ndarray, tuple[int, int]]:
    """The separation plants a company or site name reaches (indices among them), and the
    price cell of ``product`` in their tier (the first plant's)."""
    first = layout.slices["separation"].start
    plants = [int(i) for i in layout.named(name) if layout.facilities[i].stage == "separation"]
    region = layout.world.region(layout.facilities[plants[0]].country)
    tier = "china" if region == "CN" else "ex_china"
    return np.array(plants, int) - first, (PRICE_PRODUCTS.index(product), TIERS.index(tier))


def _producer(p: Producer, layout: Layout) -> ProducerRules:
    index, first_separator = layout.index, layout.slices["separation"].start
    mine = [index[f] for f in p.facilities if f in index]
    separators = [i - first_separator for i in mine if layout.facilities[i].stage == "separation"]
    return ProducerRules(
        p.id,
        np.array(mine, dtype=int),
        np.array(separators, dtype=int),
        PRICE_PRODUCTS.index(p.product),
        TIERS.index(p.tier),
        p.cash_cost_usd_per_kg,
        p.curtail_after_months,
        p.curtail_share,
        p.idle_after_months,
        p.restart_months,
    )


def _level(events: EventValues, i: int, ev: PriceLevel) -> LevelRules:
    return LevelRules(
        PRICE_PRODUCTS.index(ev.product),
        np.array([ev.tiers == "all" or t in ev.tiers for t in TIERS]),
        events.value(i, "usd_per_kg"),
        events.when(i, "start", 0.0),
        events.when(i, "end", np.inf),
    )


def apply_levels(
    economics: Economics, producers: list[ProducerState], capacity: np.ndarray
) -> None:
    """Scale producers' facilities' ``capacity[S, F]`` (in place) by their running level."""
    for rules, state in zip(economics.producers, producers):
        capacity[:, rules.facilities] *= state.level[:, None]


def settle(
    economics: Economics,
    producers: list[ProducerState],
    prices: np.ndarray,
    separated: np.ndarray,
    step: int,
) -> np.ndarray:
    """Producers compare their realised price with cost and set next step's level; floors
    pay their top-up on this step's output.

    Args:
        economics: the rules.
        producers: producers' states (updated).
        prices: ``[S, P, K]`` the prices the markets cleared at last step.
        separated: ``[S, separation plants, E]`` this step's separated oxide.
        step: the step.

    Returns:
        Each floor's payment, ``[S, floors]`` in US$.
    """
    cells = (
        np.array([rules.product for rules in economics.producers], dtype=int),
        np.array([rules.tier for rules in economics.producers], dtype=int),
    )
    price = economics.market_price(prices, step, cells)  # the producers' prices alone
    realised = [price[:, i] for i in range(len(economics.producers))]
    paid = _floors(economics, realised, prices, separated, step)
    for rules, state, got in zip(economics.producers, producers, realised):
        _decide(rules, state, got)
    return paid


def _floors(
    economics: Economics,
    realised: list[np.ndarray],
    prices: np.ndarray,
    separated: np.ndarray,
    step: int,
) -> np.ndarray:
    """Each floor's payment, ``[S, floors]`` in US$, on its plants' separated oxide; a
    producer's floor raises its ``realised`` price (in place) to its level."""
    paid = np.zeros((economics.samples, len(economics.floors)))
    for j, fl in enumerate(economics.floors):
        on = active_fraction(fl.start, fl.end, step)
        market = _floor_market(economics, fl, realised, prices, step)
        element = ELEMENT_INDEX[PRICE_PRODUCTS[fl.cell[0]].split("_")[0]]
        made_kg = separated[:, fl.separators, element].sum(axis=1) * KG_PER_T
        paid[:, j] = np.maximum(fl.usd_per_kg - market, 0.0) * on * made_kg
        if fl.producer is not None:
            realised[fl.producer] = np.where(on > 0, np.maximum(market, fl.usd_per_kg), market)
    return paid


def _floor_market(
    economics: Economics,
    floor: FloorRules,
    realised: list[np.ndarray],
    prices: np.ndarray,
    step: int,
) -> np.ndarray:
    """``[S]`` the market price a floor tops up: its producer's, or its cell's."""
    if floor.producer is not None:
        return realised[floor.producer]
    cell = (np.array([floor.cell[0]]), np.array([floor.cell[1]]))
    return economics.market_price(prices, step, cell)[:, 0]


def _decide(rules: ProducerRules, state: ProducerState, realised: np.ndarray) -> None:
    below = realised < rules.cost
    state.below = np.where(below, state.below + 1.0, 0.0)
    state.above = np.where(below, 0.0, state.above + 1.0)
    curtailed = np.minimum(state.level, 1.0 - rules.curtail_share)
    level = np.where(state.below >= rules.curtail_after, curtailed, state.level)
    level = np.where(state.below >= rules.idle_after, 0.0, level)
    state.level = np.where(state.above >= rules.restart, 1.0, level)

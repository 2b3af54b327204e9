"""Prices during a run, producer economics and price floors.

Prices are per product and market tier (China domestic, ex-China): a base level (the 2024
price, or a `price_level` event's) times a scarcity factor from the share of customers'
running use the market covered (`sim.market.pricing.scarcity_price`). During a run a producer
sees the
price formed from the previous step's deliveries; the reported prices use each step's own.

A `Producer` (sim/world/data/producers.csv) compares its realised price (the market price, or a
floor's if higher) with its cash cost every step: below cost for long enough it curtails, then
idles; back at or above cost for long enough it restarts. Its level multiplies its
facilities' capacity. A `price_floor` pays the beneficiary the gap between the floor and the
market price on each kilogram of the product it separates; the payments are recorded as the
payer's cost. A `price_cap` bounds the prices reported and seen by producers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.config.scenario import PriceCap, PriceFloor, PriceLevel
from sim.market import scarcity_price
from sim.model.levers.schedules import active_fraction
from sim.units import ELEMENT_INDEX, ELEMENTS, MAGNETS

if TYPE_CHECKING:
    from sim.model.chain import Chain

PRICE_PRODUCTS: tuple[str, ...] = (
    *(f"{e}_oxide" for e in ELEMENTS[:-1]),
    *(f"{m}_magnet" for m in MAGNETS),
)
TIERS: tuple[str, ...] = ("china", "ex_china")
KG_PER_T = 1000.0


@dataclass
class ProducerState:
    """One producer's facilities, cost and state (one value a sample)."""

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
    level: np.ndarray  # [S] share of capacity it runs at
    below: np.ndarray  # [S] consecutive months below cost
    above: np.ndarray  # [S] consecutive months at or above cost


@dataclass
class FloorState:
    """A price floor: its producer, level and dates (one value a sample)."""

    producer: int  # index into the chain's producers
    usd_per_kg: np.ndarray
    start: np.ndarray
    end: np.ndarray


@dataclass
class LevelState:
    """A `price_level` event: product, tiers, new base and dates."""

    product: int
    tiers: np.ndarray  # [K] booleans
    usd_per_kg: np.ndarray
    start: np.ndarray
    end: np.ndarray


def base_table(prices: dict[tuple[str, str], float]) -> np.ndarray:
    """``[P, K]`` 2024 base prices (NaN where the world has none)."""
    return np.array([[prices.get((p, t), np.nan) for t in TIERS] for p in PRICE_PRODUCTS])


def build(chain: Chain) -> None:
    """Set ``chain.producers``, ``chain.floors``, ``chain.price_levels`` and the price state."""
    S, sep = chain.samples, chain.slices["separation"]
    chain.producers = [
        ProducerState(
            p.id,
            np.array([chain.index[f] for f in p.facilities if f in chain.index], dtype=int),
            np.array(
                [
                    chain.index[f] - sep.start
                    for f in p.facilities
                    if f in chain.index and chain.facilities[chain.index[f]].stage == "separation"
                ],
                dtype=int,
            ),
            PRICE_PRODUCTS.index(p.product),
            TIERS.index(p.tier),
            p.cash_cost_usd_per_kg,
            p.curtail_after_months,
            p.curtail_share,
            p.idle_after_months,
            p.restart_months,
            np.ones(S),
            np.zeros(S),
            np.zeros(S),
        )
        for p in chain.world.producers
    ]
    ids = [p.id for p in chain.producers]
    chain.floors, chain.price_levels, chain.price_caps = [], [], []
    for i, ev in enumerate(chain.scenario.events):
        if isinstance(ev, PriceFloor):
            start = chain.when(i, "start", 0.0)
            chain.floors.append(
                FloorState(
                    ids.index(ev.beneficiary),
                    chain.value(i, "usd_per_kg"),
                    start,
                    start + 12.0 * chain.value(i, "years"),
                )
            )
        elif isinstance(ev, PriceLevel):
            tiers = np.array([ev.tiers == "all" or t in ev.tiers for t in TIERS])
            into = chain.price_caps if isinstance(ev, PriceCap) else chain.price_levels
            into.append(
                LevelState(
                    PRICE_PRODUCTS.index(ev.product),
                    tiers,
                    chain.value(i, "usd_per_kg"),
                    chain.when(i, "start", 0.0),
                    chain.when(i, "end", np.inf),
                )
            )
    chain.base_prices = base_table(chain.world.prices_usd_per_kg)
    chain.fills_now = np.ones((S, len(PRICE_PRODUCTS), len(TIERS)))
    chain.separated = np.zeros((S, len(chain.stage("separation")), len(ELEMENTS)))


def base_at(chain: Chain, step: int) -> np.ndarray:
    """``[S, P, K]`` base prices at ``step``: 2024 levels, moved pro rata by `price_level`s
    (without them, a read-only view of the 2024 levels)."""
    base = np.broadcast_to(chain.base_prices, (chain.samples, *chain.base_prices.shape))
    if not chain.price_levels:
        return base
    base = base.copy()
    for lv in chain.price_levels:
        share = active_fraction(lv.start, lv.end, step)[:, None]
        row = base[:, lv.product]
        base[:, lv.product] = np.where(
            lv.tiers[None], row * (1 - share) + lv.usd_per_kg[:, None] * share, row
        )
    return base


def capped(
    chain: Chain, prices: np.ndarray, step: int, cells: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """``prices[S, P, K]`` at ``step`` under the `price_cap`s (pro rata within the step), or
    ``prices[S, n]`` of some ``cells`` (their products and tiers, ``[n]`` each)."""
    if not chain.price_caps:
        return prices
    shape = prices.shape
    if cells is None:  # every cell
        P, K = shape[1:]
        cells = (np.repeat(np.arange(P), K), np.tile(np.arange(K), P))
        prices = prices.reshape(shape[0], P * K)
    product, tier = cells
    for cap in chain.price_caps:
        share = active_fraction(cap.start, cap.end, step)[:, None]
        low = np.minimum(prices, cap.usd_per_kg[:, None])
        on = (product == cap.product) & cap.tiers[tier]
        prices = np.where(on[None], prices * (1 - share) + low * share, prices)
    return prices.reshape(shape)


def market_price(
    chain: Chain, step: int, cells: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """``[S, P, K]`` prices a producer sees at ``step`` (scarcity of the last step), or
    ``[S, n]`` of some ``cells`` alone (their products and tiers; the same numbers)."""
    p = chain.params
    base, fills = base_at(chain, step), chain.fills_now
    if cells is not None:
        base, fills = base[:, cells[0], cells[1]], fills[:, cells[0], cells[1]]
    price = scarcity_price(base, fills, p["price_elasticity"], p["price_ceiling"])
    return capped(chain, price, step, cells)


def apply_levels(chain: Chain) -> None:
    """Scale producers' facilities' capacity by their running level."""
    for prod in chain.producers:
        chain.capacity[:, prod.facilities] *= prod.level[:, None]


def settle(chain: Chain, step: int) -> np.ndarray:
    """Producers compare their realised price with cost and set next step's level; floors
    pay their top-up on this step's output. Returns each floor's payment, ``[S, floors]``
    in US$."""
    cells = (
        np.array([prod.product for prod in chain.producers], dtype=int),
        np.array([prod.tier for prod in chain.producers], dtype=int),
    )
    price = market_price(chain, step, cells)  # the producers' prices alone
    paid = np.zeros((chain.samples, len(chain.floors)))
    realised = [price[:, i] for i in range(len(chain.producers))]
    for j, fl in enumerate(chain.floors):
        prod = chain.producers[fl.producer]
        on = active_fraction(fl.start, fl.end, step)
        market = realised[fl.producer]
        floor = np.where(on > 0, np.maximum(market, fl.usd_per_kg), market)
        element = ELEMENT_INDEX[PRICE_PRODUCTS[prod.product].split("_")[0]]
        made_kg = chain.separated[:, prod.separators, element].sum(axis=1) * KG_PER_T
        paid[:, j] = np.maximum(fl.usd_per_kg - market, 0.0) * on * made_kg
        realised[fl.producer] = floor
    for prod, got in zip(chain.producers, realised):
        _decide(prod, got)
    return paid


def _decide(prod: ProducerState, realised: np.ndarray) -> None:
    below = realised < prod.cost
    prod.below = np.where(below, prod.below + 1.0, 0.0)
    prod.above = np.where(below, 0.0, prod.above + 1.0)
    curtailed = np.minimum(prod.level, 1.0 - prod.curtail_share)
    level = np.where(prod.below >= prod.curtail_after, curtailed, prod.level)
    level = np.where(prod.below >= prod.idle_after, 0.0, level)
    prod.level = np.where(prod.above >= prod.restart, 1.0, level)

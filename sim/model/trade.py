"""The chain's four markets: their lanes, lead times between lanes, and what each one trades.

Concentrate goes from mines to separation plants, oxide from separation plants to metal plants
and to buyers of elements, metal to magnet plants, magnets to their buyers. The oxide market
sees buyers of elements pooled by region and priority (one customer each, needing several
elements: `Pool`); the metal market trades only the elements some magnet's recipe uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from sim.market import Market, MarketCache, Pool
from sim.model.levers.reach import Side
from sim.units import ELEMENTS

MARKETS: tuple[str, ...] = ("concentrate", "oxide", "metal", "magnet")


class Routes(NamedTuple):
    """A market's routes: open ``[P, C, K]``, customers' priority ``[C]``, home routes
    ``[P, C]`` (served first) or None, and the order in which customers draw on suppliers
    ``[P]`` (lowest first) or None (all at once)."""

    open: np.ndarray
    priority: np.ndarray
    home: np.ndarray | None
    sup_order: np.ndarray | None = None


@dataclass(frozen=True)
class Trade:
    """The markets (`Market`, grouped into lanes), each one's lead times between lanes, and
    which of the chain's customers (``columns``) and products (``products``) it sees (None:
    all of them)."""

    markets: dict[str, Market]
    lane_lead: dict[str, np.ndarray]
    oxide_pool: Pool  # buyers of elements pooled by region and priority
    oxide_pool_regions: list[str]
    columns: dict[str, np.ndarray | None]
    products: dict[str, np.ndarray | None]

    def route_columns(self, a: np.ndarray, market: str) -> np.ndarray:
        """A route array ``a[P, C, K]`` over the chain's customers and products, as ``market``
        sees them (the oxide market: pools of element buyers, each like its first member)."""
        return _route_columns(a, self.columns[market], self.products[market])


def _route_columns(
    a: np.ndarray, columns: np.ndarray | None, products: np.ndarray | None
) -> np.ndarray:
    a = a if columns is None else np.take(a, columns, axis=1)
    return a if products is None else np.take(a, products, axis=2)


def build(
    sides: dict[str, tuple[Side, Side]],
    lead: dict[str, np.ndarray],
    routes: dict[str, Routes],
    element_buyers: tuple[np.ndarray, np.ndarray],
    recipe: np.ndarray,
    scopes: list[dict[str, np.ndarray]],
    scope_groups: np.ndarray,
    plants_own_lanes: bool,
    market_cache: MarketCache,
) -> Trade:
    """The chain's markets, grouped into lanes by region, routes, priority and the reach of
    every control, so that allocation and shipping work on lanes.

    Args:
        sides: each market's suppliers and customers (`Layout.sides`).
        lead: months between stages' regions, by route (``concentrate``, ``oxide_metal``,
            ``oxide_buyer``, ``metal``, ``magnet``).
        routes: the concentrate and magnet markets' routes.
        element_buyers: each buyer of elements' priority and element index.
        recipe: ``[magnet plants, E]`` magnet plants' recipes.
        scopes: every control's reach, by market, over the chain's customers and products.
        scope_groups: the cap group of each scope (its routes are capped together).
        plants_own_lanes: each magnet plant a lane of its own (origin differs plant by plant).
        market_cache: where markets of the same routes are built once (its owner's).
    """
    pool, pool_regions, firsts = _pool(sides["oxide"][1], *element_buyers)
    metal_plants = len(sides["metal"][0].countries)
    oxide_columns = np.concatenate([np.arange(metal_plants), metal_plants + firsts]).astype(int)
    columns: dict[str, np.ndarray | None] = {m: None for m in MARKETS}
    columns["oxide"] = oxide_columns
    # Metal plants make only what magnet plants order: the elements of their recipes.
    used = np.flatnonzero(recipe.sum(axis=0) > 0)
    products: dict[str, np.ndarray | None] = {m: None for m in MARKETS}
    products["metal"] = used if used.size else None
    every = _all_routes(sides, routes, element_buyers[0][firsts], used.size or len(ELEMENTS))
    sides = {**sides, "oxide": _pooled_side(sides["oxide"], oxide_columns)}
    markets = _markets(
        sides, every, (scopes, scope_groups), columns, products, plants_own_lanes, market_cache
    )
    lane_lead = {name: markets[name].lanes(a) for name, a in _lane_leads(lead, firsts).items()}
    return Trade(markets, lane_lead, pool, pool_regions, columns, products)


def _pool(
    customers: Side, priority: np.ndarray, element: np.ndarray
) -> tuple[Pool, list[str], np.ndarray]:
    """Buyers of elements of one region and priority as one customer of the oxide market:
    the pool, each pool's region and each pool's first member."""
    element_regions = customers.regions[len(customers.regions) - len(priority) :]
    cells = list(zip(element_regions, priority))
    pools = list(dict.fromkeys(cells))
    member_pool = np.array([pools.index(c) for c in cells], dtype=int)
    firsts = np.array([cells.index(c) for c in pools], dtype=int)
    pool = Pool(member_pool, element, len(pools), len(ELEMENTS))
    return pool, [region for region, _ in pools], firsts


def _pooled_side(side: tuple[Side, Side], columns: np.ndarray) -> tuple[Side, Side]:
    """The oxide market's sides with its customers as it sees them (pools)."""
    suppliers, customers = side
    return suppliers, Side(
        [customers.countries[i] for i in columns], [customers.regions[i] for i in columns]
    )


def _all_routes(
    sides: dict[str, tuple[Side, Side]],
    routes: dict[str, Routes],
    pool_priority: np.ndarray,
    metal_products: int,
) -> dict[str, Routes]:
    """Every market's routes: the oxide market's to metal plants and pools, the metal
    market's to every magnet plant (of the elements magnets use)."""
    separation, metal, magnet = (len(sides[m][0].countries) for m in ("oxide", "metal", "magnet"))
    oxide_customers = metal + len(pool_priority)
    oxide_priority = np.concatenate([np.ones(metal, int), pool_priority])
    return {
        "concentrate": routes["concentrate"],
        "oxide": Routes(
            np.ones((separation, oxide_customers, len(ELEMENTS))), oxide_priority, None
        ),
        "metal": Routes(np.ones((metal, magnet, metal_products)), np.ones(magnet, int), None),
        "magnet": routes["magnet"],
    }


def _markets(
    sides: dict[str, tuple[Side, Side]],
    routes: dict[str, Routes],
    scopes: tuple[list[dict[str, np.ndarray]], np.ndarray],
    columns: dict[str, np.ndarray | None],
    products: dict[str, np.ndarray | None],
    plants_own_lanes: bool,
    market_cache: MarketCache,
) -> dict[str, Market]:
    """Each market, its parties keyed by region (which sets lead times), its routes split by
    ``scopes`` (each control's reach by market, and their cap groups)."""
    reach, groups = scopes
    codes: dict[str, int] = {}

    def key(side: Side) -> np.ndarray:
        return np.array([codes.setdefault(r, len(codes)) for r in side.regions])

    markets = {}
    for name in MARKETS:
        suppliers, customers = sides[name]
        supplier_key = key(suppliers)
        if name == "magnet" and plants_own_lanes:  # origin differs plant by plant
            supplier_key = len(codes) + np.arange(len(supplier_key))
        if name == "concentrate":  # each mine offers its own contracted share first
            supplier_key = np.arange(len(supplier_key))
        markets[name] = market_cache.get(
            routes[name].open,
            routes[name].priority,
            home=routes[name].home,
            sup_key=supplier_key,
            cus_key=key(customers),
            scopes=[_route_columns(s[name], columns[name], products[name]) for s in reach],
            scope_groups=groups,
            sup_order=routes[name].sup_order,
            china=None if name == "concentrate" else (_in_china(suppliers), _in_china(customers)),
        )
    return markets


def _in_china(side: Side) -> np.ndarray:
    """Which of a side's parties are in China (the price tiers' split: two-way trade between
    the tiers is netted out of the markets that trade separated products; concentrate's
    mines differ in their ore, so one mine's ore cannot stand in for another's)."""
    return np.array([country == "CN" for country in side.countries], dtype=bool)


def _lane_leads(lead: dict[str, np.ndarray], firsts: np.ndarray) -> dict[str, np.ndarray]:
    """Each market's lead times between its suppliers and customers (as it sees them)."""
    return {
        "concentrate": lead["concentrate"],
        "oxide": np.concatenate([lead["oxide_metal"], lead["oxide_buyer"][:, firsts]], axis=1),
        "metal": lead["metal"],
        "magnet": lead["magnet"],
    }

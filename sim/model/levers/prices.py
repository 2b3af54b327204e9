"""Prices during a run, formed from fundamentals (`sim.market.pricing`).

Each step, after buyers consume, every price cell (product x tier: China, ex-China) moves
towards the price its stock cover indicates: months of use available, counting what buyers
used this step as well as what they hold, so that a market with no stocks still sees supply
fall.

- An oxide's cover counts every holder's stock of the element that can still be made into
  anything in the tier (separated oxide at separation plants, oxide at metal plants, metal at
  magnet plants, element buyers' stocks), over the tier's use of it: what its magnet plants
  plan to use (their orders, met or not) and its element buyers' demand. What sits in
  finished magnets is not counted, since no magnet maker can use it, and neither is the
  element in magnets bought from the other tier.
- A magnet's cover is its buyers' stock over their demand; its price also passes through the
  change of its oxides' prices, each by its share of the magnet's cost at anchor prices (kg
  of oxide a kg of magnet takes, at China's prices), so both tiers' magnets move alike when
  their oxides do.
- The normal cover is the one at the end of the warm-up, when prices are the base prices.
- The two tiers are one market where trade between them is free: each faces the pooled cover
  of both, and its own in proportion to the share of the flow from China a control withholds
  (the licence rent).

`build` returns the rules (`PriceRules`); the prices and normal covers are part of the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.arrays import spread
from sim.market.pricing import adapt, blended_cover, foreseen_cover, indicated_price
from sim.market.tier_kernels import buyers_by_tier, plants_by_tier, sparse_rows
from sim.model.kernels import finite
from sim.model.layout import Layout
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS, Economics
from sim.model.levers.reach import Side
from sim.model.levers.timing import closing_speed, per_sample
from sim.units import ELEMENTS, MAGNETS, REO_TO_ELEMENT

OXIDES = len(ELEMENTS)  # every element has an oxide price product (NaN where a world has none)


@dataclass(frozen=True)
class Rows:
    """A sparse ``[B, N]`` matrix of buyers' weights, as compressed rows."""

    parts: tuple[np.ndarray, np.ndarray, np.ndarray]
    width: int

    @classmethod
    def of(cls, dense: np.ndarray) -> Rows:
        """The compressed rows of ``dense[B, N]``."""
        return cls(sparse_rows(dense), dense.shape[1])


@dataclass(frozen=True)
class PriceRules:
    """Who holds what in which tier, and how prices answer to cover."""

    plant_tiers: dict[str, np.ndarray]  # separation, metal, magnet plants: [plants] tier index
    buyer_tiers: np.ndarray  # [B] tier index
    content: Rows  # [B, E] t of each element a t of each buyer's material
    thrift_delta: tuple[Rows, ...]  # [B, E] each lever's change at level 1 (`thrifting`)
    loose: Rows  # [B, E] the same for buyers of elements, 0 for buyers of magnets
    magnet_buyers: Rows  # [B, M] 1 where a buyer buys magnet M
    pass_through: np.ndarray  # [M, E] kg of oxide a kg of magnet takes
    reach: list[np.ndarray]  # each control's share of the ex-China tier's flow it reaches, [P]
    # the market's behaviour: a float, or one value a sample shaped ``[S, 1, 1]`` where a
    # sweep draws it (`timing.per_sample`)
    sensitivity: float | np.ndarray
    floor: float | np.ndarray
    low: float
    months: float | np.ndarray
    foresight: float | np.ndarray  # months ahead traders extend this month's change of cover
    # holders' precautionary cover: sensitivity to momentum, lowest and highest level, stock
    # speed and expectation speed (share of the gap closed a month)
    holding: tuple[Any, ...]
    announced: float  # the cover level holders want while a control they fear is announced

    def holdings(
        self,
        sep_out: np.ndarray,
        metal_in: np.ndarray,
        mag_in: np.ndarray,
        running: tuple[np.ndarray, np.ndarray],
    ) -> np.ndarray:
        """``[S, E, K]`` tonnes of each element held in each tier by plants: separated oxide,
        and metal and magnet plants' inputs in proportion to the share of their capacity
        ``running`` (``[S, plants]`` each: an input held at a plant an outage stopped cannot
        be made into anything)."""
        t = self.plant_tiers
        metal, magnet = running
        out = np.zeros((metal.shape[0], sep_out.shape[2], len(TIERS)))
        plants_by_tier(sep_out, np.ones((1, sep_out.shape[1])), t["separation"], out)
        plants_by_tier(metal_in, metal, t["metal"], out)
        plants_by_tier(mag_in, magnet, t["magnet"], out)
        return out

    def by_tier(self, tonnes: np.ndarray, weights: Rows) -> np.ndarray:
        """``[rows, N, K]`` buyers' ``tonnes[rows, B]`` times ``weights[B, N]``, by tier."""
        out = np.zeros((tonnes.shape[0], weights.width, len(TIERS)))
        buyers_by_tier(tonnes, weights.parts, self.buyer_tiers, out)
        return out


@dataclass(frozen=True)
class Buyers:
    """What the price rules need of the buyers: region, material and content, and which of
    them buy magnets (indices)."""

    region: np.ndarray  # [B]
    material: np.ndarray  # [B]
    content: np.ndarray  # [B, E]
    magnets: np.ndarray  # indices of the buyers of magnets
    thrift_delta: np.ndarray  # [L, B, E] change of their material's content at level 1


def build(
    layout: Layout,
    params: Mapping[str, Any],
    buyers: Buyers,
    magnet_product: np.ndarray,
    sides: dict[str, tuple[Side, Side]],
    scopes: list[dict[str, np.ndarray]],
) -> PriceRules:
    """The rules for a layout's plants, the run's ``params`` (the market's behaviour may hold
    one value a sample), its ``buyers``, its magnet plants' products, the markets' ``sides``
    and each control's ``scopes`` by market."""
    plant_tiers = {st: _tier_index(layout.regions(st)) for st in ("separation", "metal", "magnet")}
    recipes = np.array([layout.world.recipes[m] for m in MAGNETS])
    oxide_kg = recipes / REO_TO_ELEMENT[None] / (params["magnet_yield"] * params["metal_yield"])
    return PriceRules(
        plant_tiers,
        _tier_index(list(buyers.region)),
        Rows.of(buyers.content),
        tuple(Rows.of(delta) for delta in buyers.thrift_delta),
        Rows.of(np.where(np.isin(buyers.material, MAGNETS)[:, None], 0.0, buyers.content)),
        Rows.of(np.array([buyers.material == m for m in MAGNETS], dtype=float).T),
        oxide_kg,
        [_reach(scope, sides, buyers, magnet_product) for scope in scopes],
        per_sample(params["price_cover_sensitivity"], 3),
        per_sample(params["price_cover_floor"], 3),
        params["price_floor_share"],
        per_sample(params["price_adjustment_months"], 3),
        per_sample(params["price_foresight_months"], 3),
        (
            per_sample(params["holding_sensitivity"], 3),
            params["stocking_cover_min"],
            params["stocking_cover_max"],
            closing_speed(params["stocking_months"], 3),
            closing_speed(params["expectation_months"], 3),
        ),
        params["announced_cover"],
    )


def _tier_index(regions: list[str]) -> np.ndarray:
    """``[n]``: each party's tier (China or ex-China), an index into `TIERS`."""
    china = np.array([r == "CN" for r in regions], dtype=bool).reshape(-1)
    return np.where(china, TIERS.index("china"), TIERS.index("ex_china")).astype(np.int64)


def _reach(
    scope: dict[str, np.ndarray],
    sides: dict[str, tuple[Side, Side]],
    buyers: Buyers,
    magnet_product: np.ndarray,
) -> np.ndarray:
    """``[P]`` share of the ex-China tier's customers a control of this ``scope`` reaches
    from China, for each price product (an oxide on the oxide or metal market, a magnet on
    the magnet market)."""
    out = np.zeros(len(PRICE_PRODUCTS))
    for market in ("oxide", "metal"):
        share = _reached(scope[market], *sides[market], np.ones(scope[market].shape[1], bool))
        cols = min(share.size, OXIDES)
        out[:cols] = np.maximum(out[:cols], share[:cols])
    sup, cus = sides["magnet"]
    bought = buyers.material[buyers.magnets]
    for k, name in enumerate(MAGNETS):
        makers = scope["magnet"][magnet_product == k]
        china = np.array([r == "CN" for r in sup.regions])[magnet_product == k]
        out[OXIDES + k] = _reached_from(makers, china, cus, bought == name)[0]
    return out


def _reached(scope: np.ndarray, sup: Side, cus: Side, customers: np.ndarray) -> np.ndarray:
    """``[K]`` share of ``customers`` outside China reached from suppliers in China, a
    column each of ``scope[P, C, K]``."""
    china = np.array([r == "CN" for r in sup.regions], dtype=bool)
    return _reached_from(scope, china, cus, customers)


def _reached_from(
    scope: np.ndarray, china: np.ndarray, cus: Side, customers: np.ndarray
) -> np.ndarray:
    """`_reached` with the suppliers in China given as a mask."""
    abroad = np.array([r != "CN" for r in cus.regions], dtype=bool) & customers
    if not china.any() or not abroad.any():
        return np.zeros(scope.shape[2])
    return scope[china][:, abroad].any(axis=0).mean(axis=0)


def withheld(
    rules: PriceRules, levels: list[np.ndarray], samples: int, dear: np.ndarray | None = None
) -> np.ndarray:
    """``[S, P]`` share of the flow from China to the ex-China tier the controls withhold,
    for each price product, from their ``levels`` (``[S]`` each); none where China's market
    is the dear one (``dear[S, P]``): the ex-China tier then sells into it, and the two tiers
    are one market again."""
    let_through = np.ones((samples, len(PRICE_PRODUCTS)))
    for reach, level in zip(rules.reach, levels):
        if reach.any() and level.any():
            let_through = let_through * (1.0 - level[:, None] * reach[None])
    if dear is not None:
        let_through = np.where(dear, 1.0, let_through)
    return 1.0 - let_through


def covers(
    rules: PriceRules,
    held: np.ndarray,
    inventory: np.ndarray,
    demand: np.ndarray,
    plant_use: np.ndarray,
    thrift: np.ndarray | None = None,
) -> np.ndarray:
    """``[S, P, K + 1]`` months of use held for each price product in each tier, and pooled
    over both (last column), from plants' holdings ``held[S, E, K]``, buyers' ``inventory[S,
    B]`` and ``demand[S or 1, B]`` a month (what they want at today's prices), and magnet
    plants' planned use of metal ``plant_use[S, plants, E]``.

    A tier's use of an element is what its magnet plants plan to use and its element buyers
    want (what a licence on the element withholds from them); the pooled use is final demand
    (every buyer's demand by element content, at the ``thrift[S, B, L]`` levels of its
    tier's magnet makers), which does not change with where the magnets are made."""
    magnets = rules.magnet_buyers
    stock = held + rules.by_tier(inventory, rules.loose)
    use = rules.by_tier(demand, rules.loose) + _plant_use(rules, plant_use)
    final = rules.by_tier(demand, rules.content)
    if thrift is not None:
        for lever, delta in enumerate(rules.thrift_delta):
            final = final + rules.by_tier(demand * thrift[..., lever], delta)
    final = final.sum(axis=2)
    final = spread(final, (use.shape[0], *final.shape[1:]))
    mag_stock = rules.by_tier(inventory, magnets)
    mag_use = rules.by_tier(demand, magnets)
    mag_use = spread(mag_use, (use.shape[0], *mag_use.shape[1:]))
    stock = np.concatenate([stock[:, :OXIDES], mag_stock], axis=1)
    pooled = np.concatenate([final[:, :OXIDES], mag_use.sum(axis=2)], axis=1)
    use = np.concatenate([use[:, :OXIDES], mag_use], axis=1)
    stock = np.concatenate([stock, stock.sum(axis=2, keepdims=True)], axis=2)
    use = np.concatenate([use, pooled[:, :, None]], axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(use > 0, stock / use, 0.0)


def _plant_use(rules: PriceRules, plant_use: np.ndarray) -> np.ndarray:
    """``[S, E, K]`` magnet plants' planned use ``plant_use[S, plants, E]`` by tier."""
    out = np.zeros((plant_use.shape[0], plant_use.shape[2], len(TIERS)))
    plants_by_tier(plant_use, np.ones((1, plant_use.shape[1])), rules.plant_tiers["magnet"], out)
    return out


def target(
    rules: PriceRules,
    anchor: np.ndarray,
    cover: np.ndarray,
    normal: np.ndarray,
    withheld_share: np.ndarray,
    wanted: np.ndarray,
) -> np.ndarray:
    """``[S, P, K]`` the prices stocks indicate: each tier's blended ``cover[S, P, K + 1]``
    against its ``normal`` one times the level of cover its holders want (``wanted[S, P,
    K]``), on the ``anchor[S, P, K]`` prices; magnets also pass through their oxides' change."""
    w = withheld_share[:, :, None]
    own = blended_cover(cover[..., :-1], cover[..., -1:], w)
    usual = blended_cover(normal[..., :-1], normal[..., -1:], w) * wanted
    price = indicated_price(anchor, own, usual, rules.sensitivity, rules.floor, rules.low)
    # each oxide's share of a magnet's cost at anchor prices (China's), times its change
    with np.errstate(divide="ignore", invalid="ignore"):
        change = finite(price[:, :OXIDES] / anchor[:, :OXIDES] - 1.0)  # [S, oxides, K]
        share = finite(
            rules.pass_through[None, :, :OXIDES]
            * anchor[:, None, :OXIDES, 0]
            / anchor[:, OXIDES:, None, 0]
        )  # [S, magnets, oxides]
    price[:, OXIDES:] += anchor[:, OXIDES:] * np.einsum("sme,sek->smk", share, change)
    return price


def clear(
    rules: PriceRules,
    economics: Economics,
    prices: np.ndarray,
    normal: np.ndarray,
    cover: np.ndarray,
    levels: list[np.ndarray],
    views: np.ndarray,
    feared: list[np.ndarray],
    step: int,
    dear: np.ndarray | None = None,
    last: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Next ``prices[S, P, K]`` and normal covers from this step's ``cover`` (`covers`):
    during the warm-up prices stay at the anchor and the normal cover follows the cover;
    from the first reported step prices move towards what the cover foreseen from ``last``
    step's (`pricing.foreseen_cover`) indicates. Holders'
    ``views[S, P, K, 2]`` (expected price, wanted cover level) move in place; ``feared``
    is each control's ``[S]`` share of the step between its announcement and its start;
    ``dear[S, P]`` where China's market was the dear one (`withheld`)."""
    anchor = economics.base_at(step)
    if step < 0:
        views[..., 0] = anchor
        return np.array(anchor, dtype=float), cover
    share = withheld(rules, levels, cover.shape[0], dear)
    if last is not None:
        cover = foreseen_cover(cover, last, rules.foresight)
    goal = target(rules, anchor, cover, normal, share, views[..., 1])
    moved = adapt(prices, goal, rules.months)
    hold(rules, views, moved, fear(rules, feared, cover.shape[0]))
    return moved, normal


def fear(rules: PriceRules, feared: list[np.ndarray], samples: int) -> np.ndarray:
    """``[S, P, K]`` share of the step holders in each tier spent waiting for an announced
    control that will reach them (the ex-China tier, for the products a control reaches)."""
    out = np.zeros((samples, len(PRICE_PRODUCTS), len(TIERS)))
    abroad = TIERS.index("ex_china")
    for window, reach in zip(feared, rules.reach):
        if window.any() and reach.any():
            out[:, :, abroad] = np.maximum(out[:, :, abroad], window[:, None] * (reach > 0))
    return out


def hold(rules: PriceRules, views: np.ndarray, prices: np.ndarray, feared: np.ndarray) -> None:
    """Move holders' ``views[S, P, K, 2]`` in place on this month's ``prices``: the cover
    they want towards ``(price / expected) ** holding_sensitivity`` within its bounds
    (precautionary stocking on a price running ahead of expectations, destocking on one
    falling behind), at least ``announced_cover`` in the share of the month ``feared[S, P,
    K]`` a control they will face is announced; then the expected price towards the price
    (both in logs)."""
    sensitivity, low, high, stock_speed, expect_speed = rules.holding
    expected, wanted = views[..., 0], views[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ahead = finite(prices / expected, nan=1.0, posinf=1.0)
    ahead = np.where(ahead > 0, ahead, 1.0)
    goal = np.clip(ahead**sensitivity, low, high)
    goal = np.maximum(goal, 1.0 + (rules.announced - 1.0) * feared)
    views[..., 1] = wanted * (goal / wanted) ** stock_speed
    views[..., 0] = np.where(ahead > 0, expected * ahead**expect_speed, expected)

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

from dataclasses import dataclass

import numpy as np

from sim.market.pricing import adapt, blended_cover, indicated_price
from sim.model.layout import Layout
from sim.model.levers.economics import PRICE_PRODUCTS, Economics
from sim.model.levers.reach import Side
from sim.units import ELEMENTS, MAGNETS, REO_TO_ELEMENT

OXIDES = len(ELEMENTS) - 1  # every element but the residual bucket has an oxide price


@dataclass(frozen=True)
class PriceRules:
    """Who holds what in which tier, and how prices answer to cover."""

    plant_tiers: dict[str, np.ndarray]  # separation, metal, magnet plants: [plants, K] one-hot
    buyer_tiers: np.ndarray  # [B, K] one-hot
    content: np.ndarray  # [B, E] t of each element a t of each buyer's material
    loose: np.ndarray  # [B, E] the same for buyers of elements, 0 for buyers of magnets
    magnet_buyers: np.ndarray  # [M, B] 1 where a buyer buys magnet M
    pass_through: np.ndarray  # [M, E] kg of oxide a kg of magnet takes
    reach: list[np.ndarray]  # each control's share of the ex-China tier's flow it reaches, [P]
    maps: tuple[np.ndarray, np.ndarray]  # buyers' tonnes to [E x K] and to [M x K], [B, n]
    sensitivity: float
    floor: float
    low: float
    months: float

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
        return (
            np.einsum("sne,nk->sek", sep_out, t["separation"])
            + np.einsum("sne,sn,nk->sek", metal_in, metal, t["metal"])
            + np.einsum("sne,sn,nk->sek", mag_in, magnet, t["magnet"])
        )


@dataclass(frozen=True)
class Buyers:
    """What the price rules need of the buyers: region, material and content, and which of
    them buy magnets (indices)."""

    region: np.ndarray  # [B]
    material: np.ndarray  # [B]
    content: np.ndarray  # [B, E]
    magnets: np.ndarray  # indices of the buyers of magnets


def build(
    layout: Layout,
    buyers: Buyers,
    magnet_product: np.ndarray,
    sides: dict[str, tuple[Side, Side]],
    scopes: list[dict[str, np.ndarray]],
) -> PriceRules:
    """The rules for a layout's plants, its ``buyers``, its magnet plants' products, the
    markets' ``sides`` and each control's ``scopes`` by market."""
    params = layout.world.parameters
    plant_tiers = {st: _one_hot(layout.regions(st)) for st in ("separation", "metal", "magnet")}
    recipes = np.array([layout.world.recipes[m] for m in MAGNETS])
    oxide_kg = recipes / REO_TO_ELEMENT[None] / (params["magnet_yield"] * params["metal_yield"])
    return PriceRules(
        plant_tiers,
        _one_hot(list(buyers.region)),
        buyers.content,
        np.where(np.isin(buyers.material, MAGNETS)[:, None], 0.0, buyers.content),
        np.array([buyers.material == m for m in MAGNETS], dtype=float),
        oxide_kg,
        [_reach(scope, sides, buyers, magnet_product) for scope in scopes],
        _maps(
            np.where(np.isin(buyers.material, MAGNETS)[:, None], 0.0, buyers.content),
            np.array([buyers.material == m for m in MAGNETS], dtype=float),
            _one_hot(list(buyers.region)),
        ),
        params["price_cover_sensitivity"],
        params["price_cover_floor"],
        params["price_floor_share"],
        params["price_adjustment_months"],
    )


def _maps(
    loose: np.ndarray, magnets: np.ndarray, tiers: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Buyers' tonnes to element tonnes by tier (``[B, E * K]``, element buyers only) and to
    magnet tonnes by tier (``[B, M * K]``)."""
    B = tiers.shape[0]
    elements = (loose[:, :, None] * tiers[:, None, :]).reshape(B, -1)
    magnet = (magnets.T[:, :, None] * tiers[:, None, :]).reshape(B, -1)
    return elements, magnet


def _one_hot(regions: list[str]) -> np.ndarray:
    """``[n, K]``: 1 in each party's tier (China or ex-China)."""
    china = np.array([r == "CN" for r in regions], dtype=float).reshape(-1)
    return np.stack([china, 1.0 - china], axis=1)


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


def withheld(rules: PriceRules, levels: list[np.ndarray], samples: int) -> np.ndarray:
    """``[S, P]`` share of the flow from China to the ex-China tier the controls withhold,
    for each price product, from their ``levels`` (``[S]`` each)."""
    let_through = np.ones((samples, len(PRICE_PRODUCTS)))
    for reach, level in zip(rules.reach, levels):
        if reach.any() and level.any():
            let_through = let_through * (1.0 - level[:, None] * reach[None])
    return 1.0 - let_through


def covers(
    rules: PriceRules,
    held: np.ndarray,
    inventory: np.ndarray,
    demand: np.ndarray,
    plant_use: np.ndarray,
) -> np.ndarray:
    """``[S, P, K + 1]`` months of use held for each price product in each tier, and pooled
    over both (last column), from plants' holdings ``held[S, E, K]``, buyers' ``inventory[S,
    B]`` and ``demand[S or 1, B]`` a month (what they want at today's prices), and magnet
    plants' planned use of metal ``plant_use[S, plants, E]``.

    A tier's use of an element is what its magnet plants plan to use and its element buyers
    want (what a licence on the element withholds from them); the pooled use is final demand
    (every buyer's demand by element content), which does not change with where the magnets
    are made."""
    elements, magnets = rules.maps
    E, K, M = held.shape[1], held.shape[2], rules.magnet_buyers.shape[0]
    stock = held + np.einsum("sb,bn->sn", inventory, elements).reshape(-1, E, K)
    use = np.einsum("sb,bn->sn", demand, elements).reshape(-1, E, K) + np.einsum(
        "sne,nk->sek", plant_use, rules.plant_tiers["magnet"]
    )
    final = np.einsum("sb,be->se", demand, rules.content)
    final = np.broadcast_to(final, (use.shape[0], *final.shape[1:]))
    mag_stock = np.einsum("sb,bn->sn", inventory, magnets).reshape(-1, M, K)
    mag_use = np.einsum("sb,bn->sn", demand, magnets).reshape(-1, M, K)
    mag_use = np.broadcast_to(mag_use, (use.shape[0], *mag_use.shape[1:]))
    stock = np.concatenate([stock[:, :OXIDES], mag_stock], axis=1)
    pooled = np.concatenate([final[:, :OXIDES], mag_use.sum(axis=2)], axis=1)
    use = np.concatenate([use[:, :OXIDES], mag_use], axis=1)
    stock = np.concatenate([stock, stock.sum(axis=2, keepdims=True)], axis=2)
    use = np.concatenate([use, pooled[:, :, None]], axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(use > 0, stock / use, 0.0)


def target(
    rules: PriceRules,
    anchor: np.ndarray,
    cover: np.ndarray,
    normal: np.ndarray,
    withheld_share: np.ndarray,
) -> np.ndarray:
    """``[S, P, K]`` the prices stocks indicate: each tier's blended ``cover[S, P, K + 1]``
    against its ``normal`` one, on the ``anchor[S, P, K]`` prices; magnets also pass
    through their oxides' change."""
    w = withheld_share[:, :, None]
    own = blended_cover(cover[..., :-1], cover[..., -1:], w)
    usual = blended_cover(normal[..., :-1], normal[..., -1:], w)
    price = indicated_price(anchor, own, usual, rules.sensitivity, rules.floor, rules.low)
    # each oxide's share of a magnet's cost at anchor prices (China's), times its change
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.nan_to_num(price[:, :OXIDES] / anchor[:, :OXIDES] - 1.0)  # [S, oxides, K]
        share = np.nan_to_num(
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
    step: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Next ``prices[S, P, K]`` and normal covers from this step's ``cover`` (`covers`):
    during the warm-up prices stay at the anchor and the normal cover follows the cover;
    from the first reported step prices move towards the stocks' indication."""
    anchor = economics.base_at(step)
    if step < 0:
        return np.array(anchor, dtype=float), cover
    share = withheld(rules, levels, cover.shape[0])
    goal = target(rules, anchor, cover, normal, share)
    return adapt(prices, goal, rules.months), normal

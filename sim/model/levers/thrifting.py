"""Thrifting: magnet makers design Dy and Tb out of NdFeB as Dy grows dear.

Grain-boundary diffusion puts the heavy rare earths where coercivity needs them and uses
about a half, sometimes a third, of the Dy or Tb of a conventional magnet with the same
properties (docs/market-parameters.md, section 7); Dy-free grades serve the cooler uses. The
heavy rare earths sit in the magnet's (Nd,Pr,Dy,Tb)2Fe14B phase in place of Nd and Pr, so a
tonne of thrifted magnet holds the same tonnes of rare earths: what comes out as Dy and Tb
goes back in as NdPr.

Each tier's magnet makers (China, ex-China) carry a **thrift level** ``theta``, the share of
the recipe's Dy and Tb designed out. Each month it moves ``1 - exp(-1/thrift_adoption_months)``
of the way to ``thrift_max_share`` times where the cost of a tonne of NdFeB's Dy and Tb oxide
in the tier, over its cost at base prices, sits between ``thrift_trigger_price_ratio``
(nothing) and ``thrift_full_price_ratio`` (all of it), as a `substitution` does, and never
falls back: a magnet requalified with less Dy stays qualified. Both elements count, since
one technique saves both: a licence on Tb alone sets off the thrift a licence on Dy and Tb
does (with the Dy price alone, the broader licence thrifted more and lowered the shortfall).
A magnet plant makes magnets of its recipe plus ``theta`` times ``delta``, the change a whole
thrift makes (``-Dy``, ``-Tb``, ``+Dy+Tb`` on NdPr), and uses metal for it.

Magnets made at different levels mix downstream, so the mass balance keeps, for every holder
of magnets (buyers, magnets in transit to them, stockpiles), its **thrifted tonnes**: the sum
over what it holds of tonnes times the level they were made at. Its elements are its tonnes
times its material's recipe plus its thrifted tonnes times ``delta``; a holder that gives up a
share of its tonnes gives up that share of its thrifted tonnes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.levers.demand_response import speed
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.units import ELEMENTS, MAGNETS, REO_TO_ELEMENT

THRIFTED = ("Dy", "Tb")  # designed out
INTO = "NdPr"  # what takes their place in the magnet phase
THRIFTED_INDEX = tuple(ELEMENTS.index(e) for e in THRIFTED)
INTO_INDEX = ELEMENTS.index(INTO)
OXIDES = [PRICE_PRODUCTS.index(f"{e}_oxide") for e in THRIFTED]  # the prices makers watch


@dataclass(frozen=True)
class ThriftRules:
    """Who thrifts and how: each magnet plant's tier and change of recipe per unit of
    thrift, each buyer's change of content, and the response to the cost of Dy and Tb."""

    plant_tier: np.ndarray  # [P] each magnet plant's tier (index into TIERS)
    plant_delta: np.ndarray  # [P, E] change of a tonne of its magnet's elements at theta 1
    buyer_delta: np.ndarray  # [B, E] the same for each buyer's material (0 for elements)
    watched: np.ndarray  # the price products of the Dy and Tb oxides the world prices
    heavy_kg: np.ndarray  # kg of each in a kg of NdFeB (the cost makers watch)
    max_share: float
    trigger: float
    full: float
    speed: float

    @property
    def acts(self) -> bool:
        """Whether any magnet can be thrifted at all (on a price the world has)."""
        return self.max_share > 0 and bool(self.plant_delta.any()) and self.watched.size > 0


def delta(recipe: np.ndarray) -> np.ndarray:
    """``[E]`` the change of a tonne of magnet of ``recipe[E]`` with all its Dy and Tb
    designed out and replaced by NdPr (0 for a magnet with neither)."""
    out = np.zeros(len(ELEMENTS))
    out[INTO_INDEX] = recipe[list(THRIFTED_INDEX)].sum()
    out[list(THRIFTED_INDEX)] = -recipe[list(THRIFTED_INDEX)]
    return out if recipe[INTO_INDEX] > 0 else np.zeros(len(ELEMENTS))


def build(
    params: dict[str, float],
    recipes: dict[str, np.ndarray],
    priced: set[str],
    plant_regions: list[str],
    plant_products: np.ndarray,
    buyer_materials: np.ndarray,
) -> ThriftRules:
    """The rules for magnet plants in ``plant_regions`` making ``plant_products`` (indices
    into `MAGNETS`) and buyers of ``buyer_materials``, from the world's ``params``,
    ``recipes`` and the products it ``priced``."""
    by_magnet = {m: delta(recipes[m]) for m in MAGNETS}
    kg = recipes["NdFeB"][list(THRIFTED_INDEX)] / REO_TO_ELEMENT[list(THRIFTED_INDEX)]
    watched = [k for k, e in enumerate(THRIFTED) if f"{e}_oxide" in priced]
    none = np.zeros(len(ELEMENTS))
    tiers = [TIERS.index("china") if r == "CN" else TIERS.index("ex_china") for r in plant_regions]
    return ThriftRules(
        plant_tier=np.array(tiers, dtype=np.int64),
        plant_delta=np.array([by_magnet[MAGNETS[k]] for k in plant_products]).reshape(
            -1, len(ELEMENTS)
        ),
        buyer_delta=np.array([by_magnet.get(str(m), none) for m in buyer_materials]).reshape(
            -1, len(ELEMENTS)
        ),
        watched=np.array([OXIDES[k] for k in watched], dtype=np.int64),
        heavy_kg=kg[watched],
        max_share=float(params["thrift_max_share"]),
        trigger=float(params["thrift_trigger_price_ratio"]),
        full=float(params["thrift_full_price_ratio"]),
        speed=float(speed(np.array(params["thrift_adoption_months"]))),
    )


def settle(
    rules: ThriftRules, levels: np.ndarray, prices: np.ndarray, base: np.ndarray, step: int
) -> np.ndarray:
    """Next month's thrift ``levels[S, K]`` from the market's ``prices[S, P, K]`` over the
    ``base`` prices (no thrift during the warm-up): towards the target, never down."""
    if not rules.acts or step < 0:
        return levels
    kg = rules.heavy_kg[None, :, None]
    cost, usual = ((kg * p[:, rules.watched]).sum(axis=1) for p in (prices, base))  # [S, K]
    ok = (cost > 0) & (usual > 0)
    ratio = np.where(ok, cost / np.where(ok, usual, 1.0), 1.0)
    reach = np.clip((ratio - rules.trigger) / (rules.full - rules.trigger), 0.0, 1.0)
    goal = rules.max_share * reach
    return np.maximum(levels, levels + (goal - levels) * rules.speed)


def plant_levels(rules: ThriftRules, levels: np.ndarray) -> np.ndarray:
    """``[S, P]`` each magnet plant's thrift level, its tier's."""
    return np.take(levels, rules.plant_tier, axis=1)


def recipes(rules: ThriftRules, recipe: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``[S, P, E]`` what a tonne of each plant's magnet holds at the tiers' ``levels``."""
    return recipe[None] + plant_levels(rules, levels)[:, :, None] * rules.plant_delta[None]


def given_up(thrifted: np.ndarray, tonnes: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """The thrifted tonnes that go with ``taken`` of holders' ``tonnes`` (each its share of
    what they hold; all of it when all is taken, none when they hold none)."""
    share = np.divide(taken, tonnes, out=np.zeros_like(taken), where=tonnes > 0)
    return thrifted * np.minimum(share, 1.0)

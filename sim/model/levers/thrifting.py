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

They also choose **between Tb and Dy** (the second lever, ``swap``): both raise coercivity
in the magnet phase, Tb about 1.9 times as much per kg (``tb_per_dy``: the anisotropy fields
of Tb2Fe14B, Dy2Fe14B and Nd2Fe14B, ~22, ~15 and ~7.3 T, Herbst 1991; coercivity rises about
linearly with the phase's anisotropy field at the contents magnets use). A swap level ``phi``
moves that share of the recipe's Dy onto ``1 / tb_per_dy`` as much Tb (``-Dy``,
``+Dy / tb_per_dy`` Tb, the rest as NdPr); a negative level moves Tb onto Dy the same way.
Each month it moves at the thrift's speed, both ways, towards where the Dy oxide price over
the Tb oxide price sits against the same ratio at base prices: at ``swap_full_price_ratio``
times it, all of ``swap_max_share`` of the recipe's Dy moves onto Tb; at its inverse,
``swap_max_share`` of the recipe's Tb onto Dy; in between, in proportion to the log of the
ratio. The two elements come out of the ionic clays in a fixed ratio, so without it whichever
is scarcer sets the clays' output and the other floods (docs/design.md, Known limits).

Both levers are linear in their levels, so a magnet's change is the sum of each level times
its lever's ``delta``. Magnets made at different levels mix downstream, so the mass balance
keeps, for every holder of magnets (buyers, magnets in transit to them, stockpiles), its
**thrifted tonnes** of each lever: the sum over what it holds of tonnes times the lever's level
they were made at. Its elements are its tonnes times its material's recipe plus, for each
lever, its thrifted tonnes times the lever's ``delta``; a holder that gives up a share of its
tonnes gives up that share of its thrifted tonnes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.model.levers.timing import closing_speed, per_sample
from sim.units import ELEMENTS, MAGNETS, REO_TO_ELEMENT

LEVERS = ("thrift", "swap")  # Dy and Tb designed out; Dy moved onto Tb (or back)
THRIFTED = ("Dy", "Tb")  # designed out
INTO = "NdPr"  # what takes their place in the magnet phase
THRIFTED_INDEX = tuple(ELEMENTS.index(e) for e in THRIFTED)
DY, TB = THRIFTED_INDEX
INTO_INDEX = ELEMENTS.index(INTO)
OXIDES = [PRICE_PRODUCTS.index(f"{e}_oxide") for e in THRIFTED]  # the prices makers watch


@dataclass(frozen=True)
class ThriftRules:
    """Who thrifts and how: each magnet plant's tier and change of recipe per unit of each
    lever, each buyer's change of content, and the response to the prices of Dy and Tb."""

    plant_tier: np.ndarray  # [P] each magnet plant's tier (index into TIERS)
    plant_delta: np.ndarray  # [L, P, E] change of a tonne of its magnet's elements at level 1
    buyer_delta: np.ndarray  # [L, B, E] the same for each buyer's material (0 for elements)
    watched: np.ndarray  # the price products of the Dy and Tb oxides the world prices
    heavy_kg: np.ndarray  # kg of each in a kg of NdFeB (the cost makers watch)
    max_share: float
    trigger: float | np.ndarray  # a float, or ``[S, 1]`` where a sweep draws it
    full: float
    speed: float | np.ndarray  # share of the gap closed a month; a float or ``[S, 1]``
    swap_range: tuple[float, float]  # lowest and highest swap level
    swap_full: float  # Dy/Tb price ratio over its base ratio that sets all the range
    # the buyers whose material a lever changes, the elements it changes, and their [L,
    # buyers, elements] change at level 1 (the rest is 0): what `contained` sums over
    changed: tuple[np.ndarray, np.ndarray, np.ndarray]

    # whether each lever can move, worked out once (`__post_init__`)
    thrifts: bool = field(init=False)  # any magnet can be thrifted (on a price the world has)
    swaps: bool = field(init=False)  # makers can move Dy onto Tb or back (both priced, a range)

    def __post_init__(self) -> None:
        thrifts = self.max_share > 0 and bool(self.plant_delta[0].any()) and self.watched.size > 0
        swaps = (
            self.swap_range != (0.0, 0.0)
            and self.watched.size == 2
            and bool(self.plant_delta[1].any())
        )
        object.__setattr__(self, "thrifts", thrifts)
        object.__setattr__(self, "swaps", swaps)

    @property
    def acts(self) -> bool:
        """Whether any lever can move."""
        return self.thrifts or self.swaps


def delta(recipe: np.ndarray) -> np.ndarray:
    """``[E]`` the change of a tonne of magnet of ``recipe[E]`` with all its Dy and Tb
    designed out and replaced by NdPr (0 for a magnet with neither)."""
    out = np.zeros(len(ELEMENTS))
    out[INTO_INDEX] = recipe[list(THRIFTED_INDEX)].sum()
    out[list(THRIFTED_INDEX)] = -recipe[list(THRIFTED_INDEX)]
    return out if recipe[INTO_INDEX] > 0 else np.zeros(len(ELEMENTS))


def swap_delta(recipe: np.ndarray, tb_per_dy: float) -> np.ndarray:
    """``[E]`` the change of a tonne of magnet of ``recipe[E]`` with all its Dy moved onto
    ``1 / tb_per_dy`` as much Tb, NdPr taking the rest of the rare-earth sites (0 for a
    magnet without Dy or NdPr)."""
    out = np.zeros(len(ELEMENTS))
    if recipe[INTO_INDEX] <= 0 or recipe[DY] <= 0:
        return out
    out[DY], out[TB] = -recipe[DY], recipe[DY] / tb_per_dy
    out[INTO_INDEX] = recipe[DY] * (1.0 - 1.0 / tb_per_dy)
    return out


def swap_range(params: Mapping[str, Any], recipe: np.ndarray) -> tuple[float, float]:
    """The swap levels NdFeB of ``recipe`` allows: up to ``swap_max_share`` of its Dy onto
    Tb, and of its Tb onto Dy (a negative level), never more of either than a full thrift
    leaves (so no level of the two levers empties a recipe of Dy or Tb below 0)."""
    share = min(float(params["swap_max_share"]), 1.0 - float(params["thrift_max_share"]))
    if share <= 0 or recipe[DY] <= 0 or recipe[INTO_INDEX] <= 0:
        return (0.0, 0.0)
    return (-share * recipe[TB] * float(params["tb_per_dy"]) / recipe[DY], share)


def build(
    params: Mapping[str, Any],
    recipes: dict[str, np.ndarray],
    priced: set[str],
    plant_regions: list[str],
    plant_products: np.ndarray,
    buyer_materials: np.ndarray,
) -> ThriftRules:
    """The rules for magnet plants in ``plant_regions`` making ``plant_products`` (indices
    into `MAGNETS`) and buyers of ``buyer_materials``, from the world's ``params``,
    ``recipes`` and the products it ``priced``."""
    ratio = float(params["tb_per_dy"])
    by_magnet = {m: np.stack([delta(recipes[m]), swap_delta(recipes[m], ratio)]) for m in MAGNETS}
    kg = recipes["NdFeB"][list(THRIFTED_INDEX)] / REO_TO_ELEMENT[list(THRIFTED_INDEX)]
    watched = [k for k, e in enumerate(THRIFTED) if f"{e}_oxide" in priced]
    none = np.zeros((len(LEVERS), len(ELEMENTS)))
    tiers = [TIERS.index("china") if r == "CN" else TIERS.index("ex_china") for r in plant_regions]
    plant = [by_magnet[MAGNETS[k]] for k in plant_products]
    buyer = [by_magnet.get(str(m), none) for m in buyer_materials]
    buyer_delta = np.array(buyer).reshape(-1, len(LEVERS), len(ELEMENTS)).transpose(1, 0, 2)
    rows = np.flatnonzero(buyer_delta.any(axis=(0, 2)))
    cols = np.flatnonzero(buyer_delta.any(axis=(0, 1)))
    return ThriftRules(
        plant_tier=np.array(tiers, dtype=np.int64),
        plant_delta=np.array(plant).reshape(-1, len(LEVERS), len(ELEMENTS)).transpose(1, 0, 2),
        buyer_delta=buyer_delta,
        watched=np.array([OXIDES[k] for k in watched], dtype=np.int64),
        heavy_kg=kg[watched],
        max_share=float(params["thrift_max_share"]),
        trigger=per_sample(params["thrift_trigger_price_ratio"], 2),
        full=float(params["thrift_full_price_ratio"]),
        speed=closing_speed(params["thrift_adoption_months"], 2),
        swap_range=swap_range(params, recipes["NdFeB"]),
        swap_full=float(params["swap_full_price_ratio"]),
        changed=(rows, cols, buyer_delta[:, rows][:, :, cols]),
    )


def settle(
    rules: ThriftRules, levels: np.ndarray, prices: np.ndarray, base: np.ndarray, step: int
) -> np.ndarray:
    """Next month's levels ``levels[S, K, L]`` from the market's ``prices[S, P, K]`` over the
    ``base`` prices (nothing moves during the warm-up): the thrift towards its target, never
    down; the swap towards its target, both ways."""
    if not rules.acts or step < 0:
        return levels
    out = levels.copy()
    if rules.thrifts:
        goal = rules.max_share * _reach(rules, prices, base)
        out[..., 0] = np.maximum(
            levels[..., 0], levels[..., 0] + (goal - levels[..., 0]) * rules.speed
        )
    if rules.swaps:
        goal = _swap_goal(rules, prices, base)
        out[..., 1] = levels[..., 1] + (goal - levels[..., 1]) * rules.speed
    return out


def _reach(rules: ThriftRules, prices: np.ndarray, base: np.ndarray) -> np.ndarray:
    """``[S, K]`` how far the cost of a tonne of NdFeB's Dy and Tb oxide, over its cost at
    base prices, sits between the trigger (0) and the full ratio (1)."""
    kg = rules.heavy_kg[None, :, None]
    cost, usual = ((kg * p[:, rules.watched]).sum(axis=1) for p in (prices, base))  # [S, K]
    ok = (cost > 0) & (usual > 0)
    ratio = np.where(ok, cost / np.where(ok, usual, 1.0), 1.0)
    return np.clip((ratio - rules.trigger) / (rules.full - rules.trigger), 0.0, 1.0)


def _swap_goal(rules: ThriftRules, prices: np.ndarray, base: np.ndarray) -> np.ndarray:
    """``[S, K]`` the swap level the Dy-to-Tb price ratio, against its base ratio, asks for."""
    dy, tb = rules.watched
    now = np.log(np.maximum(prices[:, dy], 1e-9)) - np.log(np.maximum(prices[:, tb], 1e-9))
    usual = np.log(np.maximum(base[:, dy], 1e-9)) - np.log(np.maximum(base[:, tb], 1e-9))
    reach = np.clip((now - usual) / np.log(rules.swap_full), -1.0, 1.0)
    low, high = rules.swap_range
    return np.where(reach > 0, reach * high, -reach * low)


def plant_levels(rules: ThriftRules, levels: np.ndarray) -> np.ndarray:
    """``[S, P, L]`` each magnet plant's levels, its tier's."""
    return np.take(levels, rules.plant_tier, axis=1)


def recipes(rules: ThriftRules, recipe: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``[S, P, E]`` what a tonne of each plant's magnet holds at the tiers' ``levels``
    (each lever's level times its change, added lever by lever: the same sums whatever the
    batch size)."""
    at = plant_levels(rules, levels)
    out = recipe[None] + at[:, :, 0, None] * rules.plant_delta[0][None]
    for lever in range(1, at.shape[2]):
        out = out + at[:, :, lever, None] * rules.plant_delta[lever][None]
    return out


def contained(rules: ThriftRules, thrifted: np.ndarray) -> np.ndarray:
    """``[S, E]`` what ``thrifted[S, B, L]`` tonnes of buyers change in the elements they
    hold: each lever's thrifted tonnes times its change, over the buyers and elements a lever
    changes only (added in the same order whatever the batch size)."""
    rows, cols, delta = rules.changed
    out = np.zeros((thrifted.shape[0], len(ELEMENTS)))
    out[:, cols] = np.einsum("sbl,lbe->se", thrifted[:, rows], delta)
    return out


def given_up(thrifted: np.ndarray, tonnes: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """The thrifted tonnes ``[..., L]`` that go with ``taken`` of holders' ``tonnes`` (each
    its share of what they hold; all of it when all is taken, none when they hold none)."""
    share = np.divide(taken, tonnes, out=np.zeros_like(taken), where=tonnes > 0)
    return thrifted * np.minimum(share, 1.0)[..., None]

"""How buyers answer price: they use less of a dear material (short-run elasticity by sector)
and hold more of it while its price rises faster than they expected (precautionary buying),
less while it falls (destocking).

Each buyer watches its material's price in its tier (magnets: the magnet's; elements: the
oxide's). Its **use level** moves each month ``1 - exp(-1 / demand_response_months)`` of the
way to ``(price / anchor) ** -elasticity`` (its sector's, `sim/world/data/demand_response.csv`):
its demand is its demand path times that level, and what it no longer uses is not a
shortfall. Its **cover level** (a multiplier of the stock it aims to hold) moves each month
``1 - exp(-1 / stocking_months)`` of the way to ``(price / expected) ** stocking_sensitivity``
within ``stocking_cover_min .. stocking_cover_max``, where the expected price is the price
averaged over ``expectation_months``: buyers who see prices run ahead of what they expected
stock up, and run their stocks down when prices fall below it. Between a control's
announcement and its start, the buyers it will reach (outside the exporter, of a product it
covers) aim at ``announced_cover`` times their normal cover, or more. Levels are 1 until the
first reported step.

`build` returns the rules (`BuyingRules`); the levels are part of the run's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.market import buying_kernels as kernels
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.model.levers.timing import closing_speed
from sim.units import MAGNETS
from sim.world.world import Buyer


@dataclass(frozen=True)
class BuyingRules:
    """Each buyer's price cell and elasticity, and the shared stocking parameters."""

    product: np.ndarray  # [B] price product each buyer watches (-1: none)
    tier: np.ndarray  # [B]
    elasticity: np.ndarray  # [B] short-run price elasticity of its use (>= 0, a magnitude)
    cell: np.ndarray  # [B] its price cell (product x tier), -1 for none
    group: np.ndarray  # [B] its cell and elasticity's group: buyers alike in both move alike
    # use speed (share of the gap to the target use level closed a month), stock sensitivity,
    # lowest and highest cover level, stock speed, expectation speed, announced cover: the
    # numbers `sim.market.buying_kernels.settle` takes, in its order: ``[1, 7]``, or
    # ``[S, 7]`` where a sweep draws the market's behaviour
    constants: np.ndarray
    responds: bool  # whether any buyer's use answers price


def build(
    buyers: list[Buyer],
    elasticity: dict[str, float],
    params: Mapping[str, Any],
    prices: dict[tuple[str, str], float],
) -> BuyingRules:
    """The rules for ``buyers``, with each sector's ``elasticity`` (0 for a sector without
    one), the world's parameters and its base ``prices`` (a buyer whose product has none in
    its tier watches no price)."""
    names = [f"{b.material}_{'magnet' if b.material in MAGNETS else 'oxide'}" for b in buyers]
    tiers = ["china" if b.region == "CN" else "ex_china" for b in buyers]
    product = np.array(
        [PRICE_PRODUCTS.index(n) if (n, t) in prices else -1 for n, t in zip(names, tiers)]
    )
    tier = np.array([TIERS.index(t) for t in tiers])
    sector = np.array([elasticity.get(b.sector, 0.0) for b in buyers])
    cell = np.where(product >= 0, product * len(TIERS) + tier, -1)
    keys = np.stack([cell, sector * (product >= 0)], axis=1)
    return BuyingRules(
        product,
        tier,
        sector * (product >= 0),
        cell,
        np.unique(keys, axis=0, return_inverse=True)[1].reshape(-1),
        np.stack(
            np.broadcast_arrays(
                *(
                    np.reshape(value, (-1,))
                    for value in (
                        closing_speed(params["demand_response_months"], 1),
                        params["stocking_sensitivity"],
                        params["stocking_cover_min"],
                        params["stocking_cover_max"],
                        closing_speed(params["stocking_months"], 1),
                        closing_speed(params["expectation_months"], 1),
                        params["announced_cover"],
                    )
                )
            ),
            axis=1,
        ),
        bool((sector > 0).any()),
    )


def watched(rules: BuyingRules, prices: np.ndarray) -> np.ndarray:
    """``[S, B]`` the price each buyer watches in ``prices[S, P, K]`` (1 where none)."""
    P, K = prices.shape[1:]
    flat = np.maximum(rules.product, 0) * K + rules.tier
    cells = np.take(np.ascontiguousarray(prices).reshape(prices.shape[0], P * K), flat, axis=1)
    return np.where(rules.product[None] >= 0, cells, 1.0)


def settle(
    rules: BuyingRules,
    use: np.ndarray,
    cover: np.ndarray,
    expected: np.ndarray,
    prices: np.ndarray,
    anchor: np.ndarray,
    feared: np.ndarray,
    step: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Next month's use levels, cover levels and expected prices (``[S, B]`` each, updated in
    place) from this month's ``prices`` and ``anchor`` prices (``[S, P, K]``) and the share of
    the month each buyer spent between a control's announcement and its start (``feared[S, B]``)."""
    kernels.settle(  # in place: the arrays are the run's own (`State` copies its arrays)
        rules.cell,
        rules.group,
        rules.elasticity,
        (use, cover, expected),
        (watched(rules, prices), watched(rules, anchor)),
        feared,
        rules.constants,
        step >= 0,
    )
    return use, cover, expected


def feared(rules: BuyingRules, windows: list[np.ndarray], reach: list[np.ndarray]) -> np.ndarray:
    """``[S, B]`` share of a month each buyer spent waiting for a control it will face:
    ``windows`` (each control's ``[S]`` share of the month between announcement and start)
    and ``reach`` (each control's ``[P]`` share of the ex-China tier it reaches, by price
    product)."""
    out = np.zeros((windows[0].shape[0] if windows else 1, len(rules.product)))
    abroad = rules.tier == TIERS.index("ex_china")
    for window, share in zip(windows, reach):
        if not window.any():  # no part of the month waiting: adds nothing
            continue
        hit = abroad & (rules.product >= 0) & (share[np.maximum(rules.product, 0)] > 0)
        out = np.maximum(out, window[:, None] * hit[None])
    return out

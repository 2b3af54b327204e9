"""Buyers answer price: they use less of a dear material (their sector's short-run
elasticity) and aim at more stock while its price runs ahead of what they expected."""

from __future__ import annotations

import dataclasses

import numpy as np

from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.runs.engine import run
from tests.worlds import one_chain, scenario

BAN = {
    "kind": "export_control",
    "exporter": "CN",
    "destinations": ["US"],
    "forms": ["magnet"],
    "mode": "ban",
    "start": "2025-01-01",
    "end": "2025-07-01",
}
M0 = 12
NDFEB_ABROAD = (PRICE_PRODUCTS.index("NdFeB_magnet"), TIERS.index("ex_china"))


def _world(elasticity: float, stocking: float):  # type: ignore[no-untyped-def]
    world = one_chain(cover_weeks=8.0)
    params = {**world.parameters, "stocking_sensitivity": stocking}
    return dataclasses.replace(
        world, parameters=params, demand_elasticity={"ev_traction": elasticity}
    )


def test_buyers_use_less_of_a_dear_material_and_come_back_when_it_eases() -> None:
    fixed = run(_world(0.0, 0.0), scenario([BAN]))
    elastic = run(_world(0.2, 0.0), scenario([BAN]))
    path = fixed.record.demand[0, :, 0]
    used = elastic.record.demand[0, :, 0]
    price = elastic.prices_usd_per_kg[0, :, NDFEB_ABROAD[0], NDFEB_ABROAD[1]]
    assert np.allclose(path, fixed.chain.demand_path[12 : 12 + len(path), 0])  # no answer
    assert np.allclose(used[:M0], path[:M0])  # nothing before the ban
    dear = price > 1.5 * price[0]
    assert dear.any() and (used[dear] < path[dear]).all()  # less use while dear ...
    assert used[-1] > 0.95 * path[-1] and used[-1] > used.min() + 0.1 * path[-1]  # coming back
    assert (used <= path + 1e-9).all()


def test_buyers_stock_up_while_prices_run_ahead_and_destock_when_they_fall_behind() -> None:
    calm = run(_world(0.0, 0.0), scenario([BAN]))
    wary = run(_world(0.0, 1.0), scenario([BAN]))
    price = wary.prices_usd_per_kg[0, :, NDFEB_ABROAD[0], NDFEB_ABROAD[1]]
    peak = int(price.argmax())
    assert M0 < peak < M0 + 9
    inv_calm, inv_wary = calm.record.inventory, wary.record.inventory
    assert inv_calm is not None and inv_wary is not None
    assert np.allclose(inv_wary[:M0, 0], inv_calm[:M0, 0])  # the same before any surprise
    # when supply returns prices are still above what buyers came to expect: they aim at
    # more stock; once prices fall below it, at less
    calm_after = inv_calm[peak:, 0]
    after = np.divide(
        inv_wary[peak:, 0], calm_after, out=np.ones_like(calm_after), where=calm_after > 0
    )
    first_high = int(np.argmax(after > 1.2))
    assert after[first_high] > 1.2
    assert (after[first_high:] < 0.9).any()
    assert wary.shortfall.sum() > 0 and calm.shortfall.sum() > 0


def test_an_announced_control_makes_the_buyers_it_will_reach_stock_up() -> None:
    world = _world(0.0, 0.0)
    quiet = run(world, scenario([BAN]))
    told = run(world, scenario([{**BAN, "announced": "2024-10-01"}]))
    inv_quiet, inv_told = quiet.record.inventory, told.record.inventory
    assert inv_quiet is not None and inv_told is not None
    assert np.allclose(inv_told[:9, 0], inv_quiet[:9, 0])  # nothing before the announcement
    assert inv_told[11, 0] > 1.3 * inv_quiet[11, 0]  # on its way to twice the cover by December
    assert told.shortfall.sum() < quiet.shortfall.sum()  # the stock carries them longer

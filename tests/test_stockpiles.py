"""Stockpiles: a release lowers the shortfall of the sector it serves, purchases fill it from
buyers' surplus, and the stock held stays in the mass balance."""

from __future__ import annotations

import numpy as np
import pytest

from sim.runs.engine import run
from tests.worlds import one_chain, scenario, with_defence

M0 = 12
BAN = {
    "kind": "export_control",
    "exporter": "CN",
    "destinations": ["US"],
    "forms": ["magnet"],
    "mode": "ban",
    "start": "2025-01-01",
}
PILE = {
    "kind": "stockpile",
    "region": "US",
    "material": "NdFeB",
    "sectors": ["defence"],
    "initial_t": 60.0,
    "max_release_t_per_month": 5.0,
    "start": "2024-01-01",
}


def test_a_release_lowers_the_shortfall_of_the_sector_it_serves() -> None:
    world = with_defence(one_chain(cover_weeks=0.0))
    without = run(world, scenario([BAN]))
    with_pile = run(world, scenario([BAN, PILE]))
    ev, defence = 0, 1
    saved = without.shortfall[0, :, defence] - with_pile.shortfall[0, :, defence]
    assert saved.sum() == pytest.approx(60.0, abs=1e-9)
    assert saved[M0 : M0 + 12].max() <= 5.0 + 1e-9  # at most the monthly release
    assert np.allclose(with_pile.shortfall[0, :, ev], without.shortfall[0, :, ev])
    assert with_pile.residual < 1e-9
    assert with_pile.record.stockpile_t is not None
    assert with_pile.record.stockpile_t[0, -1, 0] < 1e-9  # all released


def test_no_release_below_the_threshold() -> None:
    world = with_defence(one_chain(cover_weeks=0.0))
    quota = {**BAN, "mode": "quota", "share": 0.7}  # 30% short: under a 50% threshold
    res = run(world, scenario([quota, {**PILE, "release_threshold": 0.5}]))
    assert res.record.stockpile_t is not None
    assert np.allclose(res.record.stockpile_t[0, :, 0], 60.0)


def test_more_stock_never_raises_the_served_shortfall() -> None:
    world = with_defence(one_chain(cover_weeks=0.0))
    held = np.array([0.0, 10.0, 40.0, 90.0, 500.0])
    res = run(
        world,
        scenario([BAN, PILE]),
        samples=held.size,
        detail=False,
        draws={"events[1].initial_t": held},
    )
    total = res.shortfall[:, :, 1].sum(axis=1)
    assert (np.diff(total) <= 1e-9).all() and total[0] > total[-1] + 50.0


def test_purchases_fill_the_stockpile_from_surplus_without_shortfall() -> None:
    world = with_defence(one_chain(cover_weeks=8.0), cover_weeks=8.0)
    buy = {**PILE, "initial_t": 0.0, "purchase_t_per_month": 2.0, "target_t": 15.0}
    res = run(world, scenario([buy]))
    assert res.record.stockpile_t is not None
    held = res.record.stockpile_t[0, :, 0]
    assert held[-1] == pytest.approx(15.0, abs=1e-9)
    assert (np.diff(held) <= 2.0 + 1e-9).all()
    assert res.shortfall.max() < 1e-6 and res.residual < 1e-9

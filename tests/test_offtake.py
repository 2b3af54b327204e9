"""Offtakes: a reserved share of a plant's output serves its buyers first, even ahead of
higher-priority buyers, and lowers their shortfall."""

from __future__ import annotations

import numpy as np
import pytest

from sim.runs.engine import run
from tests.worlds import one_chain, scenario, with_defence

M0 = 12
SCARCE = {
    "kind": "outage",
    "facility": "g",
    "share": 0.9995,
    "start": "2025-01-01",
    "end": "2026-01-01",
}  # 4.2 t a month left for 110 t of demand
OFFTAKE = {
    "kind": "offtake",
    "facility": "g",
    "share": 0.5,
    "region": "US",
    "sectors": ["ev_traction"],
    "start": "2025-01-01",
}


def test_an_offtake_lowers_its_buyers_shortfall() -> None:
    world = with_defence(one_chain(cover_weeks=0.0))
    without = run(world, scenario([SCARCE]))
    with_off = run(world, scenario([SCARCE, OFFTAKE]))
    ev, defence = 0, 1
    assert with_off.shortfall[0, :, ev].sum() < without.shortfall[0, :, ev].sum() - 10.0
    assert with_off.shortfall[0, :, defence].sum() > without.shortfall[0, :, defence].sum()
    got = with_off.record.delivered[0, M0 + 2, ev]
    assert got == pytest.approx(0.5 * 100_000 / 12 * 0.0005, rel=1e-6)  # half the plant's output
    assert with_off.residual < 1e-9


def test_a_larger_offtake_share_never_raises_its_buyers_shortfall() -> None:
    world = with_defence(one_chain(cover_weeks=0.0))
    shares = np.array([0.1, 0.3, 0.6, 1.0])
    res = run(
        world,
        scenario([SCARCE, OFFTAKE]),
        samples=shares.size,
        detail=False,
        draws={"events[1].share": shares},
    )
    total = res.shortfall[:, :, 0].sum(axis=1)
    assert (np.diff(total) <= 1e-9).all() and total[0] > total[-1]


def test_an_offtake_ends_after_its_years() -> None:
    world = with_defence(one_chain(cover_weeks=0.0))
    res = run(world, scenario([SCARCE, {**OFFTAKE, "years": 0.5}]))
    assert res.record.delivered[0, M0 + 3, 0] > 0 and res.record.delivered[0, M0 + 7, 0] == 0

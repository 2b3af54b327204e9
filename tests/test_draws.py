"""Per-sample values: a batch whose samples draw different event fields gives, sample by
sample, exactly the run of the scenario with that sample's values written in."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sim.config.scenario import Scenario
from sim.errors import InputError
from sim.runs.engine import run
from sim.world.loader import default_world
from tests.worlds import one_chain, scenario


def _events(
    start: str, share: float, outage_start: str, nameplate: float, ramp: float
) -> list[dict]:
    return [
        {
            "kind": "export_control",
            "exporter": "CN",
            "destinations": ["US"],
            "forms": ["magnet"],
            "mode": "quota",
            "share": share,
            "start": start,
        },
        {
            "kind": "outage",
            "facility": "s",
            "start": outage_start,
            "end": "2026-01-01",
            "share": 0.5,
        },
        {
            "kind": "new_capacity",
            "facility": "g2",
            "stage": "magnet",
            "country": "US",
            "nameplate_tpa": nameplate,
            "ramp_months": ramp,
            "start": "2025-02-01",
        },
    ]


def test_each_sample_of_a_batch_equals_its_own_single_run() -> None:
    world = one_chain(cover_weeks=4.0)
    starts = ["2024-03-10", "2024-07-01", "2025-01-20"]
    shares = [0.2, 0.5, 0.9]
    outages = ["2024-05-01", "2024-11-15", "2025-06-01"]
    nameplates = [300.0, 800.0, 50.0]
    ramps = [0.0, 6.0, 18.0]
    base = scenario(_events(starts[0], shares[0], outages[0], nameplates[0], ramps[0]))
    draws = {
        "events[0].start": np.array([dt.date.fromisoformat(d).toordinal() for d in starts], float),
        "events[0].share": np.array(shares),
        "events[1].start": np.array([dt.date.fromisoformat(d).toordinal() for d in outages], float),
        "events[2].nameplate_tpa": np.array(nameplates),
        "events[2].ramp_months": np.array(ramps),
    }
    batch = run(world, base, samples=3, draws=draws, detail=False)
    assert not np.allclose(batch.shortfall[0], batch.shortfall[2])  # the draws matter
    for s in range(3):
        alone = run(
            world,
            scenario(_events(starts[s], shares[s], outages[s], nameplates[s], ramps[s])),
            detail=False,
        )
        assert np.array_equal(batch.shortfall[s], alone.shortfall[0])
        assert np.array_equal(
            batch.prices_usd_per_kg[s], alone.prices_usd_per_kg[0], equal_nan=True
        )


def test_draws_must_have_one_value_a_sample() -> None:
    sc = Scenario.model_validate(
        {"name": "x", "horizon": {"start": "2024-01-01", "end": "2024-12-31"}}
    )
    with pytest.raises(InputError, match=r"must hold one value a sample \(2\)"):
        run(default_world(), sc, samples=2, draws={"events[0].share": np.ones(3)})


def _lever_events(
    approval: float,
    delay_days: float,
    plant_delay: float,
    held: float,
    floor: float,
    suspended: str,
) -> list[dict]:
    return [
        {
            "kind": "export_control",
            "exporter": "CN",
            "elements": ["Dy", "Tb"],
            "forms": ["oxide", "metal", "magnet"],
            "mode": "licence",
            "approval_rate": approval,
            "review_delay_days": delay_days,
            "start": "2025-04-04",
            "suspended": suspended,
            "resumed": "2026-06-01",
        },
        {
            "kind": "new_capacity",
            "facility": "mp_10x",
            "replace": True,
            "nameplate_tpa": 9000,
            "start": "2025-07-01",
            "delay_months": plant_delay,
            "ramp_months": 18,
            "ramp": "s_curve",
            "completion_probability": 0.7,
        },
        {
            "kind": "stockpile",
            "region": "EU",
            "material": "NdFeB",
            "sectors": ["ev_traction"],
            "initial_t": held,
            "max_release_t_per_month": 200.0,
            "start": "2025-01-01",
        },
        {"kind": "price_level", "product": "NdPr_oxide", "usd_per_kg": 35.0, "start": "2025-06-01"},
        {
            "kind": "price_floor",
            "product": "NdPr_oxide",
            "usd_per_kg": floor,
            "beneficiary": "mp_materials",
            "start": "2025-07-10",
            "years": 10,
        },
    ]


def test_lever_fields_drawn_per_sample_equal_their_single_runs() -> None:
    world = default_world()
    approvals, delays, plant_delays = [0.2, 0.9, 0.5], [30.0, 90.0, 0.0], [0.0, 14.0, 5.0]
    held, floors = [0.0, 900.0, 3000.0], [30.0, 110.0, 60.0]
    suspended = ["2025-09-01", "2025-11-15", "2026-01-10"]
    completes = [1.0, 0.0, 1.0]
    horizon = {"start": "2024-01-01", "end": "2027-12-31"}
    base = scenario(
        _lever_events(approvals[0], delays[0], plant_delays[0], held[0], floors[0], suspended[0]),
        **horizon,
    )
    draws = {
        "events[0].approval_rate": np.array(approvals),
        "events[0].review_delay_days": np.array(delays),
        "events[0].suspended": np.array(
            [dt.date.fromisoformat(d).toordinal() for d in suspended], float
        ),
        "events[1].delay_months": np.array(plant_delays),
        "events[1].completes": np.array(completes),
        "events[2].initial_t": np.array(held),
        "events[4].usd_per_kg": np.array(floors),
    }
    batch = run(world, base, samples=3, draws=draws, detail=False)
    assert not np.allclose(batch.shortfall[0], batch.shortfall[1])
    for s in range(3):
        events = _lever_events(
            approvals[s], delays[s], plant_delays[s], held[s], floors[s], suspended[s]
        )
        events[1]["completion_probability"] = 0.7 if completes[s] else 0.3
        alone = run(world, scenario(events, **horizon), detail=False)
        assert np.array_equal(batch.shortfall[s], alone.shortfall[0])
        assert np.array_equal(
            batch.prices_usd_per_kg[s], alone.prices_usd_per_kg[0], equal_nan=True
        )
        assert batch.record.floor_usd is not None and alone.record.floor_usd is not None
        assert np.array_equal(batch.record.floor_usd[s], alone.record.floor_usd[0])
        assert batch.record.stockpile_t is not None and alone.record.stockpile_t is not None
        assert np.array_equal(batch.record.stockpile_t[s], alone.record.stockpile_t[0])


def test_samples_of_a_large_batch_equal_single_runs_on_the_default_world() -> None:
    # Reductions whose summation order depended on the batch size would break this.
    world = default_world()
    events = [
        {
            "kind": "export_control",
            "exporter": "CN",
            "destinations": "all",
            "elements": ["Dy", "Tb", "Y"],
            "forms": ["oxide", "metal", "magnet"],
            "mode": "quota",
            "share": 0.4,
            "start": "2024-04-04",
        }
    ]
    sc = Scenario.model_validate(
        {"name": "x", "horizon": {"start": "2024-01-01", "end": "2024-12-31"}, "events": events}
    )
    shares = np.linspace(0.1, 0.9, 1000)
    batch = run(world, sc, samples=1000, draws={"events[0].share": shares}, detail=False)
    for s in (0, 1, 499, 999):
        alone = run(
            world, sc, samples=1, draws={"events[0].share": shares[s : s + 1]}, detail=False
        )
        assert np.array_equal(batch.shortfall[s], alone.shortfall[0])
        assert np.array_equal(
            batch.prices_usd_per_kg[s], alone.prices_usd_per_kg[0], equal_nan=True
        )


def row(a: np.ndarray, s: int, axis: int = 0) -> np.ndarray:
    """Sample ``s``'s part of a chain's array (one row stands for every sample while the
    upstream state is shared, `Chain.upstream`)."""
    return np.take(a, min(s, a.shape[axis] - 1), axis=axis)


def test_a_concentrate_trade_run_once_for_agreeing_samples_equals_each_sample_alone() -> None:
    # The oxide quota leaves the mines and their trade alike in every sample until a mine's
    # drawn outage starts (from then they differ): the concentrate trade is worked out once
    # while they agree (`sim.model.state.State.upstream`), and each sample's whole state
    # must still be what it is alone.
    import sim.model.trading as processes

    world = default_world()
    events = [
        {
            "kind": "export_control",
            "exporter": "CN",
            "destinations": "all",
            "elements": ["Dy", "Tb"],
            "forms": ["oxide"],
            "mode": "quota",
            "share": 0.4,
            "start": "2024-04-04",
        },
        {
            "kind": "outage",
            "facility": "myanmar",
            "start": "2024-09-01",
            "end": "2025-06-30",
            "share": 0.8,
        },
    ]
    sc = Scenario.model_validate(
        {"name": "x", "horizon": {"start": "2024-01-01", "end": "2025-12-31"}, "events": events}
    )
    draws = {
        "events[0].share": np.array([0.2, 0.5, 0.7, 0.9]),
        "events[1].start": np.array(
            [dt.date(2024, m, 1).toordinal() for m in (3, 9, 9, 12)], float
        ),
    }
    once: list[int] = []
    real = processes._trade_concentrate

    def spy(chain, step, rec, cap, *rest):  # type: ignore[no-untyped-def]
        once.append(cap.shape[0])
        return real(chain, step, rec, cap, *rest)

    processes._trade_concentrate = spy
    try:
        batch = run(world, sc, samples=4, draws=draws, detail=False)
    finally:
        processes._trade_concentrate = real
    assert 1 in once and 4 in once  # both ways were taken
    for s in range(4):
        alone = run(
            world, sc, samples=1, draws={k: v[s : s + 1] for k, v in draws.items()}, detail=False
        )
        for name in ("mine_stock", "sep_in", "sep_out", "metal_in", "mag_in", "inventory"):
            assert np.array_equal(row(getattr(batch.state, name), s), getattr(alone.state, name)[0])
        for name, pipe in batch.state.pipelines.items():
            assert np.array_equal(row(pipe.buf, s, axis=1), alone.state.pipelines[name].buf[:, 0])
        assert np.array_equal(batch.shortfall[s], alone.shortfall[0])


def test_a_concentrate_control_alike_or_drawn_gives_each_sample_its_own_run() -> None:
    # A control on concentrate exports: the same in every sample (the trade is worked out
    # once, with the control), or drawn (every sample's own trade).
    world = default_world()
    events = [
        {
            "kind": "export_control",
            "exporter": "US",
            "destinations": "all",
            "forms": ["concentrate"],
            "mode": "quota",
            "share": 0.5,
            "start": "2024-04-04",
        },
        {
            "kind": "export_control",
            "exporter": "CN",
            "destinations": "all",
            "elements": ["Dy"],
            "forms": ["oxide"],
            "mode": "quota",
            "share": 0.4,
            "start": "2024-04-04",
        },
    ]
    sc = Scenario.model_validate(
        {"name": "x", "horizon": {"start": "2024-01-01", "end": "2025-06-30"}, "events": events}
    )
    for drawn in ("events[1].share", "events[0].share"):
        draws = {drawn: np.array([0.2, 0.5, 0.7, 0.9])}
        batch = run(world, sc, samples=4, draws=draws, detail=False)
        assert batch.state.withheld["concentrate"] is not None
        for s in range(4):
            alone = run(world, sc, samples=1, draws={drawn: draws[drawn][s : s + 1]}, detail=False)
            for name in ("mine_stock", "sep_in", "sep_out", "inventory"):
                assert np.array_equal(
                    row(getattr(batch.state, name), s), getattr(alone.state, name)[0]
                )
            assert np.array_equal(batch.shortfall[s], alone.shortfall[0])

"""Capacity projects: S-shaped ramps integrate exactly, delays and completion odds, and a
project that starts earlier never raises a shortfall."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sim.config import draws as sampling
from sim.model.levers.timing import ramp_average
from sim.runs.engine import run
from tests.worlds import one_chain, scenario

BAN = {
    "kind": "export_control",
    "exporter": "CN",
    "destinations": ["US"],
    "forms": ["magnet"],
    "mode": "ban",
    "start": "2025-01-01",
}


def _plant(**extra: object) -> dict:
    return {
        "kind": "new_capacity",
        "facility": "us_mag",
        "stage": "magnet",
        "country": "US",
        "nameplate_tpa": 600.0,
        "ramp_months": 12,
        "start": "2025-03-01",
        **extra,
    }


@pytest.mark.parametrize("start", [-3.0, 0.25, 2.7])
@pytest.mark.parametrize("ramp", [0.0, 0.5, 5.0, 13.3])
def test_s_curve_mean_over_each_step_is_the_exact_integral(start: float, ramp: float) -> None:
    fine = np.linspace(0.0, 1.0, 20001)[:-1] + 0.5 / 20000  # midpoints
    for step in range(-2, 20):
        got = ramp_average(np.array([start]), np.array([ramp]), step, np.array([True]))[0]
        u = (
            np.clip((step + fine - start) / ramp, 0.0, 1.0)
            if ramp > 0
            else ((step + fine) >= start).astype(float)
        )
        want = np.mean(3 * u**2 - 2 * u**3)
        assert got == pytest.approx(want, abs=1e-6)


def test_s_curve_and_linear_ramps_add_the_same_capacity_over_the_ramp() -> None:
    start, ramp = np.array([0.0]), np.array([10.0])
    lin = sum(ramp_average(start, ramp, t)[0] for t in range(10))
    smooth = sum(ramp_average(start, ramp, t, np.array([True]))[0] for t in range(10))
    assert lin == pytest.approx(5.0) and smooth == pytest.approx(5.0)
    first = ramp_average(start, ramp, 0, np.array([True]))[0]
    assert first < ramp_average(start, ramp, 0)[0]  # slower start, faster middle


def test_delay_months_is_a_later_start() -> None:
    delayed = run(one_chain(cover_weeks=0.0), scenario([BAN, _plant(delay_months=5)]))
    later = run(one_chain(cover_weeks=0.0), scenario([BAN, _plant(start="2025-08-01")]))
    assert np.allclose(delayed.shortfall, later.shortfall, atol=1e-9)


def test_a_project_below_even_odds_is_not_built_in_a_single_run() -> None:
    unlikely = run(one_chain(cover_weeks=0.0), scenario([BAN, _plant(completion_probability=0.4)]))
    likely = run(one_chain(cover_weeks=0.0), scenario([BAN, _plant(completion_probability=0.6)]))
    absent = run(one_chain(cover_weeks=0.0), scenario([BAN]))
    assert np.allclose(unlikely.shortfall, absent.shortfall)
    assert likely.shortfall.sum() < absent.shortfall.sum() - 1.0


def test_drawn_completion_decides_each_sample() -> None:
    world = one_chain(cover_weeks=0.0)
    sc = scenario([BAN, _plant(completion_probability=0.3)])
    draws = {"events[1].completes": np.array([1.0, 0.0])}
    batch = run(world, sc, samples=2, detail=False, draws=draws)
    built = run(world, scenario([BAN, _plant()]), detail=False)
    absent = run(world, scenario([BAN]), detail=False)
    assert np.array_equal(batch.shortfall[0], built.shortfall[0])
    assert np.array_equal(batch.shortfall[1], absent.shortfall[0])


@pytest.mark.parametrize("shape", ["linear", "s_curve"])
def test_a_project_that_starts_earlier_never_raises_a_shortfall(shape: str) -> None:
    world = one_chain(cover_weeks=4.0, lead_days=20.0)
    starts = [dt.date(2024, 6, 1) + dt.timedelta(days=37 * k) for k in range(12)]
    draws = {"events[1].start": np.array([d.toordinal() for d in starts], float)}
    res = run(
        world, scenario([BAN, _plant(ramp=shape)]), samples=len(starts), detail=False, draws=draws
    )
    cumulative = res.shortfall[:, :, 0].cumsum(axis=1)  # [S, T], samples in start order
    assert (np.diff(cumulative, axis=0) >= -1e-9).all()  # a later start: never less short
    assert cumulative[-1, -1] > cumulative[0, -1] + 1.0  # and the timing matters here


def test_a_sweep_builds_a_project_in_about_its_completion_share_of_samples() -> None:
    world = one_chain(cover_weeks=0.0)
    sc = scenario([BAN, _plant(completion_probability=0.3)])
    draws = sampling.draw(sc, 400, seed=1)
    built = draws["events[1].completes"]
    assert set(np.unique(built)) <= {0.0, 1.0} and 0.22 < built.mean() < 0.38
    assert "events[1].completes" not in sampling.draw(scenario([BAN, _plant()]), 5, seed=1)
    batch = run(world, sc, samples=8, detail=False, draws={k: v[:8] for k, v in draws.items()})
    with_plant = run(world, scenario([BAN, _plant()]), detail=False).shortfall[0]
    without = run(world, scenario([BAN]), detail=False).shortfall[0]
    for s in range(8):
        assert np.array_equal(batch.shortfall[s], with_plant if built[s] else without)

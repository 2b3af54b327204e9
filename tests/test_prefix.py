"""Shared history: a batch whose samples cannot differ for their first steps runs those steps
once, and its numbers are the same, bit for bit, as a batch that runs every step for every
sample (`sim.runs.history`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from sim.config import draws as sampling
from sim.config.scenario import Scenario
from sim.io.scenario_files import load_scenario
from sim.runs.engine import RunResult, run
from sim.runs.history import shared_until
from sim.world.loader import vintage_world

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))
RECORDED = (
    "_demand",
    "_delivered",
    "fills",
    "production",
    "stocks",
    "inventory",
    "recycled",
    "stockpile_t",
    "floor_usd",
    "producer_level",
)


def late_draws(scenario: Scenario, samples: int) -> dict[str, np.ndarray]:
    """The scenario's own uncertain inputs, or else its latest-starting event moved 0, 1, 2,
    ... months later in each sample."""
    if scenario.uncertain:
        return sampling.draw(scenario, samples, 3)
    dated = [
        (ev.start, i)
        for i, ev in enumerate(scenario.events)
        if isinstance(getattr(ev, "start", None), dt.date) and ev.start < scenario.horizon.end
    ]
    if not dated:
        return {}
    start, i = max(dated)
    end = getattr(scenario.events[i], "end", None)  # a start drawn past its end is refused
    step = 31 if not isinstance(end, dt.date) else min(31, (end - start).days // (samples + 1))
    days = [start.toordinal() + step * k for k in range(samples)]
    return {f"events[{i}].start": np.array(days, dtype=float)}


def assert_same(a: RunResult, b: RunResult) -> None:
    for name in RECORDED:
        x, y = getattr(a.record, name), getattr(b.record, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert np.array_equal(x, y), name
    assert sorted(a.record.flows) == sorted(b.record.flows)
    for key in b.record.flows:
        assert np.array_equal(a.record.flows[key], b.record.flows[key]), key
    assert np.array_equal(a.prices_usd_per_kg, b.prices_usd_per_kg, equal_nan=True)
    assert a.residual == b.residual


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_a_forked_batch_equals_one_that_runs_every_step(path: Path) -> None:
    world_name = load_scenario(path).world
    world = vintage_world(world_name)
    scenario = load_scenario(path, world)
    draws = late_draws(scenario, 4)
    if not draws:
        pytest.skip("no dated event to draw")
    forked = run(world, scenario, samples=4, draws=draws)
    whole = run(world, scenario, samples=4, draws=draws, fork_prefix=False)
    assert whole.shared_steps == 0
    assert_same(forked, whole)
    origin = forked.chain.origin
    if shared_until(scenario, draws, origin) > -forked.chain.warmup + 1:
        assert forked.shared_steps > 0  # it did fork


def test_a_sweep_batch_forks_and_equals_its_samples_run_alone() -> None:
    path = Path(__file__).parent.parent / "scenarios" / "china-2025-licensing-uncertain.yaml"
    world = vintage_world(load_scenario(path).world)
    scenario = load_scenario(path, world)
    draws = sampling.draw(scenario, 6, 11)
    batch = run(world, scenario, samples=6, draws=draws, detail=False, compact=True)
    assert batch.shared_steps > 0
    for s in (0, 5):
        alone = run(
            world,
            scenario,
            samples=1,
            draws={k: v[s : s + 1] for k, v in draws.items()},
            detail=False,
            compact=True,
        )
        assert np.array_equal(batch.record.shortfall[s], alone.record.shortfall[0])
        assert np.array_equal(
            batch.prices_usd_per_kg[s], alone.prices_usd_per_kg[0], equal_nan=True
        )


def test_samples_differ_from_the_step_before_the_earliest_drawn_date() -> None:
    path = Path(__file__).parent.parent / "scenarios" / "china-2025-licensing-uncertain.yaml"
    scenario = load_scenario(path)
    origin = dt.date(scenario.horizon.start.year, scenario.horizon.start.month, 1)
    assert shared_until(scenario, None, origin) == np.inf
    draws = sampling.draw(scenario, 50, 1)
    earliest = min(
        dt.date.fromordinal(int(v.min()))
        for k, v in draws.items()
        if isinstance(
            getattr(scenario.events[int(k[7 : k.index("]")])], k.split(".", 1)[1]), dt.date
        )
    )
    months = (earliest.year - origin.year) * 12 + earliest.month - origin.month
    assert shared_until(scenario, draws, origin) <= months - 1


def test_a_number_that_acts_from_the_first_step_stops_the_fork() -> None:
    from sim.world.loader import default_world
    from tests.test_draws import _lever_events
    from tests.worlds import scenario as make

    base = make(
        _lever_events(0.2, 30.0, 0.0, 0.0, 30.0, "2025-09-01"), start="2024-01-01", end="2026-12-31"
    )
    held = {"events[2].initial_t": np.array([0.0, 900.0, 3000.0])}  # a stockpile's holding
    batch = run(default_world(), base, samples=3, draws=held, detail=False)
    assert batch.shared_steps == 0
    late = {"events[4].usd_per_kg": np.array([30.0, 110.0, 60.0])}  # a floor from July 2025
    forked = run(default_world(), base, samples=3, draws=late)
    assert forked.shared_steps > 0
    assert_same(forked, run(default_world(), base, samples=3, draws=late, fork_prefix=False))


def test_batches_of_one_sweep_share_one_history_and_keep_their_own_numbers() -> None:
    # The second batch reuses the first batch's shared history (the same world, scenario and
    # fork step, in the cache the sweep hands both: `sim.runs.engine.HistoryCache`): its
    # numbers must be those of every step run for it, and running a batch again must give it
    # again (the kept history is not changed).
    from sim.runs.engine import HistoryCache

    path = Path(__file__).parent.parent / "scenarios" / "china-2025-licensing-uncertain.yaml"
    world = vintage_world(load_scenario(path).world)
    scenario = load_scenario(path, world)
    draws = sampling.draw(scenario, 8, 5)
    first = {k: v[:4] for k, v in draws.items()}
    second = {k: v[4:] for k, v in draws.items()}
    assert shared_until(scenario, first, dt.date(2025, 1, 1)) == shared_until(
        scenario, second, dt.date(2025, 1, 1)
    )  # one fork step, so one history
    histories = HistoryCache()
    a = run(world, scenario, samples=4, draws=first, histories=histories)
    kept = len(histories)
    b = run(world, scenario, samples=4, draws=second, histories=histories)
    assert kept == len(histories) == 1 and b.shared_steps > 0  # reused
    assert_same(b, run(world, scenario, samples=4, draws=second, fork_prefix=False))
    assert_same(a, run(world, scenario, samples=4, draws=first, histories=histories))

"""Sweeps: the same seed gives the same numbers whatever runs them, an interrupted sweep
resumes to the same numbers, paired comparisons and sensitivity measure what they claim."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.io.scenario_files import load_scenario
from sim.runs.sensitivity import analyse, parse_output
from sim.runs.sweep import run_batch, sweep
from sim.runs.sweep_tables import comparison_table, summary_table, totals_table
from tests.worlds import one_chain

SCENARIO = """name: {name}
horizon: {{start: 2024-01-01, end: 2025-12-31}}
events:
  - kind: export_control
    exporter: CN
    destinations: [US]
    forms: [magnet]
    mode: quota
    share: {{dist: uniform, low: 0.0, high: 0.8, name: quota}}
    start: {{dist: uniform, low: 2024-03-01, high: 2024-12-31, name: start}}
    end: {{dist: uniform, low: 2027-01-01, high: 2028-01-01}}
{extra}"""


def _scenario(tmp: Path, name: str = "s", extra: str = ""):
    path = tmp / f"{name}.yaml"
    path.write_text(SCENARIO.format(name=name, extra=extra))
    return load_scenario(path, one_chain())


class Interrupt:
    """A batch function that stops the sweep (as Ctrl-C would) at its ``after``-th call."""

    def __init__(self, after: int) -> None:
        self.calls, self.after = 0, after

    def __call__(self, *args):  # noqa: ANN002, ANN204
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return run_batch(*args)


def test_same_seed_same_summary_whatever_the_executor_and_after_resuming(tmp_path: Path) -> None:
    world, scenario = one_chain(cover_weeks=4.0), _scenario(tmp_path)
    kwargs = {"seed": 5, "batch_size": 6}
    one = summary_table(sweep(world, scenario, 30, workers=1, **kwargs))
    assert (
        one[one["metric"] == "shortfall_t"]["p95"] > one[one["metric"] == "shortfall_t"]["p05"]
    ).any(), "the draws must spread the outcome (a band, not a line)"
    two = summary_table(sweep(world, scenario, 30, workers=2, **kwargs))
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    dask = summary_table(sweep(world, scenario, 30, workers=2, scheduler="local", **kwargs))
    pd.testing.assert_frame_equal(one, dask, check_exact=True)
    store = tmp_path / "store"
    with pytest.raises(KeyboardInterrupt):
        sweep(world, scenario, 30, workers=1, store=store, batch_fn=Interrupt(2), **kwargs)
    assert len(list(store.glob("batch-*.npz"))) == 2
    resumed = sweep(world, scenario, 30, workers=1, store=store, **kwargs)
    assert resumed.resumed == 2
    pd.testing.assert_frame_equal(one, summary_table(resumed), check_exact=True)
    other_batches = summary_table(sweep(world, scenario, 30, seed=5, batch_size=30))
    pd.testing.assert_frame_equal(one, other_batches, check_exact=True)


def test_a_sample_is_the_run_of_its_drawn_values(tmp_path: Path) -> None:
    world, scenario = one_chain(cover_weeks=4.0), _scenario(tmp_path)
    result = sweep(world, scenario, 5, seed=2, batch_size=5)
    for s in (0, 3):
        fixed = {p: v[s : s + 1] for p, v in result.draws.items()}
        alone = run_batch(world, scenario, fixed, 1)
        assert np.array_equal(alone["shortfall"][0], result.arrays["shortfall"][s])


def test_comparison_is_paired_future_by_future(tmp_path: Path) -> None:
    world = one_chain(cover_weeks=4.0)
    a = _scenario(tmp_path, "a")
    ban = (
        "  - kind: export_control\n    exporter: CN\n    destinations: [US]\n    mode: ban\n"
        "    start: {dist: uniform, low: 2024-03-01, high: 2024-12-31, name: start}\n"
        "    end: 2025-06-30\n"
    )
    b = _scenario(tmp_path, "b", ban)
    ra, rb = sweep(world, a, 40, seed=9), sweep(world, b, 40, seed=9)
    same = comparison_table(ra, sweep(world, a, 40, seed=9))
    assert (same[["diff_mean", "diff_p05", "diff_p95"]] == 0).all().all()
    table = comparison_table(ra, rb)
    # the tighter control (a ban on top of the same quota, same draws) never lowers shortfall
    diff = rb.arrays["shortfall"].sum(axis=1) - ra.arrays["shortfall"].sum(axis=1)
    assert (diff >= -1e-3).all() and (diff > 1.0).any()
    assert (table["probability_b_lower"] == 0).all()


def test_sensitivity_ranks_the_input_that_matters(tmp_path: Path) -> None:
    world, scenario = one_chain(cover_weeks=4.0), _scenario(tmp_path)
    output = parse_output("shortfall_t:US:ev_traction", scenario)
    table = analyse(world, scenario, output, 32, seed=1)
    by = table.set_index("input")
    # the control's end falls after the horizon: it cannot matter
    assert by.loc["events[0].end", "swing"] == 0.0
    assert by.loc["quota", "swing"] > 0.0 and by.loc["start", "swing"] > 0.0
    assert by.loc["quota", "ST"] > by.loc["events[0].end", "ST"] + 0.1
    assert abs(by.loc["events[0].end", "ST"]) < 0.05
    morris = analyse(world, scenario, output, 8, seed=1, analysis="morris").set_index("input")
    assert morris.loc["events[0].end", "mu_star"] == 0.0 < morris.loc["quota", "mu_star"]


def test_totals_count_the_share_of_futures_short(tmp_path: Path) -> None:
    world, scenario = one_chain(cover_weeks=4.0), _scenario(tmp_path)
    result = sweep(world, scenario, 20, seed=3)
    totals = totals_table(result)
    cumulative = result.arrays["shortfall"].astype(float).sum(axis=1)[:, 0]
    assert totals.loc[0, "probability_short"] == pytest.approx((cumulative > 0.5).mean())
    assert totals.loc[0, "mean"] == pytest.approx(cumulative.mean())


def test_rows_keep_one_row_while_every_sample_shares_it() -> None:
    from sim.runs.sweep import Rows

    rng = np.random.default_rng(0)
    row = rng.random((3, 2))
    rows = Rows(7)
    for a, b in ((4, 7), (0, 2), (2, 4)):  # batches arrive in any order
        rows.put(a, b, row[None])
    assert rows.full is None
    assert np.array_equal(rows.value(), np.broadcast_to(row, (7, 3, 2)))
    # a batch whose rows differ turns the merge into a full array, earlier batches included
    full = rng.random((2, 3, 2))
    rows = Rows(6)
    rows.put(2, 4, row[None])
    rows.put(0, 2, full)
    rows.put(4, 6, row[None])
    expected = np.concatenate([full, np.broadcast_to(row, (4, 3, 2))])
    assert rows.full is not None and np.array_equal(rows.value(), expected)
    # as does a shared row that is not the first one
    rows = Rows(4)
    rows.put(0, 2, row[None])
    rows.put(2, 4, (row + 1.0)[None])
    assert np.array_equal(
        rows.value(),
        np.concatenate([np.broadcast_to(row, (2, 3, 2)), np.broadcast_to(row + 1, (2, 3, 2))]),
    )


def test_demand_that_differs_by_sample_is_kept_sample_by_sample() -> None:
    path = Path(__file__).parent.parent / "scenarios" / "china-2025-april-licensing-response.yaml"
    from sim.world.loader import vintage_world

    world = vintage_world(load_scenario(path).world)
    scenario = load_scenario(path, world)
    i = next(k for k, ev in enumerate(scenario.events) if ev.kind == "substitution")
    draws = {f"events[{i}].max_share": np.array([0.01, 0.2, 0.5, 0.9])}  # > 0: the schema
    result = sweep(world, scenario, 4, workers=1, batch_size=2, draws=draws)
    demand = result.arrays["demand"]
    assert demand.strides[0] != 0  # one row a sample, not one shared row
    alone = run_batch(world, scenario, {k: v[3:] for k, v in draws.items()}, 1)
    assert np.array_equal(demand[3], alone["demand"][0])
    assert not np.array_equal(demand[0], demand[3])
    plain = sweep(world, scenario, 4, workers=1, batch_size=2)
    assert plain.arrays["demand"].strides[0] == 0  # shared: no demand response drawn


# -- shared histories belong to a run or a sweep (`sim.runs.engine.HistoryCache`) ---------------
FIXED_START = """name: fixed-start
horizon: {start: 2024-01-01, end: 2025-12-31}
events:
  - kind: export_control
    exporter: CN
    destinations: [US]
    forms: [magnet]
    mode: quota
    share: {dist: uniform, low: 0.0, high: 0.8, name: quota}
    start: 2024-09-01
"""


def _fixed_start(tmp: Path):
    """A scenario whose samples share every step before September 2024 (one fork step)."""
    path = tmp / "fixed-start.yaml"
    path.write_text(FIXED_START)
    return load_scenario(path, one_chain())


def _history_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the shared histories simulated from now on (one-sample runs of a prefix)."""
    from sim.runs import engine

    found: list[int] = []
    simulate = engine._simulate

    def counted(chain, state, ledger, record, start, stop) -> None:  # noqa: ANN001
        if chain.samples == 1:
            found.append(stop)
        simulate(chain, state, ledger, record, start, stop)

    monkeypatch.setattr(engine, "_simulate", counted)
    return found


def test_two_runs_do_not_see_each_others_histories(tmp_path: Path, monkeypatch) -> None:
    from sim.config import draws as sampling
    from sim.runs.engine import HistoryCache, run

    world, scenario = one_chain(cover_weeks=4.0), _fixed_start(tmp_path)
    draws = sampling.draw(scenario, 4, 1)
    simulated = _history_runs(monkeypatch)
    first = run(world, scenario, samples=4, draws=draws, detail=False)
    second = run(world, scenario, samples=4, draws=draws, detail=False)
    assert len(simulated) == 2, "each run simulates its own shared history"
    assert first.shared_steps == second.shared_steps > 0
    mine, theirs = HistoryCache(), HistoryCache()
    run(world, scenario, samples=4, draws=draws, detail=False, histories=mine)
    run(world, scenario, samples=4, draws=draws, detail=False, histories=theirs)
    assert len(simulated) == 4 and len(mine) == len(theirs) == 1
    run(world, scenario, samples=4, draws=draws, detail=False, histories=mine)
    assert len(simulated) == 4, "a run handed a cache reuses what it holds"


def test_a_sweeps_batches_share_one_cache_in_this_process(tmp_path: Path, monkeypatch) -> None:
    world, scenario = one_chain(cover_weeks=4.0), _fixed_start(tmp_path)
    caches: list[tuple[int, int]] = []

    def batch(world, scenario, draws, count, histories):  # noqa: ANN001, ANN202
        caches.append((id(histories), len(histories)))
        return run_batch(world, scenario, draws, count, histories)

    simulated = _history_runs(monkeypatch)
    result = sweep(world, scenario, 12, seed=1, batch_size=4, batch_fn=batch)
    assert len({cache for cache, _ in caches}) == 1 and [n for _, n in caches] == [0, 1, 1]
    assert len(simulated) == 1, "the prefix every sample shares runs once a sweep"
    again = sweep(world, scenario, 12, seed=1, batch_size=4)
    assert len(simulated) == 2, "a new sweep has a new cache"
    assert np.array_equal(result.arrays["shortfall"], again.arrays["shortfall"])


def counting_batch(world, scenario, draws, count, histories) -> dict[str, np.ndarray]:  # noqa: ANN001
    """`run_batch`, also saying which process ran it and what its cache held before."""
    import os

    held = len(histories)
    arrays = run_batch(world, scenario, draws, count, histories)
    return {**arrays, "pid": np.array(os.getpid()), "held": np.array(held)}


@pytest.mark.parametrize("scheduler", [None, "local"], ids=["pool", "dask"])
def test_each_worker_process_keeps_its_cache_across_batches(
    tmp_path: Path, scheduler: str | None
) -> None:
    world, scenario = one_chain(cover_weeks=4.0), _fixed_start(tmp_path)
    store = tmp_path / "store"
    kwargs = {"seed": 1, "batch_size": 3, "workers": 2, "scheduler": scheduler}
    result = sweep(world, scenario, 24, store=store, batch_fn=counting_batch, **kwargs)
    batches = [np.load(path) for path in sorted(store.glob("batch-*.npz"))]
    processes = {int(b["pid"]) for b in batches}
    assert len(batches) == 8 and 1 <= len(processes) <= 2
    # the first batch a process runs simulates the shared history; its later ones reuse it
    assert sum(int(b["held"]) for b in batches) == len(batches) - len(processes)
    alone = sweep(world, scenario, 24, seed=1, batch_size=3)
    assert np.array_equal(result.arrays["shortfall"], alone.arrays["shortfall"])

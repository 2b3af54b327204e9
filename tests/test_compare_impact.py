"""What a policy changes in what people lose (issue 16): a sweep's extra cost and resilience
equal a run's future by future; `sim compare` writes B - A of units not built, output at risk
and extra cost, equal to the difference of the two runs when nothing is uncertain, zero against
itself, by the `--by` window; a bad window exits 2 before any work."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.io.cli import main
from sim.io.scenario_files import load_scenario
from sim.runs.compare_impact import impact_comparisons
from sim.runs.engine import RunResult, run
from sim.runs.impact import extra_cost_table, monthly_plans, units_table
from sim.runs.resilience import resilience_table
from sim.runs.summary import first_event
from sim.runs.sweep import SweepResult, sweep
from sim.runs.sweep_costs import sweep_extra_cost_table
from sim.runs.sweep_resilience import sweep_resilience_table
from sim.runs.tables import shortfall_table
from sim.runs.windows import BY_YEAR, parse_window
from sim.world.loader import default_world
from tests.test_scenario_library import SCENARIOS

A, B = "china-2025-april-licensing-held", "china-2025-april-licensing-response"
_runs: dict[str, tuple[RunResult, SweepResult]] = {}


def both(name: str) -> tuple[RunResult, SweepResult]:
    """A run of a scenario without uncertain inputs, and a sweep of two (equal) futures."""
    if name not in _runs:
        world = default_world()
        scenario = load_scenario(SCENARIOS / f"{name}.yaml", world)
        _runs[name] = run(world, scenario), sweep(world, scenario, 2, workers=1)
    return _runs[name]


def test_a_sweeps_extra_cost_is_the_runs_in_every_future() -> None:
    res, swept = both(A)
    ran = extra_cost_table(res, shortfall_table(res), BY_YEAR).set_index(
        ["period", "region", "sector", "material"]
    )
    table = sweep_extra_cost_table(swept, default_world(), BY_YEAR)
    table = table.set_index(["period", "region", "sector", "material"])
    assert len(table) == len(ran) and table.index.isin(ran.index).all()
    got = table.loc[ran.index]
    scale = ran["extra_cost_usd"].abs().max()
    assert np.allclose(got["p05"], ran["extra_cost_usd"], rtol=1e-4, atol=1e-6 * scale)
    assert np.allclose(got["p95"], got["p05"]) and np.allclose(got["mean"], got["p05"])


@pytest.mark.parametrize("metric", ["depth_share", "months_short", "cumulative_t"])
def test_a_sweeps_resilience_is_the_runs_in_every_future(metric: str) -> None:
    res, swept = both(A)
    keys = ["region", "sector", "material"]
    ran = resilience_table(shortfall_table(res), first_event(res)).set_index(keys)[metric]
    table = sweep_resilience_table(swept)
    got = table[table["metric"] == metric].set_index(keys).loc[ran.index]
    assert len(table) == 3 * len(ran) and (ran > 0).any()
    assert np.allclose(got["p05"], ran, rtol=1e-5, atol=1e-6) and (got["p05"] == got["p95"]).all()
    months = resilience_table(shortfall_table(res), first_event(res)).set_index(keys)
    ran_short = (months.loc[ran.index, "months_short"] > 0).to_numpy()
    assert np.array_equal(got["probability_short"].to_numpy() == 1.0, ran_short)


def run_units(res: RunResult) -> pd.DataFrame:
    units = units_table(shortfall_table(res), monthly_plans(res), BY_YEAR)
    return units.set_index(["period", "region", "product"])


def test_b_minus_a_is_the_difference_of_the_runs_without_uncertainty() -> None:
    (run_a, swept_a), (run_b, swept_b) = both(A), both(B)
    tables = impact_comparisons(swept_a, swept_b, default_world(), BY_YEAR)
    units = tables["impact_comparison.csv"]
    units = units[units["metric"] == "units_not_built"].set_index(["period", "region", "product"])
    ran_a, ran_b = run_units(run_a), run_units(run_b)
    expected = ran_b["units_not_built"] - ran_a["units_not_built"]
    got = units.loc[expected.index]
    assert np.allclose(got["diff_mean"], expected, rtol=1e-3, atol=1.0)
    assert np.allclose(got["diff_p05"], got["diff_p95"]) and (expected.abs() > 1e3).any()
    assert np.allclose(got["b_mean"] - got["a_mean"], got["diff_mean"])
    lower = got["probability_b_lower"].to_numpy()
    assert np.array_equal(lower == 1.0, (expected < -0.5).to_numpy())


def test_a_scenario_against_itself_changes_nothing() -> None:
    _, swept = both(A)
    tables = impact_comparisons(swept, swept, default_world(), parse_window("2026..2027"))
    assert set(tables) == {"impact_comparison.csv", "extra_cost_comparison.csv"}
    for table in tables.values():
        assert set(table["period"]) == {"2026..2027"}
        diffs = table.filter(like="diff_").to_numpy()
        assert (diffs == 0).all() and (table["probability_b_higher"] == 0).all()
        assert (table["a_mean"] == table["b_mean"]).all()


def test_sim_compare_by_a_window_writes_the_impact_differences(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = tmp_path / "a.yaml"
    a.write_text(
        f"extends: {SCENARIOS}/{A}.yaml\nname: a\nhorizon: {{start: 2024-01-01, end: 2026-12-31}}\n"
    )
    b = tmp_path / "b.yaml"
    b.write_text(
        (SCENARIOS / f"{B}.yaml")
        .read_text()
        .replace(f"extends: {A}.yaml", f"extends: {a}")
        .replace("name: china-2025-april-licensing-response", "name: b")
        .replace("end: 2028-12-31", "end: 2026-12-31")
    )
    out = tmp_path / "out"
    argv = ["compare", str(a), str(b), "-n", "2", "--workers", "1", "--by", "2026", "--out"]
    assert main([*argv, str(out)]) == 0
    printed = capsys.readouterr().out
    assert "impact B - A, ex-China" in printed and "paid over 2024 prices (US$)" in printed
    costs = pd.read_csv(out / "extra_cost_comparison.csv")
    assert set(costs["period"]) == {2026} and (costs["diff_mean"] != 0).any()
    assert (out / "impact_comparison.csv").exists()
    assert main([*argv[:-3], "--by", "2031", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --by: the window is outside the horizon") and "\n" not in err
    assert not (tmp_path / "x").exists() and not (tmp_path / "x-a").exists()


def test_a_comparison_says_how_demand_and_deliveries_moved() -> None:
    """Demand given up (B's substitution) is not short: the comparison says so, buyer by
    buyer, as the difference of the two runs' demand and deliveries."""
    from sim.runs.sweep_tables import comparison_table

    (run_a, sweep_a), (run_b, sweep_b) = both(A), both(B)
    keys = ["region", "sector", "material"]
    table = comparison_table(sweep_a, sweep_b).set_index(keys)
    ran_a, ran_b = (shortfall_table(r).groupby(keys).sum(numeric_only=True) for r in (run_a, run_b))
    demand = (ran_b["demand_t"] - ran_a["demand_t"]).loc[table.index]
    delivered = (ran_b["delivered_t"] - ran_a["delivered_t"]).loc[table.index]
    scale = ran_a["demand_t"].max()
    assert np.allclose(table["diff_demand_mean"], demand, atol=1e-6 * scale)
    assert np.allclose(table["diff_delivered_mean"], delivered, atol=1e-6 * scale)
    assert demand.min() < -1.0  # B's buyers switched some demand away


@pytest.mark.parametrize("name", ["g7-price-floors", "full-embargo-us-defence-stockpile"])
def test_a_sweeps_policy_costs_are_the_runs_in_every_future(name: str) -> None:
    from sim.runs.impact import policy_costs_table
    from sim.runs.sweep_costs import sweep_policy_costs_table

    res, swept = both(name)
    keys = ["period", "policy", "kind", "payer"]
    ran = policy_costs_table(res, BY_YEAR).set_index(keys)["usd"]
    table = sweep_policy_costs_table(swept, BY_YEAR).set_index(keys)
    assert len(table) == len(ran) and ran.abs().sum() > 1e6  # the policies cost something
    for column in ("mean", "p05", "p95"):
        assert np.allclose(table.loc[ran.index, column], ran, rtol=1e-6, atol=1e-3), column


def test_a_policy_only_b_has_costs_nothing_in_a() -> None:
    from sim.runs.impact import policy_costs_table

    (_, sweep_a), (run_b, sweep_b) = both(A), both("g7-price-floors")
    short_b = SweepResult(**{**sweep_b.__dict__})  # B on A's horizon, to pair the futures
    months = len(sweep_a.dates)
    short_b.arrays = {k: v[:, :months] if v.ndim > 1 else v for k, v in sweep_b.arrays.items()}
    short_b.dates = sweep_a.dates
    table = impact_comparisons(sweep_a, short_b, default_world(), BY_YEAR)
    paid = table["policy_costs_comparison.csv"].set_index(["period", "policy"])
    ran = policy_costs_table(run_b, BY_YEAR).set_index(["period", "policy"])["usd"]
    ran = ran[ran.index.get_level_values("period") <= sweep_a.dates[-1].year]
    assert (paid["a_mean"] == 0).all()
    assert np.allclose(paid.loc[ran.index, "diff_mean"], ran, rtol=1e-6, atol=1e-3)
    assert (paid.loc[ran[ran > 1].index, "probability_b_higher"] == 1).all()

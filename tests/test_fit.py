"""`sim calibrate --fit`: the market's behavioural parameters fitted on history before 2025."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.io.cli import main
from sim.io.observed import read_observed
from sim.io.scenario_files import load_scenario
from sim.runs.episode import Episode
from sim.runs.fit import (
    BOUNDS,
    MARGIN_WEIGHT,
    error,
    fit,
    margin_error,
    price_periods,
    shape_error,
)
from sim.world.loader import vintage_world

ROOT = Path(__file__).parent.parent
SCENARIO = ROOT / "scenarios" / "china-2010-quotas.yaml"
OBSERVED = ROOT / "scenarios" / "observed" / "china-2010-episode.csv"


def test_nothing_observed_from_april_2025_on_is_fitted_on() -> None:
    rows = pd.DataFrame(
        {
            "series": ["price", "price", "price", "flow"],
            "key": ["ex_china:Dy_oxide", "ex_china:Dy_oxide", "china:Dy_oxide", "CN>*:magnet"],
            "start": [dt.date(2025, 3, 1), dt.date(2025, 4, 1)] + [dt.date(2024, 1, 1)] * 2,
            "end": [dt.date(2025, 4, 1), dt.date(2025, 5, 1)] + [dt.date(2024, 2, 1)] * 2,
            "value": [1.0, 2.0, 3.0, 4.0],
        }
    )
    kept = price_periods(rows)
    assert list(kept["value"]) == [1.0]  # ex-China prices only, ending by 4 April 2025


def test_a_fit_never_ends_worse_than_it_starts_and_stays_in_bounds() -> None:
    scenario = load_scenario(SCENARIO)
    world, observed = vintage_world(scenario.world), read_observed(OBSERVED)
    result = fit(world, scenario, observed, max_runs=12)
    assert result.error_after <= result.error_before
    for name, value in result.fitted.items():
        low, high = BOUNDS[name]
        assert low <= value <= high
    again = error(world, scenario, price_periods(observed), result.fitted)
    assert again == pytest.approx(result.error_after)  # the fitted values give that error
    assert result.periods >= 10 and result.runs <= 12 + 1


def test_sim_calibrate_fit_prints_parameters_and_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.runs.fit as fitting

    monkeypatch.setattr(fitting, "BOUNDS", {"price_adjustment_months": (1.0, 6.0)})
    monkeypatch.chdir(ROOT)
    assert main(["calibrate", "--fit"]) == 0
    out = capsys.readouterr().out
    assert "price_adjustment_months" in out and "mean squared log error" in out


def _episode(sim_fall: float, lag: int = 0) -> Episode:
    """An episode that meets the observed multiple, peaking ``lag`` months late."""
    peak = pd.Timestamp("2011-08-15")
    return Episode(
        "ex_china:Dy_oxide", 26.0, 26.0, peak + pd.DateOffset(months=lag), peak, sim_fall, 0.75
    )


def test_the_fit_weighs_the_fall_after_the_peak_as_the_acceptance_does() -> None:
    """The episode's error counts the share of the peak kept 18 months on against the
    observed share (issue 14's third measure), beside the peak's size and month: a peak that
    holds scores worse than one that falls as observed, and a run that ends before 18 months
    after its peak counts as holding all of it."""
    assert shape_error([_episode(0.75)]) == pytest.approx(0.0)
    held, half = shape_error([_episode(0.1)]), shape_error([_episode(0.5)])
    assert held > half > 0.0
    assert held == pytest.approx(np.log(0.9 / 0.25) ** 2)
    assert shape_error([_episode(float("nan"))]) == pytest.approx(np.log(1.0 / 0.25) ** 2)
    late = _episode(0.75, lag=2)
    assert shape_error([late]) == pytest.approx((late.lag_months / 4.0) ** 2)


def test_the_fit_keeps_the_acceptance_measures_with_a_margin() -> None:
    """A peak at 0.55 of the observed multiple or 4 months off meets the acceptance on its
    edge: the fit counts it as short of the margin (0.6, 3 months), on top of the plain
    error; within the margin it adds nothing."""
    assert margin_error([_episode(0.75)]) == 0.0
    assert margin_error([_episode(0.75, lag=-3)]) == 0.0
    assert MARGIN_WEIGHT >= 10.0  # all but a constraint
    assert margin_error([_episode(0.75, lag=4)]) == pytest.approx(MARGIN_WEIGHT / 16.0)
    low = dataclasses.replace(_episode(0.75), sim_multiple=0.55 * 26.0)
    assert margin_error([low]) == pytest.approx(MARGIN_WEIGHT * np.log(0.6 / 0.55) ** 2)
    assert shape_error([low]) > np.log(0.55) ** 2 + margin_error([low]) - 1e-9
    high = dataclasses.replace(_episode(0.75), sim_multiple=0.65 * 26.0)
    assert margin_error([high]) == 0.0


def test_a_fit_refines_from_a_given_start_without_the_global_search() -> None:
    scenario = load_scenario(SCENARIO)
    world, observed = vintage_world(scenario.world), read_observed(OBSERVED)
    names = ("price_adjustment_months",)
    start = {"price_adjustment_months": 5.0}
    result = fit(world, scenario, observed, names, max_runs=5, start=start)
    first = error(world, scenario, price_periods(observed), start)
    assert result.error_after <= min(first, result.error_before)
    assert result.runs <= 5 + 2  # the prior, the start and Powell's budget: no spread


def test_sim_calibrate_fit_takes_the_parameters_and_the_budget(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    args = ["calibrate", "--fit", "--params", "thrift_adoption_months", "--runs", "4"]
    args += ["--keys", "ex_china:Dy_oxide,china:NdPr_oxide"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "thrift_adoption_months" in out and "price_cover_sensitivity" not in out
    for bad in (
        ["--params", "price_cover_sensitivity,no_such"],
        ["--runs", "0"],
        ["--workers", "0"],
        ["--keys", "ex_china:Dy_oxide,moon:NdPr_oxide"],
        ["--params", "thrift_adoption_months", "--start", "holding_sensitivity=1"],
        ["--start", "price_adjustment_months=soon"],
    ):
        assert main(["calibrate", "--fit", *bad]) == 2
        err = capsys.readouterr().err
        assert bad[-2] in err and bad[-1] in err and "Traceback" not in err


RUN_UP = ROOT / "scenarios" / "ndpr-run-up-2021.yaml"
RUN_UP_OBSERVED = ROOT / "scenarios" / "observed" / "prices-2020-2024.csv"


def test_a_history_with_no_event_is_its_own_calm_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A history with no event (the 2020 world left to itself) is scored on the path and the
    episode of one run (a second, event-free run of it would be the same run); a history with
    events runs twice."""
    import sim.runs.fit as fitting

    calls: list[int] = []
    real = fitting.run

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fitting, "run", counted)
    scenario = load_scenario(RUN_UP).model_copy(update={"events": []})
    found = fitting.case(vintage_world(scenario.world), scenario, read_observed(RUN_UP_OBSERVED))
    assert np.isfinite(fitting.case_error(found, {}))
    assert len(calls) == 1
    episode_2010 = load_scenario(SCENARIO)
    other = fitting.case(vintage_world(episode_2010.world), episode_2010, read_observed(OBSERVED))
    fitting.case_error(other, {})
    assert len(calls) == 3


def test_a_joint_fit_scores_each_history_with_the_same_values() -> None:
    """One market's behaviour on two histories: the joint error is the sum of each case's,
    each case's world taking the same values, and the fit reports each one's error."""
    import sim.runs.fit as fitting

    scenario = load_scenario(SCENARIO)
    world, observed = vintage_world(scenario.world), read_observed(OBSERVED)
    run_up = load_scenario(RUN_UP)
    keys = ("ex_china:NdPr_oxide", "china:NdPr_oxide")
    also = fitting.case(
        vintage_world(run_up.world), run_up, read_observed(RUN_UP_OBSERVED), keys, keys
    )
    values = {"price_adjustment_months": 4.0}
    first = fitting.case(world, scenario, observed)
    joint = fitting.joint_error([first, also], values)
    assert joint == pytest.approx(
        fitting.case_error(first, values) + fitting.case_error(also, values)
    )
    assert fitting.case_error(also, values) != fitting.case_error(
        also, {"price_adjustment_months": 8.0}
    )
    result = fit(world, scenario, observed, ("price_adjustment_months",), max_runs=3, also=(also,))
    assert set(result.cases) == {"china-2010-quotas", "ndpr-run-up-2021"}
    assert sum(result.cases.values()) == pytest.approx(result.error_after)
    assert result.periods == len(price_periods(observed)) + len(also.periods)


def test_sim_calibrate_fit_takes_more_histories(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    also = ["--also", str(RUN_UP.relative_to(ROOT)), str(RUN_UP_OBSERVED.relative_to(ROOT))]
    args = ["calibrate", "--fit", "--params", "price_adjustment_months", "--runs", "2"]
    assert main([*args, *also, "china:NdPr_oxide"]) == 0
    out = capsys.readouterr().out
    assert "and on ndpr-run-up-2021 (default@2020)" in out and "of which ndpr-run-up-2021" in out
    for bad, named in (
        (also[:2], also[1]),
        ([*also, "moon:NdPr_oxide"], "moon:NdPr_oxide"),
        (["--also", "nowhere.yaml", also[2]], "nowhere.yaml"),
    ):
        assert main([*args, *bad]) == 2
        err = capsys.readouterr().err
        assert named in err and "Traceback" not in err


def test_the_no_event_run_is_held_to_a_share_of_the_observed_rise() -> None:
    """A quarter of the rise, not of the multiple: a 26x episode bounds its no-event run near
    7x, and a 2.7x run-up near 1.4x (a quarter of 2.7x, under 1x, no run could meet)."""
    from sim.runs.fit import CALM_SHARE, calm_error, calm_limit

    assert calm_limit(26.1) == pytest.approx(1.0 + CALM_SHARE * 25.1)
    small = dataclasses.replace(_episode(0.75), obs_multiple=2.73, sim_multiple=1.3)
    assert calm_error([small]) == 0.0
    big = dataclasses.replace(small, sim_multiple=2.0)
    assert calm_error([big]) == pytest.approx(np.log(2.0 / calm_limit(2.73)) ** 2)


def test_the_spread_of_starts_runs_on_several_processes_with_the_same_result() -> None:
    """Two processes evaluate the global search's starts: the same errors in the same order,
    so the same fit as one process gives."""
    scenario = load_scenario(SCENARIO)
    world, observed = vintage_world(scenario.world), read_observed(OBSERVED)
    names = ("price_adjustment_months", "price_cover_sensitivity")
    one = fit(world, scenario, observed, names, max_runs=7, workers=1)
    two = fit(world, scenario, observed, names, max_runs=7, workers=2)
    assert one == two and one.runs > 7 // 3

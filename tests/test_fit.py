"""`sim calibrate --fit`: the market's behavioural parameters fitted on history before 2025."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from sim.io.cli import main
from sim.io.observed import read_observed
from sim.io.scenario_files import load_scenario
from sim.runs.fit import BOUNDS, error, fit, price_periods
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

"""World vintages: the 2009 world as known in mid-2010, its dated plans, and the 2024 world."""

from __future__ import annotations

import csv
import datetime as dt
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.config.scenario import Scenario
from sim.errors import InputError
from sim.io.cli import main
from sim.io.scenario_files import load_scenario
from sim.runs.engine import run
from sim.runs.tables import calibration, production_table
from sim.units import ELEMENTS, REO_TO_ELEMENT, month_index
from sim.world.data_files import LocatedRow, parse_rows
from sim.world.history import apply_history
from sim.world.loader import default_world, vintage_world, world_names
from sim.world.rows import HistoryRow
from sim.world.world import Facility, Tranche

ROOT = Path(__file__).parent.parent
QUOTAS = ROOT / "scenarios" / "china-2010-quotas.yaml"
TODAY = ROOT / "scenarios" / "what-if-2010-today.yaml"
#: World mine production 2009e, USGS MCS 2010 (rare-earth-facts.md, section 10a).
WORLD_MINE_2009_T_REO = 124_000


@pytest.fixture(scope="module")
def quotas_run():
    scenario = load_scenario(QUOTAS)
    return run(vintage_world(scenario.world), scenario)


def _data_files() -> list[tuple[str, str]]:
    root = resources.files("sim.world.data")
    files = [
        (e.name, e.read_text(encoding="utf-8")) for e in root.iterdir() if e.name.endswith(".csv")
    ]
    vintages = root.joinpath("vintages")
    for folder in vintages.iterdir():
        files += [
            (f"vintages/{folder.name}/{e.name}", e.read_text(encoding="utf-8"))
            for e in folder.iterdir()
            if e.name.endswith(".csv")
        ]
    return files


# -- the 2009 world ---------------------------------------------------------------------------
def test_the_quota_scenario_runs_on_the_2009_vintage(quotas_run) -> None:
    assert quotas_run.scenario.world == "default@2009"
    assert quotas_run.chain.world.base_year == 2009
    assert quotas_run.chain.origin == dt.date(2009, 1, 1)


def test_first_year_mine_output_is_within_10_percent_of_the_2009_world_figure(quotas_run) -> None:
    measures = calibration(quotas_run)
    assert measures["world_mine_t_reo"] == pytest.approx(WORLD_MINE_2009_T_REO, rel=0.10)
    assert measures["china_share_mining"] > 0.9
    assert measures["first_year_shortfall_share"] < 1e-9


def _monthly_output(result, facility: str) -> pd.Series:
    table = production_table(result)
    rows = table[table["facility"] == facility]
    factor = rows["element"].map(dict(zip(ELEMENTS, REO_TO_ELEMENT)))
    reo = (rows["tonnes"] / factor).groupby(rows["date"]).sum()
    return reo.reindex(result.dates, fill_value=0.0)


@pytest.mark.parametrize("facility", ["lynas_malaysia", "mt_weld", "mountain_pass"])
def test_no_output_from_a_planned_plant_before_its_planned_start(quotas_run, facility) -> None:
    fac = quotas_run.chain.world.facility(facility)
    planned = [t for t in fac.tranches if t.start is not None]
    assert planned, f"{facility} has no planned start in the 2009 world"
    start = min(t.start for t in planned)
    assert start > dt.date(2010, 6, 30), "a plan, not something already running"
    output = _monthly_output(quotas_run, facility)
    months = np.arange(len(output))
    before = months + 1 <= month_index(quotas_run.chain.origin, start)
    assert before.any() and output[before].sum() == 0.0
    ramped = months >= month_index(quotas_run.chain.origin, start) + planned[0].ramp_months + 3
    assert output[ramped].sum() > 0.0, f"{facility} never produces after its start"


def test_the_mountain_pass_stockpile_is_worked_out_when_the_mine_restarts(quotas_run) -> None:
    end = quotas_run.chain.world.facility("mountain_pass_stockpile").tranches[0].end
    assert end is not None
    output = _monthly_output(quotas_run, "mountain_pass_stockpile")
    months = np.arange(len(output))
    assert output[months + 1 <= month_index(quotas_run.chain.origin, end)].min() > 0.0
    assert output[months >= month_index(quotas_run.chain.origin, end)].sum() == 0.0


def test_validation_rows_and_late_plans_are_never_inputs() -> None:
    history = list(
        csv.DictReader(
            resources.files("sim.world.data").joinpath("history.csv").read_text().splitlines()
        )
    )
    cutoffs = {
        int(r["year"]): dt.date.fromisoformat(r["cutoff"])
        for r in csv.DictReader(
            resources.files("sim.world.data").joinpath("vintages.csv").read_text().splitlines()
        )
    }
    assert any(r["use"] == "validation" for r in history)
    for name in world_names():
        world = vintage_world(name)
        dates = {d for f in world.facilities for t in f.tranches for d in (t.start, t.end) if d}
        for r in history:
            excluded = r["use"] == "validation" or (
                dt.date.fromisoformat(r["known_by"]) > cutoffs[world.base_year]
            )
            if excluded and r["facility"] in {f.id for f in world.facilities}:
                assert dt.date.fromisoformat(r["date"]) not in dates, (name, r)


def test_default_is_the_2024_vintage_and_history_leaves_it_alone() -> None:
    assert vintage_world("default") is vintage_world("default@2024") is default_world()
    world = default_world()
    assert world.base_year == 2024
    assert all(t.end is None for f in world.facilities for t in f.tranches)
    assert vintage_world("default@2009").base_year == 2009
    with pytest.raises(KeyError):
        vintage_world("default@1999")


def test_every_vintage_data_row_has_a_source_and_a_confidence_code() -> None:
    codes = {"A", "B", "C", "D", "DERIVED"}
    for name, text in _data_files():
        rows = list(csv.DictReader(text.splitlines()))
        assert rows, name
        for r in rows:
            assert r.get("source", "").strip(), (name, r)
            assert r.get("confidence", "").strip() in codes, (name, r)


# -- applying dated history -------------------------------------------------------------------
def _plant(**tranche: object) -> Facility:
    return Facility("p", "Plant", "MY", "separation", "oxide", (Tranche(1000.0, **tranche),))


HISTORY_FILE = "sim/world/data/history.csv"
HISTORY_ROW = {
    "facility": "p",
    "date": "2011-08-15",
    "event": "start",
    "capacity_tpa": "500",
    "ramp_months": "12",
    "known_by": "2009-09-29",
    "use": "input",
    "source": "test",
    "confidence": "D",
}


def _row(**fields: str) -> LocatedRow[HistoryRow]:
    values = {k: v for k, v in {**HISTORY_ROW, **fields}.items() if v}  # blank: absent
    return LocatedRow(HISTORY_FILE, 2, HistoryRow.model_validate(values))


def test_history_adds_a_plan_known_by_the_cutoff_and_dated_in_or_after_the_year() -> None:
    cutoff = dt.date(2010, 6, 30)
    [fac] = apply_history([_plant()], 2009, cutoff, [_row()])
    assert fac.tranches[-1] == Tranche(500.0, dt.date(2011, 8, 15), 12.0)
    for ignored in (
        _row(known_by="2010-07-02"),
        _row(use="validation"),
        _row(event="status"),
        _row(date="2008-01-01"),
    ):
        [fac] = apply_history([_plant()], 2009, cutoff, [ignored])
        assert fac.tranches == (Tranche(1000.0),), ignored


def test_history_halt_ends_the_earlier_tranches() -> None:
    [fac] = apply_history(
        [_plant()],
        2009,
        dt.date(2010, 6, 30),
        [_row(event="halt", date="2012-10-01", capacity_tpa="")],
    )
    assert fac.tranches == (Tranche(1000.0, end=dt.date(2012, 10, 1)),)


def test_history_of_an_unknown_facility_names_the_file_line_and_field() -> None:
    unknown = LocatedRow(HISTORY_FILE, 3, _row(facility="nope").row)
    with pytest.raises(InputError) as err:
        apply_history([_plant()], 2009, dt.date(2010, 6, 30), [_row(), unknown])
    assert str(err.value).startswith(f"{HISTORY_FILE}:3: facility: no facility of this id")


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"event": "explode"}, "event: Input should be 'start', 'halt' or 'status'"),
        ({"date": "2011-13-01"}, "date: Input should be a valid date"),
        ({"capacity_tpa": ""}, "an input 'start' needs capacity_tpa"),
    ],
)
def test_a_bad_history_row_names_the_file_line_and_field(fields, where) -> None:
    header = ",".join(HISTORY_ROW)
    rows = [",".join({**HISTORY_ROW, **fields}.values()) for fields in ({}, fields)]
    with pytest.raises(InputError) as err:
        parse_rows(HistoryRow, "\n".join([header, *rows]) + "\n", HISTORY_FILE)
    assert str(err.value).startswith(f"{HISTORY_FILE}:3: {where}")


# -- choosing a world in a scenario -----------------------------------------------------------
def test_what_if_today_runs_on_the_2024_world() -> None:
    scenario = load_scenario(TODAY)
    assert scenario.world == "default"
    world = vintage_world(scenario.world)
    assert world is default_world() and world.base_year == 2024
    result = run(world, scenario)
    assert result.residual <= 1e-9
    assert result.chain.origin.year >= 2025
    assert "mp_10x" in result.chain.index  # a 2024-world plant, absent from the 2009 world
    assert "mp_10x" not in {f.id for f in vintage_world("default@2009").facilities}


@pytest.mark.parametrize(
    ("world", "problem"),
    [
        ("default@1999", "unknown world; expected one of ['default', 'default@2009'"),
        ("today", "must be 'default' or a vintage 'default@YEAR'"),
    ],
)
def test_an_unknown_world_is_an_input_error_at_its_line(tmp_path, world, problem) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nworld: {world}\nhorizon: {{start: 2024-01-01, end: 2024-12-31}}\n")
    with pytest.raises(InputError) as err:
        load_scenario(path)
    assert str(err.value).startswith(f"{path}:2: world: {problem}")


def test_a_horizon_before_the_worlds_year_is_refused(tmp_path, capsys) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nhorizon:\n  start: 2009-01-01\n  end: 2010-12-31\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:3: horizon.start: this world is as of 2024" in err
    assert "(got '2009-01-01')" in err
    path.write_text(
        "name: s\nworld: default@2009\nhorizon:\n  start: 2009-01-01\n  end: 2010-12-31\n"
    )
    assert main(["validate", str(path)]) == 0


def test_sim_run_records_the_vintage_in_the_manifest(tmp_path) -> None:
    assert main(["run", str(QUOTAS), "--out", str(tmp_path / "out")]) == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["world"] == "default@2009"
    assert manifest["mass_balance_residual"] <= 1e-9


def test_calibrate_runs_for_either_vintage(capsys) -> None:
    assert main(["calibrate", "--world", "default@2009"]) == 0
    out = capsys.readouterr().out
    assert "world default@2009" in out and "124000" in out
    assert main(["calibrate", "--world", "default@1999"]) == 2


def test_a_2009_baseline_needs_no_event_to_run(tmp_path) -> None:
    scenario = Scenario.model_validate(
        {
            "name": "b",
            "world": "default@2009",
            "horizon": {"start": "2009-01-01", "end": "2009-12-31"},
        }
    )
    result = run(vintage_world("default@2009"), scenario)
    assert result.shortfall.sum() < 1e-6


def test_a_run_on_the_2009_world_prices_its_costs_in_2009_and_says_what_was_thrifted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(QUOTAS), "--out", str(tmp_path / "out"), "--format", "csv"]) == 0
    printed = capsys.readouterr().out
    assert "over 2009 prices" in printed and "over 2024 prices" not in printed
    assert "thrifting: magnet makers designed out of NdFeB's Dy and Tb:" in printed

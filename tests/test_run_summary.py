"""The run summary: time to first shortfall and to recovery, price peaks by tier, floor
payments and stockpiles, in tables and in what `sim run` prints."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sim.io.cli import main
from sim.io.scenario_files import load_scenario
from sim.runs.engine import run
from sim.runs.summary import floor_payments_table, price_peaks_table, stockpiles_table
from sim.runs.tables import shortfall_table, summary_table
from sim.world.loader import default_world
from tests.worlds import one_chain, scenario, with_defence

BAN = {
    "kind": "export_control",
    "exporter": "CN",
    "destinations": ["US"],
    "forms": ["magnet"],
    "mode": "ban",
    "start": "2025-01-01",
    "end": "2025-04-01",
}


def test_first_short_and_recovery_of_a_three_month_ban() -> None:
    res = run(one_chain(cover_weeks=0.0), scenario([BAN]))
    row = summary_table(shortfall_table(res)).iloc[0]
    assert row["first_short"] == dt.date(2025, 1, 1)
    assert row["recovered"] == dt.date(2025, 4, 1)
    assert row["months_to_recovery"] == 3


def test_no_recovery_when_short_at_the_end() -> None:
    res = run(one_chain(cover_weeks=0.0), scenario([{**BAN, "end": None}]))
    row = summary_table(shortfall_table(res)).iloc[0]
    assert row["recovered"] is None and row["months_to_recovery"] != row["months_to_recovery"]


def test_price_peaks_by_tier() -> None:
    res = run(one_chain(cover_weeks=0.0), scenario([BAN]))
    peaks = price_peaks_table(res).set_index(["product", "market"])
    ex_china = peaks.loc[("NdFeB_magnet", "ex_china")]
    assert ex_china["first_usd_per_kg"] == 60.0
    # nothing delivered: buyers' stocks run out and the price climbs month by month (it adapts
    # to what stocks indicate) towards the bound from history, 0.1 ** -1.5 times its anchor
    assert 60.0 * 5.0 < ex_china["peak_usd_per_kg"] <= 60.0 * 0.1**-1.5 + 1e-9
    assert dt.date(2025, 1, 1) < ex_china["peak_date"] <= dt.date(2025, 4, 1)


def test_stockpile_table_follows_the_holding() -> None:
    pile = {
        "kind": "stockpile",
        "region": "US",
        "material": "NdFeB",
        "sectors": ["defence"],
        "initial_t": 20.0,
        "max_release_t_per_month": 5.0,
        "start": "2024-01-01",
    }
    res = run(with_defence(one_chain(cover_weeks=0.0)), scenario([{**BAN, "end": None}, pile]))
    table = stockpiles_table(res)
    assert table["tonnes"].iloc[0] == 20.0 and table["tonnes"].iloc[-1] == 0.0


def test_sim_run_prints_timing_price_peaks_and_floor_payments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = Path(__file__).parent.parent / "scenarios" / "us-dod-mp-price-floor-slump.yaml"
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "no shortfall" in out  # the floor keeps Mountain Pass running: nobody runs short
    assert "price peaks by tier" in out
    assert "price floor 'DoD NdPr floor': US DoD paid mp_materials US$" in out
    assert (tmp_path / "out" / "floor_payments.csv").is_file()
    assert (tmp_path / "out" / "price_peaks.csv").is_file()
    res = run(default_world(), load_scenario(path))
    assert floor_payments_table(res)["usd"].sum() > 0

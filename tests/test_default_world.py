"""The embedded world: calibration to 2024, every shipped scenario, the US magnet ban."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from sim.config.scenario import Scenario
from sim.io.scenario_files import load_scenario
from sim.runs.engine import run
from sim.runs.tables import calibration, shortfall_table
from sim.units import DAYS_PER_MONTH, REO_TO_ELEMENT, month_index
from sim.world.loader import default_world, vintage_world

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def world():
    return default_world()


@pytest.fixture(scope="module")
def year_2024(world):
    scenario = Scenario.model_validate(
        {"name": "cal", "horizon": {"start": "2024-01-01", "end": "2024-12-31"}}
    )
    return calibration(run(world, scenario))


def test_world_mine_output_is_390_kt_reo_within_5_percent(year_2024) -> None:
    assert year_2024["world_mine_t_reo"] == pytest.approx(390_000, rel=0.05)


def test_recovered_scrap_is_not_counted_as_mine_output(world) -> None:
    """`secondary: true` mine rows (China's magnet scrap beyond the chain's swarf) feed
    separation like ore but are not mine output: the calibration counts the ore mines' REO
    only."""
    scenario = Scenario.model_validate(
        {"name": "cal", "horizon": {"start": "2024-01-01", "end": "2024-12-31"}}
    )
    res = run(world, scenario)
    mines = res.chain.stage("mine")
    scrap = np.array([f.secondary for f in mines])
    assert scrap.any() and not scrap.all()
    assert res.record.production is not None
    reo = (res.record.production[:12, res.chain.slices["mine"]] / REO_TO_ELEMENT).sum(axis=(0, 2))
    assert reo[scrap].sum() > 4_000.0  # about 4,770 t REO of scrap fed in 2024
    assert calibration(res)["world_mine_t_reo"] == pytest.approx(reo[~scrap].sum(), rel=1e-12)


def test_china_separates_about_90_percent(year_2024) -> None:
    assert 0.87 <= year_2024["china_share_separation"] <= 0.95


def test_china_makes_over_90_percent_of_magnets(year_2024) -> None:
    assert year_2024["china_share_magnets"] > 0.90


def test_no_shortfall_in_the_first_baseline_year(year_2024) -> None:
    assert year_2024["first_year_shortfall_share"] < 1e-9


def test_every_data_row_has_a_source() -> None:
    import csv
    from importlib import resources

    for entry in resources.files("sim.world.data").iterdir():
        if entry.name.endswith(".csv"):
            rows = list(csv.DictReader(entry.read_text().splitlines()))
            assert rows, entry.name
            assert all(r.get("source", "").strip() for r in rows), entry.name


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_validates_and_runs_with_balanced_books(path) -> None:
    scenario = load_scenario(path)
    result = run(vintage_world(scenario.world), scenario)
    assert result.residual <= 1e-9
    assert result.record.demand.sum() > 0


def test_a_us_only_ban_is_rerouted_when_trade_follows_price(world) -> None:
    # Japanese, Korean and European plants sell to the US; Chinese magnets take their place.
    scenario = load_scenario(
        Path(__file__).parent.parent / "scenarios/china-magnet-ban-us.yaml", world
    )
    table = shortfall_table(run(world, scenario))
    assert table["shortfall_t"].sum() < 1e-6 * table["demand_t"].sum()


def test_us_magnet_ban_short_when_cover_runs_out_not_before_and_not_never(world) -> None:
    # With an export restraint (plants serve their own region first) the ban bites.
    from sim.config.events import ExportRestraint

    scenario = load_scenario(
        Path(__file__).parent.parent / "scenarios/china-magnet-ban-us.yaml", world
    )
    ban = scenario.events[0].start
    restraint = ExportRestraint(kind="export_restraint", start=dt.date(2024, 1, 1))
    scenario = scenario.model_copy(update={"events": [*scenario.events, restraint]})
    table = shortfall_table(run(world, scenario))
    us = table[(table["region"] == "US") & (table["material"] == "NdFeB")]
    origin = dt.date(2024, 1, 1)
    assert us["shortfall_t"].sum() > 0, "never short"
    for buyer in world.buyers:
        if buyer.region != "US" or buyer.material != "NdFeB":
            continue
        cover_months = buyer.cover_weeks * 7 / DAYS_PER_MONTH
        rows = us[us["sector"] == buyer.sector].reset_index(drop=True)
        short = rows.index[rows["shortfall_t"] > 1e-6 * rows["demand_t"]]
        earliest = month_index(origin, ban) + cover_months
        if buyer.priority > 1:  # defence is served first from what is still allowed
            assert not len(short) or short[0] + 1 > earliest
            continue
        assert len(short), f"{buyer.sector} never short"
        first = int(short[0])
        assert first + 1 > earliest, (buyer.sector, first, earliest)  # not before cover is used
        assert first <= earliest + 3, (buyer.sector, first, earliest)  # shipments in transit


def test_us_shortfall_is_caused_by_the_ban(world) -> None:
    base = Scenario.model_validate(
        {"name": "b", "horizon": {"start": "2024-01-01", "end": "2026-12-31"}}
    )
    table = shortfall_table(run(world, base))
    assert table[table["region"] == "US"]["shortfall_t"].sum() < 1e-6


def test_a_tighter_quota_never_lowers_the_shortfall(world) -> None:
    totals = []
    for share in (1.0, 0.6, 0.3, 0.0):
        scenario = Scenario.model_validate(
            {
                "name": "q",
                "horizon": {"start": "2024-01-01", "end": "2026-12-31"},
                "events": [
                    {
                        "kind": "export_control",
                        "exporter": "CN",
                        "destinations": ["US", "EU"],
                        "forms": ["magnet"],
                        "mode": "quota",
                        "share": share,
                        "start": "2025-01-01",
                    }
                ],
            }
        )
        totals.append(run(world, scenario).shortfall.sum())
    assert np.all(np.diff(totals) >= -1e-6), totals
    assert totals[-1] > totals[0]

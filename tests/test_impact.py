"""From tonnes to what people lose (issue 16): windows and roll-ups, units not built (whole
sectors, parts of sectors, the cap), the check of demand against units, money, policy costs,
resilience, the data files' errors, and `sim run --by`."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim.world
from sim.errors import InputError
from sim.io.cli import main
from sim.model.levers.economics import PRICE_PRODUCTS
from sim.runs.impact import (
    consistency_table,
    extra_cost_table,
    monthly_plans,
    policy_costs_table,
    units_lost,
    units_table,
)
from sim.runs.resilience import resilience_table
from sim.runs.tables import shortfall_table
from sim.runs.windows import BY_YEAR, parse_window, periods, with_rollups
from sim.world import data_files
from sim.world.impact_data import ImpactData, Product, UnitPlan, impact_data
from sim.world.loader import default_world
from tests.test_scenario_library import LIBRARY, SCENARIOS, result

D = dt.date
DATA = Path(sim.world.__file__).parent / "data"


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2027", D(2027, 1, 1), D(2027, 12, 1)),
        ("2026-03", D(2026, 3, 1), D(2026, 3, 1)),
        ("2026..2027", D(2026, 1, 1), D(2027, 12, 1)),
        ("2026-01..2027-06", D(2026, 1, 1), D(2027, 6, 1)),
    ],
)
def test_windows_parse_to_their_first_and_last_months(text: str, first: D, last: D) -> None:
    window = parse_window(text)
    assert (window.first, window.last, window.label, window.by_year) == (first, last, text, False)
    assert parse_window("year").by_year


@pytest.mark.parametrize("text", ["", "years", "2027-13", "2027..2026", "2026-1..x", "27"])
def test_a_bad_window_is_an_input_error_at_the_option(text: str) -> None:
    with pytest.raises(InputError, match="--by"):
        parse_window(text)


def test_periods_label_years_or_the_window_and_leave_the_rest_out() -> None:
    dates = pd.Series([D(2025, 12, 1), D(2026, 1, 1), D(2027, 7, 1)])
    assert periods(dates, BY_YEAR).tolist() == [2025, 2026, 2027]
    inside = periods(dates, parse_window("2026-01..2027-06"))
    assert inside.isna().tolist() == [True, False, True] and inside[1] == "2026-01..2027-06"


def test_rollups_sum_their_regions_beside_the_regions() -> None:
    table = pd.DataFrame(
        {"region": ["US", "EU", "CN", "KR"], "sector": "wind", "t": [1.0, 2.0, 4.0, 8.0]}
    )
    out = with_rollups(table, ["region", "sector"], ["t"]).set_index("region")["t"]
    assert (out["ex_china"], out["g7"], out["world"], out["CN"]) == (11.0, 3.0, 15.0, 4.0)


def _month(
    planned: float, shortfall: float, demand: float, kg: float = 2.0, whole: bool = True
) -> pd.DataFrame:
    """One month of one plan beside its buyers' demand and shortfall (t)."""
    group = {"date": D(2026, 1, 1), "region": "US", "sector": "s", "material": "NdFeB"}
    plans = pd.DataFrame(
        [{**group, "kg_per_unit": kg, "whole_sector": whole, "planned_units": planned,
          "usd_per_unit": 10.0}]
    )  # fmt: skip
    short = pd.DataFrame([{**group, "demand_t": demand, "shortfall_t": shortfall}])
    return units_lost(short, plans).iloc[0]


def test_a_whole_sector_loses_its_tonnes_short_over_kg_a_unit() -> None:
    row = _month(planned=1_000_000, shortfall=100.0, demand=1000.0)
    assert row["units_not_built"] == pytest.approx(50_000)  # 100 t / 2 kg
    assert row["output_at_risk_usd"] == pytest.approx(500_000)
    assert row["capped_months"] == 0


def test_never_more_units_lost_than_planned_and_the_cap_is_flagged() -> None:
    row = _month(planned=10_000, shortfall=100.0, demand=1000.0)  # 100 t would make 50,000
    assert row["units_not_built"] == pytest.approx(10_000)
    assert row["capped_months"] == 1


def test_a_part_of_a_sector_loses_its_planned_units_times_the_share_short() -> None:
    # 70 units x 400 kg = 28 t of a 175 t sector; a quarter of the sector short
    row = _month(planned=70, shortfall=175 / 4, demand=175.0, kg=400.0, whole=False)
    assert row["units_not_built"] == pytest.approx(70 / 4)


def test_products_that_share_a_sector_share_its_shortfall_as_their_planned_magnet() -> None:
    # 1,000 EVs x 2 kg and 2,000 hybrids x 1 kg: each takes half of the sector's 40 t short
    group = {"date": D(2026, 1, 1), "region": "US", "sector": "s", "material": "NdFeB"}
    plans = pd.DataFrame(
        [{**group, "product": p, "kg_per_unit": kg, "whole_sector": True, "planned_units": n,
          "usd_per_unit": 1.0} for p, kg, n in (("ev", 2.0, 1e3), ("hev", 1.0, 2e3))]
    )  # fmt: skip
    short = pd.DataFrame([{**group, "demand_t": 100.0, "shortfall_t": 2.0}])
    lost = units_lost(short, plans).set_index("product")["units_not_built"]
    assert (lost["ev"], lost["hev"]) == (pytest.approx(500.0), pytest.approx(1000.0))


def test_the_check_gives_products_that_share_a_sector_their_part_of_its_demand() -> None:
    car = Product("car", "ev_traction", "NdFeB", "car", 2.0, 1.1, 2.6, True)
    hybrid = Product("hybrid", "ev_traction", "NdFeB", "car", 1.0, 0.5, 3.4, True)
    plans = (UnitPlan("US", "car", 1e6, None, 1.0), UnitPlan("US", "hybrid", 2e6, None, 1.0))
    data = ImpactData({"car": car, "hybrid": hybrid}, plans)
    table = consistency_table(default_world(), data).set_index(["product", "region"])
    demand_t = default_world_demand_t("US", "ev_traction")
    # 2,000 t planned by each: each takes half the sector's demand
    assert table["demand_t"].xs("US", level="region").tolist() == [demand_t / 2] * 2
    assert table.loc[("car", "US"), "implied_kg_per_unit"] == pytest.approx(demand_t / 2 / 1e3)


def default_world_demand_t(region: str, sector: str) -> float:
    """The default world's base-year NdFeB demand of one buyer group (t)."""
    world = default_world()
    return next(
        b.demand_tpa
        for b in world.buyers
        if (b.region, b.sector, b.material) == (region, sector, "NdFeB")
    )


def test_units_table_sums_months_into_periods_beside_the_units_planned() -> None:
    res = result("china-2025-april-licensing-held")
    table = units_table(shortfall_table(res), monthly_plans(res), BY_YEAR)
    cars = table[(table["product"] == "electric_car") & (table["region"] == "US")]
    assert cars["planned_units"].iloc[0] == pytest.approx(1.6e6, rel=0.01)  # 2024, IEA
    assert cars.loc[cars["period"] == 2024, "units_not_built"].item() == 0.0
    assert cars.loc[cars["period"] == 2026, "units_not_built"].item() > 0.0


@pytest.mark.parametrize("name", LIBRARY)
def test_ev_units_not_built_never_exceed_the_evs_planned(name: str) -> None:
    res = result(name)
    table = units_table(shortfall_table(res), monthly_plans(res), BY_YEAR)
    cars = table[table["product"] == "electric_car"]
    assert (cars["units_not_built"] <= cars["planned_units"] * (1 + 1e-9)).all()
    assert (cars["units_not_built"] >= 0).all()


def test_the_check_flags_demand_that_makes_units_outside_their_band() -> None:
    car = Product("car", "ev_traction", "NdFeB", "car", 2.0, 1.8, 2.5, True)
    # US EV traction demand 2,700 t: 1.6 M cars imply 1.69 kg (below 1.8), 1.2 M 2.25 kg
    for units, within in ((1.6e6, False), (1.2e6, True)):
        data = ImpactData({"car": car}, (UnitPlan("US", "car", units, None, 1.0),))
        table = consistency_table(default_world(), data).set_index("region")
        assert table.loc["US", "implied_kg_per_unit"] == pytest.approx(2700e3 / units)
        assert bool(table.loc["US", "within"]) is within


# Each region's 2024 NdFeB total (t of finished magnet, sim/world/data/README.md, demand.csv):
# the check's fixes move tonnes between sectors, never in or out of a region.
REGION_NDFEB_T = {"US": 9000, "EU": 18000, "JP": 14000, "KR": 8000, "CN": 153000, "ROW": 27000}


def test_the_default_worlds_demand_makes_its_units_within_their_bands() -> None:
    """Every product, every region and the world (sim/world/data/README.md, "The check")."""
    table = consistency_table(default_world(), impact_data("default"))
    outside = table[~table["within"]]
    assert outside.empty, outside[["product", "region", "implied_kg_per_unit"]].to_string()
    wind = table[(table["product"] == "wind_capacity") & (table["region"] == "world")]
    assert wind["implied_kg_per_unit"].item() == pytest.approx(14790e3 / 117000)
    cars = table[table["region"] == "world"].set_index("product")["implied_kg_per_unit"]
    assert 2.0 < cars["electric_car"] < 2.6 and 0.9 < cars["hybrid_car"] < 1.3


def test_the_checks_fixes_keep_each_regions_magnet_total() -> None:
    totals: dict[str, float] = {}
    for buyer in default_world().buyers:
        if buyer.material in ("NdFeB", "NdFeB_DyFree"):  # both grades of NdFeB
            totals[buyer.region] = totals.get(buyer.region, 0.0) + buyer.demand_tpa
    assert totals == pytest.approx(REGION_NDFEB_T)


def test_extra_cost_is_the_price_change_times_the_kg_bought() -> None:
    res = result("china-2025-april-licensing-held")
    table = extra_cost_table(res, shortfall_table(res), BY_YEAR)
    got = table.query("period == 2026 and region == 'US' and sector == 'ev_traction'")
    b = next(
        i for i, x in enumerate(res.chain.buyers) if (x.region, x.sector) == ("US", "ev_traction")
    )
    p, k = PRICE_PRODUCTS.index("NdFeB_magnet"), 1  # ex_china
    months = [t for t, d in enumerate(res.dates) if d.year == 2026]
    change = res.prices_usd_per_kg[0, months, p, k] - res.chain.economics.base_prices[p, k]
    expected = sum(res.record.delivered[0, months, b] * 1000.0 * change)
    assert got["extra_cost_usd"].item() == pytest.approx(expected)
    assert expected > 0


def test_floor_payments_are_policy_costs_of_their_payer() -> None:
    res = result("us-dod-mp-price-floor")
    costs = policy_costs_table(res, BY_YEAR)
    assert set(costs["kind"]) == {"price_floor"}
    paid = res.record.floor_usd[0].sum()
    assert costs["usd"].sum() == pytest.approx(paid) and paid > 0


def test_stockpile_purchases_cost_the_rise_in_holding_at_the_price() -> None:
    """The initial stock is bought in the month the stockpile starts, then every rise."""
    res = result("us-australia-framework")
    costs = policy_costs_table(res, BY_YEAR)
    bought = costs[costs["kind"] == "stockpile_purchase"]
    held = res.record.stockpile_t[0, :, 0]
    pile = next(ev for ev in res.scenario.events if ev.kind == "stockpile")
    rises = np.maximum(np.diff(held, prepend=pile.initial_t), 0.0)
    start = next(t for t, d in enumerate(res.dates) if d >= pile.start.replace(day=1))
    rises[start] += pile.initial_t
    magnet = PRICE_PRODUCTS.index("NdFeB_magnet")
    price = res.prices_usd_per_kg[0, :, magnet, 1]  # ex_china
    assert rises.sum() >= pile.initial_t > 0  # bought full when it starts
    assert bought["usd"].sum() == pytest.approx((rises * 1000.0 * price).sum())


def test_resilience_measures_lag_depth_duration_and_recovery() -> None:
    months = [D(2025, m, 1) for m in range(1, 9)]
    short = [0, 0, 1, 5, 2, 0, 0, 0]
    table = pd.DataFrame(
        {
            "date": months,
            "region": "US",
            "sector": "wind",
            "material": "NdFeB",
            "demand_t": 10.0,
            "delivered_t": [10.0 - s for s in short],
            "shortfall_t": [float(s) for s in short],
        }
    )
    row = resilience_table(table, D(2025, 2, 1)).set_index("region").loc["US"]
    assert row["first_short"] == D(2025, 3, 1) and row["lag_months"] == 1.0
    assert row["depth_share"] == 0.5 and row["months_short"] == 3
    assert row["recovered"] == D(2025, 6, 1) and row["recovery_months"] == 3
    assert row["cumulative_t"] == 8.0


def test_a_plan_of_an_unknown_product_is_an_error_at_its_line(tmp_path, monkeypatch, capsys):
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    monkeypatch.setattr(data_files, "DATA", copy)
    plans = copy / "unit_plans.csv"
    lines = plans.read_text().splitlines()
    lines[2] = lines[2].replace("electric_car", "hovercar", 1)
    plans.write_text("\n".join(lines) + "\n")
    assert main(["calibrate"]) == 2
    err = capsys.readouterr().err
    assert "unit_plans.csv:3: product: unknown product" in err and "'hovercar'" in err


def test_run_by_window_writes_the_window_and_a_bad_one_exits_2(tmp_path, capsys) -> None:
    scenario = str(SCENARIOS / "china-2025-april-licensing-held.yaml")
    assert main(["run", scenario, "--out", str(tmp_path / "w"), "--by", "2026-01..2027-06"]) == 0
    out = capsys.readouterr().out
    assert "impact, ex-China" in out and "2026-01..2027-06" in out
    units = pd.read_csv(tmp_path / "w" / "units_not_built.csv")
    assert set(units["period"]) == {"2026-01..2027-06"}
    assert main(["run", scenario, "--out", str(tmp_path / "x"), "--by", "2026-13"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --by:")
    assert not (tmp_path / "x").exists()


def test_a_sweep_without_uncertainty_loses_the_units_a_run_loses() -> None:
    from sim.runs.sweep import sweep
    from sim.runs.sweep_impact import sweep_impact_table

    res = result("china-2025-april-licensing-held")
    swept = sweep(default_world(), res.scenario, 3, workers=1)
    table = sweep_impact_table(swept, default_world(), BY_YEAR)
    units = table[table["metric"] == "units_not_built"].set_index(["period", "region", "product"])
    run = units_table(shortfall_table(res), monthly_plans(res), BY_YEAR)
    run = run.set_index(["period", "region", "product"])
    assert len(units) == len(run)
    got = units.loc[run.index]
    assert np.allclose(got["p05"], run["units_not_built"], rtol=1e-4, atol=1e-3)
    assert np.allclose(got["p95"], got["p05"]) and np.allclose(got["planned"], run["planned_units"])
    value = table[table["metric"] == "output_at_risk_usd"].set_index(
        ["period", "region", "product"]
    )
    assert np.allclose(value.loc[run.index, "mean"], run["output_at_risk_usd"], rtol=1e-4, atol=1)

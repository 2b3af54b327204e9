"""GDP lost with the output at risk (issue 16): the arithmetic on a small hand-computed case,
the embedded multipliers (each of a unit plan, a share of a US$, sourced), a bad row as an
error at its line, and `sim run`'s gdp.csv and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim.world
from sim.errors import InputError
from sim.io.cli import main
from sim.runs.gdp import gdp_table
from sim.world.impact_data import GdpMultiplier, _read_gdp, gdp_multipliers, impact_data
from tests.test_scenario_library import SCENARIOS

DATA = Path(sim.world.__file__).parent / "data"


def test_gdp_lost_is_output_at_risk_times_value_added_per_dollar() -> None:
    """US cars: US$1.0 bn and 0.2 bn of output at risk in 2026 and 2027 at 0.5 -> 0.5 bn and
    0.1 bn; US F-35s: US$0.3 bn at 0.8 -> 0.24 bn; EU cars have no multiplier: no row."""
    units = pd.DataFrame(
        {
            "period": [2026, 2027, 2026, 2026],
            "region": ["US", "US", "EU", "US"],
            "sector": ["ev_traction", "ev_traction", "ev_traction", "defence"],
            "product": ["electric_car", "electric_car", "electric_car", "f35"],
            "output_at_risk_usd": [1.0e9, 0.2e9, 2.0e9, 0.3e9],
        }
    )
    multipliers = (
        GdpMultiplier("US", "electric_car", "3361MV", "Motor vehicles", 0.5),
        GdpMultiplier("US", "f35", "3364OT", "Other transportation equipment", 0.8),
    )
    table = gdp_table(units, multipliers)
    assert list(table["product"]) == ["f35", "electric_car", "electric_car"]
    assert list(table["period"]) == [2026, 2026, 2027]
    assert np.allclose(table["gdp_lost_usd"], [0.24e9, 0.5e9, 0.1e9])
    assert set(table["region"]) == {"US"} and list(table["industry_code"])[0] == "3364OT"


def test_the_embedded_multipliers_are_shares_of_a_dollar_of_planned_products() -> None:
    found = gdp_multipliers("default")
    plans = {(p.region, p.product) for p in impact_data("default").plans}
    assert found and all((m.region, m.product) in plans and 0 < m.va_per_usd <= 1 for m in found)
    us = {p.product for p in impact_data("default").plans if p.region == "US"}
    assert {m.product for m in found if m.region == "US"} == us
    assert gdp_multipliers("default@2009") == ()
    rows = pd.read_csv(DATA / "gdp_multipliers.csv")
    assert rows["source"].str.len().min() > 10 and set(rows["confidence"]) <= {
        "A",
        "B",
        "C",
        "D",
        "DERIVED",
    }


def test_a_multiplier_of_an_unplanned_product_is_refused_at_its_line(tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    path = copy / "gdp_multipliers.csv"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("US,wind_capacity", "US,hard_disk_drive", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="gdp_multipliers.csv:3: product: no unit plan"):
        _read_gdp(copy, "default")


def test_sim_run_writes_gdp_and_prints_the_us_line(tmp_path: Path, capsys) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        (SCENARIOS / "full-embargo-us-defence-stockpile.yaml")
        .read_text()
        .replace("extends: full-embargo-us.yaml", f"extends: {SCENARIOS}/full-embargo-us.yaml")
        .replace("end: 2030-12-31", "end: 2026-12-31")
    )
    assert main(["run", str(scenario), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    gdp = pd.read_csv(tmp_path / "out" / "gdp.csv")
    units = pd.read_csv(tmp_path / "out" / "units_not_built.csv")
    us = units[units["region"] == "US"].set_index(["period", "product"])["output_at_risk_usd"]
    got = gdp.set_index(["period", "product"])
    assert np.allclose(got["gdp_lost_usd"], us.loc[got.index] * got["va_per_usd"])
    assert gdp["gdp_lost_usd"].sum() > 1e9 and "US GDP lost (US$, Type I" in printed

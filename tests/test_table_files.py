"""The monthly tables' formats and choice (`sim.io.table_files`) and their yearly versions
(`sim.runs.yearly`): what is written is what was built, and a year holds its months."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.errors import InputError
from sim.io.cli import main
from sim.io.table_files import MONTHLY, parse_tables, read_table, write_table
from sim.runs.yearly import by_year

ROOT = Path(__file__).parent.parent
BAN = ROOT / "scenarios" / "china-2025-april-licensing.yaml"
LABELS = ["region", "sector", "material"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same run written as Parquet (the default) and as CSV."""
    root = tmp_path_factory.mktemp("tables")
    written = {}
    for fmt in ("parquet", "csv"):
        out = root / fmt
        assert main(["run", str(BAN), "--out", str(out), "--format", fmt]) == 0
        written[fmt] = out
    return written


def test_parquet_is_the_default_and_reads_back_as_the_csv(folders: dict[str, Path]) -> None:
    for name in MONTHLY:
        assert (folders["parquet"] / f"{name}.parquet").is_file(), name
        assert not (folders["parquet"] / f"{name}.csv").exists(), name
        assert (folders["csv"] / f"{name}.csv").is_file(), name
        from_parquet = read_table(folders["parquet"], name)
        from_csv = read_table(folders["csv"], name)
        assert list(from_parquet.columns) == list(from_csv.columns), name
        assert len(from_parquet) == len(from_csv) > 0, name
        value = from_csv.columns[-1]  # CSV keeps six significant figures
        np.testing.assert_allclose(from_parquet[value], from_csv[value], rtol=1e-5, atol=1e-9)
        assert (from_parquet["date"] == from_csv["date"]).all(), name


def test_every_monthly_table_has_its_year_beside_it(folders: dict[str, Path]) -> None:
    for folder in folders.values():
        for name in MONTHLY:
            yearly = pd.read_csv(folder / f"{name}_by_year.csv")
            assert yearly["year"].between(2024, 2029).all() and len(yearly) > 0, name


def test_a_year_of_shortfall_sums_its_months(folders: dict[str, Path]) -> None:
    monthly = read_table(folders["parquet"], "shortfall")
    yearly = pd.read_csv(folders["parquet"] / "shortfall_by_year.csv")
    months = (
        monthly.assign(year=monthly["date"].dt.year)
        .groupby(["year", *LABELS])
        .sum(numeric_only=True)
    )
    years = yearly.set_index(["year", *LABELS])
    for column in ("demand_t", "delivered_t", "shortfall_t"):
        joined = months[column].reindex(years.index)
        np.testing.assert_allclose(years[column], joined, rtol=1e-5, atol=1e-6)
    assert np.allclose(years["share_short"] * years["demand_t"], years["shortfall_t"], atol=1e-3)
    assert years["shortfall_t"].sum() > 0  # the licensing makes buyers short


def test_a_stock_is_its_holders_at_year_end() -> None:
    table = pd.DataFrame(
        {
            "date": [dt.date(2024, 11, 1), dt.date(2024, 12, 1), dt.date(2024, 11, 1)],
            "facility": ["a", "a", "b"],
            "tonnes": [5.0, 2.0, 7.0],
        }
    )
    yearly = by_year(table, "stocks").set_index("facility")["tonnes_end"]
    assert yearly.to_dict() == {"a": 2.0}  # b held nothing at the end of December


def test_a_price_year_is_its_mean_and_peak() -> None:
    dates = [dt.date(2025, m, 1) for m in (1, 2, 3)]
    table = pd.DataFrame(
        {"date": dates, "market": "china", "product": "x", "usd_per_kg": [1.0, 4.0, 1.0]}
    )
    row = by_year(table, "prices").iloc[0]
    assert (row["year"], row["mean_usd_per_kg"], row["peak_usd_per_kg"]) == (2025, 2.0, 4.0)


def test_tables_chooses_what_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["run", str(BAN), "--out", str(out), "--tables", "prices, shortfall"]) == 0
    written = {p.name for p in out.iterdir()}
    assert {"prices.parquet", "shortfall.parquet", "shortfall.png", "summary.csv"} <= written
    assert not any(name.startswith(("flows", "stocks", "production")) for name in written)
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("text", ["flow", "", "prices,everything"])
def test_an_unknown_table_is_refused(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InputError, match="--tables"):
        parse_tables(text)
    assert main(["run", str(BAN), "--out", str(tmp_path / "o"), "--tables", text]) == 2
    err = capsys.readouterr().err
    assert "error: --tables" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_parquet_keeps_labels_and_values_exactly(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {"date": [dt.date(2024, 1, 1)] * 2, "element": ["Dy", "Tb"], "tonnes": [0.1, 1 / 3]}
    )
    write_table(table, tmp_path / "t.parquet")
    back = read_table(tmp_path, "t")
    assert back["element"].tolist() == ["Dy", "Tb"] and back["tonnes"].tolist() == [0.1, 1 / 3]

"""`sim.io.csv_text.write_csv` writes the bytes pandas' ``to_csv`` writes, faster."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.io.csv_text import FLOAT_FORMAT, write_csv

DAYS = [dt.date(2024, 1, 1), dt.date(2024, 2, 1), None, dt.date(2035, 12, 1)]


def pandas_bytes(table: pd.DataFrame, path: Path) -> bytes:
    table.to_csv(path, index=False, float_format=FLOAT_FORMAT)
    return path.read_bytes()


TABLES = {
    "labels, dates, floats and ints": pd.DataFrame(
        {
            "date": DAYS,
            "facility": ["lynas", np.nan, "mp:1", "é-ü"],
            "tonnes": [1.0, np.nan, np.inf, 1234567.891],
            "tiny": [1e-300, -0.0, 5e-7, 123456.5],
            "months": np.array([1, -2, 0, 10**12], dtype=np.int64),
        }
    ),
    "a field CSV quotes": pd.DataFrame({"name": ["a,b", 'say "x"'], "t": [1.0, 2.0]}),
    "a single column": pd.DataFrame({"name": ["a", np.nan]}),
    "bools and mixed objects": pd.DataFrame({"ok": [True, False], "v": [1.5, "x"]}),
    "no rows": pd.DataFrame({"date": [], "tonnes": []}),
    "a column name CSV quotes": pd.DataFrame({"a,b": [1.0], "c": ["x"]}),
}


@pytest.mark.parametrize("name", list(TABLES))
def test_the_file_is_the_one_pandas_writes(name: str, tmp_path: Path) -> None:
    table = TABLES[name]
    write_csv(table, tmp_path / "fast.csv")
    assert (tmp_path / "fast.csv").read_bytes() == pandas_bytes(table, tmp_path / "pandas.csv")


def test_random_floats_are_formatted_as_pandas_formats_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = rng.lognormal(0.0, 8.0, 5000) * rng.choice([-1.0, 1.0], 5000)
    table = pd.DataFrame({"label": pd.Series(["x"] * 5000, dtype="str"), "value": values})
    write_csv(table, tmp_path / "fast.csv")
    assert (tmp_path / "fast.csv").read_bytes() == pandas_bytes(table, tmp_path / "pandas.csv")


def test_labels_dates_floats_and_ints_are_written_column_by_column() -> None:
    from sim.io.csv_text import _column_texts

    assert _column_texts(TABLES["labels, dates, floats and ints"]) is not None
    assert _column_texts(TABLES["a field CSV quotes"]) is None

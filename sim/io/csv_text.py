"""Tables written as CSV a column at a time, byte for byte as pandas writes them.

``DataFrame.to_csv(index=False, float_format="%.6g")`` formats and checks each value with a
Python call: 1.4 s of a 2-second run for the 350,000 rows of the baseline's flows. Here a
column of labels (strings, dates) is formatted once per distinct value and taken by code, a
column of floats in one pass, and rows are joined at the end (~0.4 s). A table with a column
of another kind (bools, mixed objects), or with a field that CSV would quote, is written by
pandas; `tests/test_csv_text.py` holds the two writers to the same bytes.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

FLOAT_FORMAT = "%.6g"
QUOTED = frozenset(',"\r\n')  # a field holding one of these is quoted by the csv module
LABELS = (str, dt.date)  # the exact types of label values written as ``str(value)``


def write_csv(table: pd.DataFrame, path: Path) -> None:
    """Write ``table`` without its index: floats as ``FLOAT_FORMAT``, missing values empty."""
    columns = _column_texts(table)
    if columns is None:
        table.to_csv(path, index=False, float_format=FLOAT_FORMAT)
        return
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(_lines([[str(name) for name in table.columns]]))
        out.write(_lines(zip(*columns)))


def _lines(rows: Iterable[Iterable[str]]) -> str:
    """Rows of fields as CSV text, each ended as pandas ends it (``os.linesep``)."""
    end = os.linesep
    return "".join([",".join(row) + end for row in rows])


def _column_texts(table: pd.DataFrame) -> list[np.ndarray] | None:
    """Every column's fields, or None when pandas must write the table (a column of another
    kind, a field CSV would quote, or a single column, whose empty fields CSV quotes)."""
    if table.shape[1] < 2 or _quoted(str(name) for name in table.columns):
        return None
    texts = [_texts(table[name]) for name in table.columns]
    return None if any(text is None for text in texts) else texts  # type: ignore[return-value]


def _quoted(fields: Iterable[str]) -> bool:
    """Whether CSV would quote any of ``fields``."""
    return any(not QUOTED.isdisjoint(field) for field in fields)


def _texts(column: pd.Series) -> np.ndarray | None:
    """A column's fields as an object array of strings (None: a kind not handled here)."""
    if column.dtype == np.float64:
        return _float_texts(column.to_numpy())
    if column.dtype == np.int64:
        return np.array([str(v) for v in column.to_numpy().tolist()], dtype=object)
    if isinstance(column.dtype, pd.StringDtype) or column.dtype == object:
        return _label_texts(column)
    return None


def _float_texts(values: np.ndarray) -> np.ndarray:
    """Floats as ``FLOAT_FORMAT``; NaN empty."""
    texts = np.array([FLOAT_FORMAT % v for v in values.tolist()], dtype=object)
    texts[np.isnan(values)] = ""
    return texts


def _label_texts(column: pd.Series) -> np.ndarray | None:
    """Labels formatted once per distinct value; missing values empty (None if a value is
    not a string or a date, or would be quoted)."""
    codes, distinct = pd.factorize(column)
    if any(type(value) not in LABELS for value in distinct):
        return None
    texts = [str(value) for value in distinct]
    if _quoted(texts):
        return None
    return np.array([*texts, ""], dtype=object)[codes]  # code -1 (missing) takes the last

"""Reading observed series for `sim backtest`: ``date, series, key, value`` CSV files.

Every error is an `InputError` naming the file, the line, the field, the bad value and what was
expected (``FILE:LINE: field: problem (got VALUE)``), as for scenario files.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import InputError
from sim.io.input_text import nearest, read_text
from sim.runs.backtest import parse_key
from sim.world.world import World

OBSERVED_COLUMNS: tuple[str, ...] = ("date", "series", "key", "value")
MAX_OBSERVED_BYTES = 20_000_000


def _period(raw: str) -> tuple[dt.date, dt.date, str]:
    """``YYYY`` (a calendar year), ``YYYY-MM`` or ``YYYY-MM-DD`` (its month): start, end
    (exclusive) and kind. Raises ValueError."""
    text = raw.strip()
    if re.fullmatch(r"[0-9]{4}", text):
        return _year(int(text))
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}(-[0-9]{2})?", text):
        return _month(dt.date.fromisoformat(text if len(text) == 10 else text + "-01"))
    raise ValueError(text)


def _year(year: int) -> tuple[dt.date, dt.date, str]:
    """A calendar year: its first day, the next year's first day, and its kind."""
    return dt.date(year, 1, 1), dt.date(year + 1, 1, 1), "year"


def _month(day: dt.date) -> tuple[dt.date, dt.date, str]:
    """The month of ``day``: its first day, the next month's first day, and its kind."""
    first = day.replace(day=1)
    return first, (first + dt.timedelta(days=32)).replace(day=1), "month"


def _refused(problem: str, file: str, line: int, field: str, value: object) -> InputError:
    """The error of a bad cell (or header): ``FILE:LINE: field: problem (got VALUE)``."""
    return InputError(problem, file=file, line=line, path=field, value=value, has_value=True)


def _observed_records(text: str, file: str) -> Iterator[tuple[int, list[str]]]:
    """Records of a CSV text with their first line number; ``#`` lines and blank lines are
    comments."""
    kept = _content_lines(text)
    reader = csv.reader(line for _, line in kept)
    consumed = 0
    try:
        for record in reader:
            yield kept[consumed][0], record
            consumed = reader.line_num
    except csv.Error as exc:
        raise InputError(
            f"not valid CSV: {exc}", file=file, line=kept[min(consumed, len(kept) - 1)][0]
        ) from None


def _content_lines(text: str) -> list[tuple[int, str]]:
    """The lines of ``text`` that are neither blank nor ``#`` comments, with their numbers."""
    return [
        (n, line)
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def read_observed(path: str | Path) -> pd.DataFrame:
    """An observed-series file (``date, series, key, value`` and any other columns, such as
    ``source``), one row an observation: line, start, end (exclusive), period, series, key,
    value.

    Raises:
        InputError: ``FILE:LINE: field: problem (got VALUE)`` for the first bad row.
    """
    file = str(path)
    text = read_text(Path(path), MAX_OBSERVED_BYTES).removeprefix("\ufeff")
    records = _observed_records(text, file)
    header_line, header = next(records, (1, []))
    header = [h.strip() for h in header]
    _check_header(header, header_line, file)
    rows = _observed_rows(records, header, file)
    if not rows:
        raise InputError(
            "no observations (expected rows of date, series, key, value)",
            file=file,
            line=header_line,
        )
    frame = pd.DataFrame(rows)
    _one_period_kind(frame, file)
    frame.attrs["file"] = file  # for errors found when the run is held against it
    return frame


def _check_header(header: list[str], line: int, file: str) -> None:
    """The header names every column an observation needs."""
    for column in OBSERVED_COLUMNS:
        if column not in header:
            problem = f"missing column '{column}'; expected columns {', '.join(OBSERVED_COLUMNS)}"
            raise _refused(problem, file, line, "header", ",".join(header))


def _observed_rows(
    records: Iterator[tuple[int, list[str]]], header: list[str], file: str
) -> list[dict[str, Any]]:
    """Every observation after the header, each date, series and key once."""
    where = {c: header.index(c) for c in OBSERVED_COLUMNS}
    rows: list[dict[str, Any]] = []
    first_lines: dict[tuple[str, str, dt.date], int] = {}
    for line, record in records:
        if len(record) != len(header):
            raise InputError(
                f"expected {len(header)} fields like the header, found {len(record)}",
                file=file,
                line=line,
            )
        row = _Cells(file, line, {c: record[i].strip() for c, i in where.items()}).row()
        _check_once(row, record[where["date"]], first_lines, file)
        rows.append(row)
    return rows


def _check_once(
    row: dict[str, Any], date_cell: str, first_lines: dict[Any, int], file: str
) -> None:
    """A date, series and key are observed once (``first_lines`` records where each was)."""
    line = row["line"]
    first = first_lines.setdefault((row["series"], row["key"], row["start"]), line)
    if first != line:
        problem = f"duplicate of line {first} (same date, series and key)"
        raise _refused(problem, file, line, "date", date_cell)


@dataclass(frozen=True)
class _Cells:
    """The cells of one observation (by column), read into a row or refused at its line."""

    file: str
    line: int
    cell: dict[str, str]

    def row(self) -> dict[str, Any]:
        """The observation: its period, series, key and value."""
        start, end, period = self._period()
        return {
            "line": self.line,
            "date": self.cell["date"],
            "start": start,
            "end": end,
            "period": period,
            "series": self._series(),
            "key": self.cell["key"],
            "value": self._value(),
        }

    def _fail(self, field: str, problem: str) -> InputError:
        return _refused(problem, self.file, self.line, field, self.cell[field])

    def _period(self) -> tuple[dt.date, dt.date, str]:
        try:
            return _period(self.cell["date"])
        except (ValueError, OverflowError):  # 9999-12 ends beyond the last date
            raise self._fail(
                "date", "not a date; expected YYYY (a year), YYYY-MM or YYYY-MM-DD (its month)"
            ) from None

    def _series(self) -> str:
        try:
            return parse_key(self.cell["series"], self.cell["key"]).series
        except ValueError as exc:
            field = "series" if str(exc).startswith("unknown series") else "key"
            raise self._fail(field, str(exc)) from None

    def _value(self) -> float:
        try:
            value = float(self.cell["value"])
        except ValueError:
            raise self._fail("value", "must be a number") from None
        if not math.isfinite(value) or value < 0:
            raise self._fail("value", "must be a finite number >= 0")
        return value


def _one_period_kind(frame: pd.DataFrame, file: str) -> None:
    """A key's observations are all yearly or all monthly (their totals do not mix)."""
    first: dict[tuple[str, str], tuple[str, int]] = {}
    for row in frame.to_dict("records"):
        kind, line = first.setdefault((row["series"], row["key"]), (row["period"], row["line"]))
        if kind != row["period"]:
            problem = (
                f"key {row['key']} mixes yearly and monthly dates (first {kind} "
                f"at line {line}); use one kind of period per key"
            )
            raise _refused(problem, file, row["line"], "date", row["date"])


def check_observed(observed: pd.DataFrame, world: World, file: str) -> None:
    """Places named in observed keys exist in the world (countries, regions or ``*``)."""
    regions = set(world.countries.values()) | {"*"}
    places = set(world.countries) | regions
    for row in observed.to_dict("records"):
        key = parse_key(row["series"], row["key"])
        if key.series == "price":
            continue
        known, what = (
            (regions, "region") if key.series == "shortfall" else (places, "country or region")
        )
        for place in key.places[: 2 if key.series == "flow" else 1]:
            if place not in known:
                problem = f"unknown {what} '{place}'; {nearest(place, known)}"
                raise _refused(problem, file, row["line"], "key", row["key"])

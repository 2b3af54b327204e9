"""Periods and region roll-ups of results tables: calendar years or one window of months
(``--by year``, ``--by 2027``, ``--by 2026-01..2027-06``), and regions rolled up (ex-China, G7,
world) beside the six.

A window string is checked before any work: a bad one is an `InputError` at ``--by``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.errors import bad_value

#: Region roll-ups, by name: the model's regions each one adds up. The G7 is approximated
#: by the US, the EU and Japan (the UK and Canada are in ROW; the EU holds non-G7 members).
ROLLUPS: dict[str, tuple[str, ...]] = {
    "ex_china": ("US", "EU", "JP", "KR", "ROW"),
    "g7": ("US", "EU", "JP"),
    "world": ("US", "EU", "JP", "KR", "CN", "ROW"),
}
_MONTH = r"(\d{4})(?:-(\d{2}))?"
_WINDOW = re.compile(rf"{_MONTH}(?:\.\.{_MONTH})?")
EXPECTED = "expected 'year', a year (2027), or a window of months such as 2026-01..2027-06"


@dataclass(frozen=True)
class Window:
    """How a table's months are grouped: by calendar year, or summed over ``[first, last]``
    (first days of months) under ``label``."""

    label: str
    first: dt.date | None = None
    last: dt.date | None = None

    @property
    def by_year(self) -> bool:
        """Whether months are grouped by calendar year."""
        return self.first is None


BY_YEAR = Window("year")


def parse_window(text: str, option: str = "--by") -> Window:
    """``year``, ``2027``, ``2026..2027``, ``2026-01..2027-06`` as a `Window`.

    Raises:
        InputError: at ``option``, for anything else (or a window that ends before it starts).
    """
    if text == "year":
        return BY_YEAR
    match = _WINDOW.fullmatch(text.strip())
    if match is None:
        raise bad_value(EXPECTED, option, text)
    first = _month(match.group(1), match.group(2) or "01", text, option)
    last_year = match.group(3) or match.group(1)
    last = _month(last_year, match.group(4) or _last_month(match), text, option)
    if last < first:
        raise bad_value("the window ends before it starts", option, text)
    return Window(text.strip(), first, last)


def _last_month(match: re.Match[str]) -> str:
    """The window's last month when its end gives none: December, or the start's month when
    the window is a single month (``2026-03``)."""
    single_month = match.group(3) is None and match.group(2) is not None
    return match.group(2) if single_month else "12"


def _month(year: str, month: str, text: str, option: str) -> dt.date:
    """The first day of a month of a window, or an `InputError`."""
    if not 1900 <= int(year) <= 2200 or not 1 <= int(month) <= 12:
        raise bad_value(f"no such month; {EXPECTED}", option, text)
    return dt.date(int(year), int(month), 1)


def periods(dates: pd.Series, window: Window) -> pd.Series:
    """The period of each date of a table: its year (an int) grouped by year, else the
    window's label; ``None`` outside the window."""
    if window.by_year:
        return pd.Series([d.year for d in dates], index=dates.index, dtype="int64")
    inside = (dates >= window.first) & (dates <= window.last)
    labels = np.full(len(dates), None, dtype=object)
    labels[inside.to_numpy()] = window.label
    return pd.Series(labels, index=dates.index)


def with_rollups(table: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    """``table`` with rows for each roll-up beside its regions' rows: ``values`` summed over
    the roll-up's regions for every combination of the other ``keys``."""
    parts = [table]
    for name, regions in ROLLUPS.items():
        inside = table[table["region"].isin(regions)]
        if inside.empty:
            continue
        summed = inside.groupby([k for k in keys if k != "region"], sort=False)[values].sum()
        parts.append(summed.reset_index().assign(region=name))
    return pd.concat(parts, ignore_index=True)[[*keys, *values]]


def check_within(window: Window, first: dt.date, last: dt.date, option: str = "--by") -> None:
    """Refuse a window that has no month between ``first`` and ``last`` (a horizon)."""
    if window.by_year:
        return
    assert window.first is not None and window.last is not None
    if window.last < dt.date(first.year, first.month, 1) or window.first > last:
        raise bad_value(
            f"the window is outside the horizon ({first} to {last})", option, window.label
        )

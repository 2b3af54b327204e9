"""A run's monthly tables summed (or averaged, or taken at year end) to calendar years.

A monthly table has a ``date`` column, label columns and value columns; its yearly version
has ``year`` and the same labels, one row a year and label set, in the monthly order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: How each monthly table's values become a year's: a flow is summed, a price is averaged
#: (and its peak kept), a stock is its holder's at the end of the year's last month (a row
#: missing that month means none held).
YEARLY_VALUES: dict[str, dict[str, tuple[str, str]]] = {
    "shortfall": {
        "demand_t": ("demand_t", "sum"),
        "delivered_t": ("delivered_t", "sum"),
        "shortfall_t": ("shortfall_t", "sum"),
    },
    "flows": {"tonnes": ("tonnes", "sum")},
    "production": {"tonnes": ("tonnes", "sum")},
    "stocks": {"tonnes_end": ("tonnes", "sum")},
    "prices": {"mean_usd_per_kg": ("usd_per_kg", "mean"), "peak_usd_per_kg": ("usd_per_kg", "max")},
}


def by_year(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The monthly table ``name`` (a key of `YEARLY_VALUES`) by calendar year."""
    values = YEARLY_VALUES[name]
    sources = {source for source, _ in values.values()}
    labels = [c for c in table.columns if c != "date" and c not in sources]
    years = pd.Series(_years(table["date"]), index=table.index, name="year")
    if name == "stocks":
        table, years = _year_ends(table, years)
    keys = [years, *(table[c] for c in labels)]
    yearly = table.groupby(keys, sort=False, dropna=False).agg(**values).reset_index()
    if name == "shortfall":
        yearly["share_short"] = _share(yearly["shortfall_t"], yearly["demand_t"])
    return yearly


def _years(dates: pd.Series) -> np.ndarray:
    """The calendar year of every date (``datetime.date`` values): each distinct date's,
    spread to its rows (a run has one date a month, its tables up to millions of rows)."""
    codes, distinct = pd.factorize(dates, sort=False)
    return np.array([day.year for day in distinct], dtype=np.int64)[codes]


def _year_ends(table: pd.DataFrame, years: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """The rows of ``table`` dated its last month of each year, and their years."""
    last = table["date"].groupby(years).transform("max")
    kept = (table["date"] == last).to_numpy()
    return table[kept], years[kept]


def _share(part: pd.Series, whole: pd.Series) -> pd.Series:
    """``part / whole``, 0 where ``whole`` is 0."""
    return (part / whole.where(whole > 0)).fillna(0.0)

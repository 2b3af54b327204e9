"""Resilience of each buyer group (region x sector x material, with the regions rolled up), as
Sprecher et al. (2017) measure a disruption: how long after the first event it first ran short
(lag), how deep (the worst month's share of demand short), how long (months short), how long
to recover (from the first month short to the month after the last) and the cumulative loss.

The shortfall timing comes from `sim.runs.tables.summary_table`; this adds depth and lag.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sim.runs.tables import summary_table
from sim.runs.windows import with_rollups
from sim.units import month_index

KEYS = ["region", "sector", "material"]
COLUMNS = [
    *KEYS,
    "first_short",
    "lag_months",
    "depth_share",
    "months_short",
    "recovered",
    "recovery_months",
    "cumulative_t",
    "share_short",
]


def resilience_table(shortfall: pd.DataFrame, first_event: dt.date | None) -> pd.DataFrame:
    """One row a buyer group and roll-up: lag after ``first_event`` (months; NaN without an
    event or a shortfall), depth, duration, recovery time and cumulative shortfall (t)."""
    monthly = with_rollups(shortfall, ["date", *KEYS], ["demand_t", "shortfall_t"])
    summary = summary_table(monthly).set_index(KEYS)
    summary["depth_share"] = _depth(monthly).reindex(summary.index)
    summary["lag_months"] = [_lag(first_event, d) for d in summary["first_short"]]
    out = summary.reset_index().rename(
        columns={"months_to_recovery": "recovery_months", "shortfall_t": "cumulative_t"}
    )
    return out[COLUMNS]


def _depth(monthly: pd.DataFrame) -> pd.Series:
    """The worst month's shortfall over demand, by group."""
    demand = monthly["demand_t"].to_numpy()
    share = np.divide(
        monthly["shortfall_t"].to_numpy(), demand, out=np.zeros(len(monthly)), where=demand > 0
    )
    return monthly.assign(share=share).groupby(KEYS)["share"].max()


def _lag(first_event: dt.date | None, first_short: object) -> float:
    """Months from the first event to a group's first month short (NaN if either is missing)."""
    if first_event is None or not isinstance(first_short, dt.date):
        return float("nan")
    return round(month_index(first_event, first_short), 2)

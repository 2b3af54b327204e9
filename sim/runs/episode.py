"""The 2010-11 episode's acceptance measures (issue 14) on a backtest: for each named price key,
its peak over its first observed period, the month of the peak and the fall 18 months after it,
simulated and observed, and whether they agree as the issue asks.

A key's **multiple** is its highest value over its value in its first observed period (January
2009 for Dy oxide, the first quarter of 2009 for Nd oxide), the run's mean over that same
period for the simulated side. The **peak month** is the month of the highest value (the middle
of an observed period); the **lag** is simulated minus observed, in months. The **fall** is the
share of the peak lost 18 months after it (`sim.runs.measures.fall_after_peak`). The episode
holds when the simulated multiple is between half and twice the observed one, the peaks are at
most 4 months apart and the simulated fall is more than half.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.runs.backtest import Backtest
from sim.runs.measures import fall_after_peak

KEYS: tuple[str, ...] = ("ex_china:Dy_oxide", "ex_china:NdPr_oxide")
MULTIPLE_RANGE = (0.5, 2.0)  # the simulated multiple over the observed one
LAG_MONTHS = 4.0  # the largest distance between the peaks
FALL = 0.5  # the share of its peak the simulated price must lose within 18 months
MIN_PERIODS = 3  # observed periods of a key for a peak to measure: before, at and after it


@dataclass(frozen=True)
class Episode:
    """One price key's peak, its month and its fall, simulated and observed."""

    key: str
    sim_multiple: float
    obs_multiple: float
    sim_peak: pd.Timestamp
    obs_peak: pd.Timestamp
    sim_fall: float
    obs_fall: float

    @property
    def lag_months(self) -> float:
        """Months from the observed peak to the simulated one (positive: late)."""
        return _month(self.sim_peak) - _month(self.obs_peak)

    @property
    def checks(self) -> dict[str, bool]:
        """Whether the multiple, the peak month and the fall agree as issue 14 asks."""
        low, high = MULTIPLE_RANGE
        ratio = self.sim_multiple / self.obs_multiple
        return {
            "multiple": bool(low <= ratio <= high),
            "peak_month": bool(abs(self.lag_months) <= LAG_MONTHS),
            "fall": bool(self.sim_fall > FALL),
        }


def _month(day: pd.Timestamp) -> float:
    """Months since year 0 of a day (fractions for a mid-month day)."""
    return day.year * 12 + day.month - 1 + (day.day - 1) / day.days_in_month


def episodes(held: Backtest, keys: tuple[str, ...] = KEYS) -> list[Episode]:
    """The episode's measures of each of ``keys`` the backtest holds prices of, in at least
    `MIN_PERIODS` observed periods (one observation has no peak to measure: a file of
    statistics from before an event)."""
    prices = held.compared.loc[held.compared["series"] == "price", "key"]
    periods = prices.value_counts()
    return [_episode(held, key) for key in keys if periods.get(key, 0) >= MIN_PERIODS]


def _episode(held: Backtest, key: str) -> Episode:
    """One price key's measures."""
    rows = held.compared[(held.compared["series"] == "price") & (held.compared["key"] == key)]
    rows = rows.sort_values("start")
    starts, ends = pd.to_datetime(rows["start"]), pd.to_datetime(rows["end"])
    middles = starts + (ends - starts) / 2
    obs = rows["observed"].to_numpy(dtype=float)
    sim = held.simulated[(held.simulated["series"] == "price") & (held.simulated["key"] == key)]
    dates = pd.to_datetime(sim["date"]).reset_index(drop=True)
    values = sim["simulated"].to_numpy(dtype=float)
    sim_t = np.array([_month(d) for d in dates]) + 0.5
    obs_t = np.array([_month(d) for d in middles])
    peak, obs_peak = int(np.nanargmax(values)), int(np.argmax(obs))
    return Episode(
        key,
        float(values[peak] / rows["simulated"].iloc[0]),
        float(obs[obs_peak] / obs[0]),
        dates[peak] + pd.Timedelta(days=14),
        middles.iloc[obs_peak],
        fall_after_peak(sim_t, values),
        fall_after_peak(obs_t, obs),
    )

"""Fitting the market's behavioural parameters on history before 2025 (scipy.optimize).

The parameters that say how the market behaves (how strongly price answers stock cover, how
fast it moves, how much buyers stock up on a rising price) have no direct measurement. They
are fitted by running a historical scenario (China's 2010-2014 quotas on the world as known
in mid-2010) and minimising the mean squared log error between its ex-China oxide prices and
the observed ones, period by period (bounded Powell search). Nothing observed after 4 April
2025 may be fitted on: the 2025 episode is for validation.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from sim.config.scenario import Scenario
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.runs.engine import run
from sim.runs.measures import over_period
from sim.units import month_index
from sim.world.world import World

BOUNDS: dict[str, tuple[float, float]] = {
    "price_cover_sensitivity": (0.5, 5.0),
    "price_adjustment_months": (0.25, 12.0),
    "stocking_sensitivity": (0.0, 5.0),
    "holding_sensitivity": (0.0, 0.5),  # above, the 2024 baseline cycles with no event
    "expectation_months": (1.0, 24.0),
    "stocking_months": (0.5, 12.0),
}
KEYS = ("ex_china:Dy_oxide", "ex_china:NdPr_oxide")
LAST_FITTED = dt.date(2025, 4, 4)  # nothing observed on or after this day is fitted on


@dataclasses.dataclass(frozen=True)
class Fit:
    """A fit: each parameter's prior and fitted value, the errors before and after (mean
    squared log error over the observed periods) and how many runs it took."""

    prior: dict[str, float]
    fitted: dict[str, float]
    error_before: float
    error_after: float
    runs: int
    periods: int


def price_periods(observed: pd.DataFrame, keys: tuple[str, ...] = KEYS) -> pd.DataFrame:
    """The observed price rows of ``keys`` (columns ``start, end, key, value``) that end
    before 4 April 2025."""
    rows = observed[(observed["series"] == "price") & observed["key"].isin(keys)]
    return rows[pd.to_datetime(rows["end"]) <= pd.Timestamp(LAST_FITTED)]


def error(
    world: World, scenario: Scenario, periods: pd.DataFrame, values: Mapping[str, float]
) -> float:
    """Mean squared log error of the run's prices against ``periods`` with ``values`` for
    some parameters of ``world``."""
    changed = dataclasses.replace(world, parameters={**world.parameters, **values})
    prices = run(changed, scenario, detail=False).prices_usd_per_kg[0]  # [T, P, K]
    origin = dt.date(scenario.horizon.start.year, scenario.horizon.start.month, 1)
    logs = [_log_error(prices, origin, row) for row in periods.itertuples()]
    kept = [e for e in logs if np.isfinite(e)]
    return float(np.mean(np.square(kept))) if kept else float("inf")


def _log_error(prices: np.ndarray, origin: dt.date, row: object) -> float:
    """log(simulated / observed) over one observed period (NaN outside the run)."""
    tier, product = str(row.key).split(":")  # type: ignore[attr-defined]
    path = prices[:, PRICE_PRODUCTS.index(product), TIERS.index(tier)]
    start = month_index(origin, row.start)  # type: ignore[attr-defined]
    simulated = over_period(path, start, month_index(origin, row.end))  # type: ignore[attr-defined]
    return float(np.log(simulated / float(row.value)))  # type: ignore[attr-defined]


def fit(
    world: World,
    scenario: Scenario,
    observed: pd.DataFrame,
    names: tuple[str, ...] | None = None,
    max_runs: int = 150,
) -> Fit:
    """Fit parameters ``names`` (default: every one of `BOUNDS`) of ``world`` on
    ``scenario``'s ex-China oxide prices against ``observed`` (rows as
    `sim.io.observed.read_observed` gives them)."""
    names = tuple(BOUNDS) if names is None else names
    periods = price_periods(observed)
    prior = {n: float(world.parameters[n]) for n in names}
    runs = 0

    def objective(x: np.ndarray) -> float:
        nonlocal runs
        runs += 1
        return error(world, scenario, periods, dict(zip(names, x.tolist())))

    start = np.array([prior[n] for n in names])
    before = objective(start)
    found = minimize(
        objective,
        start,
        method="Powell",
        bounds=[BOUNDS[n] for n in names],
        options={"maxfev": max_runs, "xtol": 1e-2, "ftol": 1e-3},
    )
    after = float(found.fun)
    best = found.x if after <= before else start
    fitted = {n: float(v) for n, v in zip(names, best)}
    return Fit(prior, fitted, before, min(after, before), runs, len(periods))

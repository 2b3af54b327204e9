"""Fitting the market's behavioural parameters on history before 2025 (scipy.optimize).

The parameters that say how the market behaves (how strongly price answers stock cover, how
fast it moves, how much buyers stock up on a rising price) have no direct measurement. They
are fitted by running a historical scenario (China's 2010-2014 quotas on the world as known
in mid-2010) against the observed ex-China oxide prices. The error has two parts: the mean
squared log error of the prices, period by period, and the episode's shape as an analyst
reads it first (`sim.runs.episode`): for each price, the squared log of its simulated peak
multiple over the observed one, the squared distance between the peaks in units of 4
months (the acceptance's tolerance) and the squared log of the share of the peak kept 18
months on over the observed share. The path alone weighs the many 2012-2014 quotes more
than the one peak, and a fit on it alone put the peaks a year late. A third part keeps the
episode the events' own: the same scenario with no event must not rise above a third of the
observed multiples (`calm_error`, weighted 1000: all but a constraint). Without it the best
fit (cover sensitivity 3.17, holding 1.10) met the episode by a bubble that the no-event
2009 world blew too (Dy 33x in February 2012); with half and a weight of 10, fits met it with
a 13x Dy bubble of the world's own in the same months. A tried sensitivity keeps the price's
bound where the world puts it (`bounded`: ~32x, the largest spike on record). The search
is global, then local: a Latin hypercube of starts over the bounds (seeded: a fit is
reproducible), then a bounded Powell search from the best. Nothing observed after 4 April
2025 may be fitted on: the 2025 episode is for validation.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.stats import qmc

from sim.config.scenario import Scenario
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.runs.backtest import compare
from sim.runs.engine import run
from sim.runs.episode import Episode, episodes
from sim.runs.measures import over_period
from sim.units import month_index
from sim.world.world import World

BOUNDS: dict[str, tuple[float, float]] = {
    "price_cover_sensitivity": (0.5, 5.0),
    "price_adjustment_months": (0.25, 12.0),
    "stocking_sensitivity": (0.0, 5.0),
    "holding_sensitivity": (0.0, 2.0),
    "expectation_months": (1.0, 24.0),
    "stocking_months": (0.5, 12.0),
    "price_foresight_months": (0.0, 12.0),
    # how fast and from what cost magnet makers thrift Dy and Tb (requalifying a grade takes
    # one to three years: docs/market-parameters.md section 7)
    "thrift_adoption_months": (6.0, 36.0),
    "thrift_trigger_price_ratio": (1.0, 3.0),
}
# the no-event run must stay under this share of the observed multiples, all but a hard
# constraint (at half, with weight 10, fits met the episode by a Dy bubble of ~13x that the
# 2009 world blew with no event in the same months)
CALM_SHARE = 1.0 / 3.0
CALM_WEIGHT = 1000.0
# fitted by default: how strongly and how fast price answers cover, how much holders want
# more cover on a price running ahead of what they expected, and how far ahead traders
# extend the change of cover; the other three keep their sourced values (fitting all six on
# the same budget ends no better: 0.664 in 450 runs against 0.653 in 150)
FITTED = (
    "price_cover_sensitivity",
    "holding_sensitivity",
    "price_adjustment_months",
    "price_foresight_months",
)
KEYS = ("ex_china:Dy_oxide", "ex_china:NdPr_oxide")
KEPT_LEAST = 1e-3  # the least share of a peak kept that the fall's error tells apart
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
    """The run's error against ``periods`` with ``values`` for some parameters of ``world``:
    the mean squared log error of its prices plus the error of the episode's shape."""
    changed = dataclasses.replace(world, parameters=bounded(world.parameters, values))
    result = run(changed, scenario)
    prices = result.prices_usd_per_kg[0]  # [T, P, K]
    origin = dt.date(scenario.horizon.start.year, scenario.horizon.start.month, 1)
    logs = [_log_error(prices, origin, row) for row in periods.itertuples()]
    kept = [e for e in logs if np.isfinite(e)]
    if not kept:
        return float("inf")
    path = float(np.mean(np.square(kept)))
    shape = shape_error(episodes(compare(result, periods)))
    calm = run(changed, scenario.model_copy(update={"events": []}))
    return path + shape + CALM_WEIGHT * calm_error(episodes(compare(calm, periods)))


def bounded(parameters: Mapping[str, float], values: Mapping[str, float]) -> dict[str, float]:
    """``parameters`` with ``values``, the cover floor set so that the highest indicated price
    stays where ``parameters`` put it (``price_cover_floor ** -price_cover_sensitivity``: 32x,
    the largest spike on record) whatever sensitivity is tried: a fit may not lift the bound."""
    ceiling = parameters["price_cover_floor"] ** -parameters["price_cover_sensitivity"]
    out = {**parameters, **values}
    out["price_cover_floor"] = ceiling ** (-1.0 / out["price_cover_sensitivity"])
    return out


def calm_error(found: list[Episode]) -> float:
    """How far the run with no event at all makes an episode of its own: for each price, the
    squared log of its multiple over `CALM_SHARE` of the observed one, where above (0
    below)."""
    total = 0.0
    for ep in found:
        total += max(0.0, float(np.log(ep.sim_multiple / (CALM_SHARE * ep.obs_multiple)))) ** 2
    return total


def shape_error(found: list[Episode]) -> float:
    """For each price's episode, the squared log of its simulated peak multiple over the
    observed one, the squared distance between the peaks in units of the acceptance's 4
    months, and the squared log of the share of the peak kept 18 months on over the observed
    share (0 when they agree; infinite when a peak is not a number). A run that ends before
    18 months after its peak keeps all of it."""
    total = 0.0
    for ep in found:
        total += np.log(ep.sim_multiple / ep.obs_multiple) ** 2 + (ep.lag_months / 4.0) ** 2
        kept = 1.0 - ep.sim_fall if np.isfinite(ep.sim_fall) else 1.0
        total += np.log(max(kept, KEPT_LEAST) / (1.0 - ep.obs_fall)) ** 2
    return float(total) if np.isfinite(total) else float("inf")


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
    keys: tuple[str, ...] = KEYS,
) -> Fit:
    """Fit parameters ``names`` (default: `FITTED`; any of `BOUNDS`) of ``world`` on
    ``scenario``'s ex-China oxide prices against ``observed`` (rows as
    `sim.io.observed.read_observed` gives them), in at most about ``max_runs`` runs."""
    names = tuple(n for n in FITTED if n in BOUNDS) if names is None else names
    periods = price_periods(observed, keys)
    prior = {n: float(world.parameters[n]) for n in names}
    runs = 0

    def objective(x: np.ndarray) -> float:
        nonlocal runs
        runs += 1
        return error(world, scenario, periods, dict(zip(names, x.tolist())))

    bounds = np.array([BOUNDS[n] for n in names])
    start = np.array([prior[n] for n in names])
    before = objective(start)
    # a spread of starts over the bounds (Latin hypercube, seeded), then Powell from the best
    # of them: the error has several basins (a bubble's timing), one start finds the nearest
    spread = qmc.scale(qmc.LatinHypercube(d=len(names), seed=0).random(max_runs // 3), *bounds.T)
    tried = [(before, start)] + [(objective(x), x) for x in spread]
    first, best = min(tried, key=lambda pair: pair[0])
    found = minimize(
        objective,
        best,
        method="Powell",
        bounds=[tuple(b) for b in bounds],
        options={"maxfev": max(max_runs - runs, 1), "xtol": 1e-2, "ftol": 1e-3},
    )
    after = float(found.fun)
    if after < first:
        first, best = after, found.x
    fitted = {n: float(v) for n, v in zip(names, best)}
    return Fit(prior, fitted, before, first, runs, len(periods))

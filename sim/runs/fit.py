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
episode the events' own: the same scenario with no event must not rise by more than a
quarter of the observed rise (`calm_error`, weighted 1000: all but a constraint; until
December 2026 a quarter of the multiple, which no run of a 2.7x episode can meet). Without
it the best fit (cover sensitivity 3.17, holding 1.10) met the episode by a bubble that the no-event
2009 world blew too (Dy 33x in February 2012); with half and a weight of 10, fits met it with
a 13x Dy bubble of the world's own in the same months; at a third, one met it with an 8.5x Dy
bubble. A fourth part keeps the acceptance's measures with a margin (`margin_error`): on the
plain error the best fit met them on their edge or not at all. A tried sensitivity keeps the price's
bound where the world puts it (`bounded`: ~32x, the largest spike on record). The search
is global, then local: a Latin hypercube of starts over the bounds (seeded: a fit is
reproducible), then a bounded Powell search from the best, or from a given start (a fit to
refine, ``sim calibrate --fit --start``). Several histories, each a `Case` on its own
vintage, may be fitted at once by the sum of their errors (``--also``: the 2021-22 NdPr
run-up on the 2020 world beside the 2010 episode), and the runs may go on a pool of
processes with the same result. Nothing observed after 4 April 2025 may be fitted on: the
2025 episode is for validation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.stats import qmc

from sim.config.market import BOUNDS, bounded
from sim.config.scenario import Scenario
from sim.errors import bad_value
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.runs.backtest import compare
from sim.runs.engine import run
from sim.runs.episode import KEYS as EPISODE_KEYS
from sim.runs.episode import Episode, episodes
from sim.runs.measures import over_period
from sim.units import month_index
from sim.world.world import World

# the no-event run must rise by less than this share of the observed rise, all but a hard
# constraint (at half, with weight 10, fits met the episode by a Dy bubble of ~13x that the
# 2009 world blew with no event in the same months)
CALM_SHARE = 0.25
CALM_WEIGHT = 1000.0
# the fit keeps the acceptance's measures with a margin, not on their edge: each peak at least
# 0.6 of the observed multiple (the acceptance asks half) and within 3 months of the observed
# peak (it asks 4), all but a constraint (weight 20). On the bare error the best fit of 2,400
# runs met five of six measures and left Nd at 0.49 of its observed multiple
MARGIN_MULTIPLE = 0.6
MARGIN_MONTHS = 3.0
MARGIN_WEIGHT = 20.0
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
    cases: dict[str, float] = dataclasses.field(default_factory=dict)  # each one's error after


def price_periods(observed: pd.DataFrame, keys: tuple[str, ...] = KEYS) -> pd.DataFrame:
    """The observed price rows of ``keys`` (columns ``start, end, key, value``) that end
    before 4 April 2025."""
    rows = observed[(observed["series"] == "price") & observed["key"].isin(keys)]
    return rows[pd.to_datetime(rows["end"]) <= pd.Timestamp(LAST_FITTED)]


@dataclasses.dataclass(frozen=True)
class Case:
    """One history a fit scores: a scenario on its world, the observed price periods of its
    ``keys`` (`price_periods`) and the keys whose episode (peak, month, fall) it measures."""

    world: World
    scenario: Scenario
    periods: pd.DataFrame
    episode_keys: tuple[str, ...] = EPISODE_KEYS


def case(
    world: World,
    scenario: Scenario,
    observed: pd.DataFrame,
    keys: tuple[str, ...] = KEYS,
    episode_keys: tuple[str, ...] = EPISODE_KEYS,
) -> Case:
    """The `Case` of ``scenario`` on ``world`` against ``observed``'s prices of ``keys``."""
    return Case(world, scenario, price_periods(observed, keys), episode_keys)


def error(
    world: World, scenario: Scenario, periods: pd.DataFrame, values: Mapping[str, float]
) -> float:
    """The run's error against ``periods`` with ``values`` for some parameters of ``world``:
    the mean squared log error of its prices plus the error of the episode's shape."""
    return case_error(Case(world, scenario, periods), values)


def case_error(found: Case, values: Mapping[str, float]) -> float:
    """One case's error with ``values`` for some parameters of its world: the mean squared
    log error of its prices, the error of its episodes' shape and, when its scenario has
    events, how far the same scenario with none makes an episode of its own (`calm_error`).
    A history with no event (the 2021-22 run-up) is its own calm run."""
    return float(sum(part_error(found, values, part) for part in parts(found)))


def parts(found: Case) -> tuple[str, ...]:
    """The runs a case's error takes: its scenario's, and the same with no event if it has
    events (each a `part_error`)."""
    return ("events", "calm") if found.scenario.events else ("events",)


def part_error(found: Case, values: Mapping[str, float], part: str) -> float:
    """One run's part of a case's error: the path and shape of the scenario's run
    (``events``), or `CALM_WEIGHT` times the no-event run's `calm_error` (``calm``)."""
    changed = dataclasses.replace(found.world, parameters=bounded(found.world.parameters, values))
    scenario, periods = found.scenario, found.periods
    if part == "calm":
        calm = run(changed, scenario.model_copy(update={"events": []}))
        return CALM_WEIGHT * calm_error(episodes(compare(calm, periods), found.episode_keys))
    result = run(changed, scenario)
    prices = result.prices_usd_per_kg[0]  # [T, P, K]
    origin = dt.date(scenario.horizon.start.year, scenario.horizon.start.month, 1)
    logs = [_log_error(prices, origin, row) for row in periods.itertuples()]
    kept = [e for e in logs if np.isfinite(e)]
    if not kept:
        return float("inf")
    path = float(np.mean(np.square(kept)))
    return path + shape_error(episodes(compare(result, periods), found.episode_keys))


def joint_error(
    cases: list[Case], values: Mapping[str, float], pool: ProcessPoolExecutor | None = None
) -> float:
    """The sum of the cases' errors: one market's behaviour scored on several histories. On
    a ``pool`` whose processes hold the cases (`_pool_cases`) the runs go in parallel, and
    their errors are added in the same order (the same sum)."""
    tasks = [(i, part) for i, found in enumerate(cases) for part in parts(found)]
    if pool is None or len(tasks) < 2:
        errors = [part_error(cases[i], values, part) for i, part in tasks]
    else:
        errors = list(pool.map(_pool_part, [(i, part, dict(values)) for i, part in tasks]))
    by_case: list[list[float]] = [[] for _ in cases]
    for (i, _), error in zip(tasks, errors):
        by_case[i].append(error)
    return float(sum(float(sum(each)) for each in by_case))


def calm_limit(obs_multiple: float) -> float:
    """The most a no-event run may rise: `CALM_SHARE` of the observed rise above the first
    period (1 + share x (multiple - 1); a quarter of a 26x episode is a 7.3x bound, of the
    2021-22 run-up's 2.7x a 1.4x one)."""
    return 1.0 + CALM_SHARE * (obs_multiple - 1.0)


def calm_error(found: list[Episode]) -> float:
    """How far the run with no event at all makes an episode of its own: for each price, the
    squared log of its multiple over `calm_limit` of the observed one, where above (0
    below)."""
    total = 0.0
    for ep in found:
        total += max(0.0, float(np.log(ep.sim_multiple / calm_limit(ep.obs_multiple)))) ** 2
    return total


def shape_error(found: list[Episode]) -> float:
    """For each price's episode, the squared log of its simulated peak multiple over the
    observed one, the squared distance between the peaks in units of the acceptance's 4
    months, and the squared log of the share of the peak kept 18 months on over the observed
    share (0 when they agree; infinite when a peak is not a number), plus `margin_error`. A
    run that ends before 18 months after its peak keeps all of it."""
    total = 0.0
    for ep in found:
        total += np.log(ep.sim_multiple / ep.obs_multiple) ** 2 + (ep.lag_months / 4.0) ** 2
        kept = 1.0 - ep.sim_fall if np.isfinite(ep.sim_fall) else 1.0
        total += np.log(max(kept, KEPT_LEAST) / (1.0 - ep.obs_fall)) ** 2
    total += margin_error(found)
    return float(total) if np.isfinite(total) else float("inf")


def margin_error(found: list[Episode]) -> float:
    """How far the episodes fall short of the acceptance's measures with a margin: for each,
    the squared log of `MARGIN_MULTIPLE` over its share of the observed multiple and the
    squared months beyond `MARGIN_MONTHS` from the observed peak, in units of 4 months, where
    short (0 where met), times `MARGIN_WEIGHT`."""
    total = 0.0
    for ep in found:
        low = np.log(MARGIN_MULTIPLE * ep.obs_multiple / ep.sim_multiple)
        late = (abs(ep.lag_months) - MARGIN_MONTHS) / 4.0
        total += max(0.0, low) ** 2 + max(0.0, late) ** 2
    return MARGIN_WEIGHT * float(total)


def _log_error(prices: np.ndarray, origin: dt.date, row: object) -> float:
    """log(simulated / observed) over one observed period (NaN outside the run)."""
    tier, product = str(row.key).split(":")  # type: ignore[attr-defined]
    path = prices[:, PRICE_PRODUCTS.index(product), TIERS.index(tier)]
    start = month_index(origin, row.start)  # type: ignore[attr-defined]
    simulated = over_period(path, start, month_index(origin, row.end))  # type: ignore[attr-defined]
    return float(np.log(simulated / float(row.value)))  # type: ignore[attr-defined]


def _refuse_blocks(cases: list[Case], names: tuple[str, ...]) -> None:
    """An `InputError` where a case's scenario sets, in its ``market:`` block, a parameter the
    fit searches (the block would override every value tried)."""
    for each in cases:
        for name in sorted(set(names) & set(each.scenario.market.values())):
            raise bad_value(
                "a parameter the fit searches may not be set by the scenario's market block; "
                "remove it there",
                f"{each.scenario.name}: market.{name}",
                each.scenario.market.values()[name],
            )


def fit(
    world: World,
    scenario: Scenario,
    observed: pd.DataFrame,
    names: tuple[str, ...] | None = None,
    max_runs: int = 150,
    keys: tuple[str, ...] = KEYS,
    start: Mapping[str, float] | None = None,
    also: tuple[Case, ...] = (),
    workers: int = 1,
) -> Fit:
    """Fit parameters ``names`` (default: `FITTED`; any of `BOUNDS`) of ``world`` on
    ``scenario``'s prices of ``keys`` against ``observed`` (rows as
    `sim.io.observed.read_observed` gives them), and on the ``also`` cases (other histories
    on their own worlds: one market's behaviour, the same values in each), in at most about
    ``max_runs`` runs: a global search, then a local one from the best found; or, given
    ``start`` (values of ``names``, a fit to refine), the local search from it alone. On
    ``workers`` processes the global search runs a start a process and the local search a
    run a process (a history's run and its no-event run; each history's): the same errors,
    in the same order, as in one."""
    names = tuple(n for n in FITTED if n in BOUNDS) if names is None else names
    cases = [case(world, scenario, observed, keys), *also]
    _refuse_blocks(cases, names)
    prior = {n: float(world.parameters[n]) for n in names}
    seen: list[tuple[float, np.ndarray]] = []  # every run's error and values
    bounds = np.array([BOUNDS[n] for n in names])
    with contextlib.ExitStack() as stack:
        pool = _pool(cases, workers)
        if pool is not None:
            stack.enter_context(pool)

        def objective(x: np.ndarray) -> float:
            seen.append((joint_error(cases, dict(zip(names, x.tolist())), pool), x.copy()))
            return seen[-1][0]

        before = objective(np.array([prior[n] for n in names]))
        # a spread of starts over the bounds (Latin hypercube, seeded), then Powell from the
        # best of them: the error has several basins (a bubble's timing), one start finds
        # the nearest
        if start is None and max_runs >= 3:
            spread = qmc.LatinHypercube(d=len(names), seed=0).random(max_runs // 3)
            points = qmc.scale(spread, *bounds.T)
            errors = _spread(cases, [dict(zip(names, x.tolist())) for x in points], pool)
            seen.extend(zip(errors, points))
        elif start is not None:
            objective(np.clip([float(start.get(n, prior[n])) for n in names], *bounds.T))
        minimize(
            objective,
            min(seen, key=lambda pair: pair[0])[1],
            method="Powell",
            bounds=[tuple(b) for b in bounds],
            options={"maxfev": max(max_runs - len(seen), 1), "xtol": 1e-3, "ftol": 1e-4},
        )
    # the best values any run tried: the error is rough (a peak's month moves in steps), and
    # Powell may end on a point worse than one it passed (5.5 after 2.49 on the 2010 episode)
    first, best = min(seen, key=lambda pair: pair[0])
    fitted = {n: float(v) for n, v in zip(names, best)}
    periods = sum(len(c.periods) for c in cases)
    each = {c.scenario.name: case_error(c, fitted) for c in cases} if also else {}
    return Fit(prior, fitted, before, first, len(seen), periods, each)


_CASES: list[Case] = []  # a pool process's cases, set once when it starts


def _pool(cases: list[Case], workers: int) -> ProcessPoolExecutor | None:
    """A pool of ``workers`` processes that hold the cases, or None for one process."""
    if workers <= 1:
        return None
    return ProcessPoolExecutor(max_workers=workers, initializer=_pool_cases, initargs=(cases,))


def _spread(
    cases: list[Case], tried: list[dict[str, float]], pool: ProcessPoolExecutor | None
) -> list[float]:
    """``joint_error`` of each of ``tried``, in order, in this process or on the ``pool``
    (a start a process)."""
    if pool is None:
        return [joint_error(cases, values) for values in tried]
    return list(pool.map(_pool_error, tried))


def _pool_cases(cases: list[Case]) -> None:
    _CASES[:] = cases


def _pool_error(values: dict[str, float]) -> float:
    return joint_error(_CASES, values)


def _pool_part(task: tuple[int, str, dict[str, float]]) -> float:
    i, part, values = task
    return part_error(_CASES[i], values, part)

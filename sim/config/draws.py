"""Draws of a scenario's uncertain inputs, one value a sample, reproducible from one seed.

Every sample ``i`` of a sweep with seed ``s`` has its own 64-bit seed, a hash of ``(s, i)``.
An input's uniform draw in that sample is a hash of the sample's seed and the input's key
(its ``name``, else its field path), turned into the input's value by the inverse of its
distribution (scipy.stats ``ppf``). So a sample's draws do not depend on the batch it runs in,
on the worker that runs it, nor on the other inputs of the scenario: two scenarios swept with
one seed share the draws of the inputs they share (common random numbers).

Methods: ``random`` (independent draws, as above), ``lhs`` (Latin hypercube: each input's
``n`` draws fall one in each of ``n`` equal-probability strata; the order of strata is a
permutation keyed by seed and input key, so common random numbers still hold), ``sobol``
(scrambled Sobol' points over the inputs sorted by key; best with ``n`` a power of two; draws
are shared between scenarios only when they have the same set of inputs).

Draws are clipped to the ``EPS`` and ``1 - EPS`` quantiles, which the loader has checked are
valid values for the field, so no drawn value can be one the scenario schema refuses.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from sim.config.distributions import Distribution
from sim.config.scenario import Scenario
from sim.errors import bad_value

if TYPE_CHECKING:
    from scipy import stats

EPS = 1e-6
METHODS: tuple[str, ...] = ("random", "lhs", "sobol")
Method = Literal["random", "lhs", "sobol"]
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijective scramble of 64-bit integers."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return x ^ (x >> np.uint64(31))


def key_hash(key: str) -> np.uint64:
    """A stable 64-bit hash of a text (the same on every machine and Python run)."""
    return np.uint64(int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big"))


def sample_seeds(seed: int, count: int, first: int = 0) -> np.ndarray:
    """The 64-bit seeds of samples ``first .. first+count-1`` of a sweep with ``seed``."""
    index = np.arange(first, first + count, dtype=np.uint64)
    return _mix(_mix(np.full(count, np.uint64(check_seed(seed)))) ^ _mix(index))


def check_seed(seed: object) -> int:
    """``seed`` if it is a whole number the draws take without aliasing (0 to 2**64 - 1: a
    larger one would give a smaller one's numbers), else an `InputError`."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**64:
        raise bad_value(
            f"a seed must be a whole number from 0 to 2**64 - 1 = {2**64 - 1}", "--seed", seed
        )
    return int(seed)


def uniforms(seeds: np.ndarray, key: str) -> np.ndarray:
    """One uniform draw in ``(0, 1)`` a sample seed for the input keyed ``key``."""
    bits = _mix(seeds ^ key_hash(key))
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def _number(value: float | dt.date) -> float:
    return float(value.toordinal()) if isinstance(value, dt.date) else float(value)


def _law(distribution: Distribution) -> stats.rv_continuous | None:
    """The scipy.stats law of a continuous distribution (None for ``choice``)."""
    from scipy import stats  # imported when first needed: ~0.7 s that most runs never use

    kind = distribution.dist
    if kind == "choice":
        return None
    if kind == "normal":
        return stats.norm(loc=_number(distribution.mean), scale=distribution.sd)  # type: ignore[arg-type]
    if kind == "lognormal":
        return stats.lognorm(s=distribution.sigma, scale=distribution.median)
    # uniform and triangular have both; beta defaults to 0-1
    low = 0.0 if distribution.low is None else _number(distribution.low)
    high = 1.0 if distribution.high is None else _number(distribution.high)
    if kind == "uniform":
        return stats.uniform(loc=low, scale=high - low)
    if kind == "triangular":
        mode = _number(distribution.mode)  # type: ignore[arg-type]
        return stats.triang(c=(mode - low) / (high - low), loc=low, scale=high - low)
    return stats.beta(distribution.a, distribution.b, loc=low, scale=high - low)


def ppf(distribution: Distribution, probabilities: np.ndarray) -> np.ndarray:
    """Values at ``probabilities`` (dates as day ordinals, rounded to whole days)."""
    probabilities = np.clip(np.asarray(probabilities, dtype=float), EPS, 1.0 - EPS)
    law = _law(distribution)
    if law is None:
        values = _choice_ppf(distribution, probabilities)
    else:
        values = _continuous_ppf(distribution, law, probabilities)
    return np.rint(values) if distribution.is_date else values


def _choice_ppf(distribution: Distribution, probabilities: np.ndarray) -> np.ndarray:
    """A choice's values at ``probabilities``: weighted, values out of bounds never drawn."""
    values = np.array([_number(v) for v in distribution.values or ()])
    weights = (
        np.ones(len(values))
        if distribution.weights is None
        else np.array(distribution.weights, float)
    )
    if distribution.bounds is not None:
        low, high = (_number(bound) for bound in distribution.bounds)
        weights = weights * ((values >= low) & (values <= high))
    cumulative = np.cumsum(weights) / weights.sum()
    chosen = np.searchsorted(cumulative, probabilities, side="right")
    return values[np.minimum(chosen, len(values) - 1)]


def _continuous_ppf(
    distribution: Distribution, law: stats.rv_continuous, probabilities: np.ndarray
) -> np.ndarray:
    """A continuous law's values at ``probabilities``, truncated to the bounds if any."""
    if distribution.bounds is None:
        return np.asarray(law.ppf(probabilities), dtype=float)
    low, high = (_number(bound) for bound in distribution.bounds)
    if distribution.dist in ("normal", "lognormal"):
        values = _truncated_normal(distribution, low, high, probabilities)
    else:
        values = _truncated(law, low, high, probabilities)
    return np.clip(values, low, high)


def _truncated_normal(
    distribution: Distribution, low: float, high: float, probabilities: np.ndarray
) -> np.ndarray:
    """A normal (or lognormal: a normal of the logarithm) truncated to ``[low, high]``, by
    scipy's ``truncnorm``, exact far in a tail: a normal of mean -50 and sd 1 truncated to
    [0.1, 0.9] draws just above 0.1, not 0.9 (two CDF values that both round to 1)."""
    from scipy import stats

    if distribution.dist == "normal":
        mean, sd = _number(distribution.mean), float(distribution.sd)  # type: ignore[arg-type]
        law = stats.truncnorm((low - mean) / sd, (high - mean) / sd, loc=mean, scale=sd)
        return np.asarray(law.ppf(probabilities), dtype=float)
    mu, sigma = np.log(float(distribution.median)), float(distribution.sigma)  # type: ignore[arg-type]
    log_low = (np.log(low) - mu) / sigma if low > 0 else -np.inf
    law = stats.truncnorm(log_low, (np.log(high) - mu) / sigma, loc=mu, scale=sigma)
    return np.exp(np.asarray(law.ppf(probabilities), dtype=float))


def _truncated(
    law: stats.rv_continuous, low: float, high: float, probabilities: np.ndarray
) -> np.ndarray:
    """A law of bounded support (uniform, triangular, beta) truncated to ``[low, high]``,
    inverted from the nearer tail (survival function above the median) so that its
    precision is kept; where even that rounds to no mass at all, the whole mass is at the
    bound nearer the law's."""
    if float(law.cdf(low)) > 0.5:
        s_low, s_high = law.sf([low, high])
        if not s_low > s_high:
            return np.full(probabilities.shape, low)
        return np.asarray(law.isf(s_low - probabilities * (s_low - s_high)), dtype=float)
    c_low, c_high = law.cdf([low, high])
    if not c_high > c_low:
        return np.full(probabilities.shape, high)
    return np.asarray(law.ppf(c_low + probabilities * (c_high - c_low)), dtype=float)


def as_value(distribution: Distribution, number: float) -> float | dt.date:
    """A drawn number as the field's type (a date for a date distribution).

    Raises:
        ValueError: for a day outside the calendar (a date law with a huge sd).
    """
    if not distribution.is_date:
        return float(number)
    if not 1 <= number <= dt.date.max.toordinal():
        raise ValueError(f"day {number:.6g} is outside the calendar (years 1 to 9999)")
    return dt.date.fromordinal(int(round(number)))


def central(distribution: Distribution) -> float | dt.date:
    """The value a single (non-sweep) run uses: the median draw."""
    return as_value(distribution, float(ppf(distribution, np.array([0.5]))[0]))


def extremes(distribution: Distribution) -> tuple[float | dt.date, float | dt.date]:
    """The lowest and highest values a sweep can draw."""
    lowest, highest = ppf(distribution, np.array([EPS, 1.0 - EPS]))
    return as_value(distribution, float(lowest)), as_value(distribution, float(highest))


def _unit_draws(keys: Sequence[str], seed: int, count: int, method: Method) -> np.ndarray:
    """Uniforms ``[count, len(keys)]`` for the distinct input keys."""
    seeds = sample_seeds(seed, count)
    if method == "sobol":
        from scipy.stats import qmc

        if not keys:
            return np.zeros((count, 0))
        engine = qmc.Sobol(d=len(keys), scramble=True, seed=np.random.default_rng(seed))
        order = np.argsort(keys)
        points = engine.random(count)
        out = np.empty_like(points)
        out[:, order] = points
        return out
    columns = []
    for key in keys:
        column = uniforms(seeds, key)
        if method == "lhs":
            rng = np.random.default_rng([seed, int(key_hash(key) % np.uint64(2**63))])
            column = (rng.permutation(count) + column) / count
        columns.append(column)
    return np.stack(columns, axis=1) if columns else np.zeros((count, 0))


def draw(
    scenario: Scenario, count: int, seed: int, method: Method = "random"
) -> dict[str, np.ndarray]:
    """Values of every uncertain input for samples ``0 .. count-1``, by field path.

    Projects with a ``completion_probability`` also get ``events[i].completes`` (1 if the
    project is built in that sample, else 0), drawn from their own key.
    """
    keys = input_keys(scenario)
    return from_units(scenario, _unit_draws(keys, seed, count, method), seed)


def draws_nothing(scenario: Scenario) -> bool:
    """True when a sweep of ``scenario`` would draw nothing (no uncertain input, no project
    that may not be built): every future is the same."""
    return not draw(scenario, 1, 0)


def input_keys(scenario: Scenario) -> list[str]:
    """The distinct keys of a scenario's uncertain inputs, sorted (the columns of a design)."""
    return sorted({u.key for u in scenario.uncertain})


def from_units(scenario: Scenario, units: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Values from a design of uniforms ``[count, keys]`` (columns as `input_keys`)."""
    keys = input_keys(scenario)
    count = units.shape[0]
    out = {u.path: ppf(u.dist, units[:, keys.index(u.key)]) for u in scenario.uncertain}
    seeds = sample_seeds(seed, count)
    for i, (name, probability) in completion_draws(scenario).items():
        chance = out.get(f"events[{i}].completion_probability", np.full(count, probability))
        completes = uniforms(seeds, f"{name}.completes") < chance
        out[f"events[{i}].completes"] = completes.astype(float)
    return out


def completion_draws(scenario: Scenario) -> dict[int, tuple[str, float]]:
    """Projects built in only some futures, by event index: the key their draw is named by
    (their start's, if drawn) and their chance (its central value, if drawn). A certain
    project needs no draw (and a sweep without draws runs once)."""
    paths = {u.path: u.key for u in scenario.uncertain}
    drawn = {}
    for i, event in enumerate(scenario.events):
        probability = getattr(event, "completion_probability", None)
        chance = f"events[{i}].completion_probability"
        if probability is None or (probability >= 1.0 and chance not in paths):
            continue
        drawn[i] = (paths.get(f"events[{i}].start", f"events[{i}]"), float(probability))
    return drawn

"""Measures of how well a run's series matches an observed one: pure functions of arrays,
testable on synthetic series. The direction of change after a date, the lag between peaks and
by cross-correlation, the peak-to-base ratio, and two errors (MAPE and RMSE over the mean
observed level) on the periods both series cover."""

from __future__ import annotations

import numpy as np

WINDOW_MONTHS = 12


def direction(
    times: np.ndarray,
    values: np.ndarray,
    when: float,
    window: float = WINDOW_MONTHS,
    tolerance: float = 0.02,
) -> float:
    """Sign of the change in the mean level across ``when``: +1, -1, 0 (within ``tolerance``
    of the level before), or NaN when either side of the window has no point.

    Args:
        times: when each value was measured, in months (any origin).
        values: the values.
        when: the date of the event, in the same months.
        window: months looked at on each side.
        tolerance: a relative change this small counts as no change.
    """
    before = values[(times >= when - window) & (times < when)]
    after = values[(times >= when) & (times < when + window)]
    if not len(before) or not len(after):
        return float("nan")
    change = float(after.mean() - before.mean())
    if abs(change) <= tolerance * abs(float(before.mean())) + 1e-12:
        return 0.0
    return float(np.sign(change))


def peak_to_base(times: np.ndarray, values: np.ndarray, base_end: float) -> float:
    """Highest value from ``base_end`` on over the mean before it (NaN if either is missing
    or the base is zero)."""
    base = values[times < base_end]
    later = values[times >= base_end]
    if not len(base) or not len(later) or abs(float(base.mean())) < 1e-12:
        return float("nan")
    return float(later.max() / base.mean())


def over_period(values: np.ndarray, start: float, end: float, how: str = "mean") -> float:
    """Monthly ``values`` summed (or averaged) over months ``[start, end)``; NaN where that
    is not inside them."""
    lo, hi = int(round(start)), int(round(end))
    if lo < 0 or hi > len(values) or hi <= lo:
        return float("nan")
    part = values[lo:hi]
    return float(part.sum() if how == "sum" else np.nanmean(part))


FALL_MONTHS = 18.0  # how long after a peak its fall is measured


def fall_after_peak(times: np.ndarray, values: np.ndarray, months: float = FALL_MONTHS) -> float:
    """Share of its peak a series has lost ``months`` after it (linear between points; NaN
    if the series ends before then or peaks at zero)."""
    if not len(values):
        return float("nan")
    peak = int(np.argmax(values))
    when = times[peak] + months
    if when > times[-1] or values[peak] <= 0:
        return float("nan")
    return float(1.0 - np.interp(when, times, values) / values[peak])


def peak_lag(
    sim_times: np.ndarray, sim: np.ndarray, obs_times: np.ndarray, obs: np.ndarray
) -> float:
    """Months from the observed peak to the simulated one (positive: the model peaks late);
    NaN when either series is empty or flat."""
    if not len(sim) or not len(obs) or np.ptp(sim) == 0 or np.ptp(obs) == 0:
        return float("nan")
    return float(sim_times[int(np.argmax(sim))] - obs_times[int(np.argmax(obs))])


def xcorr_lag(
    sim: np.ndarray, obs: np.ndarray, max_lag: int = WINDOW_MONTHS, min_overlap: int = 6
) -> float:
    """The shift ``k`` (steps) that best correlates ``sim[t + k]`` with ``obs[t]`` on equally
    spaced, aligned series: positive when the model trails the observation. NaN when no shift
    leaves ``min_overlap`` points with variation on both sides."""
    best, best_k = -np.inf, float("nan")
    for k in range(-max_lag, max_lag + 1):
        a, b = _shifted(sim, obs, k)
        if len(a) < min_overlap or np.ptp(a) == 0 or np.ptp(b) == 0:
            continue
        r = float(np.corrcoef(a, b)[0, 1])
        if r > best + 1e-12 or (abs(r - best) <= 1e-12 and abs(k) < abs(best_k)):
            best, best_k = r, float(k)
    return best_k


def _shifted(sim: np.ndarray, obs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``sim[t + k]`` and ``obs[t]`` over the steps ``t`` where both exist and are finite."""
    a = sim[k:] if k >= 0 else sim[:k]
    b = obs[: len(obs) - k] if k >= 0 else obs[-k:]
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok]


def mape(sim: np.ndarray, obs: np.ndarray) -> float:
    """Mean absolute percentage error over the points where the observation is not zero."""
    ok = np.isfinite(sim) & np.isfinite(obs) & (obs != 0)
    return float(np.mean(np.abs(sim[ok] - obs[ok]) / np.abs(obs[ok]))) if ok.any() else np.nan


def nrmse(sim: np.ndarray, obs: np.ndarray) -> float:
    """Root-mean-square error over the mean absolute observed level."""
    ok = np.isfinite(sim) & np.isfinite(obs)
    if not ok.any() or np.mean(np.abs(obs[ok])) == 0:
        return float("nan")
    return float(np.sqrt(np.mean((sim[ok] - obs[ok]) ** 2)) / np.mean(np.abs(obs[ok])))

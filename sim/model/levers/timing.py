"""Timing of events: dates as months, shares of a step, ramps and the steps a level changes.

Dates become months from the horizon's origin (floats, one value a sample; `EventValues` reads
them, and every number of an event, from a sweep's draws or the scenario). An event covering
part of a step applies pro rata: `active_fraction` is the share of a step inside
``[start, end)``, and `ramp_average` the mean level of a ramp (linear, or the S-shaped
smoothstep ``3u^2 - 2u^3``) over a step, integrated exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, TypeVar

import numpy as np

from sim.config.scenario import Scenario
from sim.units import month_index

Kind = TypeVar("Kind")


class EventValues:
    """The numbers and dates of a scenario's events, one value a sample: a sweep's draws for
    ``events[i].field`` where it has any, else the scenario's own value. Dates are months
    from ``origin``."""

    def __init__(
        self,
        scenario: Scenario,
        draws: Mapping[str, np.ndarray] | None,
        origin: dt.date,
        samples: int,
    ) -> None:
        self.scenario = scenario
        self.draws = dict(draws or {})
        self.origin = origin
        self.samples = samples

    def of_kind(self, kind: type[Kind]) -> list[tuple[int, Kind]]:
        """``(index, event)`` of the scenario's events of one kind, in the scenario's order."""
        return [(i, ev) for i, ev in enumerate(self.scenario.events) if isinstance(ev, kind)]

    def month(self, when: dt.date | None, default: float) -> np.ndarray:
        """Months from the origin to a date, one value a sample."""
        value = default if when is None else month_index(self.origin, when)
        return np.full(self.samples, value)

    def value(self, event: int, field: str) -> np.ndarray:
        """A number of event ``event``, one value a sample."""
        drawn = self.draws.get(f"events[{event}].{field}")
        if drawn is not None:
            return np.asarray(drawn, dtype=float)
        return np.full(self.samples, float(getattr(self.scenario.events[event], field)))

    def when(self, event: int, field: str, default: float) -> np.ndarray:
        """A date of event ``event`` as months from the origin, one value a sample (drawn
        dates are day ordinals); ``default`` where the date is not set."""
        drawn = self.draws.get(f"events[{event}].{field}")
        if drawn is None:
            return self.month(getattr(self.scenario.events[event], field), default)
        return self._months(drawn)

    def _months(self, drawn: np.ndarray) -> np.ndarray:
        """Drawn dates (day ordinals) as months from the origin."""
        days = np.asarray(drawn, dtype=float)
        cache = {d: month_index(self.origin, dt.date.fromordinal(int(d))) for d in np.unique(days)}
        return np.array([cache[d] for d in days])

    def part(self, event: int, path: str, written: float | dt.date) -> np.ndarray:
        """A number or date inside a field of event ``event`` (a schedule's step, say), one
        value a sample: the draws for ``events[i].PATH`` (``path`` as a document writes it,
        ``approval_rate.steps[1].value``), else ``written``; dates as months from the origin."""
        drawn = self.draws.get(f"events[{event}].{path}")
        if isinstance(written, dt.date):
            return self.month(written, 0.0) if drawn is None else self._months(drawn)
        return np.full(self.samples, float(written)) if drawn is None else np.asarray(drawn, float)

    def completes(self, event: int) -> np.ndarray:
        """Whether capacity project ``event`` is built, 0 or 1 a sample: the sweep's draws
        for ``events[i].completes``, else the central case (built if its completion
        probability is at least one half)."""
        drawn = self.draws.get(f"events[{event}].completes")
        if drawn is not None:
            return (np.asarray(drawn, dtype=float) > 0.5).astype(float)
        return (self.value(event, "completion_probability") >= 0.5).astype(float)


def calendar_years(origin: dt.date, base_year: int, warmup: int, steps: int) -> np.ndarray:
    """The middle of every step, warm-up included, as a fractional calendar year."""
    first = month_index(origin, dt.date(base_year, 1, 1))
    return (np.arange(-warmup, steps) - first + 0.5) / 12.0 + base_year


def active_fraction(start: np.ndarray, end: np.ndarray, step: int) -> np.ndarray:
    """Share of step ``[step, step+1)`` inside ``[start, end)``, per sample."""
    return np.clip(np.minimum(end, step + 1.0) - np.maximum(start, float(step)), 0.0, 1.0)


def _ramp_integral(x: np.ndarray, start: np.ndarray, ramp: np.ndarray) -> np.ndarray:
    """Integral from -inf to x of a ramp rising from 0 at ``start`` to 1 at ``start+ramp``."""
    u = x - start
    safe = np.where(ramp > 0, ramp, 1.0)
    rising = np.where(ramp > 0, np.clip(u, 0.0, ramp) ** 2 / (2.0 * safe), 0.0)
    return rising + np.maximum(u - ramp, 0.0)


def _s_curve_integral(x: np.ndarray, start: np.ndarray, ramp: np.ndarray) -> np.ndarray:
    """Integral from -inf to x of a smoothstep rising from 0 at ``start`` to 1 at
    ``start+ramp``: with ``v = u/ramp`` clipped to [0, 1], ``ramp * (v^3 - v^4/2)`` while
    rising (half the ramp's length at its end, as for a linear ramp), then 1 a month."""
    u = x - start
    safe = np.where(ramp > 0, ramp, 1.0)
    v = np.clip(u / safe, 0.0, 1.0)
    rising = np.where(ramp > 0, safe * (v**3 - 0.5 * v**4), 0.0)
    return rising + np.maximum(u - ramp, 0.0)


def ramp_average(
    start: np.ndarray, ramp: np.ndarray, step: int | np.ndarray, s_curve: np.ndarray | None = None
) -> np.ndarray:
    """Mean level over step ``[step, step+1)`` of a ramp from 0 at ``start`` to 1 at
    ``start+ramp``: linear, or S-shaped (smoothstep) where ``s_curve`` is True. ``step`` may
    be an array of steps that broadcasts with ``start`` (the levels of each)."""
    with np.errstate(invalid="ignore"):
        lo = np.zeros(np.broadcast_shapes(np.shape(start), np.shape(step))) + step
        hi = lo + 1.0
        level = _ramp_integral(hi, start, ramp) - _ramp_integral(lo, start, ramp)
        if s_curve is not None and s_curve.any():
            smooth = _s_curve_integral(hi, start, ramp) - _s_curve_integral(lo, start, ramp)
            level = np.where(s_curve, smooth, level)
    return np.where(np.isneginf(start), 1.0, level)


class Varying(Protocol):
    """A share that changes within a phase (a ramp): its mean share over a step."""

    def withheld(
        self, start: np.ndarray, end: np.ndarray, off: tuple[np.ndarray, np.ndarray], step: int
    ) -> np.ndarray:
        """Its integral over the part of ``step`` inside ``[start, end)`` and outside ``off``."""
        ...

    def times(self) -> list[np.ndarray]:
        """Months at which its value may change."""
        ...


Phase = tuple[np.ndarray, np.ndarray, "np.ndarray | Varying"]  # start, end, share withheld


def withheld_share(
    phases: Sequence[Phase], off: tuple[np.ndarray, np.ndarray], step: int
) -> np.ndarray:
    """Mean over ``step`` of a control's withheld share of normal flow, per sample.

    Args:
        phases: ``(start, end, withheld)``: the share withheld inside ``[start, end)``, one
            value a sample, or a share that varies (`Varying`).
        off: ``(suspended, resumed)``: the control is off inside this window.
        step: the step.
    """
    total = np.zeros_like(off[0], dtype=float)
    for start, end, share in phases:
        if not isinstance(share, np.ndarray):
            total = total + share.withheld(start, end, off, step)
            continue
        on = active_fraction(start, end, step)
        paused = active_fraction(np.maximum(start, off[0]), np.minimum(end, off[1]), step)
        total = total + share * np.maximum(on - paused, 0.0)
    return total


def in_force(phases: Sequence[Phase], off: tuple[np.ndarray, np.ndarray], step: int) -> np.ndarray:
    """``[S]`` True where a control is in force for some part of ``step``: inside one of its
    ``phases`` and outside its suspension ``off``, whatever share it withholds there (a
    licence approving every shipment is still in force: it lets through its normal flow, no
    more)."""
    out = np.zeros(np.shape(off[0]), dtype=bool)
    for start, end, _ in phases:
        on = active_fraction(start, end, step)
        paused = active_fraction(np.maximum(start, off[0]), np.minimum(end, off[1]), step)
        out |= on - paused > 0.0
    return out


def change_steps(
    times: Iterable[np.ndarray], first: int, last: int, always: int | None = None
) -> list[int]:
    """Steps in ``[first, last)`` at which a switch with these start/end times may change
    level (plus ``always``, where the switch must set its first level)."""
    steps: set[int] = set() if always is None else {always}
    for arr in times:
        finite = arr[np.isfinite(arr)]
        floor = np.floor(finite).astype(int)
        steps.update(floor.tolist())
        steps.update((floor + 1).tolist())
    return sorted(s for s in steps if first <= s < last)


def per_sample(value: float | np.ndarray, ndim: int) -> float | np.ndarray:
    """A parameter as a float when every sample shares it, else its values (``[S]``, one a
    sample, as a sweep draws them) shaped ``[S, 1, ...]`` to broadcast over arrays of
    ``ndim`` axes with samples first."""
    if np.ndim(value) == 0:
        return float(value)
    return np.asarray(value, dtype=float).reshape(-1, *([1] * (ndim - 1)))


def closing_speed(months: float | np.ndarray, ndim: int) -> float | np.ndarray:
    """`per_sample` share of a gap closed a month by a move with time constant ``months``
    (``1 - exp(-1 / months)``; 1, at once, for 0)."""
    if np.ndim(months) == 0:
        return 1.0 if months <= 0 else float(1.0 - np.exp(-1.0 / months))
    m = np.asarray(months, dtype=float)
    return per_sample(np.where(m > 0, 1.0 - np.exp(-1.0 / np.where(m > 0, m, 1.0)), 1.0), ndim)

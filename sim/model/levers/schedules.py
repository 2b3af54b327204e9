"""Schedules during a run: a control's scheduled number as pieces in time, one value a sample.

A number written plainly is one piece for all time; dated steps are a piece a step, from its
date to the next step's (the dates made non-decreasing in each sample, so that a later step
always overrides an earlier one, and the first step's piece reaching back to the control's
start); a ramp is one piece whose value varies (`RampLevel`), integrated exactly over each
step. A review delay's steps give the windows in which no licence is granted
(`review_gaps`). Every value is an ``[S]`` array, computed once when the chain is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config.schedules import Ramp, RampShape, Steps
from sim.model.levers.timing import EventValues
from sim.units import DAYS_PER_MONTH

#: Half-widths (in widths) beyond which a ramp's value no longer changes: a linear ramp's
#: end, and where a logistic one is within 1e-17 of its end (below a float's resolution).
_REACH = {False: 0.5, True: 10.0}


@dataclass(frozen=True)
class RampLevel:
    """A value moving from ``first`` to ``last`` around ``midpoint`` (months from the origin)
    over ``width`` months: linearly, or along ``1 / (1 + exp(-4 u))`` with ``u = (t -
    midpoint) / width`` (the same slope at the midpoint). Each field has one value a sample."""

    first: np.ndarray
    last: np.ndarray
    midpoint: np.ndarray
    width: np.ndarray
    logistic: bool

    def complement(self) -> RampLevel:
        """One less this ramp (a share withheld from a share let through)."""
        return RampLevel(
            1.0 - self.first, 1.0 - self.last, self.midpoint, self.width, self.logistic
        )

    def value(self, months: np.ndarray) -> np.ndarray:
        """The value at ``months`` (from the origin), a sample each."""
        u = (months - self.midpoint) / self.width
        rise = 1.0 / (1.0 + np.exp(-4.0 * u)) if self.logistic else np.clip(u + 0.5, 0.0, 1.0)
        return self.first + (self.last - self.first) * rise

    def integral(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """The integral of the value over ``[lo, hi]`` (finite; 0 where ``hi <= lo``)."""
        hi = np.maximum(hi, lo)
        return self.first * (hi - lo) + (self.last - self.first) * (self._rise(hi) - self._rise(lo))

    def _rise(self, months: np.ndarray) -> np.ndarray:
        """The integral from the far past to ``months`` of the rise from 0 to 1."""
        u = (months - self.midpoint) / self.width
        if self.logistic:
            return self.width * np.logaddexp(0.0, 4.0 * u) / 4.0
        return self.width * (np.clip(u + 0.5, 0.0, 1.0) ** 2 / 2.0 + np.maximum(u - 0.5, 0.0))

    def withheld(
        self, start: np.ndarray, end: np.ndarray, off: tuple[np.ndarray, np.ndarray], step: int
    ) -> np.ndarray:
        """The integral over the part of ``step`` inside ``[start, end)`` and outside the
        suspension ``off`` (a step is one month, so this is the mean over the step)."""
        lo = np.clip(start, float(step), step + 1.0)
        hi = np.clip(end, lo, step + 1.0)
        paused_lo = np.clip(off[0], lo, hi)
        paused_hi = np.clip(off[1], paused_lo, hi)
        return self.integral(lo, hi) - self.integral(paused_lo, paused_hi)

    def times(self) -> list[np.ndarray]:
        """Every month in which the value may change, over all samples."""
        reach = _REACH[self.logistic] * self.width
        first = np.floor(np.min(self.midpoint - reach))
        last = np.ceil(np.max(self.midpoint + reach))
        return [np.arange(first, last + 1.0)]


Level = np.ndarray | RampLevel
Piece = tuple[np.ndarray, np.ndarray, Level]  # from, until (months), value (a sample each)


def pieces(events: EventValues, event: int, field: str, written: object) -> list[Piece]:
    """Field ``field`` of event ``event`` as pieces in time (the field's value is
    ``written``: a number, `Steps` or a `Ramp`)."""
    always = np.full(events.samples, -np.inf), np.full(events.samples, np.inf)
    if isinstance(written, Steps):
        return _step_pieces(events, event, field, written)
    if isinstance(written, Ramp):
        return [(*always, _ramp(events, event, f"{field}.ramp", written.ramp))]
    return [(*always, events.value(event, field))]


def _step_pieces(events: EventValues, event: int, field: str, steps: Steps) -> list[Piece]:
    """A piece a step: from its date (the first from the far past; dates made
    non-decreasing) to the next step's date (the last to the far future)."""
    dates = np.maximum.accumulate(_step_parts(events, event, field, steps, "from"), axis=0)
    dates[0] = -np.inf
    until = np.vstack([dates[1:], np.full((1, events.samples), np.inf)])
    values = _step_parts(events, event, field, steps, "value")
    return [(dates[j], until[j], values[j]) for j in range(len(steps.steps))]


def _step_parts(events: EventValues, event: int, field: str, steps: Steps, part: str) -> np.ndarray:
    """``[steps, S]``: every step's ``from`` (months) or ``value``, a sample each."""
    written = [step.since if part == "from" else step.value for step in steps.steps]
    return np.array(
        [events.part(event, f"{field}.steps[{j}].{part}", w) for j, w in enumerate(written)]
    )


def _ramp(events: EventValues, event: int, path: str, ramp: RampShape) -> RampLevel:
    """A ramp's parts, a sample each."""
    return RampLevel(
        first=events.part(event, f"{path}.from", ramp.first),
        last=events.part(event, f"{path}.to", ramp.last),
        midpoint=events.part(event, f"{path}.midpoint", ramp.midpoint),
        width=events.part(event, f"{path}.width_months", ramp.width_months),
        logistic=ramp.shape == "logistic",
    )


def withheld(value: Level) -> Level:
    """The share withheld where ``value`` is the share let through."""
    return value.complement() if isinstance(value, RampLevel) else 1.0 - value


def review_gaps(
    events: EventValues, event: int, written: object, start: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The windows in which no licence is granted, from the control's ``start`` on: a licence
    applied for on a date is granted after the review delay in force on that date, so nothing
    is granted during the first review, nor, when reviews lengthen from ``d1`` to ``d2`` days
    on a date D, from D + d1 until D + d2 (unless licences applied for later, under a shorter
    review, are granted by then). When reviews shorten, licences come sooner: those already
    under review are granted when they would have been (no queue catches up)."""
    granted = [_granted(start, *piece) for piece in _delay_pieces(events, event, written)]
    ends = [start] + [last for _, last in granted]
    return [_gap_after(end, granted) for end in ends]


def _granted(
    start: np.ndarray, since: np.ndarray, until: np.ndarray, delay: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """When the licences applied for in ``[since, until)`` (from ``start`` on) are granted,
    ``delay`` months later; an empty window (a piece over before the start) never."""
    first, last = np.maximum(since, start) + delay, np.maximum(until, start) + delay
    empty = last <= first
    return np.where(empty, np.inf, first), np.where(empty, np.inf, last)


def _delay_pieces(
    events: EventValues, event: int, written: object
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The review delay's pieces, in months."""
    out = []
    for a, b, days in pieces(events, event, "review_delay_days", written):
        assert isinstance(days, np.ndarray)  # a review delay takes steps, not a ramp
        out.append((a, b, days / DAYS_PER_MONTH))
    return out


def _gap_after(
    end: np.ndarray, granted: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """The window from ``end`` until the next grant begins, empty where some window of
    ``granted`` (``(first, last)`` months of the grants of one piece) covers ``end``."""
    covered = np.zeros(end.shape, dtype=bool)
    following = np.full(end.shape, np.inf)
    for first, last in granted:
        covered |= (first <= end) & (end < last)
        following = np.where(first >= end, np.minimum(following, first), following)
    return end, np.where(covered, end, following)

"""The distributions a scenario may write in place of a number or a date, and their records.

An `Uncertain` records where a distribution sits in the scenario and how its draws are keyed.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from sim.config.strict import Date, Float, Strict

DIST_KINDS: tuple[str, ...] = ("uniform", "triangular", "normal", "lognormal", "beta", "choice")
Number = Float | Date
#: The parameters each kind of distribution needs.
PARAMETERS: dict[str, tuple[str, ...]] = {
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("median", "sigma"),
    "beta": ("a", "b"),
    "choice": ("values",),
}


class Distribution(Strict):
    """An uncertain number or date, written in place of a value: ``{dist: uniform, low, high}``.

    Parameters by kind: uniform ``low, high``; triangular ``low, mode, high``; normal ``mean,
    sd``; lognormal ``median, sigma`` (sigma of the logarithm); beta ``a, b`` scaled to ``low,
    high`` (default 0-1); choice ``values`` with optional ``weights``. Optional ``bounds: [lo,
    hi]`` truncate. Dates may stand for numbers in ``low, mode, high, mean, values, bounds``; a
    date's ``sd`` is in days. ``name`` keys the draws: two scenarios swept with one seed share
    the draws of inputs of the same name (default: the field's path).
    """

    dist: Literal["uniform", "triangular", "normal", "lognormal", "beta", "choice"]
    low: Number | None = None
    high: Number | None = None
    mode: Number | None = None
    mean: Number | None = None
    sd: Float | None = Field(None, gt=0)
    median: Float | None = Field(None, gt=0)
    sigma: Float | None = Field(None, gt=0)
    a: Float | None = Field(None, gt=0)
    b: Float | None = Field(None, gt=0)
    values: list[Number] | None = Field(None, min_length=1)
    weights: list[Float] | None = None
    bounds: tuple[Number, Number] | None = None
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\[\]-]*$", max_length=120)

    @property
    def is_date(self) -> bool:
        """True when the distribution's parameters are dates."""
        return any(isinstance(v, dt.date) for v in self._points())

    def _points(self) -> tuple[Number | None, ...]:
        """The parameters that are points of the line (numbers, or dates standing for them)."""
        return (
            self.low,
            self.high,
            self.mode,
            self.mean,
            *(self.values or ()),
            *(self.bounds or ()),
        )

    @model_validator(mode="after")
    def _parameters(self) -> Distribution:
        self._check_needed()
        self._check_no_others()
        self._check_points()
        self._check_weights()
        self._check_bounds_reach()
        return self

    def _check_needed(self) -> None:
        """The kind's parameters are all given."""
        missing = [k for k in PARAMETERS[self.dist] if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a {self.dist} distribution needs {', '.join(missing)}")

    def _check_no_others(self) -> None:
        """No parameter but the kind's (and bounds, name) is given."""
        given = {k for k in type(self).model_fields if getattr(self, k) is not None}
        extra = sorted(given - self._allowed())
        if extra:
            raise ValueError(
                f"a {self.dist} distribution takes {', '.join(PARAMETERS[self.dist])} (and "
                f"bounds, name), not {', '.join(extra)}"
            )

    def _allowed(self) -> set[str]:
        """The fields a distribution of this kind may set."""
        allowed = set(PARAMETERS[self.dist]) | {"dist", "bounds", "name"}
        allowed |= {"low", "high"} if self.dist == "beta" else set()
        allowed |= {"weights"} if self.dist == "choice" else set()
        return allowed

    def _check_points(self) -> None:
        """All dates or all numbers, in order: low < high, low <= mode <= high, bounds."""
        kinds = {isinstance(v, dt.date) for v in self._points() if v is not None}
        if len(kinds) > 1:
            raise ValueError("mixes dates and numbers; use one or the other")
        self._check_order()
        if self.bounds is not None and not self.bounds[0] < self.bounds[1]:  # type: ignore[operator]
            raise ValueError("bounds must be [lower, upper] with lower < upper")

    def _check_order(self) -> None:
        """low < high, and low <= mode <= high."""
        if self.low is not None and self.high is not None and not self.low < self.high:  # type: ignore[operator]
            raise ValueError("needs low < high")
        order = [v for v in (self.low, self.mode, self.high) if v is not None]
        if any(x > y for x, y in zip(order, order[1:])):  # type: ignore[operator]
            raise ValueError("needs low <= mode <= high")

    def _check_bounds_reach(self) -> None:
        """Bounds that leave something to draw: a value of a choice, a part of a bounded
        law's support, a positive number for a lognormal."""
        if self.bounds is not None and self.dist == "choice":
            self._check_choice_bounds(*self.bounds)
        elif self.bounds is not None:
            self._check_law_bounds(*self.bounds)

    def _check_choice_bounds(self, lower: Number, upper: Number) -> None:
        """Bounds that keep at least one of a choice's values."""
        if not any(lower <= v <= upper for v in self.values or ()):  # type: ignore[operator]
            raise ValueError(f"bounds [{lower}, {upper}] exclude every value")

    def _check_law_bounds(self, lower: Number, upper: Number) -> None:
        """Bounds that overlap the support of a continuous law."""
        low, high = self._support()
        if (high is not None and not lower < high) or (low is not None and not upper > low):  # type: ignore[operator]
            raise ValueError(
                f"bounds [{lower}, {upper}] exclude every value (the distribution lies "
                f"within [{low if low is not None else '-inf'}, "
                f"{high if high is not None else 'inf'}])"
            )

    def _support(self) -> tuple[Number | None, Number | None]:
        """Where a continuous law's values lie (None: unbounded on that side)."""
        if self.dist == "normal":
            return None, None
        if self.dist == "lognormal":
            return 0.0, None
        if self.dist == "beta":
            low = 0.0 if self.low is None else self.low
            return low, 1.0 if self.high is None else self.high
        return self.low, self.high

    def _check_weights(self) -> None:
        """A choice's weights: one a value, none negative, a positive sum."""
        if self.weights is None:
            return
        if self.values is None or len(self.weights) != len(self.values):
            raise ValueError("weights must match values one for one")
        if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError("weights must be >= 0 with a positive sum")


class Uncertain(Strict):
    """One uncertain input of a scenario: where it is, how its draws are keyed, its law."""

    path: str = Field(description="Field path in the scenario, e.g. events[2].start.")
    key: str = Field(description="Name its draws are keyed by (common random numbers).")
    dist: Distribution
    line: int | None = None
    file: str | None = None

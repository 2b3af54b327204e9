"""The validated, frozen scenario: what a YAML file may say, and nothing else.

Every model here forbids unknown fields and carries its units in its field names. Validation
is complete at this boundary: the model layers downstream trust what they are given. Checks
that need the world (does this facility exist?) are in `sim.loading`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.units import ELEMENT_ALIASES, FORM_ALIASES


class Strict(BaseModel):
    """Base: frozen, unknown fields rejected, NaN and infinity refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Horizon(Strict):
    """The simulated period."""

    start: dt.date = Field(description="First day simulated; the run starts at its month.")
    end: dt.date = Field(description="Last day simulated (inclusive month).")
    step: Literal["month"] = Field("month", description="Time step; monthly.")

    @model_validator(mode="after")
    def _ordered(self) -> Horizon:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        if (self.end.year - self.start.year) > 100:
            raise ValueError("a horizon longer than 100 years is refused")
        return self


def _names(value: object, allowed: Mapping[str, object], what: str) -> object:
    if value == "all":
        return value
    if not isinstance(value, list) or not value:
        raise ValueError(f"must be 'all' or a non-empty list of {what}")
    bad = [v for v in value if not isinstance(v, str) or v not in allowed]
    if bad:
        raise ValueError(f"unknown {what} {bad}; expected one of {sorted(allowed)}")
    return value


class Event(Strict):
    """Fields every event shares."""

    label: str | None = Field(None, description="A short name shown on plots.")
    start: dt.date = Field(description="Date the event takes effect (pro rata within a step).")


class ExportControl(Event):
    """An exporter stops (`ban`) or limits (`quota`) shipments of some elements and forms."""

    kind: Literal["export_control"]
    exporter: str = Field(description="ISO-2 code of the exporting country, e.g. CN.")
    destinations: Literal["all"] | list[str] = Field(
        "all", description="Importing countries (ISO-2) or regions, or 'all'."
    )
    elements: Literal["all"] | list[str] = Field(
        "all", description="Rare earths covered (La..Lu, Y, Sc, or NdPr), or 'all'."
    )
    forms: Literal["all"] | list[str] = Field(
        "all", description="Forms covered: concentrate, oxide, metal (alloy), NdFeB, SmCo, magnet."
    )
    mode: Literal["ban", "quota"] = Field(description="ban: nothing ships; quota: a share does.")
    share: float | None = Field(
        None, ge=0.0, le=1.0, description="For quota: share of the normal flow allowed (0-1)."
    )
    end: dt.date | None = Field(None, description="Date the control lapses; none = never.")

    @field_validator("elements", mode="before")
    @classmethod
    def _elements(cls, value: object) -> object:
        return _names(value, ELEMENT_ALIASES, "elements")

    @field_validator("forms", mode="before")
    @classmethod
    def _forms(cls, value: object) -> object:
        return _names(value, FORM_ALIASES, "forms")

    @model_validator(mode="after")
    def _consistent(self) -> ExportControl:
        if self.mode == "quota" and self.share is None:
            raise ValueError("mode 'quota' needs 'share' (the share of normal flow allowed, 0-1)")
        if self.mode == "ban" and self.share is not None:
            raise ValueError("mode 'ban' takes no 'share'; use mode 'quota' for a partial limit")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class NewCapacity(Event):
    """Capacity coming online at a facility (existing or new), ramping up to nameplate."""

    kind: Literal["new_capacity"]
    facility: str = Field(description="Facility id; a new id creates a facility.")
    nameplate_tpa: float = Field(gt=0, description="Capacity added, tonnes per year.")
    ramp_months: float = Field(0.0, ge=0, le=240, description="Months from start to nameplate.")
    replace: bool = Field(
        False, description="Replace the facility's planned capacity instead of adding to it."
    )
    stage: Literal["separation", "metal", "magnet"] | None = Field(
        None, description="For a new facility: its stage."
    )
    product: Literal["NdFeB", "SmCo"] | None = Field(
        None, description="For a new magnet plant: the magnet it makes (default NdFeB)."
    )
    country: str | None = Field(None, description="For a new facility: ISO-2 country code.")
    recovers: Literal["all", "light"] | None = Field(
        None, description="For a new separation plant: which elements it recovers."
    )
    feeds_from: list[str] | None = Field(
        None, description="For a new separation plant: mine ids it takes concentrate from."
    )


class Outage(Event):
    """A facility loses a share of its capacity for a period."""

    kind: Literal["outage"]
    facility: str = Field(description="Facility id (mine or plant).")
    end: dt.date = Field(description="Date capacity returns.")
    share: float = Field(1.0, gt=0.0, le=1.0, description="Share of capacity lost (0-1].")

    @model_validator(mode="after")
    def _ordered(self) -> Outage:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


AnyEvent = Annotated[ExportControl | NewCapacity | Outage, Field(discriminator="kind")]
EVENT_KINDS: tuple[str, ...] = ("export_control", "new_capacity", "outage")


DIST_KINDS: tuple[str, ...] = ("uniform", "triangular", "normal", "lognormal", "beta", "choice")
Number = float | dt.date


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
    sd: float | None = Field(None, gt=0)
    median: float | None = Field(None, gt=0)
    sigma: float | None = Field(None, gt=0)
    a: float | None = Field(None, gt=0)
    b: float | None = Field(None, gt=0)
    values: list[Number] | None = Field(None, min_length=1)
    weights: list[float] | None = None
    bounds: tuple[Number, Number] | None = None
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\[\]-]*$", max_length=120)

    @property
    def is_date(self) -> bool:
        """True when the distribution's parameters are dates."""
        fields = (self.low, self.high, self.mode, self.mean, *(self.values or ()),
                  *(self.bounds or ()))
        return any(isinstance(v, dt.date) for v in fields)

    @model_validator(mode="after")
    def _parameters(self) -> Distribution:
        needs = {
            "uniform": ("low", "high"),
            "triangular": ("low", "mode", "high"),
            "normal": ("mean", "sd"),
            "lognormal": ("median", "sigma"),
            "beta": ("a", "b"),
            "choice": ("values",),
        }[self.dist]
        allowed = set(needs) | {"dist", "bounds", "name"}
        allowed |= {"low", "high"} if self.dist == "beta" else set()
        allowed |= {"weights"} if self.dist == "choice" else set()
        given = {k for k in type(self).model_fields if getattr(self, k) is not None}
        missing = [k for k in needs if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a {self.dist} distribution needs {', '.join(missing)}")
        extra = sorted(given - allowed)
        if extra:
            raise ValueError(f"a {self.dist} distribution takes {', '.join(needs)} (and bounds, "
                             f"name), not {', '.join(extra)}")
        kinds = {isinstance(v, dt.date) for v in (self.low, self.high, self.mode, self.mean,
                                                   *(self.values or ()), *(self.bounds or ()))
                 if v is not None}
        if len(kinds) > 1:
            raise ValueError("mixes dates and numbers; use one or the other")
        if self.low is not None and self.high is not None and not self.low < self.high:  # type: ignore[operator]
            raise ValueError("needs low < high")
        order = [v for v in (self.low, self.mode, self.high) if v is not None]
        if any(x > y for x, y in zip(order, order[1:])):  # type: ignore[operator]
            raise ValueError("needs low <= mode <= high")
        if self.bounds is not None and not self.bounds[0] < self.bounds[1]:  # type: ignore[operator]
            raise ValueError("bounds must be [lower, upper] with lower < upper")
        if self.weights is not None:
            if self.values is None or len(self.weights) != len(self.values):
                raise ValueError("weights must match values one for one")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be >= 0 with a positive sum")
        return self


class Uncertain(Strict):
    """One uncertain input of a scenario: where it is, how its draws are keyed, its law."""

    path: str = Field(description="Field path in the scenario, e.g. events[2].start.")
    key: str = Field(description="Name its draws are keyed by (common random numbers).")
    dist: Distribution
    line: int | None = None
    file: str | None = None


class Scenario(Strict):
    """A whole scenario: a horizon, a world and dated events."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        max_length=120,
        description="Short name; used for the results folder.",
    )
    description: str = Field("", description="What the scenario represents, with sources.")
    world: str = Field(
        "default",
        description="The world to run on: 'default' (today, = default@2024) or a vintage "
        "'default@YEAR' (the world as known in that year, e.g. default@2009).",
    )
    horizon: Horizon
    events: list[AnyEvent] = Field(default_factory=list, description="Dated events, any order.")
    uncertain: tuple[Uncertain, ...] = Field(
        (), description="Filled by the loader from fields written as {dist: ...}; a run uses "
        "each field's central value, a sweep draws it."
    )

    @field_validator("world")
    @classmethod
    def _world(cls, value: str) -> str:
        if not re.fullmatch(r"default(@[0-9]{4})?", value):
            raise ValueError("must be 'default' or a vintage 'default@YEAR' (e.g. default@2009)")
        return value

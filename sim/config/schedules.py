"""Schedules: a control's number as dated steps or as a ramp between two values.

An export control's ``share``, ``approval_rate`` and ``review_delay_days`` may each be a plain
number, or a schedule written in its place::

    approval_rate: {steps: [{from: 2025-04-04, value: 0.1}, {from: 2025-07-01, value: 0.5}]}
    approval_rate: {ramp: {from: 0.1, to: 0.6, shape: logistic, midpoint: 2025-09-01,
                           width_months: 3}}

Steps hold each value from its date until the next step's; the first step's date may not be
after the control's start. A ramp moves from ``from`` to ``to`` around ``midpoint``: linearly
over ``width_months`` centred on it, or along a logistic curve with the same slope at the
midpoint (``1 / (1 + exp(-4 (t - midpoint) / width))``). A review delay takes steps, not a
ramp. Every part may be a distribution in a sweep (`sim.io.uncertain_inputs`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, model_validator

from sim.config.strict import Date, Float, Strict, not_a_truth_value

#: A share of normal flow, 0-1.
ShareValue = Annotated[float, BeforeValidator(not_a_truth_value), Field(ge=0.0, le=1.0)]
#: Calendar days a licence review takes.
DelayValue = Annotated[float, BeforeValidator(not_a_truth_value), Field(ge=0.0, le=3650.0)]


class Step(Strict):
    """From a date, a value (until the next step's date)."""

    since: Date = Field(alias="from", description="Date the value takes effect.")
    value: ShareValue = Field(description="The share from then (0-1).")


class DelayStep(Step):
    """From a date, the days a licence applied for from then takes to review."""

    value: DelayValue = Field(description="Calendar days of review (0-3650).")


class Steps(Strict):
    """Dated steps, in date order: each value holds from its date to the next step's."""

    steps: tuple[Step, ...] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _in_date_order(self) -> Steps:
        for i, (before, after) in enumerate(zip(self.steps, self.steps[1:]), start=1):
            if after.since <= before.since:
                raise ValueError(
                    f"steps must be in date order: steps[{i}].from ({after.since}) is not "
                    f"after steps[{i - 1}].from ({before.since})"
                )
        return self


class DelaySteps(Steps):
    """Dated steps of a review delay (days)."""

    steps: tuple[DelayStep, ...] = Field(min_length=1, max_length=200)


class RampShape(Strict):
    """A move from one value to another around a midpoint."""

    first: ShareValue = Field(alias="from", description="Value long before the midpoint.")
    last: ShareValue = Field(alias="to", description="Value long after the midpoint.")
    shape: Literal["linear", "logistic"] = Field(
        "linear", description="linear over the width, or logistic (same midpoint slope)."
    )
    midpoint: Date = Field(description="Date the value is halfway.")
    width_months: Float = Field(
        gt=0.0, le=240.0, description="Months the linear ramp takes; the logistic's scale x 4."
    )


class Ramp(Strict):
    """A ramp, written ``{ramp: {from, to, shape, midpoint, width_months}}``."""

    ramp: RampShape


Schedule = Steps | Ramp
_NUMBER, _STEPS, _RAMP = "schedule[number]", "schedule[steps]", "schedule[ramp]"
_SHARE_EXPECTED = (
    "expected a number from 0 to 1, or a schedule: {steps: [{from: DATE, value: V}, ...]} or "
    "{ramp: {from: V, to: V, shape: linear|logistic, midpoint: DATE, width_months: M}}"
)
_DELAY_EXPECTED = (
    "expected a number of days, or dated steps {steps: [{from: DATE, value: DAYS}, ...]} "
    "(a review delay takes steps, not a ramp)"
)


def _share_kind(value: object) -> str | None:
    """Which member of a share field's union a value is, written (a mapping) or built (a
    model, when serialised); None: none."""
    if isinstance(value, Steps | Ramp):
        return _STEPS if isinstance(value, Steps) else _RAMP
    if not isinstance(value, dict):
        return _NUMBER
    return _STEPS if "steps" in value else _RAMP if "ramp" in value else None


def _delay_kind(value: object) -> str | None:
    """Which member of a review delay's union a written value is (None: none)."""
    kind = _share_kind(value)
    return None if kind == _RAMP else kind


#: A share that may be scheduled: a number, steps or a ramp.
ShareSchedule = Annotated[
    Annotated[ShareValue, Tag(_NUMBER)]
    | Annotated[Steps, Tag(_STEPS)]
    | Annotated[Ramp, Tag(_RAMP)],
    Discriminator(_share_kind, custom_error_type="schedule", custom_error_message=_SHARE_EXPECTED),
]
#: A review delay (days) that may be scheduled: a number or steps.
DelaySchedule = Annotated[
    Annotated[DelayValue, Tag(_NUMBER)] | Annotated[DelaySteps, Tag(_STEPS)],
    Discriminator(_delay_kind, custom_error_type="schedule", custom_error_message=_DELAY_EXPECTED),
]


def check_first_step(field: str, value: object, start: dt.date) -> None:
    """A step schedule says the value at the control's ``start``: its first step is dated on
    or before it (a ``ValueError`` naming the field otherwise)."""
    if isinstance(value, Steps) and value.steps[0].since > start:
        raise ValueError(
            f"{field}.steps[0].from ({value.steps[0].since}) is after the control's start "
            f"({start}); the first step must say the value at the start"
        )

"""The strict, frozen pydantic base of every configuration model, the strict number and date
types its fields use, a shared date check, and the fields every scenario event shares
(`Event`, `Lasting`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator


class Strict(BaseModel):
    """Base: frozen, unknown fields rejected, NaN and infinity refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def not_a_truth_value(value: object) -> object:
    """Refuse yes/no (true/false) where a number is expected: pydantic would read them as
    1 and 0, and YAML reads yes, no, on and off as true and false."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not yes/no or true/false")
    return value


def _not_a_number(value: object) -> object:
    """Refuse a number where a date is expected: pydantic would read it as a Unix time."""
    if isinstance(value, int | float):
        raise ValueError("must be a date, written YYYY-MM-DD, not a number")
    return value


def _within_years(value: dt.date) -> dt.date:
    """Refuse a date outside `FIRST_YEAR` to `LAST_YEAR`: a date near the calendar's end
    (9999-12-31) would overflow the month arithmetic of a run."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be a date from {FIRST_YEAR} to {LAST_YEAR}")
    return value


FIRST_YEAR, LAST_YEAR = 1900, 2200
#: A number field: an int or a float, never a truth value.
Float = Annotated[float, BeforeValidator(not_a_truth_value)]
#: A date field: a date (or its ISO text) from `FIRST_YEAR` to `LAST_YEAR`, never a number.
Date = Annotated[dt.date, BeforeValidator(_not_a_number), AfterValidator(_within_years)]


def check_end_after_start(start: dt.date, end: dt.date | None) -> None:
    """Raise the schema's ``ValueError`` when an ``end`` is given and is not after ``start``."""
    if end is not None and end <= start:
        raise ValueError(f"end ({end}) must be after start ({start})")


class Event(Strict):
    """Fields every event shares."""

    label: str | None = Field(None, description="A short name shown on plots.")
    start: Date = Field(description="Date the event takes effect (pro rata within a step).")


class Lasting(Event):
    """An event that holds from its start until an optional end."""

    end: Date | None = Field(None, description="Date it ends; none = never.")

    @model_validator(mode="after")
    def _ordered(self) -> Lasting:
        if self.end is not None:
            check_end_after_start(self.start, self.end)
        return self

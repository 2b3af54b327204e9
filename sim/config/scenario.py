"""The validated, frozen scenario: what a YAML file may say, and nothing else.

A scenario is a horizon, a world and dated events (`sim.config.events`), some of whose numbers
and dates may be uncertain (`sim.config.distributions`). Validation is complete at this
boundary: the model layers downstream trust what they are given. Checks that need the world
(does this facility exist?) are in `sim.io.world_references`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from sim.config.distributions import Uncertain
from sim.config.events import AnyEvent
from sim.config.market import Market
from sim.config.strict import Date, Strict, check_end_after_start


class Horizon(Strict):
    """The simulated period."""

    start: Date = Field(description="First day simulated; the run starts at its month.")
    end: Date = Field(description="Last day simulated (inclusive month).")
    step: Literal["month"] = Field("month", description="Time step; monthly.")

    @model_validator(mode="after")
    def _ordered(self) -> Horizon:
        check_end_after_start(self.start, self.end)
        if (self.end.year - self.start.year) > 100:
            raise ValueError("a horizon longer than 100 years is refused")
        return self


class Scenario(Strict):
    """A whole scenario: a horizon, a world, dated events and, optionally, the market's
    behaviour."""

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
    market: Market = Field(
        default_factory=Market,
        description="The market's behaviour over the world's own (`sim.config.market`): "
        "how prices answer stock cover, how holders stock, how makers thrift.",
    )
    uncertain: tuple[Uncertain, ...] = Field(
        (),
        description="Filled by the loader from fields written as {dist: ...}; a run uses "
        "each field's central value, a sweep draws it.",
    )

    @field_validator("world")
    @classmethod
    def _world(cls, value: str) -> str:
        if not re.fullmatch(r"default(@[0-9]{4})?", value):
            raise ValueError("must be 'default' or a vintage 'default@YEAR' (e.g. default@2009)")
        return value

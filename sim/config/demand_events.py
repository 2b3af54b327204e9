"""Scenario events on the demand side: substitution away from a material, end-of-life
recycling, and demand that grows at another rate for a while (`sim.config.events` gathers
every kind; `sim.model.levers.demand_response` runs them)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sim.config.scopes import Materials, Regions, Sectors
from sim.config.strict import Date, Event, Float, Lasting, Strict, check_end_after_start

#: Largest price multiple a substitution may name (prices are capped at 20x their base).
MAX_PRICE_RATIO = 1000.0


class BuyersNamed(Strict):
    """The buyers an event reaches: every buyer whose material, region and sector it names."""

    materials: Materials = Field(
        "all",
        description="Materials bought (NdFeB: both grades; NdFeB_DyFree, SmCo, or elements "
        "such as Dy), or 'all'.",
    )
    regions: Regions = Field("all", description="Demand regions, or 'all'.")
    sectors: Sectors = Field("all", description="Sectors, or 'all'.")


class Substitution(Event, BuyersNamed):
    """Buyers design a material out (ferrite or induction motors, Dy-free grades, thrifting)
    when its price stays high: the share of demand switched away moves towards a target set by
    the price, with a lag. Switched demand is gone from the market (not short)."""

    kind: Literal["substitution"]
    max_share: Float = Field(
        gt=0.0, le=1.0, description="Largest share of demand that can switch away (0-1]."
    )
    trigger_price_ratio: Float = Field(
        1.5,
        ge=1.0,
        le=MAX_PRICE_RATIO,
        description="Price, as a multiple of its base level, where switching starts.",
    )
    full_price_ratio: Float = Field(
        4.0,
        gt=1.0,
        le=MAX_PRICE_RATIO,
        description="Price multiple at which the whole max_share switches.",
    )
    adoption_months: Float = Field(
        18.0,
        ge=0.0,
        le=240.0,
        description="Time constant of the switch (months): redesign, "
        "qualification and retooling take time.",
    )
    reversible: bool = Field(
        False,
        description="Whether buyers switch back when the price falls (default: no, a "
        "redesigned motor stays redesigned).",
    )
    end: Date | None = Field(None, description="Date switching stops; none = never.")

    @model_validator(mode="after")
    def _ordered(self) -> Substitution:
        if self.full_price_ratio <= self.trigger_price_ratio:
            raise ValueError(
                f"full_price_ratio ({self.full_price_ratio}) must exceed "
                f"trigger_price_ratio ({self.trigger_price_ratio})"
            )
        check_end_after_start(self.start, self.end)
        return self


class Recycling(Event):
    """End-of-life magnet recycling in a region: a share of the magnets sold ``life_years``
    earlier comes back as scrap, and its rare earths join a separation plant's output."""

    kind: Literal["recycling"]
    region: str = Field(description="Demand region whose scrapped magnets are collected.")
    material: Literal["NdFeB", "SmCo", "NdFeB_DyFree"] = Field(
        "NdFeB", description="Magnet recycled."
    )
    collection_share: Float = Field(
        gt=0.0,
        le=1.0,
        description="Share of the magnets reaching end of life that are "
        "collected and recovered (0-1].",
    )
    life_years: Float = Field(12.0, ge=1.0, le=40.0, description="Years from sale to scrap.")
    ramp_months: Float = Field(36.0, ge=0.0, le=240.0, description="Months to full collection.")
    facility: str = Field(description="Separation plant that takes the scrap (its id).")


class DemandGrowth(Lasting, BuyersNamed):
    """Some buyers' demand grows at another yearly rate from `start` (to `end`, after which it
    grows at its own trend again from the level reached): a boom in EV sales, a recession,
    a build-out of wind faster than the world's data expects. The demand it adds or removes
    is demand like any other (short when not served); buyers' own answer to price acts on top
    of it."""

    kind: Literal["demand_growth"]
    growth_pa: Float = Field(
        ge=-0.5, le=2.0, description="Yearly growth of their demand while it holds (0.3 = 30%)."
    )

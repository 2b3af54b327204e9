"""General licences: named exporter -> buyer pairs exempt from an export control for a time.

Written in a control's ``general_licences`` list::

    general_licences:
      - exporters: [china_ndfeb]          # facilities, sites or companies of the exporter
        regions: [US]                     # buyers' regions (or all)
        sectors: [ev_traction, wind]      # buyers' end-use sectors (or all)
        from: 2026-11-10
        until: 2027-11-10                 # optional: none = for good

While a licence is valid, shipments from its exporters to customers of its regions and
sectors are out of the control's reach (plants, which have no sector, only when ``sectors``
is all). Where two licences of one control name the same pairs, the first listed governs them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from sim.config.strict import Date, Strict


def _not_empty(value: object) -> object:
    """'all', or a list that is not empty (an empty list would exempt nobody, silently)."""
    if isinstance(value, list) and not value:
        raise ValueError("must be 'all' or a non-empty list of names")
    return value


Names = Annotated[Literal["all"] | list[str], BeforeValidator(_not_empty)]


class GeneralLicence(Strict):
    """Exporters (facility, site or company names) whose shipments to some buyers (regions
    and sectors) are exempt from the control while the licence is valid."""

    exporters: list[str] = Field(
        min_length=1, description="Facilities, sites or companies of the control's exporter."
    )
    regions: Names = Field("all", description="Regions of the buyers licensed, or 'all'.")
    sectors: Names = Field(
        "all", description="End-use sectors of the buyers licensed, or 'all' (plants too)."
    )
    since: Date = Field(alias="from", description="Date the licence takes effect.")
    until: Date | None = Field(None, description="Date it lapses; none = never.")

    @model_validator(mode="after")
    def _ordered(self) -> GeneralLicence:
        if self.until is not None and self.until <= self.since:
            raise ValueError(f"until ({self.until}) must be after from ({self.since})")
        return self

"""The scenario's dated events, one pydantic model a kind of event.

Export controls and restraints, new capacity, outages, production caps, capacity growth,
stockpiles, price floors, levels and caps, offtakes; and on the demand side
(`sim.config.demand_events`) substitution, recycling and demand growth. Every model forbids
unknown fields and carries its units in its field names. Checks that need the world (does
this facility exist?) are in `sim.io.world_references`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from sim.config.demand_events import DemandGrowth, Recycling, Substitution
from sim.config.licences import GeneralLicence
from sim.config.schedules import DelaySchedule, ShareSchedule, check_first_step
from sim.config.scopes import Destinations, Sectors, known_names
from sim.config.strict import Date, Event, Float, Lasting, check_end_after_start
from sim.units import ELEMENT_ALIASES, FORM_ALIASES

#: Most tonnes (or tonnes a year) any event may name: the world mines about 4e5 t REO a year,
#: so 1e9 is generous, and far enough from float limits that no sum of them overflows.
MAX_TONNES = 1e9


class ExportControl(Event):
    """An exporter stops (`ban`) or limits (`quota`) shipments of some elements and forms."""

    kind: Literal["export_control"]
    exporter: str = Field(description="ISO-2 code of the exporting country, e.g. CN.")
    destinations: Destinations = Field(
        "all", description="Importing countries (ISO-2) or regions, or 'all'."
    )
    elements: Literal["all"] | list[str] = Field(
        "all", description="Rare earths covered (La..Lu but Pm, Y, Sc, or NdPr), or 'all'."
    )
    forms: Literal["all"] | list[str] = Field(
        "all",
        description="Forms covered: concentrate, oxide, metal (alloy), NdFeB (both grades), "
        "SmCo, NdFeB_DyFree, magnet.",
    )
    mode: Literal["ban", "quota", "licence"] = Field(
        description="ban: nothing ships; quota: a share does; licence: per-shipment licences, "
        "nothing ships during the review, then the approved share does."
    )
    share: ShareSchedule | None = Field(
        None,
        description="For quota: share of the normal flow allowed (0-1), or a schedule of it "
        "(`sim.config.schedules`).",
    )
    approval_rate: ShareSchedule | None = Field(
        None,
        description="For licence: share of the normal flow whose licences are approved (0-1), "
        "or a schedule of it.",
    )
    review_delay_days: DelaySchedule = Field(
        0.0,
        description="For licence: calendar days from `start` before the first licences are "
        "granted (the control is a ban until then), or dated steps of the review time of "
        "licences applied for from each date.",
    )
    general_licence: list[str] = Field(
        default_factory=list,
        description="Destinations (ISO-2 countries or regions) exempted by a general licence.",
    )
    general_licences: list[GeneralLicence] = Field(
        default_factory=list,
        description="Named exporter -> buyer pairs exempted for a validity period "
        "(`sim.config.licences`).",
    )
    sectors: Sectors = Field(
        "all",
        description="End-use sectors of buyers in scope (e.g. [defence] for military end "
        "users), or 'all'. With named sectors, shipments to plants are not in scope.",
    )
    foreign_content_threshold: Float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Extraterritorial rule: magnets made outside the exporter whose rare-earth "
        "inputs are at least this share of the exporter's origin fall under the control too, "
        "on their exports abroad (October 2025's 0.1% rule: 0.001). The share is by mass of "
        "rare earth, a stand-in for the rule's share by value.",
    )
    end: Date | None = Field(None, description="Date the control lapses; none = never.")
    announced: Date | None = Field(
        None,
        description="Date announced: from then until `start` buyers it will reach stock up "
        "(their target cover rises to `announced_cover` times normal).",
    )
    suspended: Date | None = Field(
        None, description="Date the control is suspended (off from then until `resumed`)."
    )
    resumed: Date | None = Field(
        None, description="Date a suspension ends; none = the suspension never ends."
    )

    @field_validator("elements", mode="before")
    @classmethod
    def _elements(cls, value: object) -> object:
        return known_names(value, ELEMENT_ALIASES, "elements")

    @field_validator("forms", mode="before")
    @classmethod
    def _forms(cls, value: object) -> object:
        return known_names(value, FORM_ALIASES, "forms")

    @model_validator(mode="after")
    def _consistent(self) -> ExportControl:
        self._check_mode()
        self._check_dates()
        self._check_resumed()
        return self

    def _check_mode(self) -> None:
        """Each mode has its own share: quota a ``share``, licence an ``approval_rate``."""
        if self.mode == "quota" and self.share is None:
            raise ValueError("mode 'quota' needs 'share' (the share of normal flow allowed, 0-1)")
        if self.mode == "ban" and self.share is not None:
            raise ValueError("mode 'ban' takes no 'share'; use mode 'quota' for a partial limit")
        if self.mode == "licence" and self.approval_rate is None:
            raise ValueError(
                "mode 'licence' needs 'approval_rate' (share of normal flow approved, 0-1)"
            )
        if self.mode == "licence" and self.share is not None:
            raise ValueError("mode 'licence' takes 'approval_rate', not 'share'")
        licence_only = {"approval_rate", "review_delay_days"} & self.model_fields_set
        if self.mode != "licence" and licence_only:
            raise ValueError(f"{sorted(licence_only)} only apply to mode 'licence'")

    def _check_dates(self) -> None:
        """Announced by the start, ending after it, and schedules that say their value at
        the start."""
        check_end_after_start(self.start, self.end)
        for field in ("share", "approval_rate", "review_delay_days"):
            check_first_step(field, getattr(self, field), self.start)
        if self.announced is not None and self.announced > self.start:
            raise ValueError(f"announced ({self.announced}) must not be after start ({self.start})")

    def _check_resumed(self) -> None:
        """Resumed, if at all, after a suspension began."""
        if self.resumed is None:
            return
        if self.suspended is None:
            raise ValueError("'resumed' needs 'suspended' (the date the suspension began)")
        if self.resumed <= self.suspended:
            raise ValueError(f"resumed ({self.resumed}) must be after suspended ({self.suspended})")


class NewCapacity(Event):
    """Capacity coming online at a facility (existing or new), ramping up to nameplate."""

    kind: Literal["new_capacity"]
    facility: str = Field(description="Facility id; a new id creates a facility.")
    nameplate_tpa: Float = Field(
        gt=0, le=MAX_TONNES, description="Capacity added, tonnes per year."
    )
    ramp_months: Float = Field(0.0, ge=0, le=240, description="Months from start to nameplate.")
    ramp: Literal["linear", "s_curve"] = Field(
        "linear", description="Shape of the ramp to nameplate: linear, or S-shaped (smoothstep)."
    )
    delay_months: Float = Field(
        0.0, ge=0, le=240, description="Months the start slips beyond `start` (a project delay)."
    )
    completion_probability: Float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Chance the project is built at all (0-1). A sweep draws each sample's "
        "outcome (`events[i].completes`, 0 or 1); a single run builds it if this is >= 0.5.",
    )
    replace: bool = Field(
        False, description="Replace the facility's planned capacity instead of adding to it."
    )
    stage: Literal["separation", "metal", "magnet"] | None = Field(
        None, description="For a new facility: its stage."
    )
    product: Literal["NdFeB", "SmCo", "NdFeB_DyFree"] | None = Field(
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
    end: Date = Field(description="Date capacity returns.")
    share: Float = Field(1.0, gt=0.0, le=1.0, description="Share of capacity lost (0-1].")

    @model_validator(mode="after")
    def _ordered(self) -> Outage:
        check_end_after_start(self.start, self.end)
        return self


class ProductionCap(Lasting):
    """A facility's output held at most `tpa` a year from `start` (to `end`): a mining or
    separation quota as a tonnage. Neither its growth nor its answer to price lifts it; below
    it the facility runs as it would (a quota may go partly unused). A site or a company caps
    the total of its facilities, each cut in proportion."""

    kind: Literal["production_cap"]
    facility: str = Field(description="Facility id, or a site or company of owners.csv.")
    tpa: Float = Field(gt=0.0, description="Most it may make, tonnes a year (t REO upstream).")


Stage = Literal["mine", "separation", "metal", "magnet"]


class CapacityGrowth(Lasting):
    """A country's facilities of some stages grow at another yearly rate from `start` (to
    `end`, after which they grow at their own trend again from the level reached): China's
    mining and separation quotas as a policy, for example."""

    kind: Literal["capacity_growth"]
    country: str = Field(description="ISO-2 code of the facilities' country, e.g. CN.")
    stages: list[Stage] = Field(
        default_factory=lambda: list[Stage](["mine", "separation"]),
        min_length=1,
        description="Stages whose facilities it reaches (default: mine and separation).",
    )
    growth_pa: Float = Field(
        ge=-0.5, le=1.0, description="Yearly growth of their capacity while it holds (0.05 = 5%)."
    )


class Stockpile(Event):
    """A government or industry stockpile of one material in one region, released to its
    buyers by rule from `start` (and bought, optionally, while they are fully supplied)."""

    kind: Literal["stockpile"]
    region: str = Field(description="Demand region whose buyers it serves (US, EU, JP, ...).")
    material: str = Field(
        description="What it holds: a magnet (NdFeB, SmCo; t of magnet) or an element bought "
        "as such (NdPr, Dy, ...; t of contained element)."
    )
    sectors: Sectors = Field(
        "all", description="End-use sectors it releases to (e.g. [defence]), or 'all'."
    )
    initial_t: Float = Field(
        ge=0.0, le=MAX_TONNES, description="Holding at the start of the horizon, t."
    )
    release_threshold: Float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Release when the share of the served buyers' demand they would go "
        "short of this month exceeds this (0-1).",
    )
    max_release_t_per_month: Float = Field(
        gt=0.0, le=MAX_TONNES, description="Most it releases a month, t."
    )
    purchase_t_per_month: Float = Field(
        0.0,
        ge=0.0,
        le=MAX_TONNES,
        description="Bought a month from the served buyers' surplus stock while none of them "
        "is short (they reorder it from the market), t.",
    )
    target_t: Float | None = Field(
        None, ge=0.0, le=MAX_TONNES, description="Holding purchases stop at; none = no purchases."
    )
    end: Date | None = Field(None, description="Date the rules stop; none = never.")

    @model_validator(mode="after")
    def _consistent(self) -> Stockpile:
        if self.purchase_t_per_month > 0 and self.target_t is None:
            raise ValueError("'purchase_t_per_month' needs 'target_t' (the holding to buy up to)")
        check_end_after_start(self.start, self.end)
        return self


OxideProduct = Literal[
    "NdPr_oxide",
    "Dy_oxide",
    "Tb_oxide",
    "Sm_oxide",
    "La_oxide",
    "Ce_oxide",
    "Y_oxide",
    "Gd_oxide",
    "Eu_oxide",
    "Ho_oxide",
    "Er_oxide",
    "Tm_oxide",
    "Yb_oxide",
    "Lu_oxide",
    "Sc_oxide",
]
PriceProduct = Literal[OxideProduct, "NdFeB_magnet", "SmCo_magnet", "NdFeB_DyFree_magnet"]


class PriceFloor(Event):
    """A guaranteed minimum price for a producer's product: the payer tops up the market
    price to the floor on what the producer makes (a cost to the payer, recorded)."""

    kind: Literal["price_floor"]
    product: OxideProduct = Field(
        description="Oxide whose price is floored (one the world has a price for)."
    )
    usd_per_kg: Float = Field(gt=0.0, le=100_000.0, description="The floor, US$/kg.")
    beneficiary: str = Field(description="Producer id (sim/world/data/producers.csv).")
    years: Float = Field(gt=0.0, le=100.0, description="Years the floor runs from `start`.")
    payer: str = Field("government", description="Who pays the top-up (shown in results).")


class PriceLevel(Event):
    """A market's price level moves for reasons outside the model (a price war, a demand
    slump): the anchor price of a product in some tiers becomes `usd_per_kg` (stocks move
    the market price around it)."""

    kind: Literal["price_level"]
    product: PriceProduct = Field(description="Product whose base price moves.")
    tiers: Literal["all"] | list[str] = Field(
        "all", description="Market tiers: china (domestic), ex_china, or 'all'."
    )
    usd_per_kg: Float = Field(gt=0.0, le=100_000.0, description="New base price, US$/kg.")
    end: Date | None = Field(None, description="Date the base price returns; none = never.")

    @field_validator("tiers", mode="before")
    @classmethod
    def _tiers(cls, value: object) -> object:
        return known_names(value, {"china": 0, "ex_china": 1}, "tiers")

    @model_validator(mode="after")
    def _ordered(self) -> PriceLevel:
        check_end_after_start(self.start, self.end)
        return self


class PriceCap(PriceLevel):
    """A ceiling on a product's price in some tiers (a government price control): prices
    reported and seen by producers are at most `usd_per_kg`. Supply and demand do not react
    to the cap itself (the model has no price-driven demand yet)."""

    kind: Literal["price_cap"]  # type: ignore[assignment]
    usd_per_kg: Float = Field(gt=0.0, le=100_000.0, description="The cap, US$/kg.")
    end: Date | None = Field(None, description="Date the cap lapses; none = never.")


class Offtake(Event):
    """A share of a plant's output reserved for some customers, who are served from it first,
    before any other allocation: of a magnet plant, for buyers of a region and sectors (10X
    for US defence); of a separation plant, for the metal plants of a region (Lynas's NdPr
    and heavy rare earths for Japan under its 2023 agreement with JARE)."""

    kind: Literal["offtake"]
    facility: str = Field(
        description="Magnet or separation plant id, or a site or company with such plants."
    )
    share: Float = Field(gt=0.0, le=1.0, description="Share of the plant's output reserved.")
    region: str = Field(
        description="Demand region served (US, EU, JP, ...): its buyers of the plant's magnets, "
        "or its metal plants for a separation plant's oxide."
    )
    sectors: Sectors = Field(
        "all", description="For a magnet plant: the buyers' end-use sectors, or 'all'."
    )
    elements: Literal["all"] | list[str] = Field(
        "all", description="For a separation plant: the oxides reserved (e.g. [NdPr]), or 'all'."
    )
    tonnes_pa: Float | None = Field(
        None,
        gt=0.0,
        le=MAX_TONNES,
        description="For a separation plant: at most this many t REO a year of those oxides "
        "from the plants named, together (none = no limit but the share).",
    )
    years: Float | None = Field(
        None, gt=0.0, le=100.0, description="Years it runs; none = to the end of the horizon."
    )

    @field_validator("elements", mode="before")
    @classmethod
    def _elements(cls, value: object) -> object:
        return known_names(value, ELEMENT_ALIASES, "elements")


class ExportRestraint(Lasting):
    """Magnet makers serve buyers in their own region first and sell abroad only what is left
    (home-first, China-first): a restraint on exports with no quota or licence. Without it,
    buyers everywhere are served pro rata, as trade that follows price would serve them."""

    kind: Literal["export_restraint"]


AnyEvent = Annotated[
    ExportControl
    | ExportRestraint
    | NewCapacity
    | Outage
    | ProductionCap
    | CapacityGrowth
    | DemandGrowth
    | Stockpile
    | PriceFloor
    | PriceLevel
    | PriceCap
    | Offtake
    | Substitution
    | Recycling,
    Field(discriminator="kind"),
]
EVENT_KINDS: tuple[str, ...] = (
    "export_control",
    "export_restraint",
    "new_capacity",
    "outage",
    "production_cap",
    "capacity_growth",
    "demand_growth",
    "stockpile",
    "price_floor",
    "price_level",
    "price_cap",
    "offtake",
    "substitution",
    "recycling",
)

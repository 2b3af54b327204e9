"""The rows of the world's data files (`sim/world/data/*.csv`): one pydantic model a file.

Each model is the contract of its file: its fields are the file's columns (named with their
units), unknown columns are refused, numbers must be finite and within the bounds given here.
A blank cell is an absent value: the field's default if it has one, else an error. Every row
says where its figures come from (`source`) and how far to trust them (`confidence`). The
files are read by `sim.world.data_files`; `sim.world.loader` builds the `World` from the rows.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.config.events import PriceProduct
from sim.units import ELEMENTS, MAGNETS

Confidence = Literal["A", "B", "C", "D", "DERIVED"]
Tier = Literal["china", "ex_china"]
Magnet = Literal["NdFeB", "SmCo", "NdFeB_DyFree"]


def _iso_date_text(value: object) -> object:
    """Refuse date texts other than ``YYYY-MM-DD`` (pydantic would also take timestamps)."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise ValueError("must be a date YYYY-MM-DD")
    return value


def _words(value: object) -> object:
    """A space-separated list of names, as a tuple."""
    return tuple(value.split()) if isinstance(value, str) else value


def _finite_number_text(value: str) -> str:
    """A number kept as written (so that it prints as its source gives it)."""
    try:
        number = float(value)
    except ValueError:
        raise ValueError("must be a number") from None
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return value


def _element(value: str) -> str:
    if value not in ELEMENTS:
        raise ValueError(f"unknown element; expected one of {list(ELEMENTS)}")
    return value


def _material(value: str) -> str:
    if value not in (*MAGNETS, *ELEMENTS):
        raise ValueError(f"must be a magnet of {list(MAGNETS)} or an element of {list(ELEMENTS)}")
    return value


def _country_code(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise ValueError("must be an ISO-2 country code (two capital letters)")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_text)]
Names = Annotated[tuple[str, ...], BeforeValidator(_words)]
NumberText = Annotated[str, AfterValidator(_finite_number_text)]
Element = Annotated[str, AfterValidator(_element)]
Material = Annotated[str, AfterValidator(_material)]
CountryCode = Annotated[str, AfterValidator(_country_code)]


class DataRow(BaseModel):
    """Base of every row: frozen, unknown columns refused, numbers finite, every row sourced."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    source: str = Field(min_length=1, description="Where the row's figures come from.")
    confidence: Confidence = Field(
        description="A: primary source; B: reputable secondary; C: single weak source; "
        "D: background knowledge or a guess; DERIVED: arithmetic from other figures."
    )
    note: str = Field("", description="How the figures were derived, and caveats.")


class CountryRow(DataRow):
    """``countries.csv``: the demand region of every country code used in the data."""

    code: CountryCode = Field(description="ISO-2 code (XX for 'other').")
    name: str = Field(min_length=1, description="Country name.")
    region: str = Field(min_length=1, description="Demand region: US, EU, JP, KR, CN or ROW.")


class OreRow(DataRow):
    """``ores.csv``: the element distribution of an ore type, in percent of its TREO."""

    ore: str = Field(min_length=1, description="Ore type id (mines.csv refers to it).")
    ndpr_percent: float = Field(alias="NdPr", ge=0, le=100, description="Nd + Pr, % of TREO.")
    dy_percent: float = Field(alias="Dy", ge=0, le=100, description="Dysprosium, % of TREO.")
    tb_percent: float = Field(alias="Tb", ge=0, le=100, description="Terbium, % of TREO.")
    sm_percent: float = Field(alias="Sm", ge=0, le=100, description="Samarium, % of TREO.")
    la_percent: float = Field(alias="La", ge=0, le=100, description="Lanthanum, % of TREO.")
    ce_percent: float = Field(alias="Ce", ge=0, le=100, description="Cerium, % of TREO.")
    y_percent: float = Field(alias="Y", ge=0, le=100, description="Yttrium, % of TREO.")
    gd_percent: float = Field(alias="Gd", ge=0, le=100, description="Gadolinium, % of TREO.")
    eu_percent: float = Field(alias="Eu", ge=0, le=100, description="Europium, % of TREO.")
    ho_percent: float = Field(alias="Ho", ge=0, le=100, description="Holmium, % of TREO.")
    er_percent: float = Field(alias="Er", ge=0, le=100, description="Erbium, % of TREO.")
    tm_percent: float = Field(alias="Tm", ge=0, le=100, description="Thulium, % of TREO.")
    yb_percent: float = Field(alias="Yb", ge=0, le=100, description="Ytterbium, % of TREO.")
    lu_percent: float = Field(alias="Lu", ge=0, le=100, description="Lutetium, % of TREO.")
    sc_percent: float = Field(alias="Sc", ge=0, le=100, description="Scandium, % of TREO.")

    def percents(self) -> list[float]:
        """The percentages in the order of `sim.units.ELEMENTS`."""
        return [getattr(self, f"{element.lower()}_percent") for element in ELEMENTS]

    @model_validator(mode="after")
    def _sums_to_100(self) -> OreRow:
        total = sum(self.percents())
        if abs(total - 100.0) > 1e-6:
            raise ValueError(f"the element percentages sum to {total:g}, not 100")
        return self


class MineRow(DataRow):
    """``mines.csv``: a mine's output in the vintage's year."""

    id: str = Field(min_length=1, description="Facility id.")
    name: str = Field(min_length=1, description="Mine or producer name.")
    country: CountryCode = Field(description="ISO-2 country code.")
    ore: str = Field(min_length=1, description="Ore type (an ore of ores.csv).")
    output_t_reo: float = Field(ge=0, description="Output, tonnes REO per year.")
    growth_pa: float = Field(0.0, gt=-1, description="Output growth, fraction per year.")
    secondary: bool = Field(
        False,
        description="Secondary feed (recovered scrap), not mined: outside any mining quota "
        "(capacity_growth does not reach it) and not counted as mine output.",
    )


class PlantRow(DataRow):
    """``plants.csv``: a separation, metal or magnet plant, operating or planned."""

    id: str = Field(min_length=1, description="Facility id.")
    name: str = Field(min_length=1, description="Plant name.")
    country: CountryCode = Field(description="ISO-2 country code.")
    stage: Literal["separation", "metal", "magnet"] = Field(description="Stage of the chain.")
    product: Literal["oxide", "metal", "NdFeB", "SmCo", "NdFeB_DyFree"] = Field(
        description="What it makes."
    )
    capacity_tpa: float = Field(
        ge=0,
        description="Capacity per year: t REO of feed (separation), t of contained metal "
        "(metal), t of finished magnet (magnet).",
    )
    start: IsoDate | None = Field(None, description="Planned start; blank = operating.")
    ramp_months: float = Field(0.0, ge=0, description="Months from start to capacity.")
    recovers: Literal["all", "light"] = Field(
        "all", description="Elements a separation plant recovers (light: La, Ce, NdPr, Sm only)."
    )
    feeds_from: Names = Field((), description="Mine ids a separation plant draws on.")
    priority: int = Field(1, ge=1, description="Claim on its feeds (2 = captive feed).")
    growth_pa: float = Field(0.0, gt=-1, description="Capacity growth, fraction per year.")

    @field_validator("product")
    @classmethod
    def _product_of_its_stage(cls, product: str, info: ValidationInfo) -> str:
        makes = {"separation": ("oxide",), "metal": ("metal",), "magnet": MAGNETS}
        stage = info.data.get("stage")  # absent if the stage was refused
        if stage is not None and product not in makes[stage]:
            raise ValueError(f"a {stage} plant makes {' or '.join(makes[stage])}")
        return product


class HistoryRow(DataRow):
    """``history.csv``: one dated fact about a facility, and when it was public."""

    facility: str = Field(min_length=1, description="Facility id.")
    date: IsoDate = Field(description="When it happened or is planned to.")
    event: Literal["start", "halt", "status"] = Field(
        description="start: a capacity tranche from `date`; halt: earlier tranches end at "
        "`date`; status: documents the timeline, no effect."
    )
    capacity_tpa: float | None = Field(None, ge=0, description="For start: capacity per year.")
    ramp_months: float = Field(0.0, ge=0, description="For start: months to capacity.")
    known_by: IsoDate = Field(description="When the fact or plan was public.")
    use: Literal["input", "validation"] = Field(
        description="input: a vintage may know it; validation: what happened, never an input."
    )

    @model_validator(mode="after")
    def _start_has_capacity(self) -> HistoryRow:
        if self.use == "input" and self.event == "start" and self.capacity_tpa is None:
            raise ValueError("an input 'start' needs capacity_tpa")
        return self


class DemandRow(DataRow):
    """``demand.csv``: the buyers of one material in one region and sector."""

    region: str = Field(min_length=1, description="Demand region.")
    sector: str = Field(min_length=1, description="End-use sector.")
    material: Material = Field(
        description="NdFeB, SmCo, NdFeB_DyFree, or an element bought as such."
    )
    demand_t: float = Field(
        ge=0,
        description="Demand in the vintage's year: t of magnet, or t REO for an element.",
    )
    growth_pa: float = Field(gt=-1, description="Demand growth, fraction per year.")
    cover_weeks: float = Field(ge=0, description="Stock the buyers hold, weeks of demand.")
    priority: int = Field(ge=1, description="Served before lower priorities (defence: higher).")


class RouteRow(DataRow):
    """``routes.csv``: the lead time of shipments from one region to another."""

    origin_region: str = Field(min_length=1, description="Region shipped from.")
    destination_region: str = Field(min_length=1, description="Region shipped to.")
    lead_time_days: float = Field(ge=0, description="Days from shipment to arrival.")


class RecipeRow(DataRow):
    """``recipes.csv``: an element's content in a magnet."""

    product: Magnet = Field(description="Magnet.")
    element: Element = Field(description="Element (of sim.units.ELEMENTS).")
    kg_per_kg: float = Field(ge=0, le=1, description="kg of contained element per kg magnet.")


class ParameterRow(DataRow):
    """``parameters.csv``: a named model parameter."""

    name: str = Field(min_length=1, description="Parameter name.")
    value: float = Field(description="Its value, in `unit`.")
    unit: str = Field(min_length=1, description="Unit of the value.")


class PriceRow(DataRow):
    """``prices.csv``: a product's base price in one market tier."""

    product: PriceProduct = Field(description="Priced product.")
    tier: Tier = Field(description="Market tier: china (domestic) or ex_china.")
    usd_per_kg: float = Field(gt=0, description="Base price, US$ per kg.")


class ProducerRow(DataRow):
    """``producers.csv``: facilities that stand or fall together on one product's price."""

    id: str = Field(min_length=1, description="Producer id.")
    facilities: Names = Field(min_length=1, description="Its facility ids, space-separated.")
    product: PriceProduct = Field(description="Product whose price it watches.")
    tier: Tier = Field(description="Market tier it sells in.")
    cash_cost_usd_per_kg: float = Field(gt=0, description="Cash cost, US$ per kg of product.")
    curtail_after_months: float = Field(ge=0, description="Months below cost before curtailing.")
    curtail_share: float = Field(ge=0, le=1, description="Share of capacity curtailed.")
    idle_after_months: float = Field(ge=0, description="Months below cost before idling.")
    restart_months: float = Field(ge=0, description="Months at or above cost before restarting.")


class OwnerRow(DataRow):
    """``owners.csv``: the company that owns a facility and the site it stands on, so that a
    scenario may name a company or a site and reach all its facilities."""

    facility: str = Field(min_length=1, description="Facility id (mines.csv or plants.csv).")
    company: str = Field(pattern=r"^[a-z0-9_]+$", description="Company id, e.g. lynas.")
    site: str = Field(pattern=r"^[a-z0-9_]+$", description="Site id, e.g. lynas_malaysia.")


class SupplyResponseRow(DataRow):
    """``supply_response.csv``: facilities whose capacity stands above or below its trend
    (their ``growth_pa``) as the price of their product stands above or below its base."""

    id: str = Field(min_length=1, description="Rule id.")
    facilities: Names = Field(min_length=1, description="Its facility ids, space-separated.")
    product: PriceProduct = Field(description="Product whose price it watches.")
    tier: Tier = Field(description="Market tier it sells in.")
    elasticity: float = Field(
        ge=0, le=5, description="Capacity's elasticity to price (of the level over trend)."
    )
    level_min: float = Field(gt=0, le=1, description="Lowest level over trend.")
    level_max: float = Field(ge=1, le=10, description="Highest level over trend.")
    lag_months: float = Field(
        ge=0, le=120, description="Time constant of the move to the level price sets."
    )


class DemandResponseRow(DataRow):
    """``demand_response.csv``: a sector's short-run price elasticity of use."""

    sector: str = Field(min_length=1, description="End-use sector (as in demand.csv).")
    elasticity: float = Field(
        ge=0, le=2, description="Short-run price elasticity of use, as a magnitude (0: none)."
    )


class IntensityRow(DataRow):
    """``intensities.csv``: a product that end-use buyers make, and its magnet per unit."""

    product: str = Field(min_length=1, description="Product id (unit_plans.csv refers to it).")
    sector: str = Field(min_length=1, description="End-use sector whose magnets it takes.")
    material: Magnet = Field(description="Magnet it uses.")
    unit: str = Field(min_length=1, description="What one unit is (car, MW, aircraft...).")
    kg_per_unit: float = Field(gt=0, description="kg of finished magnet a unit, central.")
    kg_low: float = Field(gt=0, description="Lowest sourced kg a unit.")
    kg_high: float = Field(gt=0, description="Highest sourced kg a unit.")
    whole_sector: bool = Field(
        description="true: the product takes all its sector's magnets; false: a part of them."
    )

    @model_validator(mode="after")
    def _ordered_band(self) -> IntensityRow:
        if not self.kg_low <= self.kg_per_unit <= self.kg_high:
            raise ValueError("needs kg_low <= kg_per_unit <= kg_high")
        return self


class UnitPlanRow(DataRow):
    """``unit_plans.csv``: the units of a product a region's buyers make in the base year."""

    region: str = Field(min_length=1, description="Demand region.")
    product: str = Field(min_length=1, description="Product (of intensities.csv).")
    units: float = Field(gt=0, description="Units made in the world's base year.")
    growth_pa: float | None = Field(
        None, gt=-1, description="Growth, fraction a year (blank: its buyers' demand growth)."
    )
    usd_per_unit: float = Field(gt=0, description="Value of one unit, US$.")


class GdpMultiplierRow(DataRow):
    """``gdp_multipliers.csv``: the input-output industry of a region's product and the
    domestic value added (GDP) a US$ of its final output carries, direct and indirect."""

    region: str = Field(min_length=1, description="Demand region (a unit plan's).")
    product: str = Field(min_length=1, description="Product (of intensities.csv).")
    industry_code: str = Field(min_length=1, description="BEA summary industry code.")
    industry: str = Field(min_length=1, description="BEA industry name.")
    va_per_usd: float = Field(
        gt=0, le=1, description="Type I value added (GDP) per US$ of final output, 0-1."
    )


class TargetRow(DataRow):
    """``targets.csv``: a calibration target, printed as written by ``sim calibrate``."""

    measure: str = Field(min_length=1, description="Calibration measure (sim.runs.tables).")
    target: NumberText = Field(description="Target value, in the measure's unit.")
    low: NumberText | None = Field(None, description="Lowest acceptable value.")
    high: NumberText | None = Field(None, description="Highest acceptable value.")


class VintageRow(DataRow):
    """``vintages.csv``: a year the embedded world comes in, and what it knew."""

    year: int = Field(ge=1900, le=2200, description="The world's base year.")
    cutoff: IsoDate = Field(description="Last day of information the vintage may use.")
    folder: str = Field(
        "", description="Folder of its own files (blank: the files at the top of data/)."
    )

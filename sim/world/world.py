"""The world a scenario runs on: mines, plants, buyers, routes, recipes and prices.

A `World` is plain, immutable data (already in model units: tonnes of contained element, or of
magnet); `sim.world.loader` builds it from the sourced CSV files in `sim/world/data/`.
Facilities carry a list of capacity tranches so that a plant that exists, a plant being built
and an expansion are one mechanism: capacity = sum of tranches, each ramping from its start
date to its nameplate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np

from sim.units import ELEMENTS, MAGNETS

STAGES: tuple[str, ...] = ("mine", "separation", "metal", "magnet")


@dataclass(frozen=True)
class Tranche:
    """A block of capacity: nameplate per year, reached ``ramp_months`` after ``start``.

    ``start=None`` means operating before any horizon starts; ``end=None`` means never closing
    (a dated halt, such as a stockpile worked out, sets ``end``). A tranche added by a scenario
    event records the event's index, so that a sweep's per-sample draws of its start,
    nameplate and ramp reach it.
    """

    capacity_tpa: float
    start: dt.date | None = None
    ramp_months: float = 0.0
    event: int | None = None  # index of the scenario event that added it (per-sample values)
    end: dt.date | None = None


@dataclass(frozen=True)
class Facility:
    """A mine or a plant.

    Units of ``capacity_tpa``: mine and separation, tonnes REO per year (output and feed);
    metal, tonnes of contained rare-earth metal per year; magnet, tonnes of magnet per year.
    """

    id: str
    name: str
    country: str
    stage: str
    product: str
    tranches: tuple[Tranche, ...]
    ore: str = ""
    recovers: str = "all"
    feeds_from: tuple[str, ...] = ()
    priority: int = 1
    growth_pa: float = 0.0
    secondary: bool = False  # a mine row that is recovered scrap, not ore (mines.csv)


@dataclass(frozen=True)
class Buyer:
    """Users of one material in one region and sector.

    ``demand_tpa`` is tonnes of magnet per year for NdFeB and SmCo, tonnes of contained element
    per year for an element; it grows by ``growth_pa`` a year from the middle of ``base_year``.
    """

    region: str
    sector: str
    material: str
    demand_tpa: float
    growth_pa: float
    cover_weeks: float
    priority: int


@dataclass(frozen=True)
class Producer:
    """A company's facilities that stand or fall together on one product's price.

    While its realised price (market, or a floor) is below ``cash_cost_usd_per_kg`` for
    ``curtail_after_months`` it runs at ``1 - curtail_share`` of capacity; after
    ``idle_after_months`` it stops; after ``restart_months`` at or above cost it runs again.
    """

    id: str
    facilities: tuple[str, ...]
    product: str
    tier: str
    cash_cost_usd_per_kg: float
    curtail_after_months: float
    curtail_share: float
    idle_after_months: float
    restart_months: float


@dataclass(frozen=True)
class SupplyResponse:
    """Facilities whose capacity moves, over ``lag_months``, to ``(price / base) **
    elasticity`` times its trend (their ``growth_pa``), within ``level_min .. level_max``, on
    the price of ``product`` in ``tier`` (a quota set on last year's market, idle capacity
    brought back, a mine expanded)."""

    id: str
    facilities: tuple[str, ...]
    product: str
    tier: str
    elasticity: float
    level_min: float
    level_max: float
    lag_months: float


@dataclass(frozen=True)
class World:
    """Everything the model needs besides the scenario's events."""

    base_year: int
    countries: dict[str, str]
    ores: dict[str, np.ndarray]
    facilities: tuple[Facility, ...]
    buyers: tuple[Buyer, ...]
    lead_days: dict[tuple[str, str], float]
    recipes: dict[str, np.ndarray]
    parameters: dict[str, float]
    prices_usd_per_kg: dict[tuple[str, str], float] = field(default_factory=dict)
    producers: tuple[Producer, ...] = ()
    supply_responses: tuple[SupplyResponse, ...] = ()
    demand_elasticity: dict[str, float] = field(default_factory=dict)  # by sector (magnitude)
    sites: dict[str, tuple[str, ...]] = field(default_factory=dict)  # site: its facility ids
    companies: dict[str, tuple[str, ...]] = field(default_factory=dict)  # company: facility ids

    def __post_init__(self) -> None:
        """Every magnet has a recipe: one the world leaves out holds no rare earth (a world
        built without Dy-free NdFeB, say, neither makes nor buys it)."""
        missing = [m for m in MAGNETS if m not in self.recipes]
        if missing:
            width = len(next(iter(self.recipes.values()), np.zeros(len(ELEMENTS))))
            full = {**self.recipes, **{m: np.zeros(width) for m in missing}}
            object.__setattr__(self, "recipes", full)

    def named(self, name: str) -> tuple[str, ...]:
        """The facility ids a scenario's name reaches: a site's facilities, a company's, or
        the facility of that id (a site named like one of its facilities means the site);
        none for an unknown name."""
        if name in self.sites:
            return self.sites[name]
        if name in self.companies:
            return self.companies[name]
        return (name,) if any(f.id == name for f in self.facilities) else ()

    def region(self, country: str) -> str:
        """The demand region a country belongs to."""
        return self.countries[country]

    def facility(self, facility_id: str) -> Facility:
        """The facility with this id (KeyError if none)."""
        for fac in self.facilities:
            if fac.id == facility_id:
                return fac
        raise KeyError(facility_id)

    def by_stage(self, stage: str) -> tuple[Facility, ...]:
        """Facilities of one stage, in data order."""
        return tuple(f for f in self.facilities if f.stage == stage)

    def with_facility(self, fac: Facility) -> World:
        """A copy with ``fac`` added, or replacing the facility of the same id."""
        kept = [f for f in self.facilities if f.id != fac.id]
        if len(kept) == len(self.facilities):
            return replace(self, facilities=(*self.facilities, fac))
        facs = tuple(fac if f.id == fac.id else f for f in self.facilities)
        return replace(self, facilities=facs)

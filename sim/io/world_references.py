"""Checks of the references a scenario makes to its world, which the schema cannot check.

Facility ids, countries and regions, sectors, materials, producers, and a horizon within the
vintage. Each problem is an `InputError` at the file and line of the field that names the
unknown thing, with a 'did you mean' from the world's own names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from sim.config.events import (
    CapacityGrowth,
    DemandGrowth,
    ExportControl,
    NewCapacity,
    Offtake,
    Outage,
    PriceFloor,
    ProductionCap,
    Recycling,
    Stockpile,
    Substitution,
)
from sim.config.scenario import Scenario
from sim.io.input_text import nearest
from sim.io.scenario_validation import locate
from sim.io.yaml_lines import Lines
from sim.world.world import Buyer, World

#: The problem with a name that is no facility, site or company of the world.
UNKNOWN_NAME = "unknown facility, site or company (sim/world/data/owners.csv)"
#: The buyers' attribute each list of a substitution names.
SUBSTITUTION_NAMES = {"regions": "region", "sectors": "sector", "materials": "material"}


@dataclass(frozen=True)
class _Reporter:
    """Raises a problem at the file and line of one field of one event."""

    lines: Lines
    file: str

    def fail(self, index: int, field: str | tuple[Any, ...], problem: str, value: Any) -> NoReturn:
        """Raise ``problem`` at field ``field`` of event ``index`` (a name, or a path below
        the event such as ``("general_licences", 0, "regions")``)."""
        below = field if isinstance(field, tuple) else (field,)
        place = locate(("events", index, *below), self.lines, self.file)
        raise place.error(problem, value, has_value=True)

    def require(
        self, index: int, field: str | tuple[Any, ...], name: str, known: set[str], problem: str
    ) -> None:
        """Fail with ``problem; did you mean ...`` unless ``name`` is one of ``known``."""
        if name not in known:
            self.fail(index, field, f"{problem}; {nearest(name, known)}", name)

    def require_each(
        self, index: int, field: str | tuple[Any, ...], names: Any, known: set[str], problem: str
    ) -> None:
        """`require` each of ``names``, unless they are 'all'."""
        for name in () if names == "all" else names:
            self.require(index, field, name, known, problem)


def check_against_world(scenario: Scenario, world: World, lines: Lines, file: str) -> None:
    """References the schema alone cannot check: facilities, countries, horizon vs world."""
    _check_horizon(scenario, world, lines, file)
    report = _Reporter(lines, file)
    facility_ids = {facility.id for facility in world.facilities}
    for index, event in enumerate(scenario.events):
        facility_ids = _check_event(index, event, world, facility_ids, report)


def _check_horizon(scenario: Scenario, world: World, lines: Lines, file: str) -> None:
    """The horizon starts in or after the world's base year."""
    if scenario.horizon.start.year >= world.base_year:
        return
    raise locate(("horizon", "start"), lines, file).error(
        f"this world is as of {world.base_year}; the horizon may not start "
        "before that year (choose an earlier vintage, e.g. world: "
        "default@2009)",
        scenario.horizon.start.isoformat(),
        has_value=True,
    )


def _check_event(
    index: int, event: Any, world: World, facility_ids: set[str], report: _Reporter
) -> set[str]:
    """One event's references; returns the facility ids known after it (a new facility of a
    new-capacity event may be named by later events)."""
    if isinstance(event, (Outage, ProductionCap)):
        names = facility_ids | set(world.sites) | set(world.companies)
        report.require(index, "facility", event.facility, names, UNKNOWN_NAME)
    if isinstance(event, NewCapacity):
        facility_ids = _check_new_capacity(index, event, world, facility_ids, report)
    if isinstance(event, Stockpile):
        _check_stockpile(index, event, world, report)
    if isinstance(event, Offtake):
        _check_offtake(index, event, world, report)
    if isinstance(event, (Substitution, DemandGrowth)):
        _check_buyer_names(index, event, world, report)
    if isinstance(event, Recycling):
        _check_recycling(index, event, world, report)
    if isinstance(event, PriceFloor):
        _check_price_floor(index, event, world, report)
    if isinstance(event, CapacityGrowth):
        _check_capacity_growth(index, event, world, report)
    if isinstance(event, ExportControl):
        _check_general_licences(index, event, world, facility_ids, report)
    _check_exporter(index, event, world, report)
    _check_places(index, event, world, report)
    _check_sectors(index, event, world, report)
    return facility_ids


def _check_new_capacity(
    index: int, event: NewCapacity, world: World, facility_ids: set[str], report: _Reporter
) -> set[str]:
    """A new facility says its stage and a known country, and feeds from known mines."""
    if event.facility in facility_ids:
        return facility_ids
    if event.stage is None:
        report.fail(
            index,
            "stage",
            f"'{event.facility}' is a new facility (no such id; "
            f"{nearest(event.facility, facility_ids)}): it needs 'stage'",
            None,
        )
    if event.country is None:
        report.fail(index, "country", "a new facility needs 'country' (ISO-2 code)", None)
    report.require(index, "country", event.country, set(world.countries), "unknown country")
    mines = {facility.id for facility in world.by_stage("mine")}
    for mine in event.feeds_from or ():
        report.require(index, "feeds_from", mine, mines, "unknown mine")
    return facility_ids | {event.facility}


def _check_stockpile(index: int, event: Stockpile, world: World, report: _Reporter) -> None:
    """The stockpile's region has buyers of its material, in the sectors it names."""
    _check_region(index, event, world, report)
    in_region = [buyer for buyer in world.buyers if buyer.region == event.region]
    materials = {buyer.material for buyer in in_region}
    no_buyers = f"no buyers of it in {event.region}"
    report.require(index, "material", event.material, materials, no_buyers)
    _check_stockpile_sectors(index, event, in_region, report)


def _check_stockpile_sectors(
    index: int, event: Stockpile, in_region: list[Buyer], report: _Reporter
) -> None:
    """The sectors a stockpile names have buyers of its material in its region."""
    sectors = {buyer.sector for buyer in in_region if buyer.material == event.material}
    no_sector = f"no {event.material} buyers of this sector in {event.region}"
    report.require_each(index, "sectors", event.sectors, sectors, no_sector)


def _check_region(index: int, event: Stockpile | Offtake, world: World, report: _Reporter) -> None:
    """The event's region is one where the world has buyers."""
    regions = {buyer.region for buyer in world.buyers}
    report.require(index, "region", event.region, regions, "unknown demand region")


def _check_offtake(index: int, event: Offtake, world: World, report: _Reporter) -> None:
    """Magnet plants (buyers in the region and sectors named) or, for a name that reaches no
    magnet plant, separation plants (metal plants in the region); named as plants or as a
    site or company with them."""
    stage = _offtake_stage(world, event.facility)
    if stage is None:
        plants = {f.id for f in world.by_stage("magnet") + world.by_stage("separation")}
        names = plants | _groups_with(world, plants)
        report.require(index, "facility", event.facility, names, "not a magnet or separation plant")
    if stage == "magnet":
        for field, given in (("elements", event.elements != "all"), ("tonnes_pa", event.tonnes_pa)):
            if given:
                problem = (
                    "only for a separation plant's oxide (a magnet plant's offtake is a share)"
                )
                report.fail(index, field, problem, getattr(event, field))
        _check_region(index, event, world, report)
        sectors = {buyer.sector for buyer in world.buyers if buyer.region == event.region}
        report.require_each(index, "sectors", event.sectors, sectors, "unknown sector")
        return
    if event.sectors != "all":
        problem = "a separation plant's offtake serves the region's metal plants, not sectors"
        report.fail(index, "sectors", problem, event.sectors)
    metal = {world.region(f.country) for f in world.by_stage("metal")}
    report.require(index, "region", event.region, metal, "no metal plant in that region")


def _offtake_stage(world: World, name: str) -> str | None:
    """What an offtake's facility name reserves: "magnet" if it reaches a magnet plant (a
    company's magnet plants, not its separation), else "separation" if it reaches a
    separation plant, else None."""
    ids = set(world.named(name))
    for stage in ("magnet", "separation"):
        if ids & {facility.id for facility in world.by_stage(stage)}:
            return stage
    return None


def _groups_with(world: World, facilities: set[str]) -> set[str]:
    """The sites and companies that have one of ``facilities``."""
    groups = {**world.sites, **world.companies}
    return {name for name, members in groups.items() if facilities & set(members)}


def _check_buyer_names(
    index: int, event: Substitution | DemandGrowth, world: World, report: _Reporter
) -> None:
    """The regions, sectors and materials named are those of the world's buyers."""
    for field, attribute in SUBSTITUTION_NAMES.items():
        names = {getattr(buyer, attribute) for buyer in world.buyers}
        report.require_each(index, field, getattr(event, field), names, "unknown name")


def _check_recycling(index: int, event: Recycling, world: World, report: _Reporter) -> None:
    """A known demand region, and a separation plant to take the scrap."""
    regions = {buyer.region for buyer in world.buyers}
    report.require(index, "region", event.region, regions, "unknown demand region")
    separation_plants = {facility.id for facility in world.by_stage("separation")}
    report.require(index, "facility", event.facility, separation_plants, "not a separation plant")


def _check_price_floor(index: int, event: PriceFloor, world: World, report: _Reporter) -> None:
    """The beneficiary is a producer that sells the floored product, or a company or site
    with separation plants; the product has a price in the world."""
    producers = {producer.id: producer for producer in world.producers}
    separators = {facility.id for facility in world.by_stage("separation")}
    unknown = (
        "unknown producer (sim/world/data/producers.csv), or company or site with "
        "separation plants (owners.csv)"
    )
    names = set(producers) | _groups_with(world, separators)
    report.require(index, "beneficiary", event.beneficiary, names, unknown)
    priced = {product for product, _tier in world.prices_usd_per_kg}
    report.require(index, "product", event.product, priced, "no price in this world (prices.csv)")
    if event.beneficiary not in producers:
        return
    sold = producers[event.beneficiary].product
    if sold != event.product:
        report.fail(index, "product", f"producer '{event.beneficiary}' sells {sold}", event.product)


def _check_capacity_growth(
    index: int, event: CapacityGrowth, world: World, report: _Reporter
) -> None:
    """A growth change names a known country that has facilities of its stages."""
    report.require(index, "country", event.country, set(world.countries), "unknown country")
    stages = {f.stage for f in world.facilities if f.country == event.country}
    if not stages & set(event.stages):
        report.fail(
            index,
            "stages",
            f"{event.country} has no facility of these stages (it has {sorted(stages)})",
            event.stages,
        )


def _check_general_licences(
    index: int, event: ExportControl, world: World, facility_ids: set[str], report: _Reporter
) -> None:
    """A general licence names facilities, sites or companies, and buyers' regions and
    sectors, that the world has."""
    names = facility_ids | set(world.sites) | set(world.companies)
    regions = {buyer.region for buyer in world.buyers}
    sectors = {buyer.sector for buyer in world.buyers}
    for j, licence in enumerate(event.general_licences):
        for k, name in enumerate(licence.exporters):
            report.require(
                index, ("general_licences", j, "exporters", k), name, names, UNKNOWN_NAME
            )
        report.require_each(
            index, ("general_licences", j, "regions"), licence.regions, regions, "unknown region"
        )
        report.require_each(
            index, ("general_licences", j, "sectors"), licence.sectors, sectors, "unknown sector"
        )


def _check_exporter(index: int, event: Any, world: World, report: _Reporter) -> None:
    """An exporter, if the event has one, is a known country."""
    exporter = getattr(event, "exporter", None)
    if exporter is not None:
        report.require(index, "exporter", exporter, set(world.countries), "unknown country")


def _check_places(index: int, event: Any, world: World, report: _Reporter) -> None:
    """Destinations and licensees are countries or regions."""
    places = set(world.countries) | set(world.countries.values())
    destinations = getattr(event, "destinations", "all")
    report.require_each(index, "destinations", destinations, places, "unknown country or region")
    for place in getattr(event, "general_licence", ()):
        report.require(index, "general_licence", place, places, "unknown country or region")


def _check_sectors(index: int, event: Any, world: World, report: _Reporter) -> None:
    """The sectors an event names are sectors of the world's buyers."""
    sectors = getattr(event, "sectors", "all")
    known_sectors = {buyer.sector for buyer in world.buyers}
    report.require_each(index, "sectors", sectors, known_sectors, "unknown sector")

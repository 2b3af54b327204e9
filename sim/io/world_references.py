"""The references a scenario makes to its world, which the schema alone cannot check: facility
ids, countries and regions, sectors, materials, producers, and a horizon within the vintage.

Each problem is an `InputError` at the file and line of the field that names the unknown thing,
with a 'did you mean' from the world's own names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from sim.config.events import (
    NewCapacity,
    Offtake,
    Outage,
    PriceFloor,
    Recycling,
    Stockpile,
    Substitution,
)
from sim.config.scenario import Scenario
from sim.errors import InputError
from sim.io.input_text import nearest
from sim.io.scenario_validation import locate
from sim.io.yaml_lines import Lines
from sim.world.world import World


@dataclass(frozen=True)
class _Reporter:
    """Raises a problem at the file and line of one field of one event."""

    lines: Lines
    file: str

    def fail(self, index: int, field: str, problem: str, value: Any) -> NoReturn:
        where_file, line, path = locate(("events", index, field), self.lines, self.file)
        raise InputError(
            problem, file=where_file, line=line, path=path, value=value, has_value=True
        )


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
    where_file, line, path = locate(("horizon", "start"), lines, file)
    raise InputError(
        f"this world is as of {world.base_year}; the horizon may not start "
        "before that year (choose an earlier vintage, e.g. world: "
        "default@2009)",
        file=where_file,
        line=line,
        path=path,
        value=scenario.horizon.start.isoformat(),
        has_value=True,
    )


def _check_event(
    index: int, event: Any, world: World, facility_ids: set[str], report: _Reporter
) -> set[str]:
    """One event's references; returns the facility ids known after it (a new facility of a
    new-capacity event may be named by later events)."""
    if isinstance(event, Outage) and event.facility not in facility_ids:
        report.fail(
            index,
            "facility",
            f"unknown facility; {nearest(event.facility, facility_ids)}",
            event.facility,
        )
    if isinstance(event, NewCapacity):
        facility_ids = _check_new_capacity(index, event, world, facility_ids, report)
    if isinstance(event, Stockpile):
        _check_stockpile(index, event, world, report)
    if isinstance(event, Offtake):
        _check_offtake(index, event, world, report)
    if isinstance(event, (Substitution, Recycling)):
        _check_demand_response(index, event, world, report)
    if isinstance(event, PriceFloor):
        _check_price_floor(index, event, world, report)
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
    elif event.country not in world.countries:
        report.fail(
            index,
            "country",
            f"unknown country; {nearest(event.country, set(world.countries))}",
            event.country,
        )
    mines = {facility.id for facility in world.by_stage("mine")}
    for mine in event.feeds_from or ():
        if mine not in mines:
            report.fail(index, "feeds_from", f"unknown mine; {nearest(mine, mines)}", mine)
    return facility_ids | {event.facility}


def _check_stockpile(index: int, event: Stockpile, world: World, report: _Reporter) -> None:
    """The stockpile's region has buyers of its material, in the sectors it names."""
    regions = {buyer.region for buyer in world.buyers}
    if event.region not in regions:
        report.fail(
            index,
            "region",
            f"unknown demand region; {nearest(event.region, regions)}",
            event.region,
        )
    materials = {buyer.material for buyer in world.buyers if buyer.region == event.region}
    if event.material not in materials:
        report.fail(
            index,
            "material",
            f"no buyers of it in {event.region}; {nearest(event.material, materials)}",
            event.material,
        )
    sectors = {
        buyer.sector
        for buyer in world.buyers
        if buyer.region == event.region and buyer.material == event.material
    }
    for sector in () if event.sectors == "all" else event.sectors:
        if sector not in sectors:
            report.fail(
                index,
                "sectors",
                f"no {event.material} buyers of this sector in {event.region}; "
                f"{nearest(sector, sectors)}",
                sector,
            )


def _check_offtake(index: int, event: Offtake, world: World, report: _Reporter) -> None:
    """A magnet plant, and buyers in the region and sectors named."""
    magnets = {facility.id for facility in world.by_stage("magnet")}
    if event.facility not in magnets:
        report.fail(
            index,
            "facility",
            f"not a magnet plant; {nearest(event.facility, magnets)}",
            event.facility,
        )
    regions = {buyer.region for buyer in world.buyers}
    if event.region not in regions:
        report.fail(
            index,
            "region",
            f"unknown demand region; {nearest(event.region, regions)}",
            event.region,
        )
    sectors = {buyer.sector for buyer in world.buyers if buyer.region == event.region}
    for sector in () if event.sectors == "all" else event.sectors:
        if sector not in sectors:
            report.fail(index, "sectors", f"unknown sector; {nearest(sector, sectors)}", sector)


def _check_demand_response(
    index: int, event: Substitution | Recycling, world: World, report: _Reporter
) -> None:
    """Names a substitution or recycling event uses exist among the world's buyers/plants."""
    known = {
        "regions": {buyer.region for buyer in world.buyers},
        "sectors": {buyer.sector for buyer in world.buyers},
        "materials": {buyer.material for buyer in world.buyers},
    }
    if isinstance(event, Recycling):
        _check_recycling(index, event, world, known["regions"], report)
        return
    for field, names in known.items():
        value = getattr(event, field)
        for name in () if value == "all" else value:
            if name not in names:
                report.fail(index, field, f"unknown name; {nearest(name, names)}", name)


def _check_recycling(
    index: int, event: Recycling, world: World, regions: set[str], report: _Reporter
) -> None:
    """A known demand region, and a separation plant to take the scrap."""
    if event.region not in regions:
        report.fail(
            index,
            "region",
            f"unknown demand region; {nearest(event.region, regions)}",
            event.region,
        )
    separation_plants = {facility.id for facility in world.by_stage("separation")}
    if event.facility not in separation_plants:
        report.fail(
            index,
            "facility",
            f"not a separation plant; {nearest(event.facility, separation_plants)}",
            event.facility,
        )


def _check_price_floor(index: int, event: PriceFloor, world: World, report: _Reporter) -> None:
    """The beneficiary is a producer that sells the floored product."""
    producers = {producer.id: producer for producer in world.producers}
    if event.beneficiary not in producers:
        report.fail(
            index,
            "beneficiary",
            "unknown producer (sim/world/data/producers.csv); "
            f"{nearest(event.beneficiary, set(producers))}",
            event.beneficiary,
        )
    sold = producers[event.beneficiary].product
    if sold != event.product:
        report.fail(index, "product", f"producer '{event.beneficiary}' sells {sold}", event.product)


def _check_places(index: int, event: Any, world: World, report: _Reporter) -> None:
    """An exporter is a known country; destinations and licensees are countries or regions."""
    countries = set(world.countries)
    places = countries | set(world.countries.values())
    exporter = getattr(event, "exporter", None)
    if exporter is not None and exporter not in countries:
        report.fail(index, "exporter", f"unknown country; {nearest(exporter, countries)}", exporter)
    destinations = getattr(event, "destinations", "all")
    for place in () if destinations == "all" else destinations:
        if place not in places:
            report.fail(
                index,
                "destinations",
                f"unknown country or region; {nearest(place, places)}",
                place,
            )
    for place in getattr(event, "general_licence", ()):
        if place not in places:
            report.fail(
                index,
                "general_licence",
                f"unknown country or region; {nearest(place, places)}",
                place,
            )


def _check_sectors(index: int, event: Any, world: World, report: _Reporter) -> None:
    """The sectors an event names are sectors of the world's buyers."""
    sectors = getattr(event, "sectors", "all")
    known_sectors = {buyer.sector for buyer in world.buyers}
    for sector in () if sectors == "all" else sectors:
        if sector not in known_sectors:
            report.fail(
                index, "sectors", f"unknown sector; {nearest(sector, known_sectors)}", sector
            )

"""The embedded world's vintages, each built from its data files once per process.

``vintages.csv`` lists the years the world comes in (``default`` is today's, 2024). A vintage's
world is built from its own files (``vintages/YEAR/``) where it has them, the shared files at
the top of ``sim/world/data/`` otherwise, plus the rows of ``history.csv`` it knew of.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

import numpy as np

from sim.units import ELEMENT_INDEX, ELEMENTS, MAGNETS, REO_TO_ELEMENT
from sim.world import data_files
from sim.world.data_files import has_own, located_rows, read_rows
from sim.world.history import apply_history
from sim.world.rows import (
    CountryRow,
    DemandResponseRow,
    DemandRow,
    HistoryRow,
    MineRow,
    OreRow,
    OwnerRow,
    ParameterRow,
    PlantRow,
    PriceRow,
    ProducerRow,
    RecipeRow,
    RouteRow,
    SupplyResponseRow,
    TargetRow,
    VintageRow,
)
from sim.world.world import Buyer, Facility, Producer, SupplyResponse, Tranche, World

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

#: The year of the world called ``default``.
DEFAULT_YEAR = 2024


def world_names() -> list[str]:
    """Every name a scenario's ``world:`` may take."""
    return ["default", *(f"default@{year}" for year in sorted(vintages(data_files.DATA)))]


def default_world() -> World:
    """The embedded default world (2024 vintage), built once per process."""
    return vintage_world("default")


def vintage_world(name: str) -> World:
    """The embedded world ``default`` (= ``default@2024``) or ``default@YEAR``, built once.

    Raises:
        KeyError: if there is no such vintage.
        InputError: if a data file has a bad row (its file, line and column).
    """
    # a Traversable is a path: hashable, though its protocol does not say so
    return built_world(_year_of(name), data_files.DATA)  # type: ignore[arg-type]


def calibration_targets(name: str) -> dict[str, TargetRow]:
    """The calibration targets of a world (``targets.csv`` of its vintage), by measure.

    Raises:
        KeyError: if there is no such vintage.
    """
    root = data_files.DATA
    vintage = _vintage(root, _year_of(name), name)
    return {row.measure: row for row in read_rows(TargetRow, "targets.csv", vintage.folder, root)}


def vintages(root: Traversable) -> dict[int, VintageRow]:
    """The vintages the world in ``root`` comes in, by year (``vintages.csv``)."""
    return {row.year: row for row in read_rows(VintageRow, "vintages.csv", "", root)}


def _vintage(root: Traversable, year: int, name: str) -> VintageRow:
    """The vintage of ``year`` in ``root``; a `KeyError` naming the world ``name`` if none."""
    vintage = vintages(root).get(year)
    if vintage is None:
        raise KeyError(name)
    return vintage


def _year_of(name: str) -> int:
    """The year of a world name: ``default`` or ``default@YEAR``."""
    match = re.fullmatch(r"default(?:@([0-9]{4}))?", name)
    if match is None:
        raise KeyError(name)
    return int(match.group(1) or DEFAULT_YEAR)


@functools.cache
def built_world(year: int, root: Traversable) -> World:
    """The world of the vintage of ``year`` in the data folder ``root``, built once.

    A cache keyed on immutable inputs (a year and a data folder, whose files do not change
    while the process runs), shared by every run in the process: safe because a `World` is
    never changed once built (frozen dataclasses; nothing writes to its arrays or mappings,
    and a scenario's changes make a new `World`).

    Raises:
        KeyError: if ``root`` has no vintage of that year.
    """
    return build_world(_vintage(root, year, f"default@{year}"), root)


def build_world(vintage: VintageRow, root: Traversable) -> World:
    """The world of one vintage, read from the data folder ``root``."""
    folder = vintage.folder
    countries = read_rows(CountryRow, "countries.csv", folder, root)
    ores = read_rows(OreRow, "ores.csv", folder, root)
    facilities = _facilities(vintage, root)
    demand = read_rows(DemandRow, "demand.csv", folder, root)
    routes = read_rows(RouteRow, "routes.csv", folder, root)
    recipes = read_rows(RecipeRow, "recipes.csv", folder, root)
    parameters = read_rows(ParameterRow, "parameters.csv", folder, root)
    prices = read_rows(PriceRow, "prices.csv", folder, root)
    # only today's world models producers' costs: a vintage with its own files has none
    producers = () if folder else read_rows(ProducerRow, "producers.csv", "", root)
    # a vintage's supply answers price only where it has rules of its own
    responses = (
        read_rows(SupplyResponseRow, "supply_response.csv", folder, root)
        if not folder or has_own(folder, "supply_response.csv", root)
        else ()
    )
    elasticities = read_rows(DemandResponseRow, "demand_response.csv", folder, root)
    owners = read_rows(OwnerRow, "owners.csv", folder, root)
    present = {facility.id for facility in facilities}
    return World(
        base_year=vintage.year,
        countries={row.code: row.region for row in countries},
        ores={row.ore: np.array(row.percents()) / 100.0 for row in ores},
        facilities=tuple(facilities),
        buyers=tuple(_buyer(row) for row in demand),
        lead_days={
            (row.origin_region, row.destination_region): row.lead_time_days for row in routes
        },
        recipes=_recipes(recipes),
        parameters={row.name: row.value for row in parameters},
        prices_usd_per_kg={(row.product, row.tier): row.usd_per_kg for row in prices},
        producers=tuple(_producer(row) for row in producers),
        demand_elasticity={row.sector: row.elasticity for row in elasticities},
        supply_responses=tuple(
            SupplyResponse(**row.model_dump(exclude={"source", "confidence", "note"}))
            for row in responses
        ),
        sites=_groups(owners, "site", present),
        companies=_groups(owners, "company", present),
    )


def _groups(owners: list[OwnerRow], by: str, present: set[str]) -> dict[str, tuple[str, ...]]:
    """The facility ids of each site or company (``by``), of those the vintage has."""
    groups: dict[str, tuple[str, ...]] = {}
    for row in owners:
        if row.facility in present:
            name = getattr(row, by)
            groups[name] = (*groups.get(name, ()), row.facility)
    return groups


def _facilities(vintage: VintageRow, root: Traversable) -> list[Facility]:
    """The vintage's mines and plants, with the history it knew of applied."""
    mines = read_rows(MineRow, "mines.csv", vintage.folder, root)
    plants = read_rows(PlantRow, "plants.csv", vintage.folder, root)
    facilities = [*(_mine(row) for row in mines), *(_plant(row) for row in plants)]
    history = located_rows(HistoryRow, "history.csv", "", root)
    return apply_history(facilities, vintage.year, vintage.cutoff, history)


def _mine(row: MineRow) -> Facility:
    return Facility(
        id=row.id,
        name=row.name,
        country=row.country,
        stage="mine",
        product="concentrate",
        ore=row.ore,
        growth_pa=row.growth_pa,
        tranches=(Tranche(row.output_t_reo),),
        secondary=row.secondary,
    )


def _plant(row: PlantRow) -> Facility:
    return Facility(
        id=row.id,
        name=row.name,
        country=row.country,
        stage=row.stage,
        product=row.product,
        recovers=row.recovers,
        feeds_from=row.feeds_from,
        priority=row.priority,
        growth_pa=row.growth_pa,
        tranches=(Tranche(row.capacity_tpa, row.start, row.ramp_months),),
    )


def _buyer(row: DemandRow) -> Buyer:
    """Buyers of a row; element demand is quoted in t REO, the model counts the element."""
    demand_tpa = row.demand_t
    if row.material in ELEMENTS:
        demand_tpa *= REO_TO_ELEMENT[ELEMENT_INDEX[row.material]]
    return Buyer(
        region=row.region,
        sector=row.sector,
        material=row.material,
        demand_tpa=demand_tpa,
        growth_pa=row.growth_pa,
        cover_weeks=row.cover_weeks,
        priority=row.priority,
    )


def _recipes(rows: list[RecipeRow]) -> dict[str, np.ndarray]:
    """kg of each element per kg of magnet, by magnet (elements not listed: none)."""
    recipes = {magnet: np.zeros(len(ELEMENTS)) for magnet in MAGNETS}
    for row in rows:
        recipes[row.product][ELEMENT_INDEX[row.element]] = row.kg_per_kg
    return recipes


def _producer(row: ProducerRow) -> Producer:
    """A producer: its row's columns are the `Producer`'s fields, less the sourcing."""
    return Producer(**row.model_dump(exclude={"source", "confidence", "note"}))

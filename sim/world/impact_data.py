"""What tonnes of magnet are as things: each product's magnet per unit (``intensities.csv``)
and the units of it each region's buyers make in the base year (``unit_plans.csv``); and the
GDP a US$ of a region's product carries (``gdp_multipliers.csv``).

Only today's world has these files' rows (a vintage with its own files has none). Rows are
checked against each other and the world's buyers: a plan names a known product, a product's
sector has magnet buyers in the plan's region, a region plans a product once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.errors import InputError
from sim.world import data_files
from sim.world.data_files import LocatedRow, located_rows
from sim.world.loader import vintage_world
from sim.world.rows import GdpMultiplierRow, IntensityRow, UnitPlanRow

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from sim.world.world import World


@dataclass(frozen=True)
class Product:
    """A product buyers of one sector make, and the magnet one unit of it takes."""

    id: str
    sector: str
    material: str
    unit: str
    kg_per_unit: float
    kg_low: float
    kg_high: float
    whole_sector: bool


@dataclass(frozen=True)
class UnitPlan:
    """Units of a product a region's buyers make in the base year, their growth (``None``:
    the buyers' demand growth) and the value of one unit."""

    region: str
    product: str
    units: float
    growth_pa: float | None
    usd_per_unit: float


@dataclass(frozen=True)
class ImpactData:
    """The products and plans of one world (none for a vintage of its own files)."""

    products: dict[str, Product]
    plans: tuple[UnitPlan, ...]


def impact_data(name: str) -> ImpactData:
    """The products and unit plans of the embedded world ``name``, read once.

    Raises:
        KeyError: if there is no such world.
        InputError: if a row is bad or does not fit the world (file, line and column).
    """
    own_files = vintage_world(name).base_year != vintage_world("default").base_year
    # a Traversable is a path: hashable, though its protocol does not say so
    return ImpactData({}, ()) if own_files else _read(data_files.DATA, name)  # type: ignore[arg-type]


@functools.cache
def _read(root: Traversable, name: str) -> ImpactData:
    """The rows of ``root``'s two files, checked against each other and the world ``name``
    (read once a process: the files do not change while it runs, and the result is frozen)."""
    world = vintage_world(name)
    products = located_rows(IntensityRow, "intensities.csv", "", root)
    plans = located_rows(UnitPlanRow, "unit_plans.csv", "", root)
    by_id = {located.row.product: _product(located.row) for located in products}
    _check_unique([(p.row.product,) for p in products], products, "product")
    _check_unique([(p.row.region, p.row.product) for p in plans], plans, "product")
    for located in plans:
        _check_plan(located, by_id, world)
    return ImpactData(by_id, tuple(_plan(located.row) for located in plans))


@dataclass(frozen=True)
class GdpMultiplier:
    """A region's product's input-output industry, and the domestic value added (Type I:
    direct and indirect) a US$ of its final output carries."""

    region: str
    product: str
    industry_code: str
    industry: str
    va_per_usd: float


def gdp_multipliers(name: str) -> tuple[GdpMultiplier, ...]:
    """The GDP multipliers of the embedded world ``name`` (none for a vintage of its own
    files), each of a product the region plans.

    Raises:
        InputError: if a row is bad or names no unit plan (file, line and column).
    """
    own_files = vintage_world(name).base_year != vintage_world("default").base_year
    return () if own_files else _read_gdp(data_files.DATA, name)  # type: ignore[arg-type]


@functools.cache
def _read_gdp(root: Traversable, name: str) -> tuple[GdpMultiplier, ...]:
    """``gdp_multipliers.csv``'s rows, each of a (region, product) planned once."""
    rows = located_rows(GdpMultiplierRow, "gdp_multipliers.csv", "", root)
    planned = {(plan.region, plan.product) for plan in _read(root, name).plans}  # type: ignore[arg-type]
    _check_unique([(r.row.region, r.row.product) for r in rows], rows, "product")
    for located in rows:
        if (located.row.region, located.row.product) not in planned:
            raise _plan_error(located, "no unit plan of this product in this region", "product")
    fields = {"source", "confidence", "note"}
    return tuple(GdpMultiplier(**r.row.model_dump(exclude=fields)) for r in rows)


def _product(row: IntensityRow) -> Product:
    fields = row.model_dump(exclude={"source", "confidence", "note", "product"})
    return Product(id=row.product, **fields)


def _plan(row: UnitPlanRow) -> UnitPlan:
    return UnitPlan(**row.model_dump(exclude={"source", "confidence", "note"}))


def _check_unique(keys: list[tuple[str, ...]], rows: list[LocatedRow], column: str) -> None:
    """Refuse the second row of a key given twice, at its line."""
    seen: set[tuple[str, ...]] = set()
    for key, located in zip(keys, rows):
        if key in seen:
            raise InputError(
                "given twice",
                file=located.file,
                line=located.line,
                path=column,
                value=key[-1],
                has_value=True,
            )
        seen.add(key)


def _check_plan(
    located: LocatedRow[UnitPlanRow], products: dict[str, Product], world: World
) -> None:
    """A plan's product is known and its sector has buyers of its magnet in its region."""
    row = located.row
    if row.product not in products:
        known = sorted(products)
        raise _plan_error(located, f"unknown product; expected one of {known}", "product")
    product = products[row.product]
    if buyer_growth(world, row.region, product) is None:
        problem = f"no {product.material} buyers of sector {product.sector} in this region"
        raise _plan_error(located, problem, "region")


def _plan_error(located: LocatedRow, problem: str, column: str) -> InputError:
    """The error of a plan's ``column``, at its file and line."""
    value = getattr(located.row, column)
    return InputError(
        problem, file=located.file, line=located.line, path=column, value=value, has_value=True
    )


def buyer_growth(world: World, region: str, product: Product) -> float | None:
    """Demand growth of the buyers of ``product``'s sector and magnet in ``region``; ``None``
    if there are none."""
    found = [
        b.growth_pa
        for b in world.buyers
        if (b.region, b.sector, b.material) == (region, product.sector, product.material)
    ]
    return found[0] if found else None

"""The reach of export controls: the routes and products a control covers on a market.

A control's reach on a market is a boolean mask over routes and products, computed once; its
strength at a step is that mask times the control's level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.config.events import ExportControl
from sim.config.licences import GeneralLicence
from sim.units import ELEMENT_ALIASES, ELEMENTS, FORM_ALIASES, FORMS, MAGNETS


@dataclass(frozen=True)
class Side:
    """One side of a market's routes: each party's country and region, and for buyers their
    end-use sector (``None`` for plants)."""

    countries: Sequence[str]
    regions: Sequence[str]
    sectors: Sequence[str | None] | None = None
    ids: Sequence[str] | None = None  # facility ids, for a side of plants or mines


def element_set(names: Sequence[str] | str) -> set[str]:
    """The element buckets a control names."""
    if names == "all":
        return set(ELEMENTS)
    return {ELEMENT_ALIASES[n] for n in names}


def form_set(names: Sequence[str] | str) -> set[str]:
    """The forms a control names."""
    if names == "all":
        return set(FORMS)
    return {f for n in names for f in FORM_ALIASES[n]}


def control_scope(
    control: ExportControl, suppliers: Side, customers: Side, covered: np.ndarray
) -> np.ndarray:
    """Routes and products a control reaches on one market, ``[P, C, K]`` booleans.

    Args:
        control: the export control.
        suppliers: the market's suppliers.
        customers: the market's customers.
        covered: ``[P, K]`` True where supplier ``p``'s product ``k`` is of a form and contains
            an element the control names (the caller knows the market's forms).
    """
    exporter = np.array([c == control.exporter for c in suppliers.countries], dtype=bool)
    abroad = np.array(
        [[cs != cc for cc in customers.countries] for cs in suppliers.countries], dtype=bool
    ).reshape(len(suppliers.countries), len(customers.countries))
    route = exporter[:, None] & _destinations(control, customers)[None, :] & abroad
    return route[:, :, None] & covered[:, None, :]


def back_scope(
    control: ExportControl, suppliers: Side, customers: Side, covered: np.ndarray
) -> np.ndarray:
    """Routes into the exporter from abroad for the products a control covers, ``[P, C,
    K]`` booleans: while the control holds its exports back, the exporter's market is the
    cheap one and nobody abroad sells into it (the best bid is elsewhere)."""
    home = np.array([c != control.exporter for c in suppliers.countries], dtype=bool)
    into = np.array([c == control.exporter for c in customers.countries], dtype=bool)
    route = home[:, None] & into[None, :]
    products = np.asarray(covered.any(axis=0), dtype=bool)
    return route[:, :, None] & products[None, None, :]


def _destinations(control: ExportControl, customers: Side) -> np.ndarray:
    """``[C]`` customers a control's exports are bound for: its destinations (countries or
    regions) and sectors, less those under a general licence."""
    pairs = list(zip(customers.countries, customers.regions))
    if control.destinations == "all":
        dest = np.ones(len(customers.countries), dtype=bool)
    else:
        wanted = set(control.destinations)
        dest = np.array([c in wanted or r in wanted for c, r in pairs], dtype=bool)
    exempt = set(control.general_licence)
    dest &= np.array([c not in exempt and r not in exempt for c, r in pairs], dtype=bool).reshape(
        dest.shape
    )
    if control.sectors != "all":
        named = set(control.sectors)
        sectors = customers.sectors or [None] * len(customers.countries)
        dest &= np.array([s in named for s in sectors], dtype=bool).reshape(dest.shape)
    return dest


def licensed_pairs(
    licence: GeneralLicence, suppliers: Side, customers: Side, exporters: set[str]
) -> np.ndarray:
    """``[P, C]`` routes a general licence exempts on one market: from its ``exporters``
    (facility ids) to customers of its regions and sectors (plants only with all sectors)."""
    ids = suppliers.ids or [""] * len(suppliers.countries)
    sectors = customers.sectors or [None] * len(customers.countries)
    sending = np.array([i in exporters for i in ids], dtype=bool).reshape(len(ids))
    receiving = np.array(
        [_licensed(licence, region, sector) for region, sector in zip(customers.regions, sectors)],
        dtype=bool,
    ).reshape(len(sectors))
    return sending[:, None] & receiving[None, :]


def _licensed(licence: GeneralLicence, region: str, sector: str | None) -> bool:
    """Whether a customer of this region and sector (None: a plant) is a licence's buyer."""
    in_region = licence.regions == "all" or region in licence.regions
    return in_region and (licence.sectors == "all" or sector in licence.sectors)


@dataclass(frozen=True)
class Products:
    """What each market's suppliers sell, to be matched with the forms and elements a control
    names."""

    mine_mix: np.ndarray  # [mines, E] element content of each mine's output
    recipe: np.ndarray  # [magnet plants, E] each magnet plant's recipe
    magnet_product: np.ndarray  # [magnet plants] index into MAGNETS
    separation_plants: int
    metal_plants: int

    def covered(self, market: str, control: ExportControl) -> np.ndarray:
        """``[P, K]``: suppliers' products this control names, on one market."""
        forms, elements = form_set(control.forms), element_set(control.elements)
        named = np.array([e in elements for e in ELEMENTS])
        if market == "concentrate":
            hit = "concentrate" in forms and (self.mine_mix[:, named] > 0).any(axis=1)
            return np.broadcast_to(np.asarray(hit), (self.mine_mix.shape[0],))[:, None].copy()
        if market in ("oxide", "metal"):
            plants = self.separation_plants if market == "oxide" else self.metal_plants
            return np.tile(named & (market in forms), (plants, 1))
        contains = (self.recipe[:, named] > 0).any(axis=1)
        in_forms = np.array([MAGNETS[k] in forms for k in self.magnet_product], dtype=bool)
        return (contains & in_forms)[:, None]

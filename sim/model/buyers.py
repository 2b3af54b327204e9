"""Buyers' side of the chain: what a tonne of each holds, their demand path, the magnet plants
that may serve them, and their lead times."""

from __future__ import annotations

import numpy as np

from sim.units import DAYS_PER_MONTH, ELEMENT_INDEX, ELEMENTS, MAGNETS
from sim.world.world import Buyer, Facility


def span(idx: np.ndarray) -> slice | np.ndarray:
    """``idx`` as a slice if it is a run of consecutive integers (indexing with it is then
    a view, and updates in place are plain), else ``idx`` itself."""
    if idx.size and bool((np.diff(idx) == 1).all()):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


def content(buyers: list[Buyer], recipes: dict[str, np.ndarray]) -> np.ndarray:
    """``[B, E]`` tonnes of each element in a tonne of each buyer's material."""
    out = np.zeros((len(buyers), len(ELEMENTS)))
    for i, b in enumerate(buyers):
        if b.material in MAGNETS:
            out[i] = recipes[b.material]
        else:
            out[i, ELEMENT_INDEX[b.material]] = 1.0
    return out


def cover_months(buyers: list[Buyer]) -> np.ndarray:
    """``[B]`` months of use each buyer keeps in stock."""
    return np.array([b.cover_weeks * 7.0 / DAYS_PER_MONTH for b in buyers])


def demand_path(buyers: list[Buyer], years: np.ndarray, base_year: int) -> np.ndarray:
    """``[steps incl. warm-up, B]`` tonnes a step each buyer wants, grown from the middle of
    the base year (``years``: each step's middle as a calendar year)."""
    base = base_year + 0.5
    growth = np.array([(1.0 + b.growth_pa) for b in buyers])
    annual = np.array([b.demand_tpa for b in buyers])
    return annual[None, :] * growth[None, :] ** (years[:, None] - base) / 12.0


def magnet_routes(
    plants: list[Facility],
    plant_regions: list[str],
    buyers: list[Buyer],
    magnet_buyers: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Routes from magnet plants to buyers of magnets: open where the plant makes the buyer's
    magnet, ``[plants, buyers, 1]``; home where they share a region, ``[plants, buyers]``."""
    open_ = np.array(
        [
            [
                MAGNETS.index(plant.product) == MAGNETS.index(buyers[b].material)
                for b in magnet_buyers
            ]
            for plant in plants
        ],
        dtype=float,
    ).reshape(len(plants), len(magnet_buyers))[:, :, None]
    home = np.array(
        [[r == buyers[b].region for b in magnet_buyers] for r in plant_regions], dtype=float
    ).reshape(open_.shape[:2])
    return open_, home


def nameplate_tpa(facilities: list[Facility], existing: bool = False) -> np.ndarray:
    """Each facility's nameplate, tonnes a year (``existing``: of tranches without a start)."""
    return np.array(
        [
            sum(t.capacity_tpa for t in f.tranches if not existing or t.start is None)
            for f in facilities
        ]
    )


def mean_lead(weights: np.ndarray, lead: np.ndarray) -> np.ndarray:
    """Each customer's lead time ``lead[P, C]`` averaged over its suppliers with ``weights``
    (``[P, C]``; 0 where no supplier weighs)."""
    total = weights.sum(axis=0)
    return np.divide((weights * lead).sum(axis=0), total, out=np.zeros_like(total), where=total > 0)


def buyer_lead(
    buyers: int,
    magnet_buyers: np.ndarray,
    element_buyers: np.ndarray,
    magnet_weights: np.ndarray,
    magnet_lead: np.ndarray,
    separation_tpa: np.ndarray,
    oxide_lead: np.ndarray,
) -> np.ndarray:
    """``[B]`` each buyer's lead time, averaged over the plants that may serve it.

    Args:
        buyers: how many buyers.
        magnet_buyers: indices of buyers of magnets.
        element_buyers: indices of buyers of elements.
        magnet_weights: ``[magnet plants, magnet buyers]`` each plant's weight for each buyer
            (its capacity where it makes the buyer's magnet).
        magnet_lead: ``[magnet plants, magnet buyers]`` months.
        separation_tpa: ``[separation plants]`` each one's nameplate.
        oxide_lead: ``[separation plants, element buyers]`` months.
    """
    out = np.zeros(buyers)
    for j, k in enumerate(magnet_buyers):
        weights = magnet_weights[:, j]
        if weights.sum() > 0:
            out[k] = float(weights @ magnet_lead[:, j] / weights.sum())
    for j, k in enumerate(element_buyers):
        if separation_tpa.sum() > 0:
            out[k] = float(separation_tpa @ oxide_lead[:, j] / separation_tpa.sum())
    return out

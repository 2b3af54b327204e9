"""Where the chain's facilities sit in its arrays, and who stands on each side of each market.

Facilities are ordered by stage (mines, separation, metal, magnet plants); each stage is a run
of them (`Layout.slices`). A market's sides list each party's country and region (and, for
buyers, sector), which is what export controls and lead times are matched against.
"""

from __future__ import annotations

import numpy as np

from sim.model.levers.reach import Side
from sim.units import DAYS_PER_MONTH
from sim.world.world import Buyer, Facility, World

STAGE_ORDER: tuple[str, ...] = ("mine", "separation", "metal", "magnet")


class Layout:
    """The world's facilities in array order, and where each stage's run of them is."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.facilities = [f for stage in STAGE_ORDER for f in world.by_stage(stage)]
        self.index = {f.id: i for i, f in enumerate(self.facilities)}
        counts = [len(world.by_stage(stage)) for stage in STAGE_ORDER]
        bounds = np.cumsum([0, *counts])
        self.slices = {
            st: slice(int(a), int(b)) for st, a, b in zip(STAGE_ORDER, bounds, bounds[1:])
        }

    def named(self, name: str) -> np.ndarray:
        """Indices of the facilities a scenario's name reaches (a facility, a site or a
        company: `World.named`)."""
        return np.array([self.index[f] for f in self.world.named(name) if f in self.index], int)

    def stage(self, name: str) -> list[Facility]:
        """Facilities of a stage, in array order."""
        return self.facilities[self.slices[name]]

    def regions(self, name: str) -> list[str]:
        """Each facility of a stage's region."""
        return [self.world.region(f.country) for f in self.stage(name)]

    def countries(self, name: str) -> list[str]:
        """Each facility of a stage's country."""
        return [f.country for f in self.stage(name)]

    def sides(
        self, buyers: list[Buyer], magnet_buyers: np.ndarray, element_buyers: np.ndarray
    ) -> dict[str, tuple[Side, Side]]:
        """Suppliers and customers of each market (the oxide market's customers: metal
        plants, then buyers of elements)."""
        magnet_regions = [buyers[i].region for i in magnet_buyers]
        element_regions = [buyers[i].region for i in element_buyers]
        element_sectors: list[str | None] = [buyers[i].sector for i in element_buyers]
        side = {
            st: Side(self.countries(st), self.regions(st), ids=[f.id for f in self.stage(st)])
            for st in self.slices
        }
        oxide_customers = Side(
            [*self.countries("metal"), *element_regions],
            [*self.regions("metal"), *element_regions],
            [None] * len(self.stage("metal")) + element_sectors,
        )
        magnet_sectors = [buyers[i].sector for i in magnet_buyers]
        return {
            "concentrate": (side["mine"], side["separation"]),
            "oxide": (side["separation"], oxide_customers),
            "metal": (side["metal"], side["magnet"]),
            "magnet": (side["magnet"], Side(magnet_regions, magnet_regions, magnet_sectors)),
        }


def lead_matrix(world: World, sources: list[str], destinations: list[str]) -> np.ndarray:
    """Months from each source region to each destination region."""
    src, dst = list(dict.fromkeys(sources)), list(dict.fromkeys(destinations))
    pairs = np.array([[world.lead_days[(a, b)] / DAYS_PER_MONTH for b in dst] for a in src])
    at_src = np.array([src.index(a) for a in sources], dtype=np.intp)
    at_dst = np.array([dst.index(b) for b in destinations], dtype=np.intp)
    return pairs.reshape(len(src), len(dst))[np.ix_(at_src, at_dst)]

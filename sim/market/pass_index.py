"""What the compiled allocation pass reads of a pass's structure: named tuples of index arrays
(`sim.market.allocation.AllocationPass.index` builds them, `sim.market.allocation_kernels`
reads them). Index arrays are C-ordered int64; ``opened`` is float64."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class ClassIndex(NamedTuple):
    """Lanes grouped into classes (a `sim.market.groupings.Grouping`), as the pass reads it."""

    trivial: bool  # every lane a class of its own: class totals are the lanes' own
    ptr: np.ndarray  # class ``c``'s lanes are ``order[ptr[c]:ptr[c + 1]]``, ascending
    order: np.ndarray
    labels: np.ndarray  # each lane's class
    size: int  # number of classes


class EdgeGroups(NamedTuple):
    """One side's grouping of each tier's edges: in tier ``j``, class ``c``'s edges (counted
    from the tier's first) are ``order[e0 + q]`` for ``q`` in ``ptr[offset[j] + c] :
    ptr[offset[j] + c + 1]``, where ``e0`` is the tier's first edge."""

    ptr: np.ndarray
    offset: np.ndarray
    order: np.ndarray


class TierIndex(NamedTuple):
    """A pass's edges (the routes between classes that may carry flow), tier by tier, highest
    priority first: tier ``j`` has the edges ``edge_bounds[j]:edge_bounds[j + 1]`` and the
    customer classes ``members[member_bounds[j]:member_bounds[j + 1]]``."""

    edge_bounds: np.ndarray
    member_bounds: np.ndarray
    members: np.ndarray
    edge_sup: np.ndarray  # each edge's supplier class
    edge_cus: np.ndarray  # each edge's customer, counted among its tier's members
    by_sup: EdgeGroups
    by_cus: EdgeGroups
    opened: np.ndarray  # [E, K]: 1 where the edge may carry the product, else 0


class LaneEdges(NamedTuple):
    """The market's lane edges (pairs of lanes that may carry flow) against a pass's edges."""

    class_edge: np.ndarray  # each lane edge's class edge, -1 where the pass does not open it
    sup_lane: np.ndarray  # each lane edge's supplier lane
    cus_lane: np.ndarray  # each lane edge's customer lane


class PassIndex(NamedTuple):
    """Everything `allocate_pass` reads of a pass's structure (`AllocationPass.index`)."""

    sup: ClassIndex
    cus: ClassIndex
    tiers: TierIndex
    lane_edges: LaneEdges

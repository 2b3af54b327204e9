"""What the compiled allocation pass reads of a pass's structure (`PassIndex`), built by
`sim.market.allocation.AllocationPass.index` and read by `sim.market.allocation_kernels`.

One flat named tuple: numba works out a named tuple's type, node by node and field by field,
at every call of a kernel, which costs about a microsecond a nested tuple (the pass runs
thousands of times a run), so nothing is nested and nothing is stored that the kernels can
derive. Index arrays are C-ordered int64; ``opened`` is float64.

Renaming or removing a named tuple that a cached kernel took makes numba fail to read that
kernel's cache index (it unpickles the index before it checks it is fresh): delete the
``__pycache__/*.nbi`` files next to the kernels then.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class PassIndex(NamedTuple):
    """A pass's classes, its edges (the routes between classes that may carry flow) tier by
    tier, highest priority first, and the market's lane edges.

    Classes: supplier class ``c``'s lanes are ``sup_order[sup_ptr[c]:sup_ptr[c + 1]]``,
    ascending; ``sup_labels`` is each lane's class; ``sup_trivial`` when every lane is a
    class of its own (class totals are then the lanes' own). Customers likewise.

    Tiers: tier ``j`` has the edges ``edge_bounds[j]:edge_bounds[j + 1]`` and the customer
    classes ``members[member_bounds[j]:member_bounds[j + 1]]``; each edge has a supplier class
    ``edge_sup`` and a customer ``edge_cus`` counted among its tier's members. A tier's edges
    grouped by supplier class: in tier ``j`` (first edge ``e0``), class ``g``'s edges are
    ``e0 + edge_sup_order[e0 + q]`` for ``q`` in ``edge_sup_ptr[a + g]:edge_sup_ptr[a + g +
    1]``, ``a = j * (classes + 1)`` (a tier has a pointer a supplier class and one more);
    by customer likewise in ``edge_cus_ptr`` and ``edge_cus_order``, ``a = member_bounds[j] +
    j``. ``opened[E, K]`` is 1 where an edge may carry a product, else 0.

    Lane edges: each lane edge's class edge ``lane_class_edge`` (-1 where the pass does not
    open it), supplier lane ``lane_sup`` and customer lane ``lane_cus``.

    Cap groups (`sim.market.cap_kernels`): group ``g``'s entries are ``group_ptr[g]:
    group_ptr[g + 1]``, by edge; entry ``q`` is edge ``group_edge[q]``, in its group through
    scope ``group_scope[q]``, for the products where ``group_reach[q, K]`` is 1. Its suppliers,
    each once: ``group_sup[group_sup_ptr[g]:group_sup_ptr[g + 1]]`` (supplier classes) with
    ``group_sup_reach[m, K]``; ``group_entry_sup[q]`` is entry ``q``'s among them.

    Netting (`sim.market.net_kernels`): edge ``e`` is in part ``net_part[e]`` (-1: not
    netted), out of China (``net_dir`` 1), into it (-1) or within a tier (0); ``net_cus[e]``
    is its customer class. Part ``p``'s routes within China are entries
    ``net_pair_ptr[2p]:net_pair_ptr[2p + 1]``, abroad the next span: entry ``q`` is edge
    ``net_pair_edge[q]`` from supplier class ``net_pair_sup[q]`` to ``net_pair_cus[q]``.
    """

    sup_trivial: bool
    sup_ptr: np.ndarray
    sup_order: np.ndarray
    sup_labels: np.ndarray
    cus_trivial: bool
    cus_ptr: np.ndarray
    cus_order: np.ndarray
    cus_labels: np.ndarray
    edge_bounds: np.ndarray
    member_bounds: np.ndarray
    members: np.ndarray
    edge_sup: np.ndarray
    edge_cus: np.ndarray
    edge_sup_ptr: np.ndarray
    edge_sup_order: np.ndarray
    edge_cus_ptr: np.ndarray
    edge_cus_order: np.ndarray
    opened: np.ndarray
    lane_class_edge: np.ndarray
    lane_sup: np.ndarray
    lane_cus: np.ndarray
    group_ptr: np.ndarray
    group_edge: np.ndarray
    group_scope: np.ndarray
    group_reach: np.ndarray
    group_sup_ptr: np.ndarray
    group_sup: np.ndarray
    group_sup_reach: np.ndarray
    group_entry_sup: np.ndarray
    net_part: np.ndarray
    net_dir: np.ndarray
    net_cus: np.ndarray
    net_pair_ptr: np.ndarray
    net_pair_sup: np.ndarray
    net_pair_cus: np.ndarray
    net_pair_edge: np.ndarray

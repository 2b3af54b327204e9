"""Cap groups: which of an allocation pass's edges each control caps together.

A control caps the flow over all the routes it reaches, not route by route: its routes'
flow, summed, stays within their normal flow less the share it withholds
(`sim.market.cap_kernels`). A market's scopes (each control's reach, at lane level) are
numbered into groups by the caller (a control and its general licences share one: a licence
not yet valid leaves its routes in the control's group); a pass's classes do not mix routes a
scope reaches with routes it does not, so each group is a set of the pass's edges.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class CapGroups(NamedTuple):
    """A pass's cap groups, as `sim.market.pass_index.PassIndex` holds them (``group_``
    fields there): entries by group and edge, and each group's suppliers once each."""

    ptr: np.ndarray  # [groups + 1]
    edge: np.ndarray  # [entries] each entry's edge
    scope: np.ndarray  # [entries] the scope that puts it in its group
    reach: np.ndarray  # [entries, K] 1 for the products it reaches
    sup_ptr: np.ndarray  # [groups + 1]
    sup: np.ndarray  # [group suppliers] supplier classes
    sup_reach: np.ndarray  # [group suppliers, K]
    entry_sup: np.ndarray  # [entries] each entry's group supplier

    def widened(self, width: int) -> CapGroups:
        """These groups for products ``width`` wide (a reach of one column repeats)."""
        return self._replace(reach=_wide(self.reach, width), sup_reach=_wide(self.sup_reach, width))


def _wide(reach: np.ndarray, width: int) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(reach, (reach.shape[0], width)), dtype=float)


def cap_groups(
    scopes: list[np.ndarray],
    groups: np.ndarray,
    edges: tuple[np.ndarray, np.ndarray],
    opened: np.ndarray,
) -> CapGroups:
    """The cap groups of ``scopes`` (``[G, H, K]`` each, between a pass's classes) numbered
    ``groups[scope]``, over the pass's ``edges`` (supplier and customer classes) and where
    they open (``opened[E, K]``)."""
    sup, cus = edges
    parts = []
    for q, scope in enumerate(scopes):
        reach = np.logical_and(_by_product(scope, opened.shape[1])[sup, cus], opened > 0)
        at = np.flatnonzero(reach.any(axis=1))
        parts.append((np.full(at.size, groups[q]), at, np.full(at.size, q), reach[at]))
    width = max([opened.shape[1], *(p[3].shape[1] for p in parts)])
    group, edge, scope_of, reach = (
        np.concatenate([p[i] for p in parts] + [np.zeros((0, width) if i == 3 else 0, int)])
        for i in range(4)
    )
    group = _components(group, sup[edge], cus[edge], int(sup.max(initial=-1)) + 1)
    order = np.lexsort((edge, group))
    group = np.unique(group, return_inverse=True)[1].reshape(-1)[order]
    edge, scope_of, reach = edge[order], scope_of[order], reach[order]
    return _with_suppliers(group, edge.astype(np.int64), scope_of.astype(np.int64), reach, sup)


def _components(group: np.ndarray, sup: np.ndarray, cus: np.ndarray, suppliers: int) -> np.ndarray:
    """Each entry's group split into the parts its edges connect (suppliers ``sup`` and
    customers ``cus`` that share no edge of the group are in different parts): a market of
    one product column carries several products on routes apart (magnets of each kind), and
    a control caps each product's flow on its own."""
    parent = list(range(group.size))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[int, int], int] = {}
    for i, (g, s, c) in enumerate(zip(group.tolist(), sup.tolist(), (cus + suppliers).tolist())):
        for node in (s, c):
            j = first.setdefault((g, node), i)
            parent[root(i)] = root(j)
    return np.array([root(i) for i in range(group.size)], dtype=np.int64)


def _by_product(scope: np.ndarray, width: int) -> np.ndarray:
    """``scope[G, H, ...]`` as ``[G, H, width or 1]`` booleans: its products, or whether it
    reaches a route at all where its axes are not the products."""
    flat = scope.reshape(*scope.shape[:2], math.prod(scope.shape[2:])).astype(bool)
    return flat if flat.shape[2] in (1, width) else np.asarray(flat.any(axis=2, keepdims=True))


def _with_suppliers(
    group: np.ndarray, edge: np.ndarray, scope: np.ndarray, reach: np.ndarray, sup: np.ndarray
) -> CapGroups:
    """Groups of entries (sorted by ``group``), with each group's suppliers once each."""
    count = int(group.max()) + 1 if group.size else 0
    pairs = group * (int(sup.max()) + 1 if sup.size else 1) + sup[edge]
    keys, first, entry_sup = np.unique(pairs, return_index=True, return_inverse=True)
    entry_sup = entry_sup.reshape(-1)
    sup_reach = np.zeros((keys.size, reach.shape[1]))
    np.maximum.at(sup_reach, entry_sup, reach.astype(float))
    return CapGroups(
        ptr=_pointers(group, count),
        edge=edge,
        scope=scope,
        reach=reach.astype(float),
        sup_ptr=_pointers(group[first], count),
        sup=sup[edge[first]].astype(np.int64),
        sup_reach=sup_reach,
        entry_sup=entry_sup.astype(np.int64),
    )


def _pointers(labels: np.ndarray, count: int) -> np.ndarray:
    """Where each of ``count`` groups starts in ``labels`` (sorted), and the end."""
    return np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=count))]).astype(np.int64)

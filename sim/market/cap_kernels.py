"""The allocation pass's caps, compiled: each route's own cap and each cap group's, a control's
cap over all the routes it reaches together (`sim.market.allocation_kernels` runs the rounds).

A cap group is a set of the pass's edges (its entries, each with the scope that puts it there
and the products it reaches: `sim.market.pass_index.PassIndex`). In a sample, an entry is in
its group while its scope withholds something; the group's cap is the sum over those entries
of their normal flow less the share withheld, and the group's flow, summed over them, stays
within it: in each round the requests on its edges are scaled by one factor, what its cap has
left over what they ask (an edge in several groups takes the least). A group whose scopes
withhold nothing in a sample has no entry in it then, so it limits nothing: a control at 0
changes no number, however its reach splits the classes.

These steps are inlined into the pass (``inline="always"``) and live here only because the
pass's module would pass the size limit. Numba's cache notices a change only in the file of
the function it compiled (`allocate_pass`), by its content: that file holds this one's digest
(`sim.market.allocation_kernels.CAP_KERNELS_DIGEST`, checked by `tests/test_cap_groups.py`),
so a change here must change it there too, and the pass recompiles.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from sim.market.pass_index import PassIndex


class Caps(NamedTuple):
    """What routes may still carry: each edge's own cap (``edge_left[E, K, S]``, if
    ``edges``: used up a tier at a time) and each cap group's (``group_left[groups, K, S]``,
    if ``groups``: used up across tiers); the weight of each group entry (``entry_on[entries,
    S]``) and group supplier (``sup_on[group suppliers, S]``) in its group, 1 or 0."""

    edges: bool
    edge_left: np.ndarray
    groups: bool
    group_left: np.ndarray
    entry_on: np.ndarray
    sup_on: np.ndarray


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def no_caps(K: int, S: int) -> Caps:
    """No cap on any route."""
    empty = np.empty((0, S))
    return Caps(False, np.empty((0, K, S)), False, np.empty((0, K, S)), empty, empty)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def any_below_one(allowed: np.ndarray) -> bool:
    """Whether any edge of any sample is allowed less than all its normal flow."""
    E, K, S = allowed.shape
    below = False
    for e in range(E):
        for k in range(K):
            for s in range(S):
                if allowed[e, k, s] < 1.0:
                    below = True
    return below


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def edge_caps(allowed: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Each edge's own cap: ``allowed`` times its ``normal`` flow where allowed is below 1,
    else none (infinite)."""
    E, K, S = allowed.shape
    cap = np.empty((E, K, S))
    for e in range(E):
        for k in range(K):
            for s in range(S):
                share = allowed[e, k, s]
                cap[e, k, s] = share * normal[e, k, s] if share < 1.0 else np.inf
    return cap


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def entries_on(in_force: np.ndarray, index: PassIndex, S: int) -> np.ndarray:
    """``[entries, S]`` 1 where a group entry's scope is in force in a sample (its route is
    then in its group, even if the scope withholds nothing), else 0 (no entries without
    ``in_force[scopes, S]``)."""
    N = index.group_edge.size if in_force.shape[0] > 0 else 0
    out = np.zeros((N, S))
    for q in range(N):
        row = in_force[index.group_scope[q]]
        for s in range(S):
            out[q, s] = 1.0 if row[s] > 0.0 else 0.0
    return out


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def group_caps(
    withheld: np.ndarray, normal: np.ndarray, on: np.ndarray, index: PassIndex
) -> np.ndarray:
    """Each cap group's cap ``[groups, K, S]``: over its entries that are ``on``, their
    ``normal[E, K, S]`` flow less the share their scope withholds."""
    allowance = np.empty_like(on)
    for q in range(on.shape[0]):
        row = withheld[index.group_scope[q]]
        for s in range(on.shape[1]):
            allowance[q, s] = on[q, s] * (1.0 - row[s])
    out = np.empty((index.group_ptr.size - 1, normal.shape[1], normal.shape[2]))
    group_sum_of(normal, index.group_ptr, index.group_edge, index.group_reach, allowance, 0, out)
    return out


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def suppliers_on(on: np.ndarray, index: PassIndex) -> np.ndarray:
    """``[group suppliers, S]`` 1 where one of a group supplier's entries is ``on``, else 0."""
    out = np.zeros((index.group_sup.size, on.shape[1]))
    for q in range(on.shape[0]):
        m = index.group_entry_sup[q]
        for s in range(on.shape[1]):
            out[m, s] = on[q, s] if on[q, s] > out[m, s] else out[m, s]
    return out


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def group_sum_of(
    rows: np.ndarray,
    ptr: np.ndarray,
    row_of: np.ndarray,
    reach: np.ndarray,
    weight: np.ndarray,
    first: int,
    out: np.ndarray,
) -> None:
    """``out[groups, K, S]``: each group's sum of ``rows[R, K, S]`` (rows ``first`` on) over
    its entries ``ptr[g]:ptr[g + 1]`` that fall among them, entry ``q`` adding row ``row_of[q]``
    times ``weight[q, S]`` in the products it reaches (``reach[q, K]``), in entry order."""
    n, K, S = out.shape
    for g in range(n):
        out[g] = 0.0
        for q in range(ptr[g], ptr[g + 1]):
            r = row_of[q] - first
            if r < 0 or r >= rows.shape[0]:
                continue
            for k in range(K):
                if reach[q, k] > 0.0:
                    for s in range(S):
                        out[g, k, s] += rows[r, k, s] * weight[q, s]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def group_supply(supply_left: np.ndarray, caps: Caps, index: PassIndex, out: np.ndarray) -> None:
    """``out[groups, K, S]``: what each group's suppliers (each once) have left."""
    ptr, sup, reach = index.group_sup_ptr, index.group_sup, index.group_sup_reach
    group_sum_of(supply_left, ptr, sup, reach, caps.sup_on, 0, out)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def group_flows(rows: np.ndarray, caps: Caps, index: PassIndex, e0: int, out: np.ndarray) -> None:
    """``out[groups, K, S]``: each group's total of a tier's ``rows[E, K, S]`` (the pass's
    edges from ``e0``) over its entries that are on."""
    group_sum_of(rows, index.group_ptr, index.group_edge, index.group_reach, caps.entry_on, e0, out)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def edge_min(
    values: np.ndarray, caps: Caps, index: PassIndex, e0: int, init: float, out: np.ndarray
) -> None:
    """``out[E, K, S]``: for a tier's edges (the pass's from ``e0``), the least of ``init``
    and their groups' ``values[groups, K, S]``, over the groups they are on in."""
    E, K, S = out.shape
    out[:] = init
    for g in range(index.group_ptr.size - 1):
        for q in range(index.group_ptr[g], index.group_ptr[g + 1]):
            e = index.group_edge[q] - e0
            if e < 0 or e >= E:
                continue
            for k in range(K):
                if index.group_reach[q, k] > 0.0:
                    for s in range(S):
                        v = values[g, k, s] if caps.entry_on[q, s] > 0.0 else init
                        out[e, k, s] = v if v < out[e, k, s] else out[e, k, s]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def scale_to(has: np.ndarray, asked: np.ndarray) -> None:
    """Each row's scale, in place of what it is ``asked``: what it ``has`` over what it is
    asked where that is more (and more than 0), else 1 (a supplier's, or a group's cap)."""
    G, K, S = asked.shape
    for i in range(G):
        for k in range(K):
            for s in range(S):
                h, wants = has[i, k, s], asked[i, k, s]
                asked[i, k, s] = h / wants if (wants > h and wants > 0.0) else 1.0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def limit_by_groups(
    rows: np.ndarray,
    amount: np.ndarray,
    caps: Caps,
    index: PassIndex,
    e0: int,
    factor: np.ndarray,
) -> None:
    """Scale a tier's ``rows[E, K, S]`` so that no group's exceed what its cap has left:
    each group's factor is its cap left over its rows' ``amount[groups, K, S]`` where that
    is more (``amount`` becomes the factors); an edge takes its groups' least (``factor``)."""
    scale_to(caps.group_left, amount)
    edge_min(amount, caps, index, e0, 1.0, factor)
    E, K, S = rows.shape
    for e in range(E):
        for k in range(K):
            for s in range(S):
                rows[e, k, s] *= factor[e, k, s]

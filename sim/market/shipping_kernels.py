"""Compiled shipping: a market's flows, summed by customer lane and arrival step, added to a
pipeline's ring of future arrivals.

`ship` sums the flows by the plan of `sim.market.shipping.ShippingPlans` (`weighted_group_sum`,
the weighted variant of `sim.market.allocation_kernels.group_sum`: the same order, each
product rounded before it is added), then shares each lane's arrivals among its members,
samples innermost. The numbers are those of the numpy reference (``tests/reference/flows.py``),
bit for bit. Kernels that call one another live in this one module (numba's cache notices a
change only in the file of the function it compiled).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class LanePlan(NamedTuple):
    """What each customer lane receives at each arrival step: row ``r = offset * lanes +
    lane`` sums ``x[edge[q]] * weight[q]`` for ``q`` in ``ptr[r]:ptr[r + 1]``, in the lane's
    order of edges."""

    ptr: np.ndarray
    edge: np.ndarray
    weight: np.ndarray


class ArrivalEntries(NamedTuple):
    """The additions `ship` makes, one an entry ``i`` (flat indices): of lane row
    ``lane_row[i]`` (an offset's customer lane and product), member ``share_row[i]``'s share,
    times the destination's weight ``column[i]`` if any, lands ``offset[i]`` steps from now at
    place ``place[i]`` (customer and product) of the ring."""

    offset: np.ndarray
    lane_row: np.ndarray
    share_row: np.ndarray
    place: np.ndarray
    column: np.ndarray


@njit(cache=True, nogil=True, error_model="numpy")
def weighted_group_sum(
    rows: np.ndarray, ptr: np.ndarray, order: np.ndarray, weights: np.ndarray, out: np.ndarray
) -> None:
    """`group_sum` of ``rows[order[q]] * weights[q]`` (one weight a member of a class, in the
    class's order): each product rounded, then added in order."""
    C, K, S = out.shape
    for c in range(C):
        lo, hi = ptr[c], ptr[c + 1]
        for k in range(K):
            if lo == hi:
                for s in range(S):
                    out[c, k, s] = 0.0
                continue
            m, f = order[lo], weights[lo]
            for s in range(S):
                out[c, k, s] = rows[m, k, s] * f
            for q in range(lo + 1, hi):
                m, f = order[q], weights[q]
                for s in range(S):
                    out[c, k, s] += rows[m, k, s] * f


@njit(cache=True, nogil=True, error_model="numpy")
def ship(
    x_sl: np.ndarray,
    lanes: LanePlan,
    share: np.ndarray,
    slots: np.ndarray,
    entries: ArrivalEntries,
    weight: np.ndarray,
    weighted: bool,
    out: np.ndarray,
) -> None:
    """Add a market's flows ``x_sl[edges, K, S or 1]`` to a pipeline's ring ``out[slot, S, C,
    K]``: each entry's ``share[member, s] * rows[lane_row, s]``, times ``weight[column, s]``
    if ``weighted``, at slot ``slots[offset]``, where ``rows[offset x lane x product, S or
    1]`` is what each lane receives at each arrival step (summed by ``lanes``), ``share[members
    x products, S or 1]`` customers' shares, samples-last, and ``weight[columns, S or 1]``."""
    rows = np.empty((lanes.ptr.size - 1, x_sl.shape[1], x_sl.shape[2]))
    weighted_group_sum(x_sl, lanes.ptr, lanes.edge, lanes.weight, rows)
    rows_2d = rows.reshape((-1, x_sl.shape[2]))
    S = out.shape[1]
    ring = out.reshape((out.shape[0], S, -1))
    if rows_2d.shape[1] == S and share.shape[1] == S and (not weighted or weight.shape[1] == S):
        _add_every_sample(rows_2d, share, slots, entries, weight, weighted, ring)
    else:
        _add_repeating(rows_2d, share, slots, entries, weight, weighted, ring)


@njit(cache=True, nogil=True, error_model="numpy")
def _add_every_sample(
    lanes: np.ndarray,
    share: np.ndarray,
    slots: np.ndarray,
    entries: ArrivalEntries,
    weight: np.ndarray,
    weighted: bool,
    ring: np.ndarray,
) -> None:
    """`ship`'s additions where every array has a column a sample: samples innermost."""
    S = ring.shape[1]
    for i in range(entries.offset.size):
        slot = ring[slots[entries.offset[i]]]
        place, member, lane = (
            entries.place[i],
            share[entries.share_row[i]],
            lanes[entries.lane_row[i]],
        )
        if weighted:
            scale = weight[entries.column[i]]
            for s in range(S):
                slot[s, place] += member[s] * lane[s] * scale[s]
        else:
            for s in range(S):
                slot[s, place] += member[s] * lane[s]


@njit(cache=True, nogil=True, error_model="numpy")
def _add_repeating(
    lanes: np.ndarray,
    share: np.ndarray,
    slots: np.ndarray,
    entries: ArrivalEntries,
    weight: np.ndarray,
    weighted: bool,
    ring: np.ndarray,
) -> None:
    """`ship`'s additions where some array has one column for every sample (it repeats)."""
    S = ring.shape[1]
    last_lane, last_share, last_w = lanes.shape[1] - 1, share.shape[1] - 1, weight.shape[1] - 1
    for i in range(entries.offset.size):
        slot = ring[slots[entries.offset[i]]]
        place, member, lane = (
            entries.place[i],
            share[entries.share_row[i]],
            lanes[entries.lane_row[i]],
        )
        column = entries.column[i]
        for s in range(S):
            part = member[min(s, last_share)] * lane[min(s, last_lane)]
            if weighted:
                part = part * weight[column, min(s, last_w)]
            slot[s, place] += part

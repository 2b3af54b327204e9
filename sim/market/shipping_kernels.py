"""Compiled shipping: a market's flows, summed by customer lane and arrival step, added to a
pipeline's ring of future arrivals; the flows between members (`member_flows`) and the lead
time they take by tonne (`seen_lead`).

`ship` sums the flows by the plan of `sim.market.shipping.ShippingPlans` (`weighted_group_sum`,
the weighted variant of `sim.market.allocation_kernels.group_sum`: the same order, each
product rounded before it is added), then shares each lane's arrivals among its members,
samples innermost. The numbers are those of the numpy reference (``tests/reference/flows.py``),
bit for bit. Kernels that call one another live in this one module (numba's cache notices a
change only in the file of the function it compiled); the private steps are inlined into
`ship`, so that their loops vectorise as one function's (see `sim.market.allocation_kernels`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class ShipIndex(NamedTuple):
    """What `ship` reads of a shipment plan (`sim.market.shipping.ShippingPlans.ship_plan`),
    as flat indices.

    Lane rows: row ``r = offset * lanes + lane`` (an arrival step's customer lane) sums
    ``x[lane_edge[q]] * lane_weight[q]`` for ``q`` in ``lane_ptr[r]:lane_ptr[r + 1]``, in the
    lane's order of edges. Entries: entry ``i`` adds member ``share_row[i]``'s share of lane
    row ``lane_row[i]`` (a row and product), times the destination's weight ``column[i]`` if
    any, ``offset[i]`` steps from now at place ``place[i]`` (customer and product)."""

    lane_ptr: np.ndarray
    lane_edge: np.ndarray
    lane_weight: np.ndarray
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
    plan: ShipIndex,
    share: np.ndarray,
    offsets: np.ndarray,
    step: int,
    weight: np.ndarray,
    weighted: bool,
    out: np.ndarray,
) -> None:
    """Add a market's flows ``x_sl[edges, K, S or 1]`` to a pipeline's ring ``out[slot, S, C,
    K]``: each entry's ``share[member, product, s] * rows[lane_row, s]``, times
    ``weight[column, s]`` if ``weighted``, ``offsets[offset]`` steps from ``step`` (slot
    ``(step + offsets[offset]) % slots``), where ``rows[offset x lane x product, S or 1]``
    is what each lane receives at each arrival step; customers' shares ``share[C, K or 1, S
    or 1]`` are samples-last, and so are ``weight[columns, S or 1]``."""
    rows = np.empty((plan.lane_ptr.size - 1, x_sl.shape[1], x_sl.shape[2]))
    weighted_group_sum(x_sl, plan.lane_ptr, plan.lane_edge, plan.lane_weight, rows)
    lanes = rows.reshape((-1, x_sl.shape[2]))
    shares = share.reshape((-1, share.shape[2]))
    S = out.shape[1]
    ring = out.reshape((out.shape[0], S, -1))
    slots = (step + offsets) % out.shape[0]
    if lanes.shape[1] == S and shares.shape[1] == S and (not weighted or weight.shape[1] == S):
        _add_every_sample(lanes, shares, slots, plan, weight, weighted, ring)
    else:
        _add_repeating(lanes, shares, slots, plan, weight, weighted, ring)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _add_every_sample(
    lanes: np.ndarray,
    share: np.ndarray,
    slots: np.ndarray,
    plan: ShipIndex,
    weight: np.ndarray,
    weighted: bool,
    ring: np.ndarray,
) -> None:
    """`ship`'s additions where every array has a column a sample: samples innermost."""
    S = ring.shape[1]
    for i in range(plan.offset.size):
        slot = ring[slots[plan.offset[i]]]
        place, member, lane = (
            plan.place[i],
            share[plan.share_row[i]],
            lanes[plan.lane_row[i]],
        )
        if weighted:
            scale = weight[plan.column[i]]
            for s in range(S):
                slot[s, place] += member[s] * lane[s] * scale[s]
        else:
            for s in range(S):
                slot[s, place] += member[s] * lane[s]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _add_repeating(
    lanes: np.ndarray,
    share: np.ndarray,
    slots: np.ndarray,
    plan: ShipIndex,
    weight: np.ndarray,
    weighted: bool,
    ring: np.ndarray,
) -> None:
    """`ship`'s additions where some array has one column for every sample (it repeats)."""
    S = ring.shape[1]
    last_lane, last_share, last_w = lanes.shape[1] - 1, share.shape[1] - 1, weight.shape[1] - 1
    for i in range(plan.offset.size):
        slot = ring[slots[plan.offset[i]]]
        place, member, lane = (
            plan.place[i],
            share[plan.share_row[i]],
            lanes[plan.lane_row[i]],
        )
        column = plan.column[i]
        for s in range(S):
            part = member[min(s, last_share)] * lane[min(s, last_lane)]
            if weighted:
                part = part * weight[column, min(s, last_w)]
            slot[s, place] += part


@njit(cache=True, nogil=True, error_model="numpy")
def member_flows(
    x_sl: np.ndarray,
    pair_edge: np.ndarray,
    sup_share: np.ndarray,
    cus_share: np.ndarray,
    out: np.ndarray,
) -> None:
    """Flows between members ``out[S, P, C, K]``: ``x_sl[pair_edge[p, c], k, s] *
    sup_share[p, k, s] * cus_share[c, k, s]`` (0 times the shares where the pair has no
    edge), for flows ``x_sl[edges, K, S or 1]`` and shares ``[members, K or 1, S or 1]``
    (samples-last), each of the first ``S`` samples (a last axis of 1 repeats)."""
    S, P, C, K = out.shape
    for s in range(S):
        sx, sp = min(s, x_sl.shape[2] - 1), min(s, sup_share.shape[2] - 1)
        sc = min(s, cus_share.shape[2] - 1)
        kp, kc = sup_share.shape[1] - 1, cus_share.shape[1] - 1
        for p in range(P):
            for c in range(C):
                e = pair_edge[p, c]
                for k in range(K):
                    lane = x_sl[e, k, sx] if e >= 0 else 0.0
                    sent = lane * sup_share[p, min(k, kp), sp]
                    out[s, p, c, k] = sent * cus_share[c, min(k, kc), sc]


@njit(cache=True, nogil=True, error_model="numpy")
def seen_lead(
    x_sl: np.ndarray,
    ptr: np.ndarray,
    order: np.ndarray,
    lead: np.ndarray,
    share: np.ndarray,
    labels: np.ndarray,
    tiny: float,
    out: np.ndarray,
) -> None:
    """The months a market's flows ``x_sl[edges, K, S or 1]`` take to each member, by tonne:
    each customer lane's sums of its edges (``order[ptr[c]:ptr[c + 1]]``) times 1 and times
    their ``lead`` (`weighted_group_sum`), each member's ``share[m, K or 1, S or 1]`` of
    both (`sim.market.grouping_kernels.parts_sl`, ``labels[m]`` its lane), and the second
    over the first where that is above ``tiny``, else NaN: ``out[S, M, K]``."""
    got = np.empty((ptr.size - 1, x_sl.shape[1], x_sl.shape[2]))
    months = np.empty_like(got)
    weighted_group_sum(x_sl, ptr, order, np.ones(order.size), got)
    weighted_group_sum(x_sl, ptr, order, lead, months)
    S, M, K = out.shape
    last_sk, last_ss = share.shape[1] - 1, share.shape[2] - 1
    last_tk, last_ts = got.shape[1] - 1, got.shape[2] - 1
    for m in range(M):
        c = labels[m]
        for k in range(K):
            mk, tk = min(k, last_sk), min(k, last_tk)
            for s in range(S):
                part = share[m, mk, min(s, last_ss)]
                ts = min(s, last_ts)
                weight, time = part * got[c, tk, ts], part * months[c, tk, ts]
                out[s, m, k] = time / weight if weight > tiny else np.nan

"""Compiled shipping: a market's flows, summed by customer lane and arrival step, added to a
pipeline's ring of future arrivals.

`sim.market.flows.Flow.ship_into` sums the flows (``weighted_group_sum`` of
`sim.market.allocation_kernels`, by the plan of `sim.market.shipping.ShippingPlans`), then
`add_arrivals` shares each lane's arrivals among its members, samples innermost. The numbers
are those of the numpy reference (``tests/reference/flows.py``), bit for bit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class ArrivalEntries(NamedTuple):
    """The additions `add_arrivals` makes, one an entry ``i`` (flat indices): of lane row
    ``lane_row[i]`` (an offset's customer lane and product), member ``share_row[i]``'s share,
    times the destination's weight ``column[i]`` if any, lands ``offset[i]`` steps from now at
    place ``place[i]`` (customer and product) of the ring."""

    offset: np.ndarray
    lane_row: np.ndarray
    share_row: np.ndarray
    place: np.ndarray
    column: np.ndarray


@njit(cache=True, nogil=True, error_model="numpy")
def add_arrivals(
    lanes: np.ndarray,
    share: np.ndarray,
    slots: np.ndarray,
    entries: ArrivalEntries,
    weight: np.ndarray,
    weighted: bool,
    out: np.ndarray,
) -> None:
    """Add each entry's arrivals to the ring ``out[slot, S, C, K]``: ``share[m, s] *
    lanes[r, s]``, times ``weight[column, s]`` if ``weighted``, at slot ``slots[offset]``
    (``lanes[rows, S or 1]`` what each lane row receives; ``share[members x products, S or 1]``
    customers' shares, samples-last; ``weight[columns, S or 1]``)."""
    S = out.shape[1]
    ring = out.reshape((out.shape[0], S, -1))
    if lanes.shape[1] == S and share.shape[1] == S and (not weighted or weight.shape[1] == S):
        _add_every_sample(lanes, share, slots, entries, weight, weighted, ring)
    else:
        _add_repeating(lanes, share, slots, entries, weight, weighted, ring)


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
    """`add_arrivals` where every array has a column a sample: samples innermost."""
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
    """`add_arrivals` where some array has one column for every sample (it repeats)."""
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

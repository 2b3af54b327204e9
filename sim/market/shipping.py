"""Shipping plans: when a market's flows arrive, and where in a pipeline, worked out once per
market and lead times.

A route's lead time ``lead[G, H]`` (months between supplier lane ``G`` and customer lane
``H``) may be fractional: its flow is split between the steps either side of it, pro rata.
`ShippingPlans` keeps, by lead times, the arrival steps and each edge's weight at each
(`lead_weights`), the edges that reach each customer lane at each step (`lane_plan`), and
what the kernel `sim.market.shipping_kernels.ship` adds where (`ship_plan`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim.market.groupings import Destinations, Grouping
from sim.market.shipping_kernels import ShipIndex


class LanePlan(NamedTuple):
    """What each customer lane receives at each arrival step: row ``r = offset * lanes +
    lane`` sums ``x[edge[q]] * weight[q]`` for ``q`` in ``ptr[r]:ptr[r + 1]``, in the lane's
    order of edges."""

    ptr: np.ndarray
    edge: np.ndarray
    weight: np.ndarray


class ShipPlan(NamedTuple):
    """A pipeline's shipment plan: the arrival steps (``offsets``, steps from now) and what
    the kernel `ship` sums and adds (`ShipIndex`)."""

    offsets: np.ndarray
    ship_index: ShipIndex


class ShippingPlans:
    """A market's shipping plans, kept by lead times (a market's pipelines share them)."""

    def __init__(self, edge_flat: np.ndarray, edge_cus: Grouping, cus_labels: np.ndarray) -> None:
        """``edge_flat``: each edge's place in a ``[G * H]`` matrix; ``edge_cus``: edges
        grouped by customer lane; ``cus_labels``: each customer's lane."""
        self.edge_flat, self.edge_cus, self.cus_labels = edge_flat, edge_cus, cus_labels
        self._weights: dict[bytes, tuple[list[int], np.ndarray]] = {}
        self._lane_plans: dict[bytes, tuple[np.ndarray, LanePlan]] = {}
        self._ship_plans: dict[tuple, ShipPlan] = {}

    def lead_weights(self, lead: np.ndarray) -> tuple[list[int], np.ndarray]:
        """Arrival steps of the edges for lead times ``lead[G, H]`` between lanes: the offsets
        (steps from now) at which some edge delivers, and each edge's share of its flow
        delivered at each, ``[offsets, edges]``."""
        key = lead.tobytes()
        if key not in self._weights:
            whole = np.floor(lead).astype(int)
            frac = lead - whole
            offsets, weights = [], []
            for offset in range(int(whole.max(initial=0)) + 2):
                weight = (whole == offset) * (1.0 - frac) + (whole + 1 == offset) * frac
                if weight.reshape(-1)[self.edge_flat].any():
                    offsets.append(offset)
                    weights.append(weight.reshape(-1)[self.edge_flat])
            self._weights[key] = (
                offsets,
                np.array(weights, dtype=float).reshape(len(offsets), self.edge_flat.size),
            )
        return self._weights[key]

    def lane_plan(self, lead: np.ndarray) -> tuple[np.ndarray, LanePlan]:
        """`lead_weights` by customer lane: the offsets, and for each offset and lane the
        edges that deliver to it then, with their weights (edges of weight 0 left out: they
        add nothing)."""
        key = lead.tobytes()
        if key not in self._lane_plans:
            offsets, weights = self.lead_weights(lead)
            ptr, edges, w = [0], [], []
            groups = self.edge_cus
            for row in weights:
                for lane in range(groups.size):
                    members = groups.order[groups.ptr[lane] : groups.ptr[lane + 1]]
                    members = members[row[members] != 0.0]
                    edges.extend(members.tolist())
                    w.extend(row[members].tolist())
                    ptr.append(len(edges))
            self._lane_plans[key] = (
                np.asarray(offsets, dtype=np.int64),
                LanePlan(
                    np.asarray(ptr, dtype=np.int64),
                    np.asarray(edges, dtype=np.int64),
                    np.asarray(w, dtype=float),
                ),
            )
        return self._lane_plans[key]

    def ship_plan(
        self,
        lead: np.ndarray,
        first: int,
        destinations: Destinations,
        share_width: int,
        width: int,
        ring_width: int,
    ) -> ShipPlan:
        """`lane_plan` and the additions `ship` makes for customers from ``first``
        on, placed by ``destinations`` in a pipeline ``ring_width`` products wide, from flows
        ``width`` products wide and customers' shares ``share_width`` wide (1: one for all
        products): for each offset and destination whose lane something reaches then."""
        key = (lead.tobytes(), first, destinations.key, share_width, width, ring_width)
        if key not in self._ship_plans:
            offsets, lanes = self.lane_plan(lead)
            index = self._ship_index(
                lanes, len(offsets), first, destinations, share_width, width, ring_width
            )
            self._ship_plans[key] = ShipPlan(offsets, index)
        return self._ship_plans[key]

    def _ship_index(
        self,
        lanes: LanePlan,
        offsets: int,
        first: int,
        destinations: Destinations,
        share_width: int,
        width: int,
        ring_width: int,
    ) -> ShipIndex:
        """`ship_plan`'s lane rows and additions (by offset, then destination)."""
        customer = first + destinations.from_customer
        lane = self.cus_labels[customer]
        rows = np.arange(offsets)[:, None] * self.edge_cus.size + lane[None, :]
        reached = lanes.ptr[rows + 1] > lanes.ptr[rows]  # [offsets, destinations]
        offset, entry = np.nonzero(reached)
        product = destinations.from_product[entry]
        to = destinations.to_customer[entry] * ring_width + destinations.to_product[entry]
        return ShipIndex(
            lane_ptr=lanes.ptr,
            lane_edge=lanes.edge,
            lane_weight=lanes.weight,
            offset=_int64(offset),
            lane_row=_int64(rows[offset, entry] * width + product),
            share_row=_int64(customer[entry] * share_width + (product if share_width > 1 else 0)),
            place=_int64(to),
            column=_int64(entry),
        )


def _int64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)

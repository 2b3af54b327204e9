"""Flows: a market's allocation, what each member sends and receives, and its shipment into a
pipeline's ring of future arrivals.

A `Flow` keeps flows on the market's edges (pairs of lanes ``G``, ``H``) and each member's
share of its lane: supplier ``p`` sends customer ``c`` ``x[(G(p), H(c))] * sup_share[p] *
cus_share[c]``. The allocation pass leaves flows samples-last (``x_sl[edges, K, S]``), and so
are the shares kept (``sup_share_sl[P, K, S]``, ``cus_share_sl[C, K, S]``).
"""

from __future__ import annotations

import numpy as np

from sim.market.grouping_kernels import parts_sl, samples_first, samples_last
from sim.market.groupings import Destinations
from sim.market.lanes import Lanes
from sim.market.shipping_kernels import member_flows, seen_lead, ship, weighted_group_sum


class Flow:
    """An allocation on a market's lanes: flows on its edges, ``x[S, edges, K]`` or
    samples-last ``x_sl[edges, K, S]`` (each made from the other when first asked for), and
    each member's share of its lane, samples-last (``sup_share_sl[P, K, S]``,
    ``cus_share_sl[C, K, S]``; ``sup_share`` and ``cus_share`` are ``[S, ...]`` views)."""

    def __init__(
        self,
        market: Lanes,
        sup_share_sl: np.ndarray,
        cus_share_sl: np.ndarray,
        *,
        x: np.ndarray | None = None,
        x_sl: np.ndarray | None = None,
    ) -> None:
        assert (x is None) != (x_sl is None), "a flow is given one way"
        self.market, self.sup_share_sl, self.cus_share_sl = market, sup_share_sl, cus_share_sl
        self._x, self._x_sl = x, x_sl

    @property
    def sup_share(self) -> np.ndarray:
        """Suppliers' shares of their lanes, ``[S, P, K]`` (a view)."""
        return self.sup_share_sl.transpose(2, 0, 1)  # np.moveaxis's, without its checks

    @property
    def cus_share(self) -> np.ndarray:
        """Customers' shares of their lanes, ``[S, C, K]`` (a view)."""
        return self.cus_share_sl.transpose(2, 0, 1)

    @property
    def x(self) -> np.ndarray:
        """Flows on the market's edges, ``[S, edges, K]``."""
        if self._x is None:
            assert self._x_sl is not None
            K, S = self._x_sl.shape[1:]
            self._x = np.empty((S, self._x_sl.shape[0], K))
            samples_first(self._x_sl, self._x)
        return self._x

    @property
    def x_sl(self) -> np.ndarray:
        """Flows on the market's edges, samples-last ``[edges, K, S]``."""
        if self._x_sl is None:
            assert self._x is not None
            S, E, K = self._x.shape
            self._x_sl = np.empty((E, K, S))
            samples_last(np.asarray(self._x, dtype=float), self._x_sl)
        return self._x_sl

    def supplied(self) -> np.ndarray:
        """What each supplier sends, ``[S, P, K]``."""
        market = self.market
        return market.sup.part_sl(self.sup_share_sl, market.edge_sup.sum_sl(self.x_sl))

    def received(self) -> np.ndarray:
        """What each customer receives, ``[S, C, K]``."""
        market = self.market
        return market.cus.part_sl(self.cus_share_sl, market.edge_cus.sum_sl(self.x_sl))

    def arriving(self, weight: np.ndarray, customers: slice = slice(None)) -> np.ndarray:
        """What some ``customers`` receive along routes weighted by ``weight[G, H]`` (lanes),
        ``[S, customers, K]``."""
        market = self.market
        x_sl = self.x_sl
        got = np.empty((market.edge_cus.size, *x_sl.shape[1:]))
        by_edge = weight.reshape(-1)[market.edge_flat]
        weights = np.ascontiguousarray(by_edge[market.edge_cus.order], dtype=float)
        weighted_group_sum(x_sl, market.edge_cus.ptr, market.edge_cus.order, weights, got)
        share = self.cus_share_sl[customers]
        samples = max(share.shape[2], got.shape[2])
        out = np.empty((samples, share.shape[0], max(share.shape[1], got.shape[1])))
        parts_sl(share, got, market.cus_labels[customers], out)
        return out

    def lead_seen(
        self, lead: np.ndarray, tiny: float, customers: slice = slice(None)
    ) -> np.ndarray:
        """``[S, customers, K]`` the months this flow to some ``customers`` takes along routes
        of ``lead[G, H]`` months between lanes, by tonne (`arriving` with those weights over
        `arriving`; NaN where a customer gets ``tiny`` or less)."""
        market = self.market
        x_sl, order = self.x_sl, market.edge_cus.order
        weights = np.ascontiguousarray(lead.reshape(-1)[market.edge_flat][order], dtype=float)
        share = self.cus_share_sl[customers]
        samples = max(share.shape[2], x_sl.shape[2])
        out = np.empty((samples, share.shape[0], max(share.shape[1], x_sl.shape[1])))
        labels = market.cus_labels[customers]
        seen_lead(x_sl, market.edge_cus.ptr, order, weights, share, labels, tiny, out)
        return out

    def ship_into(
        self,
        ring: np.ndarray,
        step: int,
        lead: np.ndarray,
        customers: slice = slice(None),
        destinations: Destinations | None = None,
    ) -> None:
        """Add what some ``customers`` receive to a pipeline's ``ring[slot, S, C, K]``, each
        arrival ``offset`` steps from now at slot ``(step + offset) % slots``, along routes of
        ``lead[G, H]`` months between lanes (a fractional lead splits a route's flow between
        the steps either side of it, pro rata); ``destinations`` says where each customer's
        product lands (default: the same place)."""
        assert ring.flags.c_contiguous, "a pipeline's ring is one C-ordered array"
        market = self.market
        destinations = destinations or Destinations.same(ring.shape[2], ring.shape[3])
        share = np.ascontiguousarray(self.cus_share_sl)
        first = range(market.cus_labels.size)[customers].start
        x_sl = self.x_sl
        plan = market.shipping.ship_plan(
            lead, first, destinations, share.shape[1], x_sl.shape[1], ring.shape[3]
        )
        weight = destinations.weight
        ship(
            x_sl,
            plan.ship_index,
            share,
            plan.offsets,
            step,
            np.empty((0, 1)) if weight is None else np.asarray(weight, dtype=float).T.copy(),
            weight is not None,
            ring,
        )

    def dense(self, samples: slice = slice(0, 1)) -> np.ndarray:
        """Flows between members ``x[S, P, C, K]`` of some samples: the first (default) or
        all (``slice(None)``)."""
        market, x_sl = self.market, self.x_sl
        sup, cus = self.sup_share_sl, self.cus_share_sl
        if samples == slice(0, 1):
            count = 1
        else:
            assert samples == slice(None), "the first sample or all"
            count = max(x_sl.shape[2], sup.shape[2], cus.shape[2])
        P, C = market.pair_edge.shape
        out = np.empty((count, P, C, x_sl.shape[1]))
        member_flows(x_sl, market.pair_edge, sup, cus, out)
        return out

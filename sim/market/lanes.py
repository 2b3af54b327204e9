"""A market's lanes: its suppliers and customers grouped into interchangeable lanes, and the
edges (pairs of lanes that may carry flow) its flows are kept on.

Suppliers fall into lanes with the same open routes, home routes, control scopes and
``sup_key`` (the engine passes the region, which sets lead times); customers likewise, with the
same priority too. Members of a lane are interchangeable, so allocating between lanes and
sharing within a lane in proportion to each member's supply or need is allocating between
members (exactly, in exact arithmetic, when no route is capped).

Gathers use `np.take`, which returns C-ordered arrays (fancy indexing with a leading slice
does not), so that sums add in the same order whatever the batch size.
"""

from __future__ import annotations

import numpy as np

from sim.market.groupings import Grouping, class_labels
from sim.market.shipping import ShippingPlans


class Lanes:
    """A market's lanes and edges (`sim.market.markets.Market` allocates on them)."""

    def __init__(
        self,
        open_: np.ndarray,
        priority: np.ndarray,
        home: np.ndarray,
        sup_key: np.ndarray,
        cus_key: np.ndarray,
        scopes: tuple[np.ndarray, ...] | list[np.ndarray],
    ) -> None:
        """Lanes of routes ``open_[P, C, K]`` (1 where a route may carry a product), home
        routes ``home[P, C]``, customers' ``priority[C]``, keys ``sup_key[P]`` and
        ``cus_key[C]``, and controls' ``scopes`` (each ``[P, C, ...]``)."""
        self.sup = Grouping(class_labels(open_, home, sup_key, *scopes))
        flipped = (np.swapaxes(s, 0, 1) for s in scopes)
        self.cus = Grouping(class_labels(open_.swapaxes(0, 1), home.T, cus_key, priority, *flipped))
        self.open = self.lanes(open_)
        self.priority = np.asarray(priority)[self.cus.first]
        # Flows are kept only on edges: the pairs of lanes that may carry flow, by customer.
        sup_lane, cus_lane = np.nonzero(self.open.any(axis=2))
        order = np.lexsort((sup_lane, cus_lane))
        self.edge_sup_lane, self.edge_cus_lane = sup_lane[order], cus_lane[order]
        self.edge_flat = self.edge_sup_lane * self.open.shape[1] + self.edge_cus_lane
        self.edge_sup = Grouping(self.edge_sup_lane, self.sup.size)
        self.edge_cus = Grouping(self.edge_cus_lane, self.cus.size)
        self.cus_labels = self.cus.labels.astype(np.int64)
        self.shipping = ShippingPlans(self.edge_flat, self.edge_cus, self.cus_labels)
        # each member pair's edge, ``[P, C]`` (-1 where its lanes have none; `Flow.dense`)
        lane_pair = self.sup.labels[:, None] * self.cus.size + self.cus.labels[None, :]
        where = np.full(self.sup.size * self.cus.size, -1, dtype=np.int64)
        where[self.edge_flat] = np.arange(self.edge_flat.size)
        self.pair_edge = np.ascontiguousarray(where[lane_pair])

    def lanes(self, a: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        """Structure ``a[P, C, ...]`` at lane level, from each lane's first members (``a`` must
        be constant within lanes, as the structure lanes were built from is); ``columns``
        picks the market's customers from ``a``'s when they differ."""
        a = a if columns is None else np.take(a, columns, 1)
        return np.take(np.take(a, self.sup.first, 0), self.cus.first, 1)

    def sample_lanes(self, a: np.ndarray | None) -> np.ndarray | None:
        """``a[S, P, C, ...]`` at lane level (``None`` stays ``None``)."""
        return None if a is None else np.take(np.take(a, self.sup.first, 1), self.cus.first, 2)

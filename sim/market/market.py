"""Markets: who gets scarce supply, and what it costs.

`allocate` shares suppliers' available quantities among customers' needs, by priority tier
(higher first), then pro rata: each customer spreads its need over the suppliers it may buy
from in proportion to what they have, suppliers that are asked for more than they have scale
every request down, and unmet need is asked again of what is left. Arrays carry a leading
sample axis and a trailing product axis ``K`` (elements for oxide and metal, one for
concentrate and magnets): shapes ``avail[S, P, K]``, ``need[S, C, K]``, ``x[S, P, C, K]``.

A route may be capped (an export quota or ban): ``cap[S, P, C, K]`` bounds its flow, and
`allocate_controlled` derives the caps from the uncontrolled allocation, so that a quota of
share ``q`` lets through ``q`` of the normal flow between the classes of suppliers and
customers it reaches.

The engine does not allocate between every supplier and customer: a `Market` groups them once
into lanes and classes that face the same routes, allocates between classes along the routes
that may carry flow, and shares each lane's flow among its members (`Flow`); `Pool` turns
buyers of one element each into customers with a need over elements. See ``docs/design.md``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sim.market import kernels

ROUNDS = 4
TINY = 1e-12


def allocate(
    avail: np.ndarray,
    need: np.ndarray,
    open_: np.ndarray,
    priority: np.ndarray,
    cap: np.ndarray | None = None,
) -> np.ndarray:
    """Allocate supply to needs, highest ``priority`` tier of customers first.

    Args:
        avail: ``[S, P, K]`` what each supplier can deliver (>= 0).
        need: ``[S, C, K]`` what each customer wants (>= 0).
        open_: ``[P, C, K]`` or ``[S, P, C, K]`` 1 where the route may carry flow, else 0.
        priority: ``[C]`` integer tier of each customer.
        cap: optional ``[S, P, C, K]`` upper bound on each route's flow.

    Returns:
        ``x[S, P, C, K]`` with ``x.sum(2) <= avail`` and ``x.sum(1) <= need``.
    """
    S, P = avail.shape[:2]
    C, K = need.shape[1:]
    x = np.zeros((S, P * C, K))
    routes = np.asarray(open_, dtype=float).reshape(*open_.shape[:-3], P * C, K)
    left = avail
    for tier in sorted(set(priority.tolist()), reverse=True):
        members = np.flatnonzero(priority == tier)
        tier_need = np.take(need, members, axis=1)
        if not (tier_need > TINY).any():
            continue
        t = _Tier(np.ones((P, C, 1)), members, 0)  # every route of the tier, open or not
        flat = t.g * C + members[t.h]
        tier_cap = None if cap is None else np.take(cap.reshape(S, P * C, K), flat, axis=1)
        flow = t.fill(left, tier_need, tier_cap, np.take(routes, flat, axis=-2))
        x[:, flat] += flow
        left = np.maximum(left - t.by_g.sum(flow), 0.0)
    return x.reshape(S, P, C, K)


def allocate_controlled(
    avail: np.ndarray,
    need: np.ndarray,
    open_: np.ndarray,
    priority: np.ndarray,
    allowed: np.ndarray | None,
    normal_avail: np.ndarray | None = None,
    normal_need: np.ndarray | None = None,
) -> np.ndarray:
    """Allocate with export controls: ``allowed[S, P, C, K]`` is the share of normal flow
    a route may carry (1 = uncontrolled, 0 = banned); ``None`` means no control is active.

    The normal flow is the uncontrolled allocation of ``normal_avail`` to ``normal_need``
    (defaults ``avail`` and ``need``): plants that make to order pass their capacity and
    customers their running use, so that a quota is a share of what would ship in normal
    times, not of what its own cut has left plants able to make, nor of the panic orders of
    customers whose stocks it has emptied. Caps apply to the flow between classes of suppliers
    and customers that face the same routes (see `Market`); ``open_`` is ``[P, C, K]``.
    """
    market = Market(open_, priority, scopes=_allowed_scopes(allowed))
    flow = market.allocate(avail, need, market.sample_lanes(allowed), normal_avail, normal_need)
    return flow.dense(slice(None))


def allocate_home_first(
    avail: np.ndarray,
    need: np.ndarray,
    open_: np.ndarray,
    home: np.ndarray,
    priority: np.ndarray,
    allowed: np.ndarray | None,
    normal_avail: np.ndarray | None = None,
    normal_need: np.ndarray | None = None,
) -> np.ndarray:
    """Allocate over the routes marked ``home[P, C]`` first, then what is left over all routes.

    Buyers keep their established, mostly domestic suppliers and turn to the world market
    for the rest, so plants outside the largest supplier run full for their home customers.
    """
    market = Market(open_, priority, home=home, scopes=_allowed_scopes(allowed))
    flow = market.allocate(
        avail, need, market.sample_lanes(allowed), normal_avail, normal_need, home_first=True
    )
    return flow.dense(slice(None))


def _allowed_scopes(allowed: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """A dense ``allowed[S, P, C, K]`` as a structure ``[P, C, K, S]`` to group routes by."""
    return () if allowed is None else (np.moveaxis(allowed, 0, -1),)


def _labels(*rows: np.ndarray) -> np.ndarray:
    """Class of each of ``n`` members: members whose rows are equal in every array (each
    ``[n, ...]``) share a class; classes are numbered in order of first appearance."""
    n = rows[0].shape[0]
    if n == 0:
        return np.zeros(0, dtype=int)
    flat = np.concatenate(
        [np.ones((n, 1))] + [np.asarray(r, dtype=float).reshape(n, -1) for r in rows], axis=1
    )
    _, first, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=int)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


class Grouping:
    """A partition of members (axis 1 of ``[S, n, ...]`` arrays) into classes."""

    def __init__(self, labels: np.ndarray, size: int | None = None) -> None:
        self.labels = labels
        self.size = (int(labels.max()) + 1 if labels.size else 0) if size is None else size
        self.order = np.argsort(labels, kind="stable")
        counts = np.bincount(labels, minlength=self.size)
        present = np.flatnonzero(counts)  # classes with members
        self.first = self.order[(np.cumsum(counts) - counts)[present]]  # each one's first
        self.trivial = self.size == labels.size and bool((labels == np.arange(labels.size)).all())
        self.single = bool((counts == 1).all())  # each class one member: a sum is a gather
        # Class c's members are order[ptr[c]:ptr[c + 1]], ascending (a stable sort).
        self.ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.order = self.order.astype(np.int64)

    def sum(self, a: np.ndarray) -> np.ndarray:
        """Class totals ``[S, classes, ...]`` of ``a[S, members, ...]`` (``a`` itself if every
        member is its own class; do not write to the result); 0 for classes without members.
        Members are added one at a time in ascending order (a sum in a fixed order)."""
        if self.trivial:
            return a
        a = np.asarray(a, dtype=float)
        if self.single:  # a sum of one number is that number
            return np.take(a, self.order, axis=1)
        rest = a.shape[2:]
        width = math.prod(rest)
        out = np.empty((a.shape[0], self.size, width))
        kernels.group_sum(a.reshape(a.shape[0], a.shape[1], width), self.ptr, self.order, out)
        return out.reshape(a.shape[0], self.size, *rest)

    def weighted_sum(self, a: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """`sum` of ``a[S, members, ...] * weight[o, members]`` for each row of ``weight[O,
        members]``: ``[O, S, classes, ...]`` (a new array)."""
        a = np.asarray(a, dtype=float)
        rest = a.shape[2:]
        width = math.prod(rest)
        out = np.empty((weight.shape[0], a.shape[0], self.size, width))
        kernels.weighted_group_sum(
            a.reshape(a.shape[0], a.shape[1], width),
            np.ascontiguousarray(weight, dtype=float),
            self.ptr,
            self.order,
            out,
        )
        return out.reshape(weight.shape[0], a.shape[0], self.size, *rest)

    def sum_t(self, a: np.ndarray, width: int, products: np.ndarray | None = None) -> np.ndarray:
        """`sum` samples-last: class totals ``[classes, width, S]`` of ``a[S, members, width or
        1]``, or of its columns ``products`` (a new array; the same numbers)."""
        a = np.asarray(a, dtype=float)
        out = np.empty((self.size, width, a.shape[0]))
        kernels.gather_sum_t(a, self.ptr, self.order, _columns(a, width, products), out)
        return out

    def sum_edges(self, v: np.ndarray) -> np.ndarray:
        """`sum` of samples-last ``v[members, K, S]``: ``[classes, K, S]`` (a new array)."""
        out = np.empty((self.size, *v.shape[1:]))
        kernels.sum_t(v, self.ptr, self.order, out)
        return out

    def share_t(
        self, a: np.ndarray, total: np.ndarray, products: np.ndarray | None = None
    ) -> np.ndarray:
        """`share` of samples-last class totals ``total[classes, K, S]``, samples-last too:
        ``[members, K, S]`` (of ``a``'s columns ``products`` if given)."""
        a = np.asarray(a, dtype=float)
        K = max(a.shape[2] if products is None else len(products), total.shape[1])
        out = np.empty((a.shape[1], K, max(a.shape[0], total.shape[2])))
        kernels.shares_t(
            a, total, self.labels.astype(np.int64, copy=False), _columns(a, K, products), out
        )
        return out

    def part_t(self, share: np.ndarray, total: np.ndarray) -> np.ndarray:
        """`part` from samples-last shares ``share[members, K, S]`` and class totals
        ``total[classes, K, S]``: ``[S, members, K]``."""
        out = np.empty(
            (
                max(share.shape[2], total.shape[2]),
                share.shape[0],
                max(share.shape[1], total.shape[1]),
            )
        )
        kernels.parts_t(share, total, self.labels.astype(np.int64, copy=False), out)
        return out

    def sum_back(self, total: np.ndarray) -> np.ndarray:
        """Each member's class value ``[S, members, ...]`` from ``total[S, classes, ...]``."""
        return total if self.trivial else np.take(total, self.labels, axis=1)

    def share(self, a: np.ndarray, total: np.ndarray) -> np.ndarray:
        """Each member's share ``a / total`` of its class total (0 where the total is 0)."""
        return self._by_class(a, total, True)

    def part(self, share: np.ndarray, total: np.ndarray) -> np.ndarray:
        """Each member's ``share`` of its class ``total``: ``share * sum_back(total)``."""
        return self._by_class(share, total, False)

    def _by_class(self, a: np.ndarray, total: np.ndarray, divide: bool) -> np.ndarray:
        a, total = np.asarray(a, dtype=float), np.asarray(total, dtype=float)
        whole = (max(a.shape[0], total.shape[0]), a.shape[1], max(a.shape[2], total.shape[2]))
        out = np.empty(whole)
        kernels.by_class(a, total, self.labels.astype(np.int64, copy=False), divide, out)
        return out


class _Tier:
    """The routes that may carry flow to one priority tier's customer classes, as a list of
    edges ``(g, h)`` (``h`` counted within the tier), sorted by customer."""

    def __init__(self, open_: np.ndarray, members: np.ndarray, start: int) -> None:
        g, h = np.nonzero(open_[:, members].any(axis=2))
        order = np.lexsort((g, h))
        self.g, self.h = g[order], h[order]
        self.members = members
        self.open = open_[self.g, members[self.h]]  # [edges, K]
        self.by_g = Grouping(self.g, open_.shape[0])
        self.by_h = Grouping(self.h, len(members))
        self.edges = slice(start, start + len(self.g))

    def fill(
        self,
        avail: np.ndarray,
        need: np.ndarray,
        cap: np.ndarray | None,
        open_: np.ndarray | None = None,
    ) -> np.ndarray:
        """Pro-rata allocation within the tier, over its edges: flows ``[S, edges, K]`` from
        suppliers' ``avail[S, G, K]`` and the tier's ``need[S, members, K]``, each edge at
        most ``cap[S, edges, K]``; ``open_`` (``[edges, K]`` or ``[S, edges, K]``) overrides
        which edges are open. Each customer spreads its need over open edges in proportion
        to what suppliers have, oversubscribed suppliers scale requests down, and unmet need
        is asked again (``ROUNDS`` rounds, fewer once no open edge joins a supplier with
        something left to a customer that needs something)."""
        opened = self.open if open_ is None else open_
        # A sample stops as it would alone: when none of its open edges can carry more (its
        # later rounds then move exactly nothing, whatever the other samples of the batch do).
        need = np.where((need > TINY).any(axis=(1, 2), keepdims=True), need, 0.0)
        x = np.zeros(())
        for round_ in range(ROUNDS):
            weight = np.take(avail, self.g, axis=1) * opened
            if cap is not None:
                weight = np.minimum(weight, cap)
            total = np.take(self.by_h.sum(weight), self.h, axis=1)
            request = np.divide(weight, total, out=np.zeros_like(weight), where=total > TINY)
            request *= np.take(need, self.h, axis=1)
            if cap is not None:
                np.minimum(request, cap, out=request)
            asked = self.by_g.sum(request)
            over = (asked > avail) & (asked > 0)
            scale = np.divide(avail, asked, out=np.ones_like(avail), where=over)
            flow = request
            flow *= np.take(scale, self.g, axis=1)
            x = x + flow
            if round_ == ROUNDS - 1:
                break
            avail = np.maximum(avail - self.by_g.sum(flow), 0.0)
            need = np.maximum(need - self.by_h.sum(flow), 0.0)
            live = (np.take(avail, self.g, axis=1) > TINY) & (np.take(need, self.h, axis=1) > TINY)
            live &= opened > 0
            if cap is not None:
                cap = np.maximum(cap - flow, 0.0)
                live &= cap > TINY
            active = np.asarray(live.any(axis=(1, 2)))
            if not active.any():
                break
            need = need * active[:, None, None]
        return x


def _columns(a: np.ndarray, width: int, products: np.ndarray | None = None) -> np.ndarray:
    """Which column of ``a[..., n]`` each of ``width`` products reads: ``products`` (if
    given), each its own (``n == width``), or the one column (``n == 1``)."""
    if products is not None:
        return np.asarray(products, dtype=np.int64)
    if a.shape[-1] == 1:
        return np.zeros(width, dtype=np.int64)
    assert a.shape[-1] == width, "a product axis of the width or of 1"
    return np.arange(width, dtype=np.int64)


def _every_sample(a: np.ndarray, samples: int) -> np.ndarray:
    """Samples-last ``a[n, K, S or 1]`` with a column for every sample (C-ordered)."""
    if a.shape[2] == samples:
        return a
    return np.ascontiguousarray(np.broadcast_to(a, (*a.shape[:2], samples)))


def _samples_last(a: np.ndarray, samples: int, width: int) -> np.ndarray:
    """``a[S or 1, n, K or 1]`` as a C-ordered ``[n, width, samples]`` float array."""
    out = np.empty((a.shape[1], width, samples))
    kernels.samples_last(np.asarray(a, dtype=float), out)
    return out


class _Pass:
    """One allocation over a market's lanes, grouped further into the coarsest classes of
    suppliers and customers that face the same open routes, controls and priority.

    Classes allocate along a list of the routes that may carry flow (edges), tier by tier;
    this is `allocate` (same rounds, same order of tiers) without the routes that are closed.
    """

    def __init__(
        self,
        open_: np.ndarray,
        priority: np.ndarray,
        scopes: list[np.ndarray],
        lane_edges: tuple[np.ndarray, np.ndarray],
    ) -> None:
        self.sup = Grouping(_labels(open_, *scopes))
        self.cus = Grouping(
            _labels(open_.swapaxes(0, 1), priority, *(s.swapaxes(0, 1) for s in scopes))
        )
        self.open = np.take(np.take(open_, self.sup.first, 0), self.cus.first, 1)
        self.priority = priority[self.cus.first]
        self.tiers: list[_Tier] = []
        start = 0
        for tier in sorted(set(self.priority.tolist()), reverse=True):
            self.tiers.append(_Tier(self.open, np.flatnonzero(self.priority == tier), start))
            start = self.tiers[-1].edges.stop
        none = [np.zeros(0, dtype=int)]
        g = np.concatenate([t.g for t in self.tiers] + none).astype(int)
        h = np.concatenate([t.members[t.h] for t in self.tiers] + none).astype(int)
        self.flat = g * self.open.shape[1] + h  # each edge's place in a [G * H] matrix
        # each edge's first supplier and customer (the lanes of its classes)
        self.edge_g = self.sup.first[g].astype(np.int64)
        self.edge_h = self.cus.first[h].astype(np.int64)
        # Each lane edge's class edge (or -1 where this pass does not open it).
        where = np.full(self.open.shape[0] * self.open.shape[1], -1)
        where[self.flat] = np.arange(len(self.flat))
        lane_g, lane_h = lane_edges
        at = self.sup.labels[lane_g] * self.open.shape[1] + self.cus.labels[lane_h]
        self.lane_edge = where[at]
        self.lane_g, self.lane_h = lane_g, lane_h
        self._kernel: dict[int, tuple] = {}  # `kernels.pass_allocate`'s structure, by width
        self._allowed: tuple[np.ndarray, np.ndarray] | None = None  # the last controls' edges

    def _structure(self, width: int) -> tuple:
        """This pass's groupings, tiers and lane edges as `kernels.pass_allocate` reads them,
        for products ``width`` wide."""
        if width not in self._kernel:
            i64, tiers = np.int64, self.tiers
            none = [np.zeros(0, dtype=i64)]

            def cat(parts: list[np.ndarray]) -> np.ndarray:
                return np.concatenate(parts + none).astype(i64)

            opened = [np.broadcast_to(t.open, (t.g.size, width)) for t in tiers]
            self._kernel[width] = (
                tuple(
                    (g.trivial, g.ptr, g.order, g.labels.astype(i64), g.size)
                    for g in (self.sup, self.cus)
                ),
                (
                    np.array([0] + [t.edges.stop for t in tiers], dtype=i64),
                    np.cumsum([0] + [len(t.members) for t in tiers]).astype(i64),
                    cat([t.members for t in tiers]),
                    cat([t.g for t in tiers]),
                    cat([t.h for t in tiers]),
                    cat([t.by_g.ptr for t in tiers]),
                    (np.arange(len(tiers)) * (self.open.shape[0] + 1)).astype(i64),
                    cat([t.by_g.order for t in tiers]),
                    cat([t.by_h.ptr for t in tiers]),
                    np.cumsum([0] + [len(t.members) + 1 for t in tiers])[:-1].astype(i64),
                    cat([t.by_h.order for t in tiers]),
                    np.ascontiguousarray(np.concatenate(opened + [np.zeros((0, width))])),
                ),
                tuple(np.asarray(v, dtype=i64) for v in (self.lane_edge, self.lane_g, self.lane_h)),
            )
        return self._kernel[width]

    def _edges(self, a: np.ndarray) -> np.ndarray:
        """Class-level ``a[S, G, H, K]`` on this pass's edges, ``[S, edges, K]``."""
        return np.take(a.reshape(a.shape[0], -1, a.shape[3]), self.flat, axis=1)

    def _run(self, avail: np.ndarray, need: np.ndarray, cap: np.ndarray | None) -> np.ndarray:
        """Flows on edges, ``[S, edges, K]``, tier by tier, highest first."""
        parts = []
        left = avail
        for t in self.tiers:
            tier_need = np.take(need, t.members, axis=1)
            if not t.g.size or not (tier_need > TINY).any():
                parts.append(np.zeros((avail.shape[0], t.g.size, avail.shape[2])))
                continue
            flow = t.fill(left, tier_need, None if cap is None else cap[:, t.edges])
            shape = (avail.shape[0], t.g.size, avail.shape[2])
            flow = flow if flow.shape == shape else np.broadcast_to(flow, shape)
            parts.append(flow)
            left = np.maximum(left - t.by_g.sum(flow), 0.0)
        return np.concatenate(parts, axis=1)

    def allocate(
        self,
        avail: np.ndarray,
        need: np.ndarray,
        allowed: np.ndarray | None,
        normal_avail: np.ndarray,
        normal_need: np.ndarray,
    ) -> np.ndarray:
        """Flows on the market's lane edges ``[S, edges, K]`` from lanes' supply and need;
        ``allowed[S, G, H, K]`` is the lanes' share of normal flow (constant within a class
        by construction). `kernels.pass_allocate` does it with samples innermost; the numbers
        are those of `allocate_numpy`."""
        S = max(
            avail.shape[0],
            need.shape[0],
            normal_avail.shape[0],
            normal_need.shape[0],
            1 if allowed is None else allowed.shape[0],
        )
        K = avail.shape[2]
        xt = self.allocate_t(
            _samples_last(avail, S, K),
            _samples_last(need, S, K),
            allowed,
            _samples_last(normal_avail, S, K),
            _samples_last(normal_need, S, K),
        )
        out = np.empty((S, self.lane_edge.size, K))
        kernels.samples_first(xt, out)
        return out

    def allocate_t(
        self,
        a: np.ndarray,
        n: np.ndarray,
        allowed: np.ndarray | None,
        na: np.ndarray,
        nn: np.ndarray,
    ) -> np.ndarray:
        """`allocate` samples-last: lanes' supply, need and normal levels ``[lanes, K, S]``
        (C-ordered, every sample) to flows ``[edges, K, S]``."""
        K, S = a.shape[1], a.shape[2]
        (sup, cus), tiers, lanes = self._structure(K)
        edges = np.ones((0, K, S))
        if allowed is not None:  # on this pass's edges, between classes' first members
            # Controls' shares change only when a control does (a new array then): kept.
            held = self._allowed
            if held is not None and held[0] is allowed and held[1].shape == (self.flat.size, K, S):
                edges = held[1]
            else:
                edges = np.empty((self.flat.size, K, S))
                kernels.edges_samples_last(
                    np.asarray(allowed, dtype=float), self.edge_g, self.edge_h, edges
                )
                self._allowed = (allowed, edges)
        x = np.empty((self.lane_edge.size, K, S))
        kernels.pass_allocate(
            a, n, na, nn, edges, allowed is not None, sup, cus, tiers, lanes, ROUNDS, TINY, x
        )
        return x

    def allocate_numpy(
        self,
        avail: np.ndarray,
        need: np.ndarray,
        allowed: np.ndarray | None,
        normal_avail: np.ndarray,
        normal_need: np.ndarray,
    ) -> np.ndarray:
        """`allocate` with numpy between the tiers' rounds: the reference for the kernel."""
        a, n = self.sup.sum(avail), self.cus.sum(need)
        if not self.flat.size:
            return np.zeros((a.shape[0], self.lane_edge.size, a.shape[2]))
        if allowed is not None:
            allowed = self._edges(np.take(np.take(allowed, self.sup.first, 1), self.cus.first, 2))
            if not (allowed < 1.0).any():
                allowed = None  # no route this allocation opens is capped
        if allowed is None:
            x = self._run(a, n, None)
        else:
            normal = self._run(self.sup.sum(normal_avail), self.cus.sum(normal_need), None)
            x = self._run(a, n, np.where(allowed < 1.0, allowed * normal, np.inf))
        opened = self.lane_edge >= 0
        x = np.take(x, np.where(opened, self.lane_edge, 0), axis=1)
        if not opened.all():
            x = x * opened[None, :, None]
        if not self.sup.trivial:
            x = x * np.take(self.sup.share(avail, a), self.lane_g, axis=1)
        if not self.cus.trivial:
            x = x * np.take(self.cus.share(need, n), self.lane_h, axis=1)
        return x


SHARED_MARKETS = 32  # markets kept by `Market.shared`
_SHARED: dict[tuple[str, int], Market] = {}


class Market:
    """A market's routes, grouped once so that each step allocates between classes, not
    between every supplier and customer.

    Gathers use `np.take`, which returns C-ordered arrays (fancy indexing with a leading
    slice does not), so that sums add in the same order whatever the batch size.

    Suppliers fall into **lanes**: suppliers with the same open routes, home routes, control
    scopes and ``sup_key`` (the engine passes the region, which sets lead times); customers
    likewise, with the same priority. Members of a lane are interchangeable, so pro-rata
    allocation between lanes, then shared within a lane in proportion to each member's supply
    or need, is the allocation between members (exactly, in exact arithmetic, when no route is
    capped). Each allocation groups lanes further into the coarsest classes that face the
    same routes. A control's cap applies to the flow between classes.
    """

    def __init__(
        self,
        open_: np.ndarray,
        priority: np.ndarray,
        *,
        home: np.ndarray | None = None,
        sup_key: np.ndarray | None = None,
        cus_key: np.ndarray | None = None,
        scopes: tuple[np.ndarray, ...] | list[np.ndarray] = (),
    ) -> None:
        open_ = np.asarray(open_, dtype=float)
        P, C = open_.shape[:2]
        home_ = np.ones((P, C)) if home is None else np.asarray(home, dtype=float)
        keys_p = np.zeros(P) if sup_key is None else np.asarray(sup_key)
        keys_c = np.zeros(C) if cus_key is None else np.asarray(cus_key)
        self.sup = Grouping(_labels(open_, home_, keys_p, *scopes))
        flipped = (np.swapaxes(s, 0, 1) for s in scopes)
        self.cus = Grouping(_labels(open_.swapaxes(0, 1), home_.T, keys_c, priority, *flipped))
        self.open = self.lanes(open_)
        self.priority = np.asarray(priority)[self.cus.first]
        # Flows are kept only on edges: the pairs of lanes that may carry flow, by customer.
        g, h = np.nonzero(self.open.any(axis=2))
        order = np.lexsort((g, h))
        g, h = g[order], h[order]
        self.edge_flat = g * self.open.shape[1] + h
        self.edge_sup = Grouping(g, self.sup.size)
        self.edge_cus = Grouping(h, self.cus.size)
        self.cus_labels = self.cus.labels.astype(np.int64)
        self._lead_weights: dict[bytes, tuple[list[int], np.ndarray]] = {}
        self._lead_plans: dict[bytes, tuple[np.ndarray, tuple]] = {}
        self._ship_plans: dict[tuple, tuple[np.ndarray, tuple, tuple]] = {}
        lane_scopes = [self.lanes(s) for s in scopes]
        self.world = _Pass(self.open, self.priority, lane_scopes, (g, h))
        self.home = (
            None
            if home is None
            else _Pass(
                self.open * self.lanes(home_)[:, :, None], self.priority, lane_scopes, (g, h)
            )
        )

    @classmethod
    def shared(cls, open_: np.ndarray, priority: np.ndarray, **kwargs: Any) -> Market:
        """`Market` of these routes, the same object for the same arguments (a sweep's
        batches, and a run's one-sample prefix, build their chains' markets once). A market
        changes after it is built only in caches of what its arguments determine (plans,
        lane structures) and of the last control shares it saw (kept by identity)."""
        parts = [open_, priority] + [kwargs.get(k) for k in ("home", "sup_key", "cus_key")]
        parts += list(kwargs.get("scopes", ()))
        digest = hashlib.sha1()
        for part in parts:
            a = np.ascontiguousarray(part if part is not None else np.zeros(0))
            digest.update(f"{a.dtype}{a.shape}|".encode())
            digest.update(a.tobytes())
        key = (digest.hexdigest(), len(parts))
        if key not in _SHARED:
            if len(_SHARED) >= SHARED_MARKETS:
                del _SHARED[next(iter(_SHARED))]  # the oldest
            _SHARED[key] = cls(open_, priority, **kwargs)
        return _SHARED[key]

    def lead_weights(self, lead: np.ndarray) -> tuple[list[int], np.ndarray]:
        """Arrival months of the market's edges for lead times ``lead[G, H]`` between lanes:
        the offsets (steps from now) at which some edge delivers, and each edge's share of its
        flow delivered at each, ``[offsets, edges]`` (a fractional lead splits a route's flow
        between the steps either side of it, pro rata)."""
        key = lead.tobytes()
        if key not in self._lead_weights:
            whole = np.floor(lead).astype(int)
            frac = lead - whole
            offsets, weights = [], []
            for offset in range(int(whole.max(initial=0)) + 2):
                weight = (whole == offset) * (1.0 - frac) + (whole + 1 == offset) * frac
                if weight.reshape(-1)[self.edge_flat].any():
                    offsets.append(offset)
                    weights.append(weight.reshape(-1)[self.edge_flat])
            self._lead_weights[key] = (
                offsets,
                np.array(weights, dtype=float).reshape(len(offsets), self.edge_flat.size),
            )
        return self._lead_weights[key]

    def lead_plan(self, lead: np.ndarray) -> tuple[np.ndarray, tuple]:
        """`lead_weights` as `kernels.ship` reads them: the offsets, and for each offset and
        customer lane the edges that deliver to it then with their weights, in the lane's
        order (``(ptr, edge, weight)``, rows ``offset * lanes + lane``)."""
        key = lead.tobytes()
        if key not in self._lead_plans:
            offsets, weights = self.lead_weights(lead)
            ptr, edges, w = [0], [], []
            for row in weights:
                for h in range(self.edge_cus.size):
                    members = self.edge_cus.order[self.edge_cus.ptr[h] : self.edge_cus.ptr[h + 1]]
                    members = members[row[members] != 0.0]
                    edges.extend(members.tolist())
                    w.extend(row[members].tolist())
                    ptr.append(len(edges))
            self._lead_plans[key] = (
                np.asarray(offsets, dtype=np.int64),
                (
                    np.asarray(ptr, dtype=np.int64),
                    np.asarray(edges, dtype=np.int64),
                    np.asarray(w, dtype=float),
                ),
            )
        return self._lead_plans[key]

    def ship_plan(
        self, lead: np.ndarray, first: int, into: Into, share_width: int, width: int, buf_width: int
    ) -> tuple[np.ndarray, tuple, tuple]:
        """`lead_plan` and the additions `kernels.ship` makes for customers from ``first`` on,
        placed by ``into`` in a pipeline ``buf_width`` products wide, from flows ``width``
        products wide and customers' shares ``share_width`` wide (1: one for all products):
        for each offset and entry of ``into`` whose lane something reaches then, in that
        order, its offset, lane row, member, place and column (flat indices)."""
        key = (lead.tobytes(), first, into.key, share_width, width, buf_width)
        if key not in self._ship_plans:
            offsets, plan = self.lead_plan(lead)
            ptr, lanes = plan[0], self.edge_cus.size
            c = first + into.src_c
            rows = np.arange(len(offsets))[:, None] * lanes + self.cus_labels[c][None, :]
            reached = ptr[rows + 1] > ptr[rows]  # [offsets, entries]
            o, j = np.nonzero(reached)
            k = into.src_k[j]
            entries = tuple(
                np.ascontiguousarray(v, dtype=np.int64)
                for v in (
                    o,
                    rows[o, j] * width + k,
                    c[j] * share_width + (k if share_width > 1 else 0),
                    into.dst_c[j] * buf_width + into.dst_k[j],
                    j,
                )
            )
            self._ship_plans[key] = (offsets, plan, entries)
        return self._ship_plans[key]

    def lanes(self, a: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        """Structure ``a[P, C, ...]`` at lane level, from each lane's first members (``a`` must
        be constant within lanes, as the structure lanes were built from is); ``columns``
        picks the market's customers from ``a``'s when they differ."""
        a = a if columns is None else np.take(a, columns, 1)
        return np.take(np.take(a, self.sup.first, 0), self.cus.first, 1)

    def sample_lanes(self, a: np.ndarray | None) -> np.ndarray | None:
        """``a[S, P, C, ...]`` at lane level (``None`` stays ``None``)."""
        return None if a is None else np.take(np.take(a, self.sup.first, 1), self.cus.first, 2)

    def allocate(
        self,
        avail: np.ndarray,
        need: np.ndarray,
        allowed: np.ndarray | None,
        normal_avail: np.ndarray | None = None,
        normal_need: np.ndarray | None = None,
        home_first: bool = False,
        products: np.ndarray | None = None,
    ) -> Flow:
        """As the module's `allocate_controlled` (or, with ``home_first``,
        `allocate_home_first`), for members' ``avail[S, P, K]`` and ``need[S, C, K]``, with
        ``allowed[S, G, H, K]`` per lane; with ``products``, of those columns of wider arrays
        (normal levels of one column or as wide). Lane totals and flows are kept samples-last,
        as the allocation pass works (`_Pass.allocate_t`); the numbers are those of lane
        totals summed samples-first (`Grouping.sum`)."""
        K = avail.shape[2] if products is None else len(products)

        def wide(v: np.ndarray) -> np.ndarray | None:  # which columns of ``v`` are traded
            return products if products is not None and v.shape[2] > 1 else None

        a, n = self.sup.sum_t(avail, K, wide(avail)), self.cus.sum_t(need, K, wide(need))
        na = a if normal_avail is None else self.sup.sum_t(normal_avail, K, wide(normal_avail))
        nn = n if normal_need is None else self.cus.sum_t(normal_need, K, wide(normal_need))
        S = max(v.shape[2] for v in (a, n, na, nn))
        S = max(S, 1 if allowed is None else allowed.shape[0])
        a_, n_, na_, nn_ = (_every_sample(v, S) for v in (a, n, na, nn))
        if not home_first:
            x = self.world.allocate_t(a_, n_, allowed, na_, nn_)
        else:
            assert self.home is not None, "a market without home routes"
            first = self.home.allocate_t(a_, n_, allowed, na_, nn_)
            sent, got = self.edge_sup.sum_edges(first), self.edge_cus.sum_edges(first)
            x = first + self.world.allocate_t(
                np.maximum(a_ - sent, 0.0),
                np.maximum(n_ - got, 0.0),
                allowed,
                np.maximum(na_ - sent, 0.0),
                np.maximum(nn_ - got, 0.0),
            )
        return Flow(
            self,
            self.sup.share_t(avail, a, wide(avail)),
            self.cus.share_t(need, n, wide(need)),
            xt=x,
        )


class Flow:
    """An allocation: flows on the market's edges (pairs of lanes ``g, h``), ``x[S, edges,
    K]`` or samples-last ``xt[edges, K, S]`` (each made from the other when first asked for),
    and each member's share of its lane, samples-last (``sup_t[P, K, S]``, ``cus_t[C, K, S]``;
    ``sup_share`` and ``cus_share`` are ``[S, ...]`` views of them); supplier ``p`` sends
    customer ``c`` ``x[(g(p), h(c))] * sup_share[p] * cus_share[c]``."""

    def __init__(
        self,
        market: Market,
        sup_t: np.ndarray,
        cus_t: np.ndarray,
        *,
        x: np.ndarray | None = None,
        xt: np.ndarray | None = None,
    ) -> None:
        assert (x is None) != (xt is None), "a flow is given one way"
        self.market, self.sup_t, self.cus_t = market, sup_t, cus_t
        self._x, self._xt = x, xt
        self._lanes_got: dict[bytes, tuple[list[int], np.ndarray]] = {}

    @property
    def sup_share(self) -> np.ndarray:
        """Suppliers' shares of their lanes, ``[S, P, K]`` (a view)."""
        return np.moveaxis(self.sup_t, -1, 0)

    @property
    def cus_share(self) -> np.ndarray:
        """Customers' shares of their lanes, ``[S, C, K]`` (a view)."""
        return np.moveaxis(self.cus_t, -1, 0)

    @property
    def x(self) -> np.ndarray:
        if self._x is None:
            assert self._xt is not None
            K, S = self._xt.shape[1:]
            self._x = np.empty((S, self._xt.shape[0], K))
            kernels.samples_first(self._xt, self._x)
        return self._x

    @property
    def xt(self) -> np.ndarray:
        if self._xt is None:
            assert self._x is not None
            S, E, K = self._x.shape
            self._xt = np.empty((E, K, S))
            kernels.samples_last(np.asarray(self._x, dtype=float), self._xt)
        return self._xt

    def supplied(self) -> np.ndarray:
        """What each supplier sends, ``[S, P, K]``."""
        m = self.market
        return m.sup.part_t(self.sup_t, m.edge_sup.sum_edges(self.xt))

    def received(self) -> np.ndarray:
        """What each customer receives, ``[S, C, K]``."""
        m = self.market
        return m.cus.part_t(self.cus_t, m.edge_cus.sum_edges(self.xt))

    def arriving(self, weight: np.ndarray, customers: slice = slice(None)) -> np.ndarray:
        """What some ``customers`` receive along routes weighted by ``weight[G, H]`` (lanes)."""
        m = self.market
        xt = self.xt
        got = np.empty((m.edge_cus.size, *xt.shape[1:]))
        kernels.weighted_sum_t(
            xt,
            m.edge_cus.ptr,
            m.edge_cus.order,
            np.ascontiguousarray(weight.reshape(-1)[m.edge_flat], dtype=float),
            got,
        )
        share = self.cus_t[customers]
        out = np.empty(
            (max(share.shape[2], got.shape[2]), share.shape[0], max(share.shape[1], got.shape[1]))
        )
        kernels.parts_t(share, got, m.cus_labels[customers], out)
        return out

    def by_lead(
        self, lead: np.ndarray, customers: slice = slice(None)
    ) -> list[tuple[int, np.ndarray]]:
        """What some ``customers`` receive ``offset`` steps from now, for each offset, along
        routes of ``lead[G, H]`` months between lanes (a fractional lead splits a route's flow
        between the steps either side of it, pro rata): with numpy, the reference for
        `ship_into`."""
        m = self.market
        key = lead.tobytes()  # pipelines of one market share their lanes' lead times
        if key not in self._lanes_got:
            offsets, weights = m.lead_weights(lead)
            self._lanes_got[key] = (offsets, m.edge_cus.weighted_sum(self.x, weights))
        offsets, got = self._lanes_got[key]
        labels = m.cus.labels[customers]
        return [
            (offset, self.cus_share[:, customers] * np.take(got[i], labels, axis=1))
            for i, offset in enumerate(offsets)
        ]

    def ship_into(
        self,
        buf: np.ndarray,
        step: int,
        lead: np.ndarray,
        customers: slice = slice(None),
        into: Into | None = None,
    ) -> None:
        """Add what some ``customers`` receive to a pipeline's ring ``buf[slot, S, C, K]``,
        each offset's arrivals at slot ``(step + offset) % slots`` (`by_lead`, compiled);
        ``into`` says where each customer's product lands (default: the same place)."""
        m = self.market
        into = into or Into.same(buf.shape[2], buf.shape[3])
        share = np.ascontiguousarray(self.cus_t)
        first = range(m.cus.labels.size)[customers].start
        xt = self.xt
        offsets, plan, entries = m.ship_plan(
            lead, first, into, share.shape[1], xt.shape[1], buf.shape[3]
        )
        mult = (
            np.ones((0, 1))
            if into.mult is None
            else np.ascontiguousarray(np.asarray(into.mult, dtype=float).T)
        )  # samples-last, as the shares
        assert buf.flags.c_contiguous, "a pipeline's ring is one C-ordered array"
        kernels.ship(
            xt,
            plan,
            share,
            (step + offsets) % buf.shape[0],
            entries,
            mult,
            into.mult is not None,
            buf,
        )

    def dense(self, samples: slice = slice(0, 1)) -> np.ndarray:
        """Flows between members ``x[S, P, C, K]`` of some samples (the first by default)."""
        m = self.market
        edges = self.x[samples]
        lanes = np.zeros((edges.shape[0], m.sup.size * m.cus.size, edges.shape[2]))
        lanes[:, m.edge_flat] = edges
        x = lanes.reshape(edges.shape[0], m.sup.size, m.cus.size, edges.shape[2])
        x = np.take(np.take(x, m.sup.labels, 1), m.cus.labels, 2)
        return x * self.sup_share[samples][:, :, None, :] * self.cus_share[samples][:, None, :, :]


def scarcity_price(
    base_usd_per_kg: np.ndarray, fill: np.ndarray, elasticity: float, ceiling: float
) -> np.ndarray:
    """Price from the share of need that was met: ``base * fill**(-1/elasticity)``, capped.

    A fully served market (fill 1) keeps its base price; a market that met half its need at a
    short-run demand elasticity of 0.5 pays four times base.
    """
    shape = np.broadcast_shapes(np.shape(base_usd_per_kg), np.shape(fill))
    base = np.broadcast_to(base_usd_per_kg, shape)
    # Most markets are served in full, where the factor is exactly 1: base, capped.
    out = np.broadcast_to(np.minimum(base_usd_per_kg, base_usd_per_kg * ceiling), shape).copy()
    short = np.broadcast_to(fill < 1.0, shape)
    if short.any():
        low = base[short]
        safe = np.clip(np.broadcast_to(fill, shape)[short], 1.0 / ceiling**elasticity, 1.0)
        out[short] = np.minimum(low * safe ** (-1.0 / elasticity), low * ceiling)
    return out


@dataclass(frozen=True)
class Into:
    """Where shipped customers' arrivals land in a pipeline: entry ``j`` takes shipped
    customer ``src_c[j]``'s product ``src_k[j]``, times ``mult[:, j]`` if given, into the
    pipeline's customer ``dst_c[j]`` and product ``dst_k[j]`` (each place at most once).
    ``key`` names the places (not ``mult``)."""

    src_c: np.ndarray
    src_k: np.ndarray
    dst_c: np.ndarray
    dst_k: np.ndarray
    mult: np.ndarray | None = None
    key: bytes = b""

    @staticmethod
    def of(
        src_c: np.ndarray,
        src_k: np.ndarray,
        dst_c: np.ndarray,
        dst_k: np.ndarray,
        mult: np.ndarray | None = None,
    ) -> Into:
        sc, sk, dc, dk = (
            np.ascontiguousarray(a, dtype=np.int64) for a in (src_c, src_k, dst_c, dst_k)
        )
        key = b"|".join(a.tobytes() for a in (sc, sk, dc, dk))
        return Into(sc, sk, dc, dk, mult=mult, key=key)

    @staticmethod
    def same(customers: int, width: int) -> Into:
        """Every customer's every product to the same place."""
        c, k = (a.reshape(-1) for a in np.indices((customers, width), dtype=np.int64))
        return Into.of(c, k, c, k)

    @staticmethod
    def columns(customers: int, products: np.ndarray) -> Into:
        """Product ``j`` to column ``products[j]`` (a market of some of a pipeline's
        products)."""
        c, j = (a.reshape(-1) for a in np.indices((customers, len(products)), dtype=np.int64))
        return Into.of(c, j, c, np.asarray(products, dtype=np.int64)[j])


class Pool:
    """Customers that each need one product, pooled into customers that need several.

    Customer ``j`` needs only product ``product[j]`` and joins pool ``pool[j]``; a market sees
    ``pools`` customers with a need over all ``width`` products, which is what element buyers
    are to the oxide market (one region's buyers of La, Ce, Y, ... become one customer). What a
    pool receives of a product is shared among its members that need it pro rata to their need.
    """

    def __init__(self, pool: np.ndarray, product: np.ndarray, pools: int, width: int) -> None:
        flat = np.asarray(pool, dtype=int) * width + np.asarray(product, dtype=int)
        self.flat = flat
        self.cells, labels = np.unique(flat, return_inverse=True)
        self.group = Grouping(labels.reshape(-1))
        self.shape = (pools, width)
        self._into: Into | None = None

    def total(self, a: np.ndarray) -> np.ndarray:
        """Pools' need ``[S, pools, width]`` from members' ``a[S, J]`` (a read-only view of
        one row when ``a`` is one row for every sample, as demand mostly is)."""
        if a.shape[0] > 1 and a.strides[0] == 0:
            return np.broadcast_to(self.total(a[:1]), (a.shape[0], *self.shape))
        out = np.zeros((a.shape[0], self.shape[0] * self.shape[1]))
        out[:, self.cells] = self.group.sum(a)
        return out.reshape(a.shape[0], *self.shape)

    def pick(self, a: np.ndarray) -> np.ndarray:
        """Each member's product of its pool, ``[S, J]`` from ``a[S, pools, width]``."""
        return np.take(a.reshape(a.shape[0], -1), self.flat, axis=1)

    def share(self, a: np.ndarray, total: np.ndarray) -> np.ndarray:
        """Each member's share ``a[S, J]`` of its pool's ``total[S, pools, width]``."""
        whole = self.pick(total)
        return np.divide(a, whole, out=np.zeros_like(a), where=whole > 0)

    def into(self, share: np.ndarray) -> Into:
        """Where pools' arrivals go: each member's product of its pool, times its ``share[S,
        J]`` (`pick`), to the member (a pipeline of one product a member)."""
        if self._into is None:
            pool, product = np.divmod(self.flat.astype(np.int64), self.shape[1])
            members = np.arange(len(self.flat), dtype=np.int64)
            self._into = Into.of(pool, product, members, np.zeros_like(members))
        return replace(self._into, mult=share)

    def spread(self, a: np.ndarray, share: np.ndarray) -> np.ndarray:
        """Members' part ``[S, P, J, width]`` of pools' flows ``a[S, P, pools, width]``, given
        members' ``share[S, J]`` of their pool's product (zero but in each member's product)."""
        pool, product = np.divmod(self.flat, self.shape[1])
        out = np.zeros((*a.shape[:2], len(self.flat), self.shape[1]))
        out[:, :, np.arange(len(self.flat)), product] = a[:, :, pool, product] * share[:, None, :]
        return out

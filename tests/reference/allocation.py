"""Allocation in numpy: a tier's pro-rata rounds (`fill`), the dense allocation between every
supplier and customer (`dense_allocate`), and an allocation pass between classes
(`pass_flows`, the numbers of `sim.market.allocation_kernels.allocate_pass`)."""

from __future__ import annotations

import numpy as np

from sim.market.allocation import ROUNDS, TINY, AllocationPass
from tests.reference.groupings import class_share, class_sum


class Edges:
    """The routes ``open_[G, H, K]`` that may carry flow to customers ``members``, as edges
    (``sup``, ``cus``), ``cus`` counted among the members, sorted by customer."""

    def __init__(self, open_: np.ndarray, members: np.ndarray) -> None:
        sup, cus = np.nonzero(open_[:, members].any(axis=2))
        order = np.lexsort((sup, cus))
        self.sup, self.cus = sup[order], cus[order]
        self.members = members
        self.open = open_[self.sup, members[self.cus]]  # [edges, K]
        self.suppliers = open_.shape[0]

    def by_sup(self, a: np.ndarray) -> np.ndarray:
        return class_sum(a, self.sup, self.suppliers)

    def by_cus(self, a: np.ndarray) -> np.ndarray:
        return class_sum(a, self.cus, len(self.members))


def fill(
    edges: Edges,
    avail: np.ndarray,
    need: np.ndarray,
    cap: np.ndarray | None,
    open_: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Pro-rata allocation within a tier, over its edges: flows ``[S, edges, K]`` from
    suppliers' ``avail[S, G, K]`` and the tier's ``need[S, members, K]``, each edge at most
    ``cap[S, edges, K]``; ``open_`` (``[edges, K]`` or ``[S, edges, K]``) overrides which
    edges are open. Each customer spreads its need over open edges in proportion to what
    suppliers have (in the first round, to their ``weights[S, G, K]`` if given),
    oversubscribed suppliers scale requests down, and unmet need is asked again (``ROUNDS``
    rounds, fewer once no open edge can carry more)."""
    opened = edges.open if open_ is None else open_
    # A sample stops as it would alone: when none of its open edges can carry more.
    need = np.where((need > TINY).any(axis=(1, 2), keepdims=True), need, 0.0)
    x = np.zeros(())
    for round_ in range(ROUNDS):
        by = avail if weights is None or round_ > 0 else weights
        weight = np.take(by, edges.sup, axis=1) * opened
        if cap is not None:
            weight = np.minimum(weight, cap)
        total = np.take(edges.by_cus(weight), edges.cus, axis=1)
        request = np.divide(weight, total, out=np.zeros_like(weight), where=total > TINY)
        request *= np.take(need, edges.cus, axis=1)
        if cap is not None:
            np.minimum(request, cap, out=request)
        asked = edges.by_sup(request)
        over = (asked > avail) & (asked > 0)
        scale = np.divide(avail, asked, out=np.ones_like(avail), where=over)
        flow = request
        flow *= np.take(scale, edges.sup, axis=1)
        x = x + flow
        if round_ == ROUNDS - 1:
            break
        avail = np.maximum(avail - edges.by_sup(flow), 0.0)
        need = np.maximum(need - edges.by_cus(flow), 0.0)
        live = (np.take(avail, edges.sup, axis=1) > TINY) & (
            np.take(need, edges.cus, axis=1) > TINY
        )
        live &= opened > 0
        if cap is not None:
            cap = np.maximum(cap - flow, 0.0)
            live &= cap > TINY
        active = np.asarray(live.any(axis=(1, 2)))
        if not active.any():
            break
        need = need * active[:, None, None]
    return x


def dense_allocate(
    avail: np.ndarray, need: np.ndarray, open_: np.ndarray, priority: np.ndarray
) -> np.ndarray:
    """Allocate ``avail[S, P, K]`` to ``need[S, C, K]`` between every supplier and customer
    on routes ``open_[P, C, K]``, highest ``priority[C]`` tier first: ``x[S, P, C, K]``."""
    S, P = avail.shape[:2]
    C, K = need.shape[1:]
    x = np.zeros((S, P * C, K))
    routes = np.asarray(open_, dtype=float).reshape(P * C, K)
    left = avail
    for level in sorted(set(priority.tolist()), reverse=True):
        members = np.flatnonzero(priority == level)
        tier_need = np.take(need, members, axis=1)
        if not (tier_need > TINY).any():
            continue
        edges = Edges(np.ones((P, C, 1)), members)  # every route of the tier, open or not
        flat = edges.sup * C + members[edges.cus]
        flow = fill(edges, left, tier_need, None, np.take(routes, flat, axis=-2))
        x[:, flat] += flow
        left = np.maximum(left - edges.by_sup(flow), 0.0)
    return x.reshape(S, P, C, K)


def class_flows(
    p: AllocationPass,
    avail: np.ndarray,
    need: np.ndarray,
    cap: np.ndarray | None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Flows between a pass's classes ``[S, G, H, K]`` from classes' ``avail[S, G, K]`` and
    ``need[S, H, K]``, each route at most ``cap[S, G, H, K]``, highest priority tier first,
    on the routes that may carry flow (0 elsewhere)."""
    G, H = p.open.shape[:2]
    K = avail.shape[2]
    x = np.zeros((avail.shape[0], G * H, K))
    left = avail
    for level in sorted(set(p.priority.tolist()), reverse=True):
        members = np.flatnonzero(p.priority == level)
        edges = Edges(p.open, members)
        tier_need = np.take(need, members, axis=1)
        if not edges.sup.size or not (tier_need > TINY).any():
            continue
        flat = edges.sup * H + members[edges.cus]
        tier_cap = None if cap is None else np.take(cap.reshape(-1, G * H, K), flat, axis=1)
        flow = fill(edges, left, tier_need, tier_cap, None, weights)
        x[:, flat] = flow
        left = np.maximum(left - edges.by_sup(flow), 0.0)
    return x.reshape(avail.shape[0], G, H, K)


def pass_flows(
    p: AllocationPass,
    avail: np.ndarray,
    need: np.ndarray,
    allowed: np.ndarray | None,
    normal_avail: np.ndarray,
    normal_need: np.ndarray,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """A pass's flows on the market's lane edges ``[S, edges, K]`` from lanes' ``avail[S, G,
    K]`` and ``need[S, H, K]`` and normal levels, with lanes' ``allowed[S, G, H, K]`` share
    of normal flow, customers spreading need by lanes' ``weights`` in a tier's first round if
    given: `AllocationPass.allocate_sl`'s numbers, samples first. Only the pass's classes
    (and routes, priority) are read from it."""
    sup, cus = p.sup, p.cus
    w = None if weights is None else class_sum(weights, sup.labels, sup.size)
    a, n = class_sum(avail, sup.labels, sup.size), class_sum(need, cus.labels, cus.size)
    if allowed is not None:
        allowed = np.take(np.take(allowed, sup.first, 1), cus.first, 2)  # between classes
        if not (allowed[:, p.open.any(axis=2)] < 1.0).any():
            allowed = None  # no route this allocation opens is capped
    if allowed is None:
        x = class_flows(p, a, n, None, w)
    else:
        normal_a = class_sum(normal_avail, sup.labels, sup.size)
        normal = class_flows(p, normal_a, class_sum(normal_need, cus.labels, cus.size), None, w)
        x = class_flows(p, a, n, np.where(allowed < 1.0, allowed * normal, np.inf), w)
    lanes = p.lane_edges
    at = sup.labels[lanes.sup_lane] * cus.size + cus.labels[lanes.cus_lane]
    x = np.take(x.reshape(x.shape[0], -1, x.shape[3]), at, axis=1)
    if not sup.trivial:
        x = x * np.take(class_share(avail, a, sup.labels), lanes.sup_lane, axis=1)
    if not cus.trivial:
        x = x * np.take(class_share(need, n, cus.labels), lanes.cus_lane, axis=1)
    return x

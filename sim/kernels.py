"""Compiled loops for the engine's innermost arithmetic (numba).

A batch carries thousands of samples through every step; written as numpy expressions, the
markets' pro-rata rounds spend their time moving ``[S, edges, K]`` temporaries through memory
and paying numpy's per-call cost, thousands of calls a step. These kernels run the same
arithmetic one sample at a time in compiled loops, with scratch arrays that stay in cache.

They do exactly the operations of the numpy code they replace, in the same order (sums add
members in ascending index order, as `sim.market.Grouping` documents), so results are equal
bit for bit, and a sample's numbers still do not depend on the batch it runs in.
Compiled code is cached next to this module (``cache=True``): the first run on a machine
compiles for a few seconds, later runs load it.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def group_sum(a: np.ndarray, ptr: np.ndarray, idx: np.ndarray, out: np.ndarray) -> None:
    """``out[s, c, r]``: the sum of ``a[s, m, r]`` over class ``c``'s members ``m`` =
    ``idx[ptr[c]:ptr[c + 1]]``, added one at a time in that order (0 without members)."""
    S, C, R = out.shape
    for s in range(S):
        for c in range(C):
            lo, hi = ptr[c], ptr[c + 1]
            if lo == hi:
                for r in range(R):
                    out[s, c, r] = 0.0
                continue
            m = idx[lo]
            for r in range(R):
                out[s, c, r] = a[s, m, r]
            for q in range(lo + 1, hi):
                m = idx[q]
                for r in range(R):
                    out[s, c, r] += a[s, m, r]


@njit(cache=True, nogil=True)
def _by_class(v: np.ndarray, ptr: np.ndarray, idx: np.ndarray, out: np.ndarray) -> None:
    """`group_sum` of one sample: ``out[c, k]`` from ``v[e, k]``."""
    C, K = out.shape
    for c in range(C):
        lo, hi = ptr[c], ptr[c + 1]
        for k in range(K):
            t = 0.0
            if lo < hi:
                t = v[idx[lo], k]
                for q in range(lo + 1, hi):
                    t += v[idx[q], k]
            out[c, k] = t


@njit(cache=True, nogil=True)
def fill(
    avail: np.ndarray,
    need: np.ndarray,
    cap: np.ndarray,
    has_cap: bool,
    opened: np.ndarray,
    g: np.ndarray,
    h: np.ndarray,
    g_ptr: np.ndarray,
    g_idx: np.ndarray,
    h_ptr: np.ndarray,
    h_idx: np.ndarray,
    rounds: int,
    tiny: float,
    x: np.ndarray,
) -> None:
    """Pro-rata rounds of one priority tier over its edges ``(g[e], h[e])``, into
    ``x[S, E, K]``: the loop of `sim.market._Tier.fill`, one sample at a time.

    ``avail[Sa, G, K]``, ``need[Sn, H, K]``, ``cap[Sc, E, K]`` (read when ``has_cap``) and
    ``opened[So, E, K]`` have a leading axis of 1 (shared by every sample) or ``S``. Suppliers'
    edges are ``g_idx[g_ptr[i]:g_ptr[i + 1]]``, customers' likewise, in ascending order.
    A sample stops when none of its open edges can carry more; its later rounds would move
    exactly nothing.
    """
    S, E, K = x.shape
    G = avail.shape[1]
    H = need.shape[1]
    av = np.empty((G, K))
    nd = np.empty((H, K))
    cp = np.empty((E, K))
    w = np.empty((E, K))
    req = np.empty((E, K))
    tot = np.empty((H, K))
    per_g = np.empty((G, K))
    per_h = np.empty((H, K))
    for s in range(S):
        sa = s if avail.shape[0] > 1 else 0
        sn = s if need.shape[0] > 1 else 0
        so = s if opened.shape[0] > 1 else 0
        sc = s if cap.shape[0] > 1 else 0
        wanted = False
        for c in range(H):
            for k in range(K):
                nd[c, k] = need[sn, c, k]
                if nd[c, k] > tiny:
                    wanted = True
        if not wanted:
            nd[:, :] = 0.0
        for i in range(G):
            for k in range(K):
                av[i, k] = avail[sa, i, k]
        if has_cap:
            for e in range(E):
                for k in range(K):
                    cp[e, k] = cap[sc, e, k]
        for e in range(E):
            for k in range(K):
                x[s, e, k] = 0.0
        for round_ in range(rounds):
            for e in range(E):
                for k in range(K):
                    v = av[g[e], k] * opened[so, e, k]
                    if has_cap and cp[e, k] < v:
                        v = cp[e, k]
                    w[e, k] = v
            _by_class(w, h_ptr, h_idx, tot)
            for e in range(E):
                for k in range(K):
                    t = tot[h[e], k]
                    r = w[e, k] / t if t > tiny else 0.0
                    r *= nd[h[e], k]
                    if has_cap and cp[e, k] < r:
                        r = cp[e, k]
                    req[e, k] = r
            _by_class(req, g_ptr, g_idx, per_g)
            for i in range(G):
                for k in range(K):
                    a, q = av[i, k], per_g[i, k]
                    per_g[i, k] = a / q if (q > a and q > 0.0) else 1.0  # the scale
            for e in range(E):
                for k in range(K):
                    req[e, k] *= per_g[g[e], k]  # now the flow
                    x[s, e, k] = x[s, e, k] + req[e, k]
            if round_ == rounds - 1:
                break
            _by_class(req, g_ptr, g_idx, per_g)
            _by_class(req, h_ptr, h_idx, per_h)
            for i in range(G):
                for k in range(K):
                    v = av[i, k] - per_g[i, k]
                    av[i, k] = v if v > 0.0 else 0.0
            for c in range(H):
                for k in range(K):
                    v = nd[c, k] - per_h[c, k]
                    nd[c, k] = v if v > 0.0 else 0.0
            live = False
            for e in range(E):
                for k in range(K):
                    ok = av[g[e], k] > tiny and nd[h[e], k] > tiny and opened[so, e, k] > 0.0
                    if has_cap:
                        v = cp[e, k] - req[e, k]
                        cp[e, k] = v if v > 0.0 else 0.0
                        ok = ok and cp[e, k] > tiny
                    live = live or ok
            if not live:
                break


@njit(cache=True, nogil=True)
def weighted_group_sum(
    a: np.ndarray, weight: np.ndarray, ptr: np.ndarray, idx: np.ndarray, out: np.ndarray
) -> None:
    """`group_sum` of ``a[s, m, r] * weight[o, m]`` for each row ``o`` of ``weight``, into
    ``out[o, s, c, r]``: each product rounded, then added in order."""
    S = out.shape[1]
    for s in range(S):
        _weighted_lanes(a, s, weight, ptr, idx, out[:, s])


@njit(cache=True, nogil=True)
def _weighted_lanes(a: np.ndarray, s: int, weight: np.ndarray, ptr: np.ndarray,
                    idx: np.ndarray, out: np.ndarray) -> None:
    """Sample ``s`` of `weighted_group_sum`, into ``out[o, c, r]``."""
    offsets, C, R = out.shape
    for o in range(offsets):
        for c in range(C):
            lo, hi = ptr[c], ptr[c + 1]
            for r in range(R):
                t = 0.0
                if lo < hi:
                    m = idx[lo]
                    t = a[s, m, r] * weight[o, m]
                    for q in range(lo + 1, hi):
                        m = idx[q]
                        t += a[s, m, r] * weight[o, m]
                out[o, c, r] = t


@njit(cache=True, nogil=True)
def backlog_claim(
    unmet: np.ndarray, idle: np.ndarray, open_: np.ndarray, tiny: float, out: np.ndarray
) -> None:
    """`sim.startup.backlog_claim` one sample at a time, into ``out[S, P, K]``: unmet need
    ``unmet[S, C, K]`` shared among plants' idle capacity ``idle[S, P]`` on routes
    ``open_[P, C]``, pro rata, each plant's claim within its idle capacity. Sums start at 0
    and add one slice at a time in index order, as `sim.startup.add_along` does."""
    S, P, K = out.shape
    C = unmet.shape[1]
    weight = np.empty((P, C))
    total = np.empty(C)
    for s in range(S):
        for c in range(C):
            total[c] = 0.0
        for p in range(P):
            for c in range(C):
                weight[p, c] = idle[s, p] * open_[p, c]
                total[c] = total[c] + weight[p, c]
        for p in range(P):
            for c in range(C):
                weight[p, c] = weight[p, c] / total[c] if total[c] > tiny else 0.0  # share
            for k in range(K):
                out[s, p, k] = 0.0
            for c in range(C):
                for k in range(K):
                    out[s, p, k] = out[s, p, k] + weight[p, c] * unmet[s, c, k]
            asked = 0.0
            for k in range(K):
                asked = asked + out[s, p, k]
            scale = idle[s, p] / asked if asked > idle[s, p] else 1.0
            scale = scale if scale < 1.0 else 1.0
            for k in range(K):
                out[s, p, k] = out[s, p, k] * scale


@njit(cache=True, nogil=True)
def ship(
    x: np.ndarray,
    weight: np.ndarray,
    ptr: np.ndarray,
    idx: np.ndarray,
    share: np.ndarray,
    first: int,
    labels: np.ndarray,
    slots: np.ndarray,
    buf: np.ndarray,
) -> None:
    """Add a market's flows to a pipeline: ``buf[slots[o], s, c] += share[s, first + c] *
    lanes[o, labels[first + c]]`` (``share``'s last axis may be 1: one share for every
    product), where ``lanes[o, h]`` sums ``x[s, e] * weight[o, e]`` over customer lane
    ``h``'s edges ``idx[ptr[h]:ptr[h + 1]]`` in order (`weighted_group_sum`): what each
    customer receives ``o`` steps on, rounded as numpy rounds it."""
    S, C, K = buf.shape[1], buf.shape[2], buf.shape[3]
    offsets, H = weight.shape[0], ptr.size - 1
    lanes = np.empty((offsets, H, K))
    for s in range(S):
        _weighted_lanes(x, min(s, x.shape[0] - 1), weight, ptr, idx, lanes)
        ss = min(s, share.shape[0] - 1)
        wide = share.shape[2] > 1  # else one share for every product
        for o in range(offsets):
            slot = slots[o]
            for c in range(C):
                lane = labels[first + c]
                for k in range(K):
                    part = share[ss, first + c, k if wide else 0] * lanes[o, lane, k]
                    buf[slot, s, c, k] += part

"""Compiled loops for the engine's innermost arithmetic (numba).

A batch carries hundreds of samples through every step; written as numpy expressions, the
markets' pro-rata rounds spend their time moving ``[S, edges, K]`` temporaries through memory
and paying numpy's per-call cost, thousands of calls a step. These kernels run the same
arithmetic in compiled loops: a whole allocation pass with the samples as the innermost,
vectorised loop (`pass_allocate`), and class sums, lead-time arrivals and start-up claims one
sample at a time.

They do exactly the operations of the numpy code they replace, in the same order (sums add
members in ascending index order, as `sim.market.market.Grouping` documents; no fast-math), so
results are equal bit for bit, and a sample's numbers still do not depend on the batch it
runs in (`tests/test_kernels.py`). Compiled code is cached next to this module
(``cache=True``): the first run on a machine compiles for a few seconds, later runs load it.
Divisions follow numpy's error model (no zero check, which keeps loops vectorisable): every
divisor is tested before it is used, as in the numpy code.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NO_WEIGHTS = np.empty(0)  # `_sum_t` without weights


@njit(cache=True, nogil=True, error_model="numpy")
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


@njit(cache=True, nogil=True, error_model="numpy")
def weighted_group_sum(
    a: np.ndarray, weight: np.ndarray, ptr: np.ndarray, idx: np.ndarray, out: np.ndarray
) -> None:
    """`group_sum` of ``a[s, m, r] * weight[o, m]`` for each row ``o`` of ``weight``, into
    ``out[o, s, c, r]``: each product rounded, then added in order."""
    S = out.shape[1]
    for s in range(S):
        _weighted_lanes(a, s, weight, ptr, idx, out[:, s])


@njit(cache=True, nogil=True, error_model="numpy")
def _weighted_lanes(
    a: np.ndarray, s: int, weight: np.ndarray, ptr: np.ndarray, idx: np.ndarray, out: np.ndarray
) -> None:
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


@njit(cache=True, nogil=True, error_model="numpy")
def by_class(
    a: np.ndarray, total: np.ndarray, labels: np.ndarray, divide: bool, out: np.ndarray
) -> None:
    """Each member's ``a[s, m, k]`` against its class's ``total[s, labels[m], k]``: divided
    by it where it is > 0 (else 0), or multiplied by it (``divide`` False); a first or last
    axis of 1 repeats."""
    S, M, K = out.shape
    whole = a.shape[2] == K and total.shape[2] == K  # else a last axis of 1 repeats
    for s in range(S):
        sa, st = min(s, a.shape[0] - 1), min(s, total.shape[0] - 1)
        for m in range(M):
            c = labels[m]
            if whole:  # products innermost, plain indices: one vectorised loop
                if divide:
                    for k in range(K):
                        t = total[st, c, k]
                        out[s, m, k] = a[sa, m, k] / t if t > 0 else 0.0
                else:
                    for k in range(K):
                        out[s, m, k] = a[sa, m, k] * total[st, c, k]
                continue
            for k in range(K):
                v = a[sa, m, min(k, a.shape[2] - 1)]
                t = total[st, c, min(k, total.shape[2] - 1)]
                if divide:
                    out[s, m, k] = v / t if t > 0 else 0.0
                else:
                    out[s, m, k] = v * t


@njit(cache=True, nogil=True, error_model="numpy")
def backlog_claim(
    unmet: np.ndarray, idle: np.ndarray, open_: np.ndarray, tiny: float, out: np.ndarray
) -> None:
    """`startups.backlog_claim` one sample at a time, into ``out[S, P, K]``: unmet need
    ``unmet[S, C, K]`` shared among plants' idle capacity ``idle[S, P]`` on routes
    ``open_[P, C]``, pro rata, each plant's claim within its idle capacity. Sums start at 0
    and add one slice at a time in index order, as `sim.model.levers.startups.add_along` does."""
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
            for k in range(K):
                out[s, p, k] = 0.0
            for c in range(C):
                # A closed route or no idle capacity: a share of exactly 0, which adds
                # exactly 0 (need is finite and >= 0), so it is skipped.
                if weight[p, c] == 0.0:
                    continue
                share = weight[p, c] / total[c] if total[c] > tiny else 0.0
                for k in range(K):
                    out[s, p, k] = out[s, p, k] + share * unmet[s, c, k]
            asked = 0.0
            for k in range(K):
                asked = asked + out[s, p, k]
            scale = idle[s, p] / asked if asked > idle[s, p] else 1.0
            scale = scale if scale < 1.0 else 1.0
            for k in range(K):
                out[s, p, k] = out[s, p, k] * scale


# -- a stage's arithmetic, one sample at a time ----------------------------------------------
# numpy sums a contiguous last axis pairwise (`_pairwise`), any other axis one row at a time.


@njit(cache=True, nogil=True, error_model="numpy")
def _pairwise(v: np.ndarray) -> float:
    """``v.sum()`` as numpy adds a contiguous run of at most 128 numbers: one at a time from
    0 below 8, else in 8 running sums combined as a tree, then the remainder."""
    n = v.size
    if n < 8:
        res = 0.0
        for i in range(n):
            res += v[i]
        return res
    r0, r1, r2, r3, r4, r5, r6, r7 = v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
    i = 8
    while i < n - n % 8:
        r0 += v[i]
        r1 += v[i + 1]
        r2 += v[i + 2]
        r3 += v[i + 3]
        r4 += v[i + 4]
        r5 += v[i + 5]
        r6 += v[i + 6]
        r7 += v[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += v[i]
        i += 1
    return res


@njit(cache=True, nogil=True, error_model="numpy")
def coverage(
    got: np.ndarray,
    need: np.ndarray,
    use: np.ndarray,
    capped: bool,
    ptr: np.ndarray,
    idx: np.ndarray,
    out: np.ndarray,
) -> None:
    """Share of need that deliveries covered, for groups of members (group ``g``: members
    ``idx[ptr[g]:ptr[g + 1]]``, ascending): ``out[s, g, k]`` = the group's sum of ``got[s, m,
    k]`` over its sum of ``need[s, m, k]`` (1 where that is <= 1e-9), each capped at ``use[s,
    m, k]`` first if ``capped`` (a first axis of 1 repeats). Sums as numpy adds the rows of
    a C-ordered ``[S, members, K]`` array: in order, or pairwise when ``K`` is 1."""
    S, G, K = out.shape
    n = 0
    for g in range(G):
        n = max(n, ptr[g + 1] - ptr[g])
    a = np.empty(n)
    b = np.empty(n)
    for s in range(S):
        sg, sn, su = min(s, got.shape[0] - 1), min(s, need.shape[0] - 1), min(s, use.shape[0] - 1)
        for g in range(G):
            lo, hi = ptr[g], ptr[g + 1]
            for k in range(K):
                for q in range(lo, hi):
                    m = idx[q]
                    x, y = got[sg, m, k], need[sn, m, k]
                    if capped:
                        u = use[su, m, k]
                        x = u if u < x else x
                        y = u if u < y else y
                    a[q - lo], b[q - lo] = x, y
                if K == 1:
                    covered, wanted = _pairwise(a[: hi - lo]), _pairwise(b[: hi - lo])
                else:
                    covered, wanted = 0.0, 0.0
                    if hi > lo:
                        covered, wanted = a[0], b[0]
                    for q in range(1, hi - lo):
                        covered += a[q]
                        wanted += b[q]
                out[s, g, k] = covered / wanted if wanted > 1e-9 else 1.0


@njit(cache=True, nogil=True, error_model="numpy")
def separate(
    sep_in: np.ndarray,
    cap: np.ndarray,
    per_reo: np.ndarray,
    recover: np.ndarray,
    sep_out: np.ndarray,
    losses: np.ndarray,
    out: np.ndarray,
) -> None:
    """Separation plants crack their feed ``sep_in[S, G, K]`` (t element; ``per_reo[K]``
    t element a t REO) up to ``cap[S, G]`` t REO: ``out`` (``recover[G, K]`` of what is
    cracked) is added to ``sep_out``, the rest to ``losses[S, K]``; cracked feed leaves
    ``sep_in``. `sim.model.stages.separate` spelled out, with numpy's rounding."""
    S, G, K = sep_in.shape
    reo = np.empty(K)
    lost = np.empty(K)
    column = np.empty(G)  # with one element numpy sums the plants' column pairwise
    for s in range(S):
        for g in range(G):
            for k in range(K):
                reo[k] = sep_in[s, g, k] / per_reo[k]
            feed = _pairwise(reo)
            share = cap[s, g] / feed if feed > 0 else 0.0
            share = 1.0 if share > 1.0 else share  # np.minimum(share, 1.0)
            for k in range(K):
                done = sep_in[s, g, k] * share
                made = done * recover[g, k]
                sep_in[s, g, k] = sep_in[s, g, k] - done
                sep_out[s, g, k] = sep_out[s, g, k] + made
                out[s, g, k] = made
                column[g] = done - made
                if g == 0:
                    lost[k] = done - made
                else:
                    lost[k] = lost[k] + (done - made)
        if K == 1:
            lost[0] = _pairwise(column)
        for k in range(K):
            losses[s, k] = losses[s, k] + lost[k]


@njit(cache=True, nogil=True, error_model="numpy")
def magnet_avail(mag_in: np.ndarray, per_t: np.ndarray, cap: np.ndarray, out: np.ndarray) -> None:
    """What magnet plants can make, ``out[S, G]``: capacity ``cap[S, G]`` or what the metal
    they hold ``mag_in[S, G, K]`` allows at ``per_t[G, K]`` t metal a t of magnet, if less."""
    S, G, K = mag_in.shape
    for s in range(S):
        for g in range(G):
            limit = np.inf
            for k in range(K):
                if per_t[g, k] > 0:
                    allows = mag_in[s, g, k] / per_t[g, k]
                    limit = allows if allows < limit else limit
            out[s, g] = limit if limit < cap[s, g] else cap[s, g]


@njit(cache=True, nogil=True, error_model="numpy")
def make_magnets(
    made: np.ndarray,
    per_t: np.ndarray,
    recipe: np.ndarray,
    recovery: float,
    swarf_to: np.ndarray,
    mag_in: np.ndarray,
    sep_out: np.ndarray,
    losses: np.ndarray,
    used: np.ndarray,
    content: np.ndarray,
    recovered: np.ndarray,
) -> None:
    """Magnet plants that made ``made[S, G]`` use ``per_t[G, K]`` metal a t from ``mag_in``
    into magnets of ``recipe[G, K]``; of the swarf (used less content) ``recovery`` goes back
    to separation plant ``swarf_to[g]`` (none if < 0), the rest to ``losses``. Fills
    ``used``, ``content`` and ``recovered`` ``[S, G, K]``."""
    S, G, K = mag_in.shape
    lost = np.empty(K)
    column = np.empty(G)  # with one element numpy sums the plants' column pairwise
    for s in range(S):
        for g in range(G):
            back = 1.0 if swarf_to[g] >= 0 else 0.0
            for k in range(K):
                u = made[s, g] * per_t[g, k]
                c = made[s, g] * recipe[g, k]
                swarf = u - c
                r = swarf * recovery * back
                used[s, g, k] = u
                content[s, g, k] = c
                recovered[s, g, k] = r
                mag_in[s, g, k] = mag_in[s, g, k] - u
                lost[k] = swarf - r if g == 0 else lost[k] + (swarf - r)
                column[g] = swarf - r
        if K == 1:
            lost[0] = _pairwise(column)
        for g in range(G):
            if swarf_to[g] >= 0:
                for k in range(K):
                    sep_out[s, swarf_to[g], k] += recovered[s, g, k]
        for k in range(K):
            losses[s, k] = losses[s, k] + lost[k]


@njit(cache=True, nogil=True, error_model="numpy")
def position_need(
    rate: np.ndarray, factor: np.ndarray, held: np.ndarray, ring: np.ndarray, out: np.ndarray
) -> None:
    """Order-up-to need ``out[S, P, K]``: ``rate * factor[p]`` less ``held`` and what is on
    its way (``ring[slot, S, P, K]`` summed over slots in order, as numpy sums a ring's first
    axis), at least 0."""
    S, P, K = out.shape
    for s in range(S):
        for p in range(P):
            f = factor[p]
            for k in range(K):
                transit = ring[0, s, p, k]
                for slot in range(1, ring.shape[0]):
                    transit = transit + ring[slot, s, p, k]
                gap = rate[s, p, k] * f - (held[s, p, k] + transit)
                out[s, p, k] = gap if gap > 0.0 else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def buyer_need(
    demand: np.ndarray, factor: np.ndarray, held: np.ndarray, ring: np.ndarray, out: np.ndarray
) -> None:
    """Buyers' order-up-to need ``out[S, J]``: ``demand * factor`` (``demand``'s first axis may
    be 1) less ``held[S, J]``, less what is on its way (``ring[slot, S, J, 1]`` summed over
    slots in order), at least 0."""
    S, J = out.shape
    transit = np.empty(J)
    for s in range(S):
        sd = min(s, demand.shape[0] - 1)
        transit[:] = ring[0, s, :, 0]  # buyers innermost: vectorised loops
        for slot in range(1, ring.shape[0]):
            for j in range(J):
                transit[j] += ring[slot, s, j, 0]
        for j in range(J):
            gap = (demand[sd, j] * factor[j] - held[s, j]) - transit[j]
            out[s, j] = gap if gap > 0.0 else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def smooth_rate(rate: np.ndarray, used: np.ndarray, extra: np.ndarray, smoothing: float) -> None:
    """Plants' planned use rate, in place: ``smoothing * rate + (1 - smoothing) * (used +
    extra)``, all ``[S, P, K]`` (``extra``'s first or last axis may be 1: it repeats)."""
    S, P, K = rate.shape
    assert used.shape == rate.shape and extra.shape[1] == P
    keep, new = smoothing, 1.0 - smoothing
    wide = extra.shape[2] == K
    for s in range(S):
        se = min(s, extra.shape[0] - 1)
        for p in range(P):
            for k in range(K):
                more = extra[se, p, k if wide else 0]
                rate[s, p, k] = keep * rate[s, p, k] + new * (used[s, p, k] + more)


@njit(cache=True, nogil=True, error_model="numpy")
def reo_held(held: np.ndarray, buf: np.ndarray, per_reo: np.ndarray, out: np.ndarray) -> None:
    """``out[S, G]``: t REO of ``held[S, G, K]`` t element (``per_reo[K]`` t element a t REO)
    plus what is on its way, ``buf[slot, S, G, K]`` (no slots: nothing on its way), as numpy
    rounds ``((held + buf.sum(axis=0)) / per_reo).sum(axis=2)``."""
    S, G, K = held.shape
    v = np.empty(K)
    for s in range(S):
        for g in range(G):
            for k in range(K):
                if buf.shape[0] == 0:
                    v[k] = held[s, g, k] / per_reo[k]
                    continue
                transit = buf[0, s, g, k]
                for slot in range(1, buf.shape[0]):
                    transit = transit + buf[slot, s, g, k]
                v[k] = (held[s, g, k] + transit) / per_reo[k]
            out[s, g] = _pairwise(v)


@njit(cache=True, nogil=True, error_model="numpy")
def ship_mix(stock: np.ndarray, stock_reo: np.ndarray, sent: np.ndarray, mix: np.ndarray) -> None:
    """Mines send ``sent[S, M]`` t REO of their ``stock[S, M, K]`` (``stock_reo[S, M]`` t
    REO) in its element mix ``mix`` (filled; 0 for an empty stock), which leaves ``stock``."""
    S, M, K = stock.shape
    for s in range(S):
        for m in range(M):
            for k in range(K):
                share = stock[s, m, k] / stock_reo[s, m] if stock_reo[s, m] > 0 else 0.0
                mix[s, m, k] = share
                stock[s, m, k] = stock[s, m, k] - sent[s, m] * share


# -- samples innermost ----------------------------------------------------------------------
# The kernels below take arrays with the sample axis last (``[rows, K, S]``): each operation
# runs over all samples in one vectorised inner loop. A sample stops its rounds by having
# its need zeroed, as the numpy code did, so the numbers are the same.


@njit(cache=True, nogil=True, error_model="numpy")
def samples_last(a: np.ndarray, out: np.ndarray) -> None:
    """``out[r, k, s] = a[s, r, k]`` for ``a[S or 1, R, K or 1]`` (a size-1 axis repeats)."""
    R, K, S = out.shape
    last_s, last_k = a.shape[0] - 1, a.shape[2] - 1
    for r in range(R):
        for k in range(K):
            kk = min(k, last_k)
            for s in range(S):
                out[r, k, s] = a[min(s, last_s), r, kk]


@njit(cache=True, nogil=True, error_model="numpy")
def edges_samples_last(a: np.ndarray, g: np.ndarray, h: np.ndarray, out: np.ndarray) -> None:
    """``out[e, k, s] = a[s, g[e], h[e], k]`` for ``a[S or 1, G, H, K or 1]``."""
    E, K, S = out.shape
    last_s, last_k = a.shape[0] - 1, a.shape[3] - 1
    for e in range(E):
        for k in range(K):
            kk = min(k, last_k)
            for s in range(S):
                out[e, k, s] = a[min(s, last_s), g[e], h[e], kk]


@njit(cache=True, nogil=True, error_model="numpy")
def samples_first(x: np.ndarray, out: np.ndarray) -> None:
    """``out[s, e, k] = x[e, k, s]``."""
    S, E, K = out.shape
    for s in range(S):
        for e in range(E):
            for k in range(K):
                out[s, e, k] = x[e, k, s]


@njit(cache=True, nogil=True, error_model="numpy")
def _sum_t(
    v: np.ndarray,
    ptr: np.ndarray,
    idx: np.ndarray,
    i0: int,
    v0: int,
    out: np.ndarray,
    w: np.ndarray = NO_WEIGHTS,
) -> None:
    """``out[c] = sum of v[v0 + idx[i0 + q]]`` over ``q`` in ``ptr[c]:ptr[c + 1]``, in order
    (0 when empty), for ``[rows, K, S]`` arrays; each row times its weight ``w[row]`` first
    (rounded, then added) if weights are given."""
    C, K, S = out.shape
    weighted = w.size > 0
    for c in range(C):
        lo, hi = ptr[c], ptr[c + 1]
        for k in range(K):
            if lo == hi:
                for s in range(S):
                    out[c, k, s] = 0.0
                continue
            m = v0 + idx[i0 + lo]
            if weighted:
                f = w[m]
                for s in range(S):
                    out[c, k, s] = v[m, k, s] * f
            else:
                for s in range(S):
                    out[c, k, s] = v[m, k, s]
            for q in range(lo + 1, hi):
                m = v0 + idx[i0 + q]
                if weighted:
                    f = w[m]
                    for s in range(S):
                        out[c, k, s] += v[m, k, s] * f
                else:
                    for s in range(S):
                        out[c, k, s] += v[m, k, s]


@njit(cache=True, nogil=True, error_model="numpy")
def _fill_t(
    av: np.ndarray,
    nd: np.ndarray,
    cp: np.ndarray,
    has_cap: bool,
    opened: np.ndarray,
    e0: int,
    E: int,
    g: np.ndarray,
    h: np.ndarray,
    g_ptr: np.ndarray,
    h_ptr: np.ndarray,
    g_idx: np.ndarray,
    h_idx: np.ndarray,
    rounds: int,
    tiny: float,
    x: np.ndarray,
) -> None:
    """`sim.market.market._Tier.fill` with samples innermost, over one tier's edges ``e0 + e``:
    supply ``av[G, K, S]``, need ``nd[H, K, S]`` and caps ``cp[E, K, S]`` (used up), flows into
    rows ``e0:e0 + E`` of ``x``; ``opened``, ``g``, ``h``, ``g_idx`` and ``h_idx`` are indexed
    from ``e0`` too, the groupings' members counted within the tier; the tier has ``E``
    edges."""
    G, K, S = av.shape
    H = nd.shape[0]
    w = np.empty((E, K, S))
    req = np.empty((E, K, S))
    tot = np.empty((H, K, S))
    per_g = np.empty((G, K, S))
    per_h = np.empty((H, K, S))
    wanted = np.zeros(S, dtype=np.bool_)  # samples innermost: plain, vectorised loops
    for c in range(H):
        for k in range(K):
            for s in range(S):
                wanted[s] = wanted[s] or nd[c, k, s] > tiny
    for c in range(H):
        for k in range(K):
            for s in range(S):
                nd[c, k, s] = nd[c, k, s] if wanted[s] else 0.0
    for e in range(E):
        for k in range(K):
            for s in range(S):
                x[e0 + e, k, s] = 0.0
    for round_ in range(rounds):
        for e in range(E):
            i = g[e0 + e]
            for k in range(K):
                o = opened[e0 + e, k]
                for s in range(S):
                    v = av[i, k, s] * o
                    if has_cap:
                        c_ = cp[e, k, s]
                        v = c_ if c_ < v else v
                    w[e, k, s] = v
        _sum_t(w, h_ptr, h_idx, e0, 0, tot)
        for e in range(E):
            c = h[e0 + e]
            for k in range(K):
                for s in range(S):
                    t = tot[c, k, s]
                    r = w[e, k, s] / t if t > tiny else 0.0
                    r *= nd[c, k, s]
                    if has_cap:
                        c_ = cp[e, k, s]
                        r = c_ if c_ < r else r
                    req[e, k, s] = r
        _sum_t(req, g_ptr, g_idx, e0, 0, per_g)
        for i in range(G):
            for k in range(K):
                for s in range(S):
                    a, q = av[i, k, s], per_g[i, k, s]
                    per_g[i, k, s] = a / q if (q > a and q > 0.0) else 1.0  # the scale
        for e in range(E):
            i = g[e0 + e]
            for k in range(K):
                for s in range(S):
                    f = req[e, k, s] * per_g[i, k, s]
                    req[e, k, s] = f  # now the flow
                    x[e0 + e, k, s] = x[e0 + e, k, s] + f
        if round_ == rounds - 1:
            break
        _sum_t(req, g_ptr, g_idx, e0, 0, per_g)
        _sum_t(req, h_ptr, h_idx, e0, 0, per_h)
        for i in range(G):
            for k in range(K):
                for s in range(S):
                    v = av[i, k, s] - per_g[i, k, s]
                    av[i, k, s] = v if v > 0.0 else 0.0
        for c in range(H):
            for k in range(K):
                for s in range(S):
                    v = nd[c, k, s] - per_h[c, k, s]
                    nd[c, k, s] = v if v > 0.0 else 0.0
        live = np.zeros(S, dtype=np.bool_)
        for e in range(E):
            i, c = g[e0 + e], h[e0 + e]
            for k in range(K):
                o = opened[e0 + e, k] > 0.0
                for s in range(S):
                    ok = o and av[i, k, s] > tiny and nd[c, k, s] > tiny
                    if has_cap:
                        v = cp[e, k, s] - req[e, k, s]
                        cp[e, k, s] = v if v > 0.0 else 0.0
                        ok = ok and cp[e, k, s] > tiny
                    live[s] = live[s] or ok
        if not live.any():
            break
        for c in range(H):  # a sample none of whose edges can carry more stops here
            for k in range(K):
                for s in range(S):
                    nd[c, k, s] = nd[c, k, s] if live[s] else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def _tiers_t(
    av_in: np.ndarray,
    nd_in: np.ndarray,
    has_cap: bool,
    cap: np.ndarray,
    t: tuple,
    rounds: int,
    tiny: float,
    x: np.ndarray,
) -> None:
    """`sim.market.market._Pass._run` with samples innermost: flows ``x[E, K, S]`` from classes'
    supply and need, tier by tier, highest first."""
    tier_e, tier_m, members, g, h, g_ptr, g_off, g_idx, h_ptr, h_off, h_idx, opened = t
    G, K, S = av_in.shape
    left = av_in.copy()
    per_g = np.empty((G, K, S))
    for j in range(tier_e.size - 1):
        e0, e1, m0, m1 = tier_e[j], tier_e[j + 1], tier_m[j], tier_m[j + 1]
        for e in range(e0, e1):
            for k in range(K):
                for s in range(S):
                    x[e, k, s] = 0.0
        if e0 == e1:
            continue
        nd = np.empty((m1 - m0, K, S))
        wanted = False
        for c in range(m1 - m0):
            for k in range(K):
                for s in range(S):
                    v = nd_in[members[m0 + c], k, s]
                    nd[c, k, s] = v
                    wanted = wanted or v > tiny
        if not wanted:  # no sample of the batch needs anything of this tier
            continue
        cp = cap[e0:e1].copy() if has_cap else cap[:1].copy()
        gp = g_ptr[g_off[j] : g_off[j] + G + 1]
        hp = h_ptr[h_off[j] : h_off[j] + m1 - m0 + 1]
        _fill_t(
            left.copy(),
            nd,
            cp,
            has_cap,
            opened,
            e0,
            e1 - e0,
            g,
            h,
            gp,
            hp,
            g_idx,
            h_idx,
            rounds,
            tiny,
            x,
        )
        _sum_t(x, gp, g_idx, e0, e0, per_g)
        for i in range(G):
            for k in range(K):
                for s in range(S):
                    v = left[i, k, s] - per_g[i, k, s]
                    left[i, k, s] = v if v > 0.0 else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def _class_sum_t(v: np.ndarray, grouping: tuple) -> np.ndarray:
    """`sim.market.market.Grouping.sum` of ``v[members, K, S]`` (``v`` itself if trivial)."""
    trivial, ptr, idx, _, size = grouping
    if trivial:
        return v
    out = np.empty((size, v.shape[1], v.shape[2]))
    _sum_t(v, ptr, idx, 0, 0, out)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def pass_allocate(
    a: np.ndarray,
    n: np.ndarray,
    na: np.ndarray,
    nn: np.ndarray,
    allowed: np.ndarray,
    has_allowed: bool,
    sup: tuple,
    cus: tuple,
    tiers: tuple,
    lanes: tuple,
    rounds: int,
    tiny: float,
    x: np.ndarray,
) -> None:
    """`sim.market.market._Pass.allocate` with samples innermost: flows ``x[L, K, S]`` on the
    market's lane edges from lanes' supply ``a``, need ``n`` and normal levels ``na``, ``nn``
    (``[lanes, K, S]``), classes' edges capped at ``allowed[E, K, S]`` times their normal
    flow where it is below 1 (if any sample has such an edge).

    ``sup`` and ``cus`` group lanes into classes, ``(trivial, ptr, idx, labels, size)``;
    ``tiers`` is ``(tier_e, tier_m, members, g, h, g_ptr, g_off, g_idx, h_ptr, h_off, h_idx,
    opened)``: tier ``j`` has the edges ``tier_e[j]:tier_e[j + 1]`` (supplier class ``g``,
    customer ``h`` counted among the tier's ``members[tier_m[j]:tier_m[j + 1]]``), grouped by
    supplier (pointers at ``g_off[j]`` of ``g_ptr``, members in ``g_idx``, counted within
    the tier) and by customer (``h_off``, ``h_ptr``, ``h_idx``), and which are open
    (``opened[E, K]``); ``lanes`` is ``(lane_edge, lane_g, lane_h)``: each lane edge's class
    edge (-1 if this pass does not open it) and its two lanes."""
    L, K, S = x.shape
    E = tiers[3].size
    lane_edge, lane_g, lane_h = lanes
    a_c = _class_sum_t(a, sup)
    n_c = _class_sum_t(n, cus)
    xe = np.zeros((E, K, S))
    capped = False
    if has_allowed:
        for e in range(E):
            for k in range(K):
                for s in range(S):
                    if allowed[e, k, s] < 1.0:
                        capped = True
    if capped:
        normal = np.empty((E, K, S))
        _tiers_t(
            _class_sum_t(na, sup), _class_sum_t(nn, cus), False, xe, tiers, rounds, tiny, normal
        )
        cap = np.empty((E, K, S))
        for e in range(E):
            for k in range(K):
                for s in range(S):
                    al = allowed[e, k, s]
                    cap[e, k, s] = al * normal[e, k, s] if al < 1.0 else np.inf
        _tiers_t(a_c, n_c, True, cap, tiers, rounds, tiny, xe)
    elif E > 0:
        _tiers_t(a_c, n_c, False, xe, tiers, rounds, tiny, xe)
    share_g = _shares_t(a, a_c, sup)
    share_h = _shares_t(n, n_c, cus)
    for j in range(L):
        le = lane_edge[j]
        for k in range(K):
            for s in range(S):
                v = xe[le, k, s] if le >= 0 else 0.0
                if not sup[0]:
                    v = v * share_g[lane_g[j], k, s]
                if not cus[0]:
                    v = v * share_h[lane_h[j], k, s]
                x[j, k, s] = v


@njit(cache=True, nogil=True, error_model="numpy")
def _shares_t(v: np.ndarray, total: np.ndarray, grouping: tuple) -> np.ndarray:
    """Each member's share of its class total (0 where that is 0), ``[members, K, S]``."""
    labels = grouping[3]
    out = np.empty_like(v)
    if grouping[0]:
        return out
    M, K, S = v.shape
    for i in range(M):
        c = labels[i]
        for k in range(K):
            for s in range(S):
                whole = total[c, k, s]
                out[i, k, s] = v[i, k, s] / whole if whole > 0.0 else 0.0
    return out


# -- flows kept samples-last: a market's allocation as the pass leaves it ---------------------


@njit(cache=True, nogil=True, error_model="numpy")
def gather_sum_t(
    a: np.ndarray, ptr: np.ndarray, idx: np.ndarray, cols: np.ndarray, out: np.ndarray
) -> None:
    """`group_sum` into samples-last ``out[c, k, s]``: the sum of ``a[s, m, cols[k]]`` over
    class ``c``'s members ``idx[ptr[c]:ptr[c + 1]]`` in that order (0 without members), for
    ``a[S or 1, members, ...]`` (a first axis of 1 repeats)."""
    C, K, S = out.shape
    last_s = a.shape[0] - 1
    for c in range(C):
        lo, hi = ptr[c], ptr[c + 1]
        for k in range(K):
            kk = cols[k]
            if lo == hi:
                for s in range(S):
                    out[c, k, s] = 0.0
                continue
            m = idx[lo]
            for s in range(S):
                out[c, k, s] = a[min(s, last_s), m, kk]
            for q in range(lo + 1, hi):
                m = idx[q]
                for s in range(S):
                    out[c, k, s] += a[min(s, last_s), m, kk]


@njit(cache=True, nogil=True, error_model="numpy")
def sum_t(v: np.ndarray, ptr: np.ndarray, idx: np.ndarray, out: np.ndarray) -> None:
    """`group_sum` of samples-last ``v[rows, K, S]`` into ``out[classes, K, S]``."""
    _sum_t(v, ptr, idx, 0, 0, out)


@njit(cache=True, nogil=True, error_model="numpy")
def weighted_sum_t(
    v: np.ndarray, ptr: np.ndarray, idx: np.ndarray, w: np.ndarray, out: np.ndarray
) -> None:
    """`weighted_group_sum` of samples-last ``v[rows, K, S]`` with one weight a row, ``w[rows]``,
    into ``out[classes, K, S]``: each product rounded, then added in order."""
    _sum_t(v, ptr, idx, 0, 0, out, w)


@njit(cache=True, nogil=True, error_model="numpy")
def shares_t(
    a: np.ndarray, total: np.ndarray, labels: np.ndarray, cols: np.ndarray, out: np.ndarray
) -> None:
    """Members' shares of their classes' totals, samples-last: ``out[m, k, s]`` is ``a[s, m,
    cols[k]]`` over ``total[labels[m], k, s]`` where that is > 0, else 0 (`by_class`'s
    division), for ``total[C, K or 1, S or 1]`` and ``a[S or 1, M, ...]`` (a size-1 axis
    repeats)."""
    M, K, S = out.shape
    last_as = a.shape[0] - 1
    last_tk, last_ts = total.shape[1] - 1, total.shape[2] - 1
    full = last_as == S - 1 and last_ts == S - 1
    for m in range(M):
        c = labels[m]
        for k in range(K):
            kk, tk, o = cols[k], min(k, last_tk), out[m, k]
            if full:  # every sample its own: samples innermost, plain indices
                for s in range(S):
                    t = total[c, tk, s]
                    o[s] = a[s, m, kk] / t if t > 0 else 0.0
            else:
                for s in range(S):
                    t = total[c, tk, min(s, last_ts)]
                    o[s] = a[min(s, last_as), m, kk] / t if t > 0 else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def parts_t(share: np.ndarray, total: np.ndarray, labels: np.ndarray, out: np.ndarray) -> None:
    """Members' parts of their classes' totals from samples-last shares: ``out[s, m, k] =
    share[m, k, s] * total[labels[m], k, s]`` (`by_class`'s product), for ``share[M, K or 1,
    S or 1]`` and ``total[C, K or 1, S or 1]`` (a size-1 axis repeats)."""
    S, M, K = out.shape
    last_hk, last_hs = share.shape[1] - 1, share.shape[2] - 1
    last_tk, last_ts = total.shape[1] - 1, total.shape[2] - 1
    full = last_hs == S - 1 and last_ts == S - 1
    for m in range(M):
        c = labels[m]
        for k in range(K):
            h, t = share[m, min(k, last_hk)], total[c, min(k, last_tk)]
            if full:
                for s in range(S):
                    out[s, m, k] = h[s] * t[s]
            else:
                for s in range(S):
                    out[s, m, k] = h[min(s, last_hs)] * t[min(s, last_ts)]


@njit(cache=True, nogil=True, error_model="numpy")
def ship(
    xt: np.ndarray,
    plan: tuple,
    share: np.ndarray,
    slots: np.ndarray,
    entries: tuple,
    mult: np.ndarray,
    has_mult: bool,
    buf: np.ndarray,
) -> None:
    """Add a market's flows ``xt[edges, K, S or 1]`` (samples-last, as the pass leaves them)
    to a pipeline's ring ``buf[slot, S, C, K]``.

    ``lanes[r, k]`` is what customer lane ``h`` receives of product ``k`` ``o`` steps on
    (row ``r = o * lanes + h``): the sum of ``xt[e, k, s] * w`` over the edges ``e`` of ``plan
    = (ptr, edge, w)`` that deliver to it then, ``ptr[r]:ptr[r + 1]``, in the lane's order
    (`weighted_group_sum` without its products by a zero weight, which add nothing). Each
    entry ``i`` of ``entries = (offset, lane, member, place, column)`` then adds
    ``share[member[i], s] * lanes[lane[i]]`` (flat indices; customers' shares samples-last,
    ``[C, K, S or 1]``), times ``mult[column[i], s]`` if ``has_mult``, to
    ``buf[slots[offset[i]], s, place[i]]``: what each customer receives, rounded as numpy
    rounds it (entries whose lane nothing reaches are left out: they add nothing). The lanes
    are summed for all samples at once, then the entries added with the samples innermost."""
    ptr, edge, w = plan
    offset, lane, member, place, column = entries
    _, K, SX = xt.shape
    S = buf.shape[1]
    rows = ptr.size - 1
    lanes = np.empty((rows * K, SX))
    for r in range(rows):
        lo, hi = ptr[r], ptr[r + 1]
        for k in range(K):
            out = lanes[r * K + k]
            if lo == hi:
                out[:] = 0.0
                continue
            e, f = edge[lo], w[lo]
            for s in range(SX):
                out[s] = xt[e, k, s] * f
            for q in range(lo + 1, hi):
                e, f = edge[q], w[q]
                for s in range(SX):
                    out[s] += xt[e, k, s] * f
    share2 = share.reshape((-1, share.shape[-1]))  # [members x products, S or 1]
    ring = buf.reshape((buf.shape[0], S, -1))
    if SX == S and share2.shape[1] == S and (not has_mult or mult.shape[1] == S):
        for i in range(offset.size):  # every sample its own row: samples innermost
            sl = ring[slots[offset[i]]]
            p, sh, la = place[i], share2[member[i]], lanes[lane[i]]
            if has_mult:
                mu = mult[column[i]]
                for s in range(S):
                    sl[s, p] += sh[s] * la[s] * mu[s]
            else:
                for s in range(S):
                    sl[s, p] += sh[s] * la[s]
        return
    last_x, last_sh, last_m = SX - 1, share2.shape[1] - 1, mult.shape[1] - 1
    for i in range(offset.size):
        sl = ring[slots[offset[i]]]
        p, sh, la, c = place[i], share2[member[i]], lanes[lane[i]], column[i]
        for s in range(S):
            part = sh[min(s, last_sh)] * la[min(s, last_x)]
            if has_mult:
                part = part * mult[c, min(s, last_m)]
            sl[s, p] += part

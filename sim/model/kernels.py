"""Compiled arithmetic of the chain's stages (numba): separation, magnet making, order-up-to
needs, plan smoothing, concentrate stocks, fill shares, start-up claims, and non-finite numbers
replaced (`finite`, `np.nan_to_num`'s numbers without its cost).

Each kernel does exactly the operations of the numpy code it replaced (in
``tests/test_kernels.py``), in the same order, so results are equal bit for bit: numpy sums a
contiguous last axis pairwise (`pairwise_sum`), any other axis one row at a time, and so do
these loops. They run one sample at a time, the sample axis first as the stages keep it;
divisions follow numpy's error model, every divisor tested before it is used. Compiled code is
cached next to this module (``cache=True``); kernels that call one another live here together,
since numba's cache notices a change only in the file of the function it compiled.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def pairwise_sum(v: np.ndarray) -> float:
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
    """Share of need that deliveries covered, for groups of members (a group's members are
    ``idx[ptr[group]:ptr[group + 1]]``, ascending): ``out[s, group, k]`` = the group's sum of
    ``got[s, m, k]`` over its sum of ``need[s, m, k]`` (1 where that is <= 1e-9), each capped
    at ``use[s, m, k]`` first if ``capped`` (a first axis of 1 repeats). Sums as numpy adds
    the rows of a C-ordered ``[S, members, K]`` array: in order, or pairwise when ``K`` is 1."""
    S, groups, K = out.shape
    n = 0
    for group in range(groups):
        n = max(n, ptr[group + 1] - ptr[group])
    a = np.empty(n)
    b = np.empty(n)
    for s in range(S):
        sg, sn, su = min(s, got.shape[0] - 1), min(s, need.shape[0] - 1), min(s, use.shape[0] - 1)
        for group in range(groups):
            lo, hi = ptr[group], ptr[group + 1]
            for k in range(K):
                for q in range(lo, hi):
                    m = idx[q]
                    x, y = got[sg, m, k], need[sn, m, k]
                    if capped:
                        u = use[su, m, k]
                        x = u if u < x else x
                        y = u if u < y else y
                    a[q - lo], b[q - lo] = x, y
                covered = _sum_as_numpy(a[: hi - lo], K == 1)
                wanted = _sum_as_numpy(b[: hi - lo], K == 1)
                out[s, group, k] = covered / wanted if wanted > 1e-9 else 1.0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _sum_as_numpy(v: np.ndarray, pairwise: bool) -> float:
    """``v.sum()`` as numpy adds a column of a C-ordered array: pairwise if the column is the
    array's contiguous last axis, else one at a time in order."""
    if pairwise:
        return pairwise_sum(v)
    total = v[0] if v.size else 0.0
    for i in range(1, v.size):
        total += v[i]
    return total


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
    """Separation plants crack their feed ``sep_in[S, P, K]`` (t element; ``per_reo[K]``
    t element a t REO) up to ``cap[S, P]`` t REO: ``out`` (``recover[P, K]`` of what is
    cracked) is added to ``sep_out``, the rest to ``losses[S, K]``; cracked feed leaves
    ``sep_in``. `sim.model.stages.separate` spelled out, with numpy's rounding. Writes
    ``out``; updates ``sep_in``, ``sep_out`` and ``losses`` in place."""
    S, P, K = sep_in.shape
    reo = np.empty(K)
    lost = np.empty(K)
    column = np.empty(P)  # with one element numpy sums the plants' column pairwise
    for s in range(S):
        for p in range(P):
            for k in range(K):
                reo[k] = sep_in[s, p, k] / per_reo[k]
            feed = pairwise_sum(reo)
            share = cap[s, p] / feed if feed > 0 else 0.0
            share = 1.0 if share > 1.0 else share  # np.minimum(share, 1.0)
            for k in range(K):
                done = sep_in[s, p, k] * share
                made = done * recover[p, k]
                sep_in[s, p, k] = sep_in[s, p, k] - done
                sep_out[s, p, k] = sep_out[s, p, k] + made
                out[s, p, k] = made
                column[p] = done - made
                if p == 0:
                    lost[k] = done - made
                else:
                    lost[k] = lost[k] + (done - made)
        if K == 1:
            lost[0] = pairwise_sum(column)
        for k in range(K):
            losses[s, k] = losses[s, k] + lost[k]


@njit(cache=True, nogil=True, error_model="numpy")
def magnet_avail(
    mag_in: np.ndarray, metal_per_magnet: np.ndarray, cap: np.ndarray, out: np.ndarray
) -> None:
    """What magnet plants can make, ``out[S, P]``: capacity ``cap[S, P]`` or what the metal
    they hold ``mag_in[S, P, K]`` allows at ``metal_per_magnet[R, P, K]`` t metal a t of
    magnet (``R``: 1 for every sample, or ``S``), if less."""
    S, P, K = mag_in.shape
    for s in range(S):
        r = min(s, metal_per_magnet.shape[0] - 1)
        for p in range(P):
            limit = np.inf
            for k in range(K):
                if metal_per_magnet[r, p, k] > 0:
                    allows = mag_in[s, p, k] / metal_per_magnet[r, p, k]
                    limit = allows if allows < limit else limit
            out[s, p] = limit if limit < cap[s, p] else cap[s, p]


@njit(cache=True, nogil=True, error_model="numpy")
def make_magnets(
    made: np.ndarray,
    metal_per_magnet: np.ndarray,
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
    """Magnet plants that made ``made[S, P]`` use ``metal_per_magnet[R, P, K]`` t metal a t
    from ``mag_in`` into magnets of ``recipe[R, P, K]`` (``R``: 1 for every sample, or
    ``S``); of the swarf (used less content) ``recovery`` goes back to separation plant
    ``swarf_to[p]`` (none if < 0), the rest to ``losses``. Writes ``used``, ``content`` and
    ``recovered`` ``[S, P, K]``; updates ``mag_in``, ``sep_out`` and ``losses`` in place."""
    S, P, K = mag_in.shape
    lost = np.empty(K)
    column = np.empty(P)  # with one element numpy sums the plants' column pairwise
    for s in range(S):
        row = min(s, recipe.shape[0] - 1)
        for p in range(P):
            back = 1.0 if swarf_to[p] >= 0 else 0.0
            for k in range(K):
                u = made[s, p] * metal_per_magnet[row, p, k]
                c = made[s, p] * recipe[row, p, k]
                swarf = u - c
                r = swarf * recovery * back
                used[s, p, k] = u
                content[s, p, k] = c
                recovered[s, p, k] = r
                mag_in[s, p, k] = mag_in[s, p, k] - u
                lost[k] = swarf - r if p == 0 else lost[k] + (swarf - r)
                column[p] = swarf - r
        if K == 1:
            lost[0] = pairwise_sum(column)
        for p in range(P):
            if swarf_to[p] >= 0:
                for k in range(K):
                    sep_out[s, swarf_to[p], k] += recovered[s, p, k]
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
def smooth_rate(
    rate: np.ndarray, used: np.ndarray, extra: np.ndarray, smoothing: float, running: np.ndarray
) -> None:
    """Plants' planned use rate, in place: ``smoothing * rate + (1 - smoothing) * (used +
    extra)``, all ``[S, P, K]`` (``extra``'s first or last axis may be 1: it repeats), where
    a plant runs; a plant an outage stops for part of the step (``running[S or 1, P]`` its
    share running) moves only that share of the way (it keeps ``1 - (1 - smoothing) *
    running`` of its plan): what it used while stopped says nothing of what its customers
    want."""
    S, P, K = rate.shape
    assert used.shape == rate.shape and extra.shape[1] == P and running.shape[1] == P
    new = 1.0 - smoothing
    wide = extra.shape[2] == K
    for s in range(S):
        se, sr = min(s, extra.shape[0] - 1), min(s, running.shape[0] - 1)
        for p in range(P):
            r = running[sr, p]
            move, keep = (new, smoothing) if r == 1.0 else (new * r, 1.0 - new * r)
            for k in range(K):
                more = extra[se, p, k if wide else 0]
                rate[s, p, k] = keep * rate[s, p, k] + move * (used[s, p, k] + more)


@njit(cache=True, nogil=True, error_model="numpy")
def reo_held(held: np.ndarray, ring: np.ndarray, per_reo: np.ndarray, out: np.ndarray) -> None:
    """``out[S, P]``: t REO of ``held[S, P, K]`` t element (``per_reo[K]`` t element a t REO)
    plus what is on its way, ``ring[slot, S, P, K]`` (no slots: nothing on its way), as numpy
    rounds ``((held + ring.sum(axis=0)) / per_reo).sum(axis=2)``."""
    S, P, K = held.shape
    v = np.empty(K)
    for s in range(S):
        for p in range(P):
            for k in range(K):
                if ring.shape[0] == 0:
                    v[k] = held[s, p, k] / per_reo[k]
                    continue
                transit = ring[0, s, p, k]
                for slot in range(1, ring.shape[0]):
                    transit = transit + ring[slot, s, p, k]
                v[k] = (held[s, p, k] + transit) / per_reo[k]
            out[s, p] = pairwise_sum(v)


@njit(cache=True, nogil=True, error_model="numpy")
def ship_mix(stock: np.ndarray, stock_reo: np.ndarray, sent: np.ndarray, mix: np.ndarray) -> None:
    """Mines send ``sent[S, M]`` t REO of their ``stock[S, M, K]`` (``stock_reo[S, M]`` t
    REO) in its element mix: writes ``mix`` (0 for an empty stock) and takes what is sent
    out of ``stock`` in place."""
    S, M, K = stock.shape
    for s in range(S):
        for m in range(M):
            for k in range(K):
                share = stock[s, m, k] / stock_reo[s, m] if stock_reo[s, m] > 0 else 0.0
                mix[s, m, k] = share
                stock[s, m, k] = stock[s, m, k] - sent[s, m] * share


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


BIG = float(np.finfo(float).max)  # what `finite` puts for an infinity (as `np.nan_to_num`)


def finite(
    a: np.ndarray, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> np.ndarray:
    """`np.nan_to_num` of a float array, C-ordered (a new array, the same numbers), without
    its cost (over ten microseconds, several times a step)."""
    out = np.array(a, dtype=float, order="C")
    up, down = BIG if posinf is None else posinf, -BIG if neginf is None else neginf
    finite_flat(out.reshape(-1), nan, up, down)
    return out


@njit(cache=True, nogil=True)
def finite_flat(a: np.ndarray, nan: float, posinf: float, neginf: float) -> None:
    """`finite` in place on a flat array: NaN to ``nan``, infinities to ``posinf`` and
    ``neginf``."""
    for i in range(a.size):
        v = a[i]
        if np.isnan(v):
            a[i] = nan
        elif np.isinf(v):
            a[i] = posinf if v > 0 else neginf

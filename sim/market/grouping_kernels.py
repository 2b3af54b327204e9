"""Compiled members' shares and parts of class totals, transposes between samples-first
(``[S, rows, K]``) and samples-last (``[rows, K, S]``) arrays, and a control's reference held
(`hold_both`, for `sim.market.reference.Reference`).

The markets keep lane totals and flows samples-last, as the allocation pass works
(`sim.market.allocation_kernels`); members' arrays come and go samples-first. A size-1 axis
repeats where a docstring says so. Divisions are tested before they are made (numpy's error
model, as in `sim.market.allocation_kernels`); compiled code is cached (``cache=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def shares_sl(
    a: np.ndarray, total: np.ndarray, labels: np.ndarray, columns: np.ndarray, out: np.ndarray
) -> None:
    """Members' shares of their classes' totals, samples-last: ``out[m, k, s]`` is ``a[s, m,
    columns[k]]`` over ``total[labels[m], k, s]`` where that is > 0, else 0, for ``total[C, K
    or 1, S or 1]`` and ``a[S or 1, M, ...]`` (a size-1 axis repeats)."""
    M, K, S = out.shape
    last_as = a.shape[0] - 1
    last_tk, last_ts = total.shape[1] - 1, total.shape[2] - 1
    full = last_as == S - 1 and last_ts == S - 1
    for m in range(M):
        c = labels[m]
        for k in range(K):
            column, total_k, row = columns[k], min(k, last_tk), out[m, k]
            if full:  # every sample its own: samples innermost, plain indices
                for s in range(S):
                    t = total[c, total_k, s]
                    row[s] = a[s, m, column] / t if t > 0 else 0.0
            else:
                for s in range(S):
                    t = total[c, total_k, min(s, last_ts)]
                    row[s] = a[min(s, last_as), m, column] / t if t > 0 else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def use_first_shares_sl(
    need: np.ndarray,
    use: np.ndarray,
    totals: tuple[np.ndarray, np.ndarray],
    got: np.ndarray,
    labels: np.ndarray,
    columns: np.ndarray,
    out: np.ndarray,
) -> None:
    """Members' shares of what their classes receive after a use-first fill, samples-last:
    a class's first fill ``got[0, c]`` goes to its members' ``use[s, m, columns[k]]`` pro
    rata, the rest of what it got (``got[1, c]``, both fills) pro rata to what each member's
    ``need`` had left after the first, as each member on its own would have been filled;
    ``out[m, k, s]`` is the member's part over ``got[1]`` (pro rata to need where its class
    got nothing). ``totals = (need, use)`` of the classes, ``[C, K, S]``; ``need`` and
    ``use`` ``[S or 1, M, ...]`` (a size-1 first axis repeats; use at most need)."""
    need_c, use_c = totals
    M, K, S = out.shape
    last_n, last_u = need.shape[0] - 1, use.shape[0] - 1
    for m in range(M):
        c = labels[m]
        for k in range(K):
            column, row = columns[k], out[m, k]
            for s in range(S):
                n_m, u_m = need[min(s, last_n), m, column], use[min(s, last_u), m, column]
                first, whole = got[0, c, k, s], got[1, c, k, s]
                u, n = use_c[c, k, s], need_c[c, k, s]
                by_use = u_m / u if u > 0.0 else 0.0
                mine = first * by_use
                rest = n - first
                mine += (whole - first) * ((n_m - mine) / rest if rest > 0.0 else by_use)
                if whole > 0.0:
                    row[s] = mine / whole
                else:
                    row[s] = n_m / n if n > 0.0 else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def parts_sl(share: np.ndarray, total: np.ndarray, labels: np.ndarray, out: np.ndarray) -> None:
    """Members' parts of their classes' totals from samples-last shares: ``out[s, m, k] =
    share[m, k, s] * total[labels[m], k, s]``, for ``share[M, K or 1, S or 1]`` and
    ``total[C, K or 1, S or 1]`` (a size-1 axis repeats)."""
    S, M, K = out.shape
    last_sk, last_ss = share.shape[1] - 1, share.shape[2] - 1
    last_tk, last_ts = total.shape[1] - 1, total.shape[2] - 1
    full = last_ss == S - 1 and last_ts == S - 1
    for m in range(M):
        c = labels[m]
        for k in range(K):
            share_row, total_row = share[m, min(k, last_sk)], total[c, min(k, last_tk)]
            if full:
                for s in range(S):
                    out[s, m, k] = share_row[s] * total_row[s]
            else:
                for s in range(S):
                    out[s, m, k] = share_row[min(s, last_ss)] * total_row[min(s, last_ts)]


@njit(cache=True, nogil=True, error_model="numpy")
def samples_last(a: np.ndarray, out: np.ndarray) -> None:
    """``out[r, k, s] = a[s, r, k]`` for ``a[S or 1, R, K or 1]`` (a size-1 axis repeats)."""
    R, K, S = out.shape
    last_s, last_k = a.shape[0] - 1, a.shape[2] - 1
    for r in range(R):
        for k in range(K):
            column = min(k, last_k)
            for s in range(S):
                out[r, k, s] = a[min(s, last_s), r, column]


@njit(cache=True, nogil=True, error_model="numpy")
def edges_samples_last(a: np.ndarray, sup: np.ndarray, cus: np.ndarray, out: np.ndarray) -> None:
    """``out[e, k, s] = a[s, sup[e], cus[e], k]`` for ``a[S or 1, G, H, K or 1]``."""
    E, K, S = out.shape
    last_s, last_k = a.shape[0] - 1, a.shape[3] - 1
    for e in range(E):
        for k in range(K):
            column = min(k, last_k)
            for s in range(S):
                out[e, k, s] = a[min(s, last_s), sup[e], cus[e], column]


@njit(cache=True, nogil=True, error_model="numpy")
def samples_first(a: np.ndarray, out: np.ndarray) -> None:
    """``out[s, r, k] = a[r, k, s]``."""
    S, R, K = out.shape
    for s in range(S):
        for r in range(R):
            for k in range(K):
                out[s, r, k] = a[r, k, s]


@njit(cache=True, nogil=True, error_model="numpy")
def any_above(a: np.ndarray, rows: np.ndarray, level: float) -> bool:
    """Whether some value of ``a[rows[i], ...]`` (``a[n, K, S]``) is above ``level``."""
    for r in rows:
        for v in a[r].ravel():
            if v > level:
                return True
    return False


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def hold_levels(
    now: np.ndarray,
    held: np.ndarray,
    on: np.ndarray,
    index: np.ndarray,
    speed: float,
    new_held: np.ndarray,
    out: np.ndarray,
) -> None:
    """A reference's levels, ``[lanes, K, S]`` each (`sim.market.reference.Reference`): in
    samples with no control in force (``on[s]`` False) the held levels per unit ``index[k]``
    (their product's demand index; 1 where it is not positive) move towards this step's
    ``now`` by ``speed`` (or start at it, if ``held`` has no lane, ``[0, K, S]``), and
    ``out`` is ``now``; where one is, they stay, and ``out`` is them times the index.
    ``held[lanes, K, S or 1]`` (a last axis of 1 repeats)."""
    L, K, S = out.shape
    fresh, last = held.shape[0] == 0, held.shape[2] - 1
    for g in range(L):
        for k in range(K):
            idx = index[k] if index[k] > 0.0 else 1.0  # no demand: nothing to grow with
            for s in range(S):
                x = now[g, k, s]
                if fresh:
                    h = x / idx
                elif on[s]:
                    h = held[g, k, min(s, last)]
                else:
                    h = held[g, k, min(s, last)]
                    h = h + (x / idx - h) * speed
                new_held[g, k, s] = h
                out[g, k, s] = h * idx if on[s] else x


@njit(cache=True, nogil=True, error_model="numpy")
def hold_both(
    supply: np.ndarray,
    need: np.ndarray,
    held_supply: np.ndarray,
    held_need: np.ndarray,
    on: np.ndarray,
    index: np.ndarray,
    speed: float,
    outs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """`hold_levels` of a reference's supply and need: ``outs`` are the new held supply and
    need, then the supply and need to use."""
    hold_levels(supply, held_supply, on, index, speed, outs[0], outs[2])
    hold_levels(need, held_need, on, index, speed, outs[1], outs[3])

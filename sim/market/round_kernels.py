"""The steps of one tier's pro-rata rounds in the allocation pass
(`sim.market.allocation_kernels._fill_tier`): routes' weights, customers' requests, requests
scaled to what suppliers have, and which samples can still move something.

These steps are inlined into the pass (``inline="always"``) and live here for the pass
module's size. Numba's cache notices a change only in the file of the function it compiled:
`sim.market.allocation_kernels` holds this one's digest (``ROUND_KERNELS_DIGEST``, checked by
`tests/test_use_first.py`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from sim.market.cap_kernels import Caps

# A tier's edges (`sim.market.allocation_kernels.TierEdges`, which imports this module)
TierEdges = Any


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def samples_above(a: np.ndarray, tiny: float) -> np.ndarray:
    """Which samples have some value of ``a[rows, K, S]`` above ``tiny``."""
    R, K, S = a.shape
    above = np.zeros(S, dtype=np.bool_)  # samples innermost: plain, vectorised loops
    for i in range(R):
        for k in range(K):
            for s in range(S):
                above[s] = above[s] or a[i, k, s] > tiny
    return above


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def keep_samples(need_left: np.ndarray, keep: np.ndarray) -> None:
    """Zero the need of samples not to ``keep`` (they stop: no request moves anything)."""
    H, K, S = need_left.shape
    for c in range(H):
        for k in range(K):
            for s in range(S):
                need_left[c, k, s] = need_left[c, k, s] if keep[s] else 0.0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def route_weights(supply_left: np.ndarray, caps: Caps, tier: TierEdges, out: np.ndarray) -> None:
    """Each edge's weight ``out[E, K, S]``: what its supplier has left if the edge is open
    (else 0), at most the edge's own cap."""
    E, K, S = out.shape
    for e in range(E):
        i = tier.edge_sup[e]
        for k in range(K):
            opened = tier.opened[e, k]
            for s in range(S):
                v = supply_left[i, k, s] * opened
                if caps.edges:
                    cap = caps.edge_left[e, k, s]
                    v = cap if cap < v else v
                out[e, k, s] = v


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def requests(
    weights: np.ndarray,
    total: np.ndarray,
    need_left: np.ndarray,
    caps: Caps,
    tier: TierEdges,
    tiny: float,
    out: np.ndarray,
) -> None:
    """What each customer asks along each edge, ``out[E, K, S]``: its need times the edge's
    share of its weights' ``total`` (0 where that is at most ``tiny``), at most the edge's
    own cap."""
    E, K, S = out.shape
    for e in range(E):
        c = tier.edge_cus[e]
        for k in range(K):
            for s in range(S):
                t = total[c, k, s]
                r = weights[e, k, s] / t if t > tiny else 0.0
                r *= need_left[c, k, s]
                if caps.edges:
                    cap = caps.edge_left[e, k, s]
                    r = cap if cap < r else r
                out[e, k, s] = r


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def scale_and_add(flows: np.ndarray, scale: np.ndarray, tier: TierEdges, out: np.ndarray) -> None:
    """Requests ``flows`` scaled by their suppliers' ``scale``, in place: this round's flows,
    added to ``out``."""
    E, K, S = flows.shape
    for e in range(E):
        i = tier.edge_sup[e]
        for k in range(K):
            for s in range(S):
                f = flows[e, k, s] * scale[i, k, s]
                flows[e, k, s] = f
                out[e, k, s] = out[e, k, s] + f


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def live_samples(
    supply_left: np.ndarray,
    need_left: np.ndarray,
    caps: Caps,
    group_room: np.ndarray,
    tier: TierEdges,
    flows: np.ndarray,
    tiny: float,
) -> np.ndarray:
    """Which samples have an open edge that can carry more: its supplier has something left,
    its customer needs something, its own cap (used up by this round's ``flows``) is not
    reached, nor are its groups' (``group_room[E, K, S]``: the least any has left)."""
    E, K, S = flows.shape
    live = np.zeros(S, dtype=np.bool_)
    for e in range(E):
        i, c = tier.edge_sup[e], tier.edge_cus[e]
        for k in range(K):
            opened = tier.opened[e, k] > 0.0
            for s in range(S):
                ok = opened and supply_left[i, k, s] > tiny and need_left[c, k, s] > tiny
                if caps.edges:
                    v = caps.edge_left[e, k, s] - flows[e, k, s]
                    caps.edge_left[e, k, s] = v if v > 0.0 else 0.0
                    ok = ok and caps.edge_left[e, k, s] > tiny
                if caps.groups:
                    ok = ok and group_room[e, k, s] > tiny
                live[s] = live[s] or ok
    return live

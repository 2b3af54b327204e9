"""The use-first fill's steps of the allocation pass (`sim.market.allocation_kernels`): what
customer classes received, each lane's part of its class's flow after a class filled its use
first, and an in-place sum.

A market short of supply serves its customers' use (what they will consume before an order
can arrive) before their restocking: each tier fills its classes' use, then the rest of their
need. A class's flow then goes to its lanes as the two fills would have given it to each lane
on its own: the first fill pro rata to the lanes' use, the second pro rata to what each lane's
need had left after the first.

These steps are inlined into the pass (``inline="always"``) and live here for the pass
module's size. Numba's cache notices a change only in the file of the function it compiled
(`allocate_pass`): that file holds this one's digest
(`sim.market.allocation_kernels.USE_KERNELS_DIGEST`, checked by `tests/test_use_first.py`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.market.pass_index import PassIndex


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def class_inflow(flows: np.ndarray, index: PassIndex, classes: int) -> np.ndarray:
    """What each customer class receives, ``[classes, K, S]``: its edges' ``flows`` added in
    edge order."""
    K, S = flows.shape[1], flows.shape[2]
    out = np.zeros((classes, K, S))
    for j in range(index.edge_bounds.size - 1):
        m0 = index.member_bounds[j]
        for e in range(index.edge_bounds[j], index.edge_bounds[j + 1]):
            c = index.members[m0 + index.edge_cus[e]]
            for k in range(K):
                for s in range(S):
                    out[c, k, s] += flows[e, k, s]
    return out


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def use_first_shares(
    lanes: tuple[np.ndarray, np.ndarray],
    classes: tuple[np.ndarray, np.ndarray],
    got: tuple[np.ndarray, np.ndarray],
    labels: np.ndarray,
    lane_in: np.ndarray,
) -> np.ndarray:
    """Each lane's share of its class's flow after a use-first fill: the class's first fill
    ``got[0]`` pro rata to its lanes' use, its second (``got[1]`` less the first) pro rata to
    what each lane's need had left, as each lane on its own would have been filled (pro
    rata to need where the class got nothing); ``lanes = (need, use)`` and ``classes`` their
    class totals. ``lane_in[0]`` gets each lane's first fill, ``lane_in[1]`` both."""
    need, use = lanes
    need_c, use_c = classes
    out = np.empty_like(need)
    M, K, S = need.shape
    for i in range(M):
        c = labels[i]
        for k in range(K):
            for s in range(S):
                first, whole = got[0][c, k, s], got[1][c, k, s]
                u, n = use_c[c, k, s], need_c[c, k, s]
                by_use = use[i, k, s] / u if u > 0.0 else 0.0
                by_need = need[i, k, s] / n if n > 0.0 else 0.0
                mine = first * by_use
                rest, then = n - first, whole - first
                left = need[i, k, s] - mine
                mine += then * (left / rest if rest > 0.0 else by_use)
                lane_in[0, i, k, s] = first * by_use
                lane_in[1, i, k, s] = mine
                out[i, k, s] = mine / whole if whole > 0.0 else by_need
    return out


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def add_to(out: np.ndarray, more: np.ndarray) -> None:
    """``out += more``, in place."""
    R, K, S = out.shape
    for i in range(R):
        for k in range(K):
            for s in range(S):
                out[i, k, s] = out[i, k, s] + more[i, k, s]

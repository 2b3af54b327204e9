"""Compiled sums by market tier: buyers' and plants' tonnes added up per tier, for the stock
covers that prices clear on (`sim.model.levers.prices.covers`).

Each sample's sums are added in the same order (buyers or plants in index order) whatever the
batch size, so a sample's covers do not depend on its batch (a BLAS product's order may).
A size-1 leading axis repeats over the samples; compiled code is cached (``cache=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def sparse_rows(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``weights[B, N]`` as compressed rows (``indptr[B + 1]``, ``columns``, ``values``): a
    buyer's weights are its material's content, a few elements of eight."""
    rows, columns = np.nonzero(weights)
    indptr = np.searchsorted(rows, np.arange(weights.shape[0] + 1))
    return indptr.astype(np.int64), columns.astype(np.int64), weights[rows, columns]


@njit(cache=True, nogil=True)
def buyers_by_tier(
    tonnes: np.ndarray,
    weights: tuple[np.ndarray, np.ndarray, np.ndarray],
    tier: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out[s, n, tier[b]] += tonnes[s, b] * weights[b, n]`` over buyers ``b``, for
    ``tonnes[S or 1, B]``, ``weights`` a `sparse_rows` of ``[B, N]`` and ``out[S, N, K]``."""
    indptr, columns, values = weights
    S, last = out.shape[0], tonnes.shape[0] - 1
    for s in range(S):
        row, total = tonnes[min(s, last)], out[s]
        for b in range(indptr.shape[0] - 1):
            t, k = row[b], tier[b]
            for j in range(indptr[b], indptr[b + 1]):
                total[columns[j], k] += t * values[j]


@njit(cache=True, nogil=True)
def plants_by_tier(
    tonnes: np.ndarray, running: np.ndarray, tier: np.ndarray, out: np.ndarray
) -> None:
    """``out[s, e, tier[p]] += tonnes[s, p, e] * running[s, p]`` over plants ``p``, for
    ``tonnes[S or 1, P, E]``, ``running[S or 1, P]`` and ``out[S, E, K]``."""
    S, last_t, last_r = out.shape[0], tonnes.shape[0] - 1, running.shape[0] - 1
    P, E = tonnes.shape[1], tonnes.shape[2]
    for s in range(S):
        held, share, total = tonnes[min(s, last_t)], running[min(s, last_r)], out[s]
        for p in range(P):
            k, r = tier[p], share[p]
            for e in range(E):
                total[e, k] += held[p, e] * r

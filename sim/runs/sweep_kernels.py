"""Compiled passes over a sweep's monthly arrays for its tables: buyer groups' sums, each
future's resilience measures and what buyers paid over base prices by period
(`sim.runs.sweep_resilience`, `sim.runs.sweep_costs`).

Each reads the merged float32 arrays ``[samples, months, buyers]`` in place, one sample at a
time, so no float64 copy of a block is made; a group's sum adds its buyers in index order and
a sample's months in order, so a future's numbers do not depend on how many futures are
summed with it (a BLAS product's order may). A size-1 leading axis of ``demand`` repeats over
the samples (one demand row stands for every sample); compiled code is cached
(``cache=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def group_rows(member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``member[B, G]`` (1 where buyer b is in group g) as each group's buyers: ``indptr[G +
    1]`` and ``buyers``, in index order."""
    groups, buyers = np.nonzero(member.T)
    indptr = np.searchsorted(groups, np.arange(member.shape[1] + 1))
    return indptr.astype(np.int64), buyers.astype(np.int64)


@njit(cache=True, nogil=True)
def group_sums(values: np.ndarray, indptr: np.ndarray, buyers: np.ndarray, out: np.ndarray) -> None:
    """``out[R, G]``: each row's sum over each group's ``buyers`` of ``values[R, B]``."""
    for r in range(values.shape[0]):
        for g in range(indptr.size - 1):
            total = 0.0
            for i in range(indptr[g], indptr[g + 1]):
                total += values[r, buyers[i]]
            out[r, g] = total


@njit(cache=True, nogil=True)
def resilience(
    short: np.ndarray,
    demand: np.ndarray,
    groups: tuple[np.ndarray, np.ndarray],
    short_share: float,
    short_t: float,
    out: np.ndarray,
) -> None:
    """``out[3, S, G]``: each future's depth (its worst month's share of demand short, 0 in
    a month without demand), months short (shortfall above ``short_share`` of demand plus
    ``short_t``) and cumulative shortfall of each group (``groups = (indptr, buyers)``), from
    ``short[S, T, B]`` and ``demand[S or 1, T, B]``."""
    indptr, buyers = groups
    S, T, _ = short.shape
    G = indptr.size - 1
    for s in range(S):
        r = min(s, demand.shape[0] - 1)
        for g in range(G):
            depth, months, total = 0.0, 0.0, 0.0
            for t in range(T):
                part, whole = 0.0, 0.0
                for i in range(indptr[g], indptr[g + 1]):
                    part += np.float64(short[s, t, buyers[i]])
                    whole += np.float64(demand[r, t, buyers[i]])
                share = part / whole if whole > 0.0 else 0.0
                depth = share if t == 0 or share > depth else depth
                if part > short_share * whole + short_t:
                    months += 1.0
                total += part
            out[0, s, g], out[1, s, g], out[2, s, g] = depth, months, total


@njit(cache=True, nogil=True)
def paid_over_base(
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray],
    cell: np.ndarray,
    base: np.ndarray,
    kg: tuple[float, np.ndarray],
    period: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out[S, periods, B]`` (zeroed first): US$ each buyer paid over base prices in each
    period, from ``arrays = (short[S, T, B], demand[S or 1, T, B], prices[S, T, cells])``:
    its delivered tonnes (demand less shortfall) times ``kg = (kg a t, kg of the priced
    product a kg delivered [B])`` times its cell's price less ``base[B]`` (nothing where
    ``cell`` is -1 or the price is NaN: no price); ``period[T]`` is each month's period (-1:
    none)."""
    short, demand, prices = arrays
    kg_per_t, per_kg = kg
    S, T, B = short.shape
    out[:] = 0.0
    for s in range(S):
        r = min(s, demand.shape[0] - 1)
        for t in range(T):
            p = period[t]
            if p < 0:
                continue
            for b in range(B):
                if cell[b] < 0:
                    continue
                change = np.float64(prices[s, t, cell[b]]) - base[b]
                if change != change:
                    continue
                bought = np.float64(demand[r, t, b]) - np.float64(short[s, t, b])
                out[s, p, b] += bought * kg_per_t * per_kg[b] * change

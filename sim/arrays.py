"""Array helpers the model shares: a read-only view of an array spread over a sample axis."""

from __future__ import annotations

import numpy as np
from numba import njit

BIG = float(np.finfo(float).max)  # what `finite` puts for an infinity (as `np.nan_to_num`)


def spread(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` broadcast to ``shape``, read only: `np.broadcast_to`, without its cost (a few
    microseconds, many times a step) when no axis repeats, as in a one-sample run."""
    if a.ndim < len(shape):
        a = a.reshape((1,) * (len(shape) - a.ndim) + a.shape)
    if a.shape != shape:
        return np.broadcast_to(a, shape)
    view = a.view()
    view.flags.writeable = False
    return view


def finite(
    a: np.ndarray, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> np.ndarray:
    """`np.nan_to_num` of a float array (a new array, the same numbers), without its cost
    (over ten microseconds, several times a step)."""
    out = np.array(a, dtype=float, order="C")
    _finite(
        out.reshape(-1), nan, BIG if posinf is None else posinf, -BIG if neginf is None else neginf
    )
    return out


@njit(cache=True, nogil=True)
def _finite(a: np.ndarray, nan: float, posinf: float, neginf: float) -> None:
    """`finite` in place on a flat array."""
    for i in range(a.size):
        v = a[i]
        if np.isnan(v):
            a[i] = nan
        elif np.isinf(v):
            a[i] = posinf if v > 0 else neginf

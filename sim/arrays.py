"""Array helpers the model shares: a read-only view of an array spread over a sample axis."""

from __future__ import annotations

import numpy as np


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

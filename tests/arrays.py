"""Random arrays for the kernels' tests."""

from __future__ import annotations

import numpy as np


def sparse(rng: np.random.Generator, shape: tuple[int, ...], zeros: float = 0.3) -> np.ndarray:
    """Random non-negative values of very different sizes, some exactly zero."""
    values = rng.lognormal(0.0, 3.0, size=shape)
    return np.where(rng.random(shape) < zeros, 0.0, values)

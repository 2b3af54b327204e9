"""Class sums, shares and parts in numpy: members added one at a time in ascending order."""

from __future__ import annotations

import numpy as np


def class_sum(a: np.ndarray, labels: np.ndarray, size: int) -> np.ndarray:
    """Class totals ``[S, size, ...]`` of ``a[S, members, ...]``: members added one at a time
    in ascending order (0 without members)."""
    out = np.zeros((a.shape[0], size, *a.shape[2:]))
    for c in range(size):
        members = np.flatnonzero(labels == c)
        if members.size:
            total = a[:, members[0]].copy()
            for m in members[1:]:
                total = total + a[:, m]
            out[:, c] = total
    return out


def class_share(a: np.ndarray, total: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each member's share ``a / total`` of its class's total (0 where that is 0)."""
    whole = np.take(total, labels, axis=1)
    out = np.zeros(np.broadcast_shapes(a.shape, whole.shape))
    return np.divide(a, whole, out=out, where=whole > 0)


def class_part(share: np.ndarray, total: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each member's ``share`` of its class's ``total``."""
    return share * np.take(total, labels, axis=1)

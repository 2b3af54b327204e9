"""How new capacity attracts orders: idle plants take up need their customers do not meet at home.

Plants make to order and order inputs to replace what they used, so a plant that has never
produced holds no input, is offered no orders and would never start. Each step, what
customers still need after the market cleared (magnet buyers: what their home plants did not
supply) is offered to the idle capacity of projects (tranches with a start date: new plants
and expansions) on the routes marked ``open_``, pro rata, and a plant plans its input orders
for what it used plus what it could take of that backlog. A plant coming online therefore
buys its first inputs and starts within a lead time, as a commissioning plant does; plants
operating before the horizon behave as before.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.arrays import spread
from sim.model import kernels


def add_along(a: np.ndarray, axis: int) -> np.ndarray:
    """Sum over ``axis`` one slice at a time, so that every sample's result is the same
    whatever the batch size (numpy's own reductions may order the additions by shape)."""
    out = np.zeros(a.shape[:axis] + a.shape[axis + 1 :])
    for part in np.moveaxis(a, axis, 0):
        out = out + part
    return out


def backlog_claim(unmet: np.ndarray, idle: np.ndarray, open_: np.ndarray) -> np.ndarray:
    """Output ``[S, P, K]`` each plant could add for unmet need, within its idle capacity.

    Args:
        unmet: ``[S, C, K]`` need the market left unmet.
        idle: ``[S, P]`` capacity not used this step (>= 0).
        open_: ``[P, C]`` 1 where plant ``p`` may serve customer ``c``.
    """
    unmet = np.ascontiguousarray(unmet, dtype=float)
    out = np.empty((unmet.shape[0], idle.shape[1], unmet.shape[2]))
    kernels.backlog_claim(
        unmet,
        np.ascontiguousarray(spread(idle, (unmet.shape[0], idle.shape[1])), dtype=float),
        np.ascontiguousarray(open_, dtype=float),
        1e-12,
        out,
    )
    return out


def startup_claim(
    made: np.ndarray,
    capacity: np.ndarray,
    new_capacity: np.ndarray,
    unmet: Callable[[], np.ndarray],
    open_: np.ndarray,
) -> np.ndarray:
    """What plants plan to make beyond this step's output, ``[S, P, K]``: their idle project
    capacity's pro-rata take of the need left unmet (zero, and ``unmet`` not computed, when no
    project has idle capacity; only projects' plants are computed).

    Args:
        made: ``[S, P]`` output this step.
        capacity: ``[S, P]`` capacity this step.
        new_capacity: ``[S, P]`` the part of it from projects (tranches with a start date).
        unmet: gives ``[S, C, K]``, the need the market left unmet (for magnet buyers: not met
            at home).
        open_: ``[P, C]`` 1 where plant ``p`` may serve customer ``c``.
    """
    idle = np.minimum(np.maximum(capacity - made, 0.0), new_capacity)
    plants = np.flatnonzero(idle.any(axis=0))
    if not plants.size:
        return np.zeros((*made.shape, 1))
    need = np.maximum(unmet(), 0.0)
    out = np.zeros((*made.shape, need.shape[2]))
    out[:, plants] = backlog_claim(need, idle[:, plants], open_[plants])
    return out

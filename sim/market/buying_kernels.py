"""Compiled monthly update of buyers' use levels, cover levels and expected prices
(`sim.model.levers.buying.settle`): one pass over samples and buyers, the powers of a price
cell worked out once for all the buyers that watch it.

Every buyer of a price cell (a product in a tier) sees the same price and starts with the
same expectation, so their expected prices stay equal; the kernel still checks that before it
reuses a cell's powers. A size-1 leading axis of ``anchor``, ``feared`` or ``constants``
repeats over the samples; compiled code is cached (``cache=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _ratio(a: float, b: float) -> float:
    """``a / b``, 1 where that is not a finite number (as ``np.nan_to_num(.., nan=1,
    posinf=1)`` of the quotient: a negative infinity cannot arise from prices)."""
    if b == 0.0 or a != a or b != b:
        return 1.0
    q = a / b
    return q if q - q == 0.0 else 1.0


@njit(cache=True, nogil=True)
def settle(
    cell: np.ndarray,
    group: np.ndarray,
    elasticity: np.ndarray,
    levels: tuple[np.ndarray, np.ndarray, np.ndarray],
    watched: tuple[np.ndarray, np.ndarray],
    feared: np.ndarray,
    constants: np.ndarray,
    reported: bool,
) -> None:
    """Update ``levels = (use, cover, expected)`` (``[S, B]`` each, in place) from the
    prices buyers watch, ``watched = (now[S, B], anchor[S or 1, B])``, and ``feared[S or 1,
    B]``. ``cell[B]`` is each buyer's price cell (-1: none), ``group[B]`` its cell and
    elasticity's group (buyers of a group whose levels agree move alike, so their powers are
    worked out once); ``constants[S or 1, 7]`` holds the use speed, stock sensitivity,
    lowest and highest cover, stock speed, expectation speed and announced cover (a row a
    sample where they differ). Before the first ``reported`` step only expectations move."""
    use, cover, expected = levels
    now, anchor = watched
    S, B = use.shape
    cells = cell.max() + 1
    seen, ahead_pow, goal_pow = np.empty(cells), np.empty(cells), np.empty(cells)
    groups = group.max() + 1
    use_was, use_now = np.empty(groups), np.empty(groups)
    cover_was, cover_now = np.empty(groups), np.empty(groups)
    for s in range(S):
        seen[:], use_was[:], cover_was[:] = np.nan, np.nan, np.nan
        a, f = anchor[min(s, anchor.shape[0] - 1)], feared[min(s, feared.shape[0] - 1)]
        row = constants[min(s, constants.shape[0] - 1)]
        use_speed, sensitivity, low, high = row[0], row[1], row[2], row[3]
        stock_speed, expect_speed, announced = row[4], row[5], row[6]
        for b in range(B):
            c, was = cell[b], expected[s, b]
            ahead = _ratio(now[s, b], was)
            if c >= 0 and seen[c] == was:
                moved, goal = ahead_pow[c], goal_pow[c]
            else:
                moved = ahead**expect_speed
                goal = min(max(ahead**sensitivity, low), high)
                if c >= 0:
                    seen[c], ahead_pow[c], goal_pow[c] = was, moved, goal
            step_expected = was * moved
            expected[s, b] = step_expected if step_expected == step_expected else 1.0
            if not reported:
                continue
            g, level = group[b], use[s, b]
            if use_was[g] != level:
                target = _ratio(now[s, b], a[b]) ** -elasticity[b]
                use_was[g], use_now[g] = level, level * (target / level) ** use_speed
            use[s, b] = use_now[g]
            level = cover[s, b]
            if f[b] > 0.0:
                goal = max(goal, 1.0 + (announced - 1.0) * f[b])
                cover[s, b] = level * (goal / level) ** stock_speed
            else:
                if cover_was[g] != level:
                    cover_was[g], cover_now[g] = level, level * (goal / level) ** stock_speed
                cover[s, b] = cover_now[g]

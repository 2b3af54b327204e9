"""Markets: who gets scarce supply, and what it costs.

`allocate` shares suppliers' available quantities among customers' needs, by priority tier
(higher first), then pro rata: each customer spreads its need over the suppliers it may buy
from in proportion to what they have, suppliers that are asked for more than they have scale
every request down, and unmet need is asked again of what is left. Arrays carry a leading
sample axis and a trailing product axis ``K`` (elements for oxide and metal, one for
concentrate and magnets): shapes ``avail[S, P, K]``, ``need[S, C, K]``, ``x[S, P, C, K]``.

A route may be capped (an export quota or ban): ``cap[S, P, C, K]`` bounds its flow, and
`allocate_controlled` derives the caps from the uncontrolled allocation, so that a quota of
share ``q`` lets through ``q`` of the normal flow on that route.
"""

from __future__ import annotations

import numpy as np

ROUNDS = 4
TINY = 1e-12


def _fill(
    avail: np.ndarray, need: np.ndarray, open_: np.ndarray, cap: np.ndarray | None
) -> np.ndarray:
    """Pro-rata allocation within one priority tier; ``avail`` and ``need`` are left as is."""
    avail = avail.copy()
    need = need.copy()
    cap = None if cap is None else cap.copy()
    x = np.zeros((avail.shape[0], avail.shape[1], need.shape[1], need.shape[2]))
    for _ in range(ROUNDS):
        weight = avail[:, :, None, :] * open_
        if cap is not None:
            weight = np.minimum(weight, cap)
        total = weight.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > TINY, weight / total, 0.0)
        request = share * need[:, None, :, :]
        if cap is not None:
            request = np.minimum(request, cap)
        asked = request.sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            scale = np.where(asked > avail, avail / np.where(asked > 0, asked, 1.0), 1.0)
        flow = request * scale[:, :, None, :]
        x += flow
        avail = np.maximum(avail - flow.sum(axis=2), 0.0)
        need = np.maximum(need - flow.sum(axis=1), 0.0)
        if cap is not None:
            cap = np.maximum(cap - flow, 0.0)
        if not (need > TINY).any() or not (avail > TINY).any():
            break
    return x


def allocate(
    avail: np.ndarray,
    need: np.ndarray,
    open_: np.ndarray,
    priority: np.ndarray,
    cap: np.ndarray | None = None,
) -> np.ndarray:
    """Allocate supply to needs, highest ``priority`` tier of customers first.

    Args:
        avail: ``[S, P, K]`` what each supplier can deliver (>= 0).
        need: ``[S, C, K]`` what each customer wants (>= 0).
        open_: ``[P, C, K]`` or ``[S, P, C, K]`` 1 where the route may carry flow, else 0.
        priority: ``[C]`` integer tier of each customer.
        cap: optional ``[S, P, C, K]`` upper bound on each route's flow.

    Returns:
        ``x[S, P, C, K]`` with ``x.sum(2) <= avail`` and ``x.sum(1) <= need``.
    """
    shape = (avail.shape[0], avail.shape[1], need.shape[1], need.shape[2])
    x = np.zeros(shape)
    left = avail.copy()
    for tier in sorted(set(priority.tolist()), reverse=True):
        members = (priority == tier).astype(float)[None, None, :, None]
        tier_need = need * members[:, 0]
        if not (tier_need > TINY).any():
            continue
        flow = _fill(left, tier_need, open_ * members, cap)
        x += flow
        left = np.maximum(left - flow.sum(axis=2), 0.0)
        if cap is not None:
            cap = np.maximum(cap - flow, 0.0)
    return x


def allocate_controlled(
    avail: np.ndarray,
    need: np.ndarray,
    open_: np.ndarray,
    priority: np.ndarray,
    allowed: np.ndarray | None,
    normal_avail: np.ndarray | None = None,
    normal_need: np.ndarray | None = None,
) -> np.ndarray:
    """Allocate with export controls: ``allowed[S, P, C, K]`` is the share of normal flow
    a route may carry (1 = uncontrolled, 0 = banned); ``None`` means no control is active.

    The normal flow is the uncontrolled allocation of ``normal_avail`` to ``normal_need``
    (defaults ``avail`` and ``need``): plants that make to order pass their capacity and
    customers their running use, so that a quota is a share of what would ship in normal
    times, not of what its own cut has left plants able to make, nor of the panic orders of
    customers whose stocks it has emptied.
    """
    if allowed is None:
        return allocate(avail, need, open_, priority)
    normal = allocate(
        avail if normal_avail is None else normal_avail,
        need if normal_need is None else normal_need,
        open_,
        priority,
    )
    cap = np.where(allowed < 1.0, allowed * normal, np.inf)
    return allocate(avail, need, open_, priority, cap)


def allocate_home_first(
    avail: np.ndarray,
    need: np.ndarray,
    open_: np.ndarray,
    home: np.ndarray,
    priority: np.ndarray,
    allowed: np.ndarray | None,
    normal_avail: np.ndarray | None = None,
    normal_need: np.ndarray | None = None,
) -> np.ndarray:
    """Allocate over the routes marked ``home[P, C]`` first, then what is left over all routes.

    Buyers keep their established, mostly domestic suppliers and turn to the world market
    for the rest, so plants outside the largest supplier run full for their home customers.
    """
    home_open = open_ * home[:, :, None]
    first = allocate_controlled(
        avail, need, home_open, priority, allowed, normal_avail, normal_need
    )

    def left(x: np.ndarray | None, axis: int) -> np.ndarray | None:
        return None if x is None else np.maximum(x - first.sum(axis=axis), 0.0)

    rest_avail = np.maximum(avail - first.sum(axis=2), 0.0)
    rest_need = np.maximum(need - first.sum(axis=1), 0.0)
    rest = allocate_controlled(
        rest_avail,
        rest_need,
        open_,
        priority,
        allowed,
        left(normal_avail, 2),
        left(normal_need, 1),
    )
    return first + rest


def scarcity_price(
    base_usd_per_kg: np.ndarray, fill: np.ndarray, elasticity: float, ceiling: float
) -> np.ndarray:
    """Price from the share of need that was met: ``base * fill**(-1/elasticity)``, capped.

    A fully served market (fill 1) keeps its base price; a market that met half its need at a
    short-run demand elasticity of 0.5 pays four times base.
    """
    safe = np.clip(fill, 1.0 / ceiling**elasticity, 1.0)
    return np.minimum(base_usd_per_kg * safe ** (-1.0 / elasticity), base_usd_per_kg * ceiling)

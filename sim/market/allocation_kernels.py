"""The compiled allocation pass, and the ordered group sums it and the markets' groupings use.

A batch carries hundreds of samples through every step; written as numpy expressions, the
markets' pro-rata rounds spend their time moving ``[S, edges, K]`` temporaries through memory
and paying numpy's per-call cost, thousands of calls a step. These kernels run the rounds in
compiled loops with the sample axis last (``[rows, K, S]``): each operation runs over all
samples in one vectorised inner loop. A sample stops its rounds by having its need zeroed, so a
sample's numbers do not depend on the batch it runs in (`tests/test_kernels.py`).

Sums add members one at a time in a fixed order (`group_sum`; no fast-math), so results are
equal bit for bit to the numpy references in ``tests/reference/``. Divisions follow numpy's
error model (no zero check, which keeps loops vectorisable): every divisor is tested before it
is used. Compiled code is cached next to this module (``cache=True``): the first run on a
machine compiles for a few seconds, later runs load it. Kernels that call one another live in
this one module, because numba's cache notices a change only in the file of the function it
compiled, not in the files of the kernels that function calls; the one exception is the caps'
steps (`sim.market.cap_kernels`, apart for the module's size), whose digest this file holds
(`CAP_KERNELS_DIGEST`) so that a change there changes this file.

What the pass reads of a market's structure is spelled out as a named tuple
(`sim.market.pass_index.PassIndex`); what a kernel writes is its ``out`` argument, or an
argument named ``..._left`` that it uses up. The pass's steps are small named functions that
numba inlines into their caller (``inline="always"``): compiled apart, LLVM would have to
assume that their array arguments overlap and would not vectorise the sample loops (a pass
then takes three times as long).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from sim.market.cap_kernels import (
    Caps,
    any_below_one,
    edge_caps,
    edge_min,
    entries_on,
    group_caps,
    group_flows,
    group_supply,
    limit_by_groups,
    no_caps,
    scale_to,
    suppliers_on,
)
from sim.market.net_kernels import net_flows, scale_out
from sim.market.pass_index import PassIndex
from sim.market.round_kernels import (
    keep_samples,
    live_samples,
    requests,
    route_weights,
    samples_above,
    scale_and_add,
)
from sim.market.use_kernels import add_to, class_inflow, use_first_shares

# sha256 of sim/market/cap_kernels.py (first 16 hex digits), whose steps the pass inlines:
# numba's cache sees only this file's content (tests/test_cap_groups.py checks the digest).
CAP_KERNELS_DIGEST = "ff70c5ffa38d2859"
# and of sim/market/net_kernels.py (tests/test_netting.py checks it)
NET_KERNELS_DIGEST = "6a3c3a3b1dce1027"
# and of sim/market/use_kernels.py (tests/test_use_first.py checks it)
USE_KERNELS_DIGEST = "7d161da7ee71a278"
# and of sim/market/round_kernels.py (tests/test_use_first.py checks it)
ROUND_KERNELS_DIGEST = "0c3a88410fae8c23"


class TierEdges(NamedTuple):
    """One tier's edges, cut out of a `PassIndex` (every array starts at the tier's first
    edge; pointers count the tier's supplier classes and customers)."""

    edge_sup: np.ndarray
    edge_cus: np.ndarray
    opened: np.ndarray
    sup_ptr: np.ndarray
    sup_order: np.ndarray
    cus_ptr: np.ndarray
    cus_order: np.ndarray


# -- ordered group sums ---------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def group_sum(rows: np.ndarray, ptr: np.ndarray, order: np.ndarray, out: np.ndarray) -> None:
    """``out[c, k, s]``: the sum of ``rows[m, k, s]`` over class ``c``'s members ``m`` =
    ``order[ptr[c]:ptr[c + 1]]``, added one at a time in that order (0 without members).

    The one ordered sum of the markets (`sim.market.shipping_kernels.weighted_group_sum` is
    its weighted variant): samples-first arrays are passed as transposed views
    (`sim.market.groupings.Grouping.sum`)."""
    C, K, S = out.shape
    for c in range(C):
        lo, hi = ptr[c], ptr[c + 1]
        for k in range(K):
            if lo == hi:
                for s in range(S):
                    out[c, k, s] = 0.0
                continue
            m = order[lo]
            for s in range(S):
                out[c, k, s] = rows[m, k, s]
            for q in range(lo + 1, hi):
                m = order[q]
                for s in range(S):
                    out[c, k, s] += rows[m, k, s]


@njit(cache=True, nogil=True, error_model="numpy")
def group_sum_columns(
    a: np.ndarray, ptr: np.ndarray, order: np.ndarray, columns: np.ndarray, out: np.ndarray
) -> None:
    """`group_sum` of some columns of samples-first ``a[S, members, n]``, samples-last:
    ``out[:, k]`` sums column ``columns[k]``."""
    rows = a.transpose((1, 2, 0))  # [members, n, S], a view
    for k in range(columns.size):
        c = columns[k]
        group_sum(rows[:, c : c + 1], ptr, order, out[:, k : k + 1])


# -- the allocation pass --------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def allocate_pass(
    supply: np.ndarray,
    need: np.ndarray,
    use: np.ndarray,
    has_use: bool,
    normal_supply: np.ndarray,
    normal_need: np.ndarray,
    allowed: np.ndarray,
    has_allowed: bool,
    withheld: np.ndarray,
    in_force: np.ndarray,
    split: tuple[np.ndarray, bool],
    index: PassIndex,
    rounds: int,
    tiny: float,
    out: np.ndarray,
    lane_in: np.ndarray,
) -> None:
    """`sim.market.allocation.AllocationPass.allocate_sl`: flows ``out[L, K, S]`` on the
    market's lane edges from lanes' ``supply``, ``need`` and normal levels (``[lanes, K, S]``;
    ``split = (weights, True)``: need spread by lanes' ``weights`` in a tier's first round),
    each cap group's flow at most its routes' normal flow less the share ``withheld[scopes,
    S]`` where ``in_force``, each edge at most ``allowed[E, K, S]`` of its normal flow where
    below 1 (``has_allowed``), two-way trade between the tiers netted out of the flows and of
    the normal flow (`sim.market.net_kernels`). With ``has_use``, each tier fills lanes' ``use``
    (at most their need) first, then the rest, and a class's flow goes to its lanes as the two
    fills would have given it to each (`sim.market.use_kernels`; ``lane_in[2, lanes, K, S]``:
    what each lane got in the first fill, and in both, before netting)."""
    K, S = out.shape[1], out.shape[2]
    supply_c = _class_totals(supply, index.sup_trivial, index.sup_ptr, index.sup_order)
    need_c = _class_totals(need, index.cus_trivial, index.cus_ptr, index.cus_order)
    use_c = (
        _class_totals(use, index.cus_trivial, index.cus_ptr, index.cus_order) if has_use else need_c
    )
    split_c = (_class_weights(split, index, K, S), split[1])
    flows = np.zeros((index.edge_sup.size, K, S))
    caps = _pass_caps(
        (normal_supply, normal_need),
        (allowed, has_allowed),
        (withheld, in_force),
        split_c,
        index,
        rounds,
        tiny,
    )
    first = np.zeros((flows.shape[0] if has_use else 0, K, S))
    if flows.shape[0] > 0:
        _allocate_tiers(
            supply_c, split_c, need_c, use_c, has_use, caps, index, rounds, tiny, flows, first
        )
    if has_use:
        classes = need_c.shape[0]
        got = (class_inflow(first, index, classes), class_inflow(flows, index, classes))
        share_cus = use_first_shares((need, use), (need_c, use_c), got, index.cus_labels, lane_in)
    else:
        share_cus = _shares(need, need_c, index.cus_trivial, index.cus_labels)
    if flows.shape[0] > 0:
        net_flows(flows, index)
    share_sup = _shares(supply, supply_c, index.sup_trivial, index.sup_labels)
    _lane_flows(flows, share_sup, share_cus, index, out)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _class_weights(split: tuple[np.ndarray, bool], index: PassIndex, K: int, S: int) -> np.ndarray:
    """Supplier classes' first-round weights from lanes' ``split = (weights, has_weights)``
    (empty without them)."""
    weights, has_weights = split
    if not has_weights:
        return np.empty((0, K, S))
    return _class_totals(weights, index.sup_trivial, index.sup_ptr, index.sup_order)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _pass_caps(
    normal_levels: tuple[np.ndarray, np.ndarray],
    edge_shares: tuple[np.ndarray, bool],
    controls: tuple[np.ndarray, np.ndarray],
    split: tuple[np.ndarray, bool],
    index: PassIndex,
    rounds: int,
    tiny: float,
) -> Caps:
    """The pass's caps (`allocate_pass`): from the normal flow of lanes' ``normal_levels``
    (supply, need), split (classes' ``split``) and netted as the flows will be, the edges' own
    at ``edge_shares = (allowed, has_allowed)`` of it and the cap groups' at what ``controls =
    (withheld, in_force)`` let through; none where nothing caps."""
    normal_supply, normal_need = normal_levels
    allowed, has_allowed = edge_shares
    withheld, in_force = controls
    K, S = normal_supply.shape[1], normal_supply.shape[2]
    caps = no_caps(K, S)
    on = entries_on(in_force, index, S)
    groups = _anything_above(on.reshape((on.shape[0], 1, S)), 0.0)
    edges = has_allowed and any_below_one(allowed)
    if not (groups or edges):
        return caps
    normal = np.empty((index.edge_sup.size, K, S))
    normal_supply_c = _class_totals(
        normal_supply, index.sup_trivial, index.sup_ptr, index.sup_order
    )
    normal_need_c = _class_totals(normal_need, index.cus_trivial, index.cus_ptr, index.cus_order)
    _allocate_tiers(
        normal_supply_c,
        split,
        normal_need_c,
        normal_need_c,
        False,
        caps,
        index,
        rounds,
        tiny,
        normal,
        normal[:0],
    )
    scale_out(normal, index)  # a control caps a share of the net flow out of China
    return Caps(
        edges,
        edge_caps(allowed, normal) if edges else caps.edge_left,
        groups,
        group_caps(withheld, normal, on, index) if groups else caps.group_left,
        on,
        suppliers_on(on, index),
    )


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _class_totals(
    rows: np.ndarray, trivial: bool, ptr: np.ndarray, order: np.ndarray
) -> np.ndarray:
    """Class totals of ``rows[lanes, K, S]`` (``rows`` itself if every lane is a class)."""
    if trivial:
        return rows
    out = np.empty((ptr.size - 1, rows.shape[1], rows.shape[2]))
    group_sum(rows, ptr, order, out)
    return out


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _shares(rows: np.ndarray, total: np.ndarray, trivial: bool, labels: np.ndarray) -> np.ndarray:
    """Each lane's share of its class total (0 where that is 0), ``[lanes, K, S]``; not
    filled when every lane is a class of its own (then unused)."""
    out = np.empty_like(rows)
    if trivial:
        return out
    M, K, S = rows.shape
    for i in range(M):
        c = labels[i]
        for k in range(K):
            for s in range(S):
                whole = total[c, k, s]
                out[i, k, s] = rows[i, k, s] / whole if whole > 0.0 else 0.0
    return out


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _lane_flows(
    flows: np.ndarray,
    share_sup: np.ndarray,
    share_cus: np.ndarray,
    index: PassIndex,
    out: np.ndarray,
) -> None:
    """Each lane edge's part of its class edge's flow: times its supplier lane's and its
    customer lane's shares of their classes (0 on edges the pass does not open)."""
    L, K, S = out.shape
    for j in range(L):
        edge = index.lane_class_edge[j]
        for k in range(K):
            for s in range(S):
                v = flows[edge, k, s] if edge >= 0 else 0.0
                if not index.sup_trivial:
                    v = v * share_sup[index.lane_sup[j], k, s]
                if not index.cus_trivial:
                    v = v * share_cus[index.lane_cus[j], k, s]
                out[j, k, s] = v


@njit(cache=True, nogil=True, error_model="numpy")
def _allocate_tiers(
    supply: np.ndarray,
    split: tuple[np.ndarray, bool],
    need: np.ndarray,
    use: np.ndarray,
    has_use: bool,
    caps: Caps,
    tiers: PassIndex,
    rounds: int,
    tiny: float,
    out: np.ndarray,
    first_out: np.ndarray,
) -> None:
    """Flows ``out[E, K, S]`` from classes' ``supply`` and ``need``, tier by tier, highest
    first, within ``caps``: each tier takes what the tiers before it left, of supply and of
    cap groups' caps, need spread in each fill's first round as ``split`` says (`_fill_tier`).
    With ``has_use`` a tier fills its classes' ``use`` (at most their need) first, then the rest
    of their need from what is left; the first fill's flows go to ``first_out`` too."""
    G, K, S = supply.shape
    left = supply.copy()
    taken = np.empty((G, K, S))
    for j in range(tiers.edge_bounds.size - 1):
        e0, e1 = tiers.edge_bounds[j], tiers.edge_bounds[j + 1]
        part = out[e0:e1]  # the tier's edges' flows (a view)
        part[:] = 0.0
        if e0 == e1:
            continue
        tier_need = _tier_need(need, tiers, j)
        if not _anything_above(tier_need, tiny):  # no sample of the batch needs anything
            continue
        tier = _tier_edges(tiers, j, G)
        edge_left = caps.edge_left[e0:e1].copy() if caps.edges else caps.edge_left[:1].copy()
        capped = Caps(
            caps.edges, edge_left, caps.groups, caps.group_left, caps.entry_on, caps.sup_on
        )
        if has_use:
            first = _tier_need(use, tiers, j)
            edge_was = edge_left.copy()
            _fill_tier(left.copy(), first, capped, split, tiers, e0, tier, rounds, tiny, part)
            first_out[e0:e1] = part
            if caps.edges:  # what the first fill used of the edges' own caps
                edge_left[:] = edge_was
                _subtract_at_least_zero(edge_left, part)
            group_sum(part, tier.sup_ptr, tier.sup_order, taken)
            _subtract_at_least_zero(left, taken)
            got = np.empty_like(tier_need)
            group_sum(part, tier.cus_ptr, tier.cus_order, got)
            _subtract_at_least_zero(tier_need, got)
            if not _anything_above(tier_need, tiny):
                continue
            then = np.empty_like(part)
            _fill_tier(left.copy(), tier_need, capped, split, tiers, e0, tier, rounds, tiny, then)
            add_to(part, then)
            group_sum(then, tier.sup_ptr, tier.sup_order, taken)
            _subtract_at_least_zero(left, taken)
            continue
        _fill_tier(left.copy(), tier_need, capped, split, tiers, e0, tier, rounds, tiny, part)
        group_sum(part, tier.sup_ptr, tier.sup_order, taken)
        _subtract_at_least_zero(left, taken)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _tier_need(need: np.ndarray, tiers: PassIndex, j: int) -> np.ndarray:
    """Tier ``j``'s customers' need, ``[members, K, S]`` (a copy)."""
    m0, m1 = tiers.member_bounds[j], tiers.member_bounds[j + 1]
    K, S = need.shape[1], need.shape[2]
    out = np.empty((m1 - m0, K, S))
    for c in range(m1 - m0):
        for k in range(K):
            for s in range(S):
                out[c, k, s] = need[tiers.members[m0 + c], k, s]
    return out


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _anything_above(a: np.ndarray, tiny: float) -> bool:
    """Whether any value of ``a[rows, K, S]`` is above ``tiny``."""
    R, K, S = a.shape
    above = False
    for i in range(R):
        for k in range(K):
            for s in range(S):
                above = above or a[i, k, s] > tiny
    return above


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _tier_edges(tiers: PassIndex, j: int, suppliers: int) -> TierEdges:
    """Tier ``j``'s edges, with their groupings by supplier class and by customer."""
    e0, e1 = tiers.edge_bounds[j], tiers.edge_bounds[j + 1]
    customers = tiers.member_bounds[j + 1] - tiers.member_bounds[j]
    sup_start = j * (suppliers + 1)
    cus_start = tiers.member_bounds[j] + j
    return TierEdges(
        tiers.edge_sup[e0:e1],
        tiers.edge_cus[e0:e1],
        tiers.opened[e0:e1],
        tiers.edge_sup_ptr[sup_start : sup_start + suppliers + 1],
        tiers.edge_sup_order[e0:e1],
        tiers.edge_cus_ptr[cus_start : cus_start + customers + 1],
        tiers.edge_cus_order[e0:e1],
    )


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _subtract_at_least_zero(left: np.ndarray, taken: np.ndarray) -> None:
    """``left = max(left - taken, 0)``, in place."""
    R, K, S = left.shape
    for i in range(R):
        for k in range(K):
            for s in range(S):
                v = left[i, k, s] - taken[i, k, s]
                left[i, k, s] = v if v > 0.0 else 0.0


# -- one tier's pro-rata rounds -------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def _fill_tier(
    supply_left: np.ndarray,
    need_left: np.ndarray,
    caps: Caps,
    split: tuple[np.ndarray, bool],
    index: PassIndex,
    e0: int,
    tier: TierEdges,
    rounds: int,
    tiny: float,
    out: np.ndarray,
) -> None:
    """Pro-rata allocation within one tier (``tests/reference/allocation.py: fill``): flows
    ``out[E, K, S]`` on its edges (the pass's from ``e0``) from supply ``supply_left[G, K,
    S]``, its customers' ``need_left[H, K, S]`` and ``caps`` (all used up). Each customer
    spreads its need over open edges in proportion to what suppliers have (within caps; in
    the first round, to ``split = (weights, has_weights)``'s weights where ``has_weights``),
    each cap group's requests are scaled down to what its cap has left, oversubscribed
    suppliers scale requests down, and unmet need is asked again (``rounds`` rounds, fewer
    once no open edge joins a supplier with something left to a customer that needs
    something within its caps)."""
    E, K, S = out.shape
    G, H = supply_left.shape[0], need_left.shape[0]
    weights, flows = np.empty((E, K, S)), np.empty((E, K, S))
    per_sup, per_cus = np.empty((G, K, S)), np.empty((H, K, S))
    per_group = np.empty(caps.group_left.shape)
    on_edges = np.empty((E if caps.groups else 0, K, S))
    # A sample stops as it would alone: when none of its open edges can carry more (its
    # later rounds then move exactly nothing, whatever the other samples of the batch do).
    keep_samples(need_left, samples_above(need_left, tiny))
    out[:] = 0.0
    for round_ in range(rounds):
        route_weights(split[0] if split[1] and round_ == 0 else supply_left, caps, tier, weights)
        if caps.groups:
            group_supply(supply_left, caps, index, per_group)
            limit_by_groups(weights, per_group, caps, index, e0, on_edges)
        group_sum(weights, tier.cus_ptr, tier.cus_order, per_cus)
        requests(weights, per_cus, need_left, caps, tier, tiny, flows)
        if caps.groups:
            group_flows(flows, caps, index, e0, per_group)
            limit_by_groups(flows, per_group, caps, index, e0, on_edges)
        group_sum(flows, tier.sup_ptr, tier.sup_order, per_sup)
        scale_to(supply_left, per_sup)
        scale_and_add(flows, per_sup, tier, out)
        if caps.groups:  # group caps carry over to the next tiers: used up every round
            group_flows(flows, caps, index, e0, per_group)
            _subtract_at_least_zero(caps.group_left, per_group)
            edge_min(caps.group_left, caps, index, e0, np.inf, on_edges)
        if round_ == rounds - 1:
            break
        group_sum(flows, tier.sup_ptr, tier.sup_order, per_sup)
        group_sum(flows, tier.cus_ptr, tier.cus_order, per_cus)
        _subtract_at_least_zero(supply_left, per_sup)
        _subtract_at_least_zero(need_left, per_cus)
        live = live_samples(supply_left, need_left, caps, on_edges, tier, flows, tiny)
        if not live.any():
            break
        keep_samples(need_left, live)

"""The compiled kernels against the numpy code they replaced, bit for bit.

Each reference below is the numpy implementation the engine used before `sim.kernels`; the
kernels must give exactly the same numbers (the same operations in the same order), and a
sample's numbers must not depend on the batch it runs in.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.market import ROUNDS, TINY, Grouping, _Tier
from sim.startup import add_along, backlog_claim


def reference_group_sum(a: np.ndarray, labels: np.ndarray, size: int) -> np.ndarray:
    """Class totals, members added one at a time in ascending order (0 without members)."""
    out = np.zeros((a.shape[0], size, *a.shape[2:]))
    for c in range(size):
        members = np.flatnonzero(labels == c)
        if members.size:
            total = a[:, members[0]].copy()
            for m in members[1:]:
                total = total + a[:, m]
            out[:, c] = total
    return out


def reference_fill(t: _Tier, avail: np.ndarray, need: np.ndarray, cap: np.ndarray | None,
                   opened: np.ndarray) -> np.ndarray:
    """`_Tier.fill` as it was written in numpy."""
    need = np.where((need > TINY).any(axis=(1, 2), keepdims=True), need, 0.0)
    x = np.zeros(())
    for round_ in range(ROUNDS):
        weight = np.take(avail, t.g, axis=1) * opened
        if cap is not None:
            weight = np.minimum(weight, cap)
        total = np.take(reference_group_sum(weight, t.h, len(t.members)), t.h, axis=1)
        request = np.divide(weight, total, out=np.zeros_like(weight), where=total > TINY)
        request *= np.take(need, t.h, axis=1)
        if cap is not None:
            np.minimum(request, cap, out=request)
        asked = reference_group_sum(request, t.g, avail.shape[1])
        over = (asked > avail) & (asked > 0)
        scale = np.divide(avail, asked, out=np.ones_like(avail), where=over)
        flow = request * np.take(scale, t.g, axis=1)
        x = x + flow
        if round_ == ROUNDS - 1:
            break
        avail = np.maximum(avail - reference_group_sum(flow, t.g, avail.shape[1]), 0.0)
        need = np.maximum(need - reference_group_sum(flow, t.h, len(t.members)), 0.0)
        live = (np.take(avail, t.g, axis=1) > TINY) & (np.take(need, t.h, axis=1) > TINY)
        live &= opened > 0
        if cap is not None:
            cap = np.maximum(cap - flow, 0.0)
            live &= cap > TINY
        active = live.any(axis=(1, 2))
        if not active.any():
            break
        need = need * active[:, None, None]
    return x


def reference_backlog_claim(unmet: np.ndarray, idle: np.ndarray, open_: np.ndarray
                            ) -> np.ndarray:
    """`sim.startup.backlog_claim` as it was written in numpy."""
    weight = idle[:, :, None] * open_[None]
    total = add_along(weight, 1)[:, None, :]
    share = np.divide(weight, total, out=np.zeros_like(weight), where=total > 1e-12)
    claim = add_along(share[:, :, :, None] * unmet[:, None, :, :], 2)
    asked = add_along(claim, 2)
    scale = np.divide(idle, asked, out=np.ones_like(idle), where=asked > idle)
    return claim * np.minimum(scale, 1.0)[:, :, None]


def sparse(rng: np.random.Generator, shape: tuple[int, ...], zeros: float = 0.3) -> np.ndarray:
    """Random non-negative values of very different sizes, some exactly zero."""
    values = rng.lognormal(0.0, 3.0, size=shape)
    return np.where(rng.random(shape) < zeros, 0.0, values)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), members=st.integers(1, 12), classes=st.integers(1, 6),
       samples=st.integers(1, 5), width=st.integers(1, 4))
def test_class_sums_add_members_in_order(seed: int, members: int, classes: int, samples: int,
                                         width: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=members)
    a = sparse(rng, (samples, members, width))
    grouping = Grouping(labels, classes)
    expected = reference_group_sum(a, labels, classes)
    assert np.array_equal(grouping.sum(a), expected)
    weight = sparse(rng, (2, members))
    for o in range(2):
        assert np.array_equal(grouping.weighted_sum(a, weight)[o],
                              reference_group_sum(a * weight[o][None, :, None], labels, classes))


def random_tier(rng: np.random.Generator) -> tuple[_Tier, int, int]:
    suppliers, customers, width = (int(v) for v in rng.integers(1, 6, size=3))
    open_ = (rng.random((suppliers, customers, width)) < 0.6).astype(float)
    open_[0, :, :] = 1.0  # every customer has a route
    members = np.sort(rng.choice(customers, size=rng.integers(1, customers + 1), replace=False))
    return _Tier(open_, members, 0), suppliers, width


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), samples=st.integers(1, 6), capped=st.booleans(),
       per_sample_routes=st.booleans())
def test_fill_kernel_equals_the_numpy_rounds(seed: int, samples: int, capped: bool,
                                             per_sample_routes: bool) -> None:
    rng = np.random.default_rng(seed)
    tier, suppliers, width = random_tier(rng)
    edges = tier.g.size
    avail = sparse(rng, (samples, suppliers, width))
    need = sparse(rng, (samples, len(tier.members), width))
    cap = sparse(rng, (samples, edges, width)) if capped else None
    opened = (np.broadcast_to(tier.open, (samples, edges, width)) * (rng.random(
        (samples, edges, width)) < 0.8)) if per_sample_routes else tier.open
    got = tier.fill(avail, need, cap, None if not per_sample_routes else opened)
    expected = reference_fill(tier, avail, need, cap, opened)
    assert np.array_equal(got, np.broadcast_to(expected, got.shape))
    # and each sample alone gives its row of the batch
    for s in range(samples):
        alone = tier.fill(avail[s:s + 1], need[s:s + 1], None if cap is None else cap[s:s + 1],
                          None if not per_sample_routes else opened[s:s + 1])
        assert np.array_equal(alone[0], got[s])


def test_fill_kernel_broadcasts_what_every_sample_shares() -> None:
    rng = np.random.default_rng(7)
    tier, suppliers, width = random_tier(rng)
    avail = sparse(rng, (1, suppliers, width))  # shared by the 4 samples
    need = sparse(rng, (4, len(tier.members), width))
    got = tier.fill(avail, need, None)
    assert got.shape == (4, tier.g.size, width)
    assert np.array_equal(got, reference_fill(tier, np.repeat(avail, 4, 0), need, None,
                                              tier.open))


@pytest.mark.parametrize("seed", range(20))
def test_backlog_claim_kernel_equals_the_numpy_sums(seed: int) -> None:
    rng = np.random.default_rng(seed)
    samples, plants, customers, width = (int(v) for v in rng.integers(1, 7, size=4))
    unmet = sparse(rng, (samples, customers, width))
    idle = sparse(rng, (samples, plants))
    open_ = (rng.random((plants, customers)) < 0.7).astype(float)
    assert np.array_equal(backlog_claim(unmet, idle, open_),
                          reference_backlog_claim(unmet, idle, open_))


@pytest.mark.parametrize("seed", range(12))
def test_shipping_kernel_equals_the_numpy_arrivals(seed: int) -> None:
    from sim.market import Market

    rng = np.random.default_rng(seed)
    suppliers, customers, width, samples = (int(v) for v in rng.integers(1, 6, size=4))
    open_ = (rng.random((suppliers, customers, 1)) < 0.7).astype(float)
    open_[0] = 1.0
    market = Market(open_, rng.integers(0, 2, size=customers),
                    sup_key=rng.integers(0, 2, size=suppliers))
    flow = market.allocate(sparse(rng, (samples, suppliers, width)),
                           sparse(rng, (samples, customers, width)), None)
    lead = rng.choice([0.0, 0.5, 1.0, 1.25, 2.0], size=(market.sup.size, market.cus.size))
    slots = int(np.floor(lead.max())) + 2
    first = int(rng.integers(0, customers))
    chosen = slice(first, customers)
    compiled = sparse(rng, (slots, samples, customers - first, width))
    numpy_ = compiled.copy()
    flow.ship_into(compiled, 5, lead, chosen)
    for offset, got in flow.by_lead(lead, chosen):
        numpy_[(5 + offset) % slots] += got
    assert np.array_equal(compiled, numpy_)

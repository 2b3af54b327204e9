"""The chain stages' compiled kernels (`sim.model.kernels`) against the numpy code they
replaced, bit for bit: each reference here is that numpy code, and the kernels must give
exactly the same numbers (the same operations in the same order).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model import kernels
from sim.model.levers.startups import add_along, backlog_claim
from tests.arrays import sparse


def reference_backlog_claim(unmet: np.ndarray, idle: np.ndarray, open_: np.ndarray) -> np.ndarray:
    """`sim.model.levers.startups.backlog_claim` as it was written in numpy."""
    weight = idle[:, :, None] * open_[None]
    total = add_along(weight, 1)[:, None, :]
    share = np.divide(weight, total, out=np.zeros_like(weight), where=total > 1e-12)
    claim = add_along(share[:, :, :, None] * unmet[:, None, :, :], 2)
    asked = add_along(claim, 2)
    scale = np.divide(idle, asked, out=np.ones_like(idle), where=asked > idle)
    return claim * np.minimum(scale, 1.0)[:, :, None]


@pytest.mark.parametrize("seed", range(20))
def test_backlog_claim_kernel_equals_the_numpy_sums(seed: int) -> None:
    rng = np.random.default_rng(seed)
    samples, plants, customers, width = (int(v) for v in rng.integers(1, 7, size=4))
    unmet = sparse(rng, (samples, customers, width))
    idle = sparse(rng, (samples, plants))
    open_ = (rng.random((plants, customers)) < 0.7).astype(float)
    assert np.array_equal(
        backlog_claim(unmet, idle, open_), reference_backlog_claim(unmet, idle, open_)
    )


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 128), rows=st.integers(1, 40))
def test_pairwise_sum_is_numpys_sum_of_a_last_axis(seed: int, n: int, rows: int) -> None:
    a = sparse(np.random.default_rng(seed), (rows, 3, n))
    expected = a.sum(axis=2)
    assert all(
        kernels.pairwise_sum(a[r, j]) == expected[r, j] for r in range(rows) for j in range(3)
    )


def reference_separate(
    sep_in: np.ndarray,
    cap: np.ndarray,
    per_reo: np.ndarray,
    recover: np.ndarray,
    sep_out: np.ndarray,
    losses: np.ndarray,
) -> np.ndarray:
    """`sim.model.stages.separate` as it was written in numpy (updates its arguments)."""
    feed_reo = (sep_in / per_reo).sum(axis=2)
    share = np.divide(cap, feed_reo, out=np.zeros_like(cap), where=feed_reo > 0)
    done = sep_in * np.minimum(share, 1.0)[:, :, None]
    out = done * recover[None]
    sep_in -= done
    sep_out += out
    losses += (done - out).sum(axis=1)
    return out


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    samples=st.integers(1, 6),
    plants=st.integers(1, 20),
    width=st.integers(1, 10),
)
def test_separation_kernel_equals_the_numpy_stage(
    seed: int, samples: int, plants: int, width: int
) -> None:
    rng = np.random.default_rng(seed)
    state = [
        sparse(rng, (samples, plants, width)),
        sparse(rng, (samples, plants)),
        rng.uniform(0.7, 1.0, width),
        rng.uniform(0.5, 1.0, (plants, width)),
        sparse(rng, (samples, plants, width)),
        sparse(rng, (samples, width)),
    ]
    numpy_ = [a.copy() for a in state]
    expected = reference_separate(*numpy_)
    out = np.empty_like(state[0])
    kernels.separate(*state, out)
    assert np.array_equal(out, expected)
    assert all(np.array_equal(a, b) for a, b in zip(state, numpy_))


def reference_make_magnets(
    made: np.ndarray,
    per_t: np.ndarray,
    recipe: np.ndarray,
    recovery: float,
    swarf_to: np.ndarray,
    mag_in: np.ndarray,
    sep_out: np.ndarray,
    losses: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """The numpy of `sim.model.trading.make_magnets` around its market (updates its arguments)."""
    uses = (
        per_t > 0
    )  # per_t and recipe [1 or S, P, K]: one recipe for every sample, or each its own
    limit = np.where(uses, mag_in / np.where(uses, per_t, 1.0), np.inf).min(2)
    used = made[:, :, None] * per_t
    content = made[:, :, None] * recipe
    mag_in -= used
    swarf = used - content
    recovered = swarf * recovery * (swarf_to >= 0)[None, :, None]
    for g in np.flatnonzero(swarf_to >= 0):
        sep_out[:, swarf_to[g]] += recovered[:, g]
    losses += (swarf - recovered).sum(axis=1)
    return limit, used, content, recovered


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    samples=st.integers(1, 6),
    plants=st.integers(1, 20),
    width=st.integers(1, 10),
    own=st.booleans(),
)
def test_magnet_kernels_equal_the_numpy_stage(
    seed: int, samples: int, plants: int, width: int, own: bool
) -> None:
    rng = np.random.default_rng(seed)
    recipe = sparse(rng, (samples if own else 1, plants, width), zeros=0.5)
    per_t = recipe / 0.8
    cap = sparse(rng, (samples, plants))
    swarf_to = rng.integers(-1, 3, size=plants)
    state = [
        sparse(rng, (samples, plants, width)),
        sparse(rng, (samples, 3, width)),
        sparse(rng, (samples, width)),
    ]
    numpy_ = [a.copy() for a in state]
    made = sparse(rng, (samples, plants))
    limit, *expected = reference_make_magnets(made, per_t, recipe, 0.4, swarf_to, *numpy_)
    avail = np.empty((samples, plants))
    kernels.magnet_avail(state[0], per_t, cap, avail)
    assert np.array_equal(avail, np.minimum(cap, limit))
    got = [np.empty_like(state[0]) for _ in range(3)]
    kernels.make_magnets(made, per_t, recipe, 0.4, swarf_to, *state, *got)
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))
    assert all(np.array_equal(a, b) for a, b in zip(state, numpy_))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    samples=st.integers(1, 6),
    plants=st.integers(1, 20),
    width=st.integers(1, 10),
    slots=st.integers(0, 4),
)
def test_concentrate_kernels_equal_the_numpy_stage(
    seed: int, samples: int, plants: int, width: int, slots: int
) -> None:
    rng = np.random.default_rng(seed)
    per_reo = rng.uniform(0.7, 1.0, width)
    held, buf = sparse(rng, (samples, plants, width)), sparse(rng, (slots, samples, plants, width))
    got = np.empty((samples, plants))
    kernels.reo_held(held, buf, per_reo, got)
    on_way = buf.sum(axis=0) if slots else None
    assert np.array_equal(got, ((held if on_way is None else held + on_way) / per_reo).sum(axis=2))
    stock_reo = (held / per_reo).sum(axis=2)
    sent = sparse(rng, (samples, plants))
    expected_mix = np.divide(
        held, stock_reo[:, :, None], out=np.zeros_like(held), where=stock_reo[:, :, None] > 0
    )
    expected_stock = held - sent[:, :, None] * expected_mix
    mix = np.empty_like(held)
    kernels.ship_mix(held, stock_reo, sent, mix)
    assert np.array_equal(mix, expected_mix)
    assert np.array_equal(held, expected_stock)


def reference_fill(got: np.ndarray, need: np.ndarray, usage: np.ndarray | None) -> np.ndarray:
    """The numpy fill share `sim.model.orders` used: summed deliveries over summed needs
    (1 where nothing is needed), each capped at use first when ``usage`` is given."""
    if usage is not None:
        got, need = np.minimum(got, usage), np.minimum(need, usage)
    want = np.ascontiguousarray(need).sum(axis=1)
    covered = np.ascontiguousarray(got).sum(axis=1)
    return np.divide(covered, want, out=np.ones_like(want), where=want > 1e-9)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    samples=st.integers(1, 5),
    members=st.integers(1, 40),
    width=st.integers(1, 9),
    capped=st.booleans(),
    one_row=st.booleans(),
)
def test_coverage_kernel_equals_the_numpy_fill_shares(
    seed: int, samples: int, members: int, width: int, capped: bool, one_row: bool
) -> None:
    from sim.model.levers.economics import group_members
    from sim.model.orders import covered_share

    rng = np.random.default_rng(seed)
    got, need = sparse(rng, (samples, members, width)), sparse(rng, (samples, members, width))
    usage = sparse(rng, (1 if one_row else samples, members, width))
    groups = [rng.random(members) < 0.5 for _ in range(3)] + [np.zeros(members, dtype=bool)]
    out = covered_share(got, need, usage, group_members(groups), capped=capped)
    for g, sel in enumerate(groups):
        use = np.broadcast_to(usage, got.shape)[:, sel] if capped else None
        assert np.array_equal(out[:, g], reference_fill(got[:, sel], need[:, sel], use))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    samples=st.integers(1, 5),
    plants=st.integers(1, 8),
    width=st.integers(1, 9),
    slots=st.integers(1, 4),
)
def test_position_need_kernel_equals_the_numpy_need(
    seed: int, samples: int, plants: int, width: int, slots: int
) -> None:
    from sim.model.orders import position_need

    rng = np.random.default_rng(seed)
    rate, held = sparse(rng, (samples, plants, width)), sparse(rng, (samples, plants, width))
    ring = sparse(rng, (slots, samples, plants, width))
    lead = rng.choice([0.0, 0.5, 1.0, 2.5], size=plants)
    expected = np.maximum(
        rate * (2.0 + np.maximum(lead, 1.0))[None, :, None] - (held + ring.sum(axis=0)), 0.0
    )
    assert np.array_equal(position_need(rate, 2.0, lead, held, ring), expected)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    samples=st.integers(1, 5),
    buyers=st.integers(1, 12),
    slots=st.integers(1, 4),
    one_row=st.booleans(),
)
def test_buyer_need_kernel_equals_the_numpy_need(
    seed: int, samples: int, buyers: int, slots: int, one_row: bool
) -> None:
    rng = np.random.default_rng(seed)
    demand = sparse(rng, (1 if one_row else samples, buyers))
    factor = 1.0 + rng.random(buyers) + rng.random(buyers)
    held = sparse(rng, (samples, 2 * buyers))[:, ::2]  # a strided view, as buyers' columns
    ring = sparse(rng, (slots, samples, buyers, 1))
    target = np.broadcast_to(demand * factor, (samples, buyers))
    expected = np.maximum(target - held - ring.sum(axis=0)[:, :, 0], 0.0)
    got = np.empty((samples, buyers))
    kernels.buyer_need(demand, factor, held, ring, got)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("seed", range(10))
def test_rate_smoothing_kernel_equals_the_numpy_update(seed: int) -> None:
    rng = np.random.default_rng(seed)
    S, P, K = (int(v) for v in rng.integers(1, 7, size=3))
    rate, used = sparse(rng, (S, P, K)), sparse(rng, (S, P, K))
    for extra in (sparse(rng, (S, P, K)), sparse(rng, (S, P, 1)), sparse(rng, (1, P, K))):
        expected = 0.5 * rate + (1.0 - 0.5) * (used + extra)
        got = rate.copy()
        kernels.smooth_rate(got, used, extra, 0.5, np.ones((1, used.shape[1])))
        assert np.array_equal(got, expected)
    # a plant stopped for part of the step moves that share of the way; stopped, it keeps
    running = rng.choice([0.0, 0.25, 1.0], size=(S, P))
    move = (1.0 - 0.5) * running[:, :, None]
    expected = np.where(running[:, :, None] == 1.0, 0.5 * rate, (1.0 - move) * rate) + np.where(
        running[:, :, None] == 1.0, 0.5, move
    ) * (used + extra)
    got = rate.copy()
    kernels.smooth_rate(got, used, extra, 0.5, running)
    assert np.array_equal(got, expected)
    assert np.array_equal(got[running == 0.0], rate[running == 0.0])


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    nan=st.sampled_from([0.0, 1.0]),
    posinf=st.sampled_from([None, 1.0]),
    transposed=st.booleans(),
)
def test_finite_equals_nan_to_num_bit_for_bit(
    seed: int, nan: float, posinf: float | None, transposed: bool
) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(int(rng.integers(1, 4)), int(rng.integers(0, 5)), 3))
    mark = rng.random(a.shape)
    a[mark < 0.1], a[(mark >= 0.1) & (mark < 0.2)], a[(mark >= 0.2) & (mark < 0.3)] = (
        np.nan,
        np.inf,
        -np.inf,
    )
    a = a.transpose(2, 0, 1) if transposed else a
    got, expected = (
        kernels.finite(a, nan=nan, posinf=posinf),
        np.nan_to_num(a, nan=nan, posinf=posinf),
    )
    assert got.shape == expected.shape and got.flags.c_contiguous
    assert got.tobytes() == np.ascontiguousarray(expected).tobytes()

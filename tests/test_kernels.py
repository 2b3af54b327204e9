"""The compiled kernels against the numpy code they replaced, bit for bit.

Each reference is the numpy implementation the engine used before `sim.market.kernels` (for a whole
allocation pass, `_Pass.allocate_numpy`, whose tiers' rounds are `_Tier.fill`); the kernels
must give exactly the same numbers (the same operations in the same order), and a sample's
numbers must not depend on the batch it runs in.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.market import kernels
from sim.market.market import Grouping
from sim.model.levers.startups import add_along, backlog_claim


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


def reference_backlog_claim(unmet: np.ndarray, idle: np.ndarray, open_: np.ndarray) -> np.ndarray:
    """`sim.model.levers.startups.backlog_claim` as it was written in numpy."""
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
@given(
    seed=st.integers(0, 2**32 - 1),
    members=st.integers(1, 12),
    classes=st.integers(1, 6),
    samples=st.integers(1, 5),
    width=st.integers(1, 4),
)
def test_class_sums_add_members_in_order(
    seed: int, members: int, classes: int, samples: int, width: int
) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=members)
    a = sparse(rng, (samples, members, width))
    grouping = Grouping(labels, classes)
    expected = reference_group_sum(a, labels, classes)
    assert np.array_equal(grouping.sum(a), expected)
    weight = sparse(rng, (2, members))
    for o in range(2):
        assert np.array_equal(
            grouping.weighted_sum(a, weight)[o],
            reference_group_sum(a * weight[o][None, :, None], labels, classes),
        )
    # samples-last: the same sums, as the markets keep lane totals and flows
    wide = width if rng.random() < 0.5 else 1  # a last axis of 1 repeats to the width
    a1 = a[..., :wide]
    t = grouping.sum_t(a1, width)
    assert np.array_equal(
        t,
        np.moveaxis(
            np.broadcast_to(reference_group_sum(a1, labels, classes), (samples, classes, width)),
            0,
            -1,
        ),
    )
    at = np.ascontiguousarray(np.moveaxis(a, 0, -1))
    assert np.array_equal(grouping.sum_edges(at), np.moveaxis(expected, 0, -1))
    got = np.empty((classes, width, samples))
    kernels.weighted_sum_t(at, grouping.ptr, grouping.order, weight[0], got)
    assert np.array_equal(got, np.moveaxis(grouping.weighted_sum(a, weight)[0], 0, -1))
    # members' shares and parts of samples-last totals, shares kept samples-last: those of
    # the samples-first ones (a first axis of 1 repeats)
    total = reference_group_sum(a, labels, classes)
    total_t = np.ascontiguousarray(np.moveaxis(total, 0, -1))
    for one in (a, a[:1]):
        share = grouping.share_t(one, total_t)
        assert np.array_equal(np.moveaxis(share, -1, 0), grouping.share(one, total))
        assert np.array_equal(
            grouping.part_t(share, total_t), grouping.part(grouping.share(one, total), total)
        )


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


def shipping(rng: np.random.Generator) -> tuple:
    """A random market's allocation, lead times between its lanes, and a pipeline's size."""
    from sim.market.market import Market

    suppliers, customers, width, samples = (int(v) for v in rng.integers(1, 6, size=4))
    open_ = (rng.random((suppliers, customers, 1)) < 0.7).astype(float)
    open_[0] = 1.0
    market = Market(
        open_, rng.integers(0, 2, size=customers), sup_key=rng.integers(0, 2, size=suppliers)
    )
    flow = market.allocate(
        sparse(rng, (samples, suppliers, width)), sparse(rng, (samples, customers, width)), None
    )
    lead = rng.choice([0.0, 0.5, 1.0, 1.25, 2.0], size=(market.sup.size, market.cus.size))
    return flow, lead, int(np.floor(lead.max())) + 2, samples, customers, width


@pytest.mark.parametrize("seed", range(12))
def test_shipping_kernel_equals_the_numpy_arrivals(seed: int) -> None:
    rng = np.random.default_rng(seed)
    flow, lead, slots, samples, customers, width = shipping(rng)
    first = int(rng.integers(0, customers))
    chosen = slice(first, customers)
    compiled = sparse(rng, (slots, samples, customers - first, width))
    numpy_ = compiled.copy()
    flow.ship_into(compiled, 5, lead, chosen)
    for offset, got in flow.by_lead(lead, chosen):
        numpy_[(5 + offset) % slots] += got
    assert np.array_equal(compiled, numpy_)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    samples=st.integers(1, 5),
    controlled=st.booleans(),
    home=st.booleans(),
)
def test_pass_kernel_equals_the_numpy_pass(
    seed: int, samples: int, controlled: bool, home: bool
) -> None:
    from sim.market.market import Market

    rng = np.random.default_rng(seed)
    suppliers, customers, width = (int(v) for v in rng.integers(1, 7, size=3))
    open_ = (rng.random((suppliers, customers, width)) < 0.6).astype(float)
    open_[0] = 1.0
    homes = (rng.random((suppliers, customers)) < 0.5).astype(float) if home else None
    scope = (rng.random((suppliers, customers, width)) < 0.5).astype(float)
    market = Market(
        open_,
        rng.integers(0, 3, size=customers),
        home=homes,
        sup_key=rng.integers(0, 2, size=suppliers),
        scopes=[scope[..., None]] if controlled else (),
    )
    G, H = market.sup.size, market.cus.size
    avail = sparse(rng, (samples, G, width))
    need = sparse(rng, (1 if rng.random() < 0.3 else samples, H, width))
    normal_avail = sparse(rng, (samples, G, width))
    normal_need = sparse(rng, (samples, H, width))
    allowed = None
    if controlled:  # a share of normal flow, constant within the lanes of a scope
        level = rng.random(samples) * (rng.random(samples) < 0.7)
        allowed = 1.0 - level[:, None, None, None] * market.lanes(scope)[None]
    for p in [market.world] + ([market.home] if market.home is not None else []):
        got = p.allocate(avail, need, allowed, normal_avail, normal_need)
        expected = p.allocate_numpy(avail, need, allowed, normal_avail, normal_need)
        assert np.array_equal(got, np.broadcast_to(expected, got.shape))
        s = int(rng.integers(0, samples))  # a sample alone gives its row of the batch
        alone = p.allocate(
            avail[s : s + 1],
            need[min(s, need.shape[0] - 1)][None],
            None if allowed is None else allowed[s : s + 1],
            normal_avail[s : s + 1],
            normal_need[s : s + 1],
        )
        assert np.array_equal(alone[0], got[s])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 128), rows=st.integers(1, 40))
def test_pairwise_sum_is_numpys_sum_of_a_last_axis(seed: int, n: int, rows: int) -> None:
    from sim.market.kernels import _pairwise

    a = sparse(np.random.default_rng(seed), (rows, 3, n))
    expected = a.sum(axis=2)
    assert all(_pairwise(a[r, j]) == expected[r, j] for r in range(rows) for j in range(3))


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
    from sim.market import kernels

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
    uses = per_t > 0
    limit = np.where(uses[None], mag_in / np.where(uses, per_t, 1.0)[None], np.inf).min(2)
    used = made[:, :, None] * per_t[None]
    content = made[:, :, None] * recipe[None]
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
)
def test_magnet_kernels_equal_the_numpy_stage(
    seed: int, samples: int, plants: int, width: int
) -> None:
    from sim.market import kernels

    rng = np.random.default_rng(seed)
    recipe = sparse(rng, (plants, width), zeros=0.5)
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


@pytest.mark.parametrize("seed", range(12))
def test_shipping_into_columns_and_pools_equals_the_numpy_arrivals(seed: int) -> None:
    from sim.market.market import Into, Pool

    rng = np.random.default_rng(seed)
    flow, lead, slots, samples, customers, width = shipping(rng)
    # a market of some products of a wider pipeline: each product to its column
    wide = width + 2
    products = np.sort(rng.choice(wide, size=width, replace=False))
    compiled = sparse(rng, (slots, samples, customers, wide))
    numpy_ = compiled.copy()
    flow.ship_into(compiled, 3, lead, into=Into.columns(customers, products))
    for offset, got in flow.by_lead(lead):
        numpy_[(3 + offset) % slots][..., products] += got
    assert np.array_equal(compiled, numpy_)
    # pools of members that each take one product of their pool, pro rata to a share
    members = int(rng.integers(1, 8))
    pool = Pool(
        rng.integers(0, customers, size=members),
        rng.integers(0, width, size=members),
        customers,
        width,
    )
    share = rng.random((samples, members))
    compiled = sparse(rng, (slots, samples, members, 1))
    numpy_ = compiled.copy()
    flow.ship_into(compiled, 3, lead, into=pool.into(share))
    for offset, got in flow.by_lead(lead):
        numpy_[(3 + offset) % slots] += (pool.pick(got) * share)[:, :, None]
    assert np.array_equal(compiled, numpy_)


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
    from sim.market import kernels

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


@pytest.mark.parametrize("seed", range(8))
def test_transposes_put_samples_last_and_back(seed: int) -> None:
    from sim.market import kernels

    rng = np.random.default_rng(seed)
    S, R, K = (int(v) for v in rng.integers(1, 7, size=3))
    for a in (sparse(rng, (S, R, K)), sparse(rng, (1, R, K)), sparse(rng, (S, R, 1))):
        out = np.empty((R, K, S))
        kernels.samples_last(a, out)
        assert np.array_equal(out, np.moveaxis(np.broadcast_to(a, (S, R, K)), 0, -1))
        back = np.empty((S, R, K))
        kernels.samples_first(out, back)
        assert np.array_equal(back, np.broadcast_to(a, (S, R, K)))
    grid = sparse(rng, (S, 3, 4, K))
    g, h = rng.integers(0, 3, size=5), rng.integers(0, 4, size=5)
    edges = np.empty((5, K, S))
    kernels.edges_samples_last(grid, g, h, edges)
    assert np.array_equal(edges, np.moveaxis(grid[:, g, h], 0, -1))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    members=st.integers(1, 12),
    classes=st.integers(1, 6),
    samples=st.integers(1, 5),
    width=st.integers(1, 4),
    one_row=st.booleans(),
)
def test_members_shares_and_parts_of_class_totals_equal_numpy(
    seed: int, members: int, classes: int, samples: int, width: int, one_row: bool
) -> None:
    rng = np.random.default_rng(seed)
    grouping = Grouping(rng.integers(0, classes, size=members), classes)
    a = sparse(rng, (1 if one_row else samples, members, width))
    total = sparse(rng, (samples, classes, width))
    whole = np.take(total, grouping.labels, axis=1)
    expected = np.divide(
        a, whole, out=np.zeros(np.broadcast_shapes(a.shape, whole.shape)), where=whole > 0
    )
    assert np.array_equal(grouping.share(a, total), expected)
    assert np.array_equal(grouping.part(a, total), a * whole)


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
    from sim.model.orders import covered_share

    rng = np.random.default_rng(seed)
    got, need = sparse(rng, (samples, members, width)), sparse(rng, (samples, members, width))
    usage = sparse(rng, (1 if one_row else samples, members, width))
    groups = [rng.random(members) < 0.5 for _ in range(3)] + [np.zeros(members, dtype=bool)]
    out = covered_share(got, need, usage, groups, capped=capped)
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
    from sim.market import kernels

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
    from sim.market import kernels

    rng = np.random.default_rng(seed)
    S, P, K = (int(v) for v in rng.integers(1, 7, size=3))
    rate, used = sparse(rng, (S, P, K)), sparse(rng, (S, P, K))
    for extra in (sparse(rng, (S, P, K)), sparse(rng, (S, P, 1)), sparse(rng, (1, P, K))):
        expected = 0.5 * rate + (1.0 - 0.5) * (used + extra)
        got = rate.copy()
        kernels.smooth_rate(got, used, extra, 0.5)
        assert np.array_equal(got, expected)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), samples=st.integers(1, 4))
def test_a_market_of_some_columns_equals_it_on_those_columns_alone(seed: int, samples: int) -> None:
    # The metal market trades the elements magnets use out of every element's stocks: read
    # in place (`products`), they must give what the same columns taken out give.
    from sim.market.market import Market

    rng = np.random.default_rng(seed)
    suppliers, customers, wide = (int(v) for v in rng.integers(1, 7, size=3))
    products = np.sort(rng.choice(wide + 2, size=wide, replace=False))[: max(1, wide - 1)]
    K = len(products)
    open_ = (rng.random((suppliers, customers, K)) < 0.6).astype(float)
    open_[0] = 1.0
    market = Market(
        open_, rng.integers(0, 2, size=customers), sup_key=rng.integers(0, 2, size=suppliers)
    )
    avail = sparse(rng, (samples, suppliers, wide + 2))
    need = sparse(rng, (samples, customers, wide + 2))
    normal = sparse(rng, (samples, suppliers, 1))
    got = market.allocate(
        avail, need, None, normal_avail=normal, normal_need=need, products=products
    )
    taken = market.allocate(
        np.take(avail, products, 2),
        np.take(need, products, 2),
        None,
        normal_avail=normal * np.ones(K),
        normal_need=np.take(need, products, 2),
    )
    for a, b in (
        (got.xt, taken.xt),
        (got.sup_share, taken.sup_share),
        (got.cus_share, taken.cus_share),
        (got.supplied(), taken.supplied()),
        (got.received(), taken.received()),
    ):
        assert np.array_equal(a, b)

"""The markets' production path against the numpy references of ``tests/reference/``.

The allocation pass the engine runs (`AllocationPass.allocate_sl`, compiled), its class sums,
shares and parts, and its shipments (`Flow.ship_into`) must give exactly the numbers of the
numpy code they replaced (the same operations in the same order), and a sample's numbers must
not depend on the batch it runs in. Between every supplier and customer (the dense reference)
the engine's lanes and classes give the same allocation within rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.market import Destinations, Flow, Grouping, Market, Pool
from sim.market.allocation import AllocationPass
from sim.market.grouping_kernels import edges_samples_last, samples_first, samples_last
from sim.market.shipping_kernels import weighted_group_sum
from tests.arrays import sparse
from tests.reference.allocation import dense_allocate, pass_flows
from tests.reference.flows import arrivals, member_flows
from tests.reference.groupings import class_part, class_share, class_sum


def samples_last_of(a: np.ndarray, samples: int) -> np.ndarray:
    """``a[S or 1, n, K]`` as a C-ordered ``[n, K, samples]`` array."""
    return np.ascontiguousarray(np.moveaxis(np.broadcast_to(a, (samples, *a.shape[1:])), 0, -1))


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
    expected = class_sum(a, labels, classes)
    assert np.array_equal(grouping.sum(a), expected)
    # samples-last: the same sums, as the markets keep lane totals and flows
    a_sl = np.ascontiguousarray(np.moveaxis(a, 0, -1))
    assert np.array_equal(grouping.sum_sl(a_sl), np.moveaxis(expected, 0, -1))
    wide = width if rng.random() < 0.5 else 1  # a last axis of 1 repeats to the width
    one = a[..., :wide]
    repeated = np.broadcast_to(class_sum(one, labels, classes), (samples, classes, width))
    assert np.array_equal(grouping.sum_to_sl(one, width), np.moveaxis(repeated, 0, -1))
    products = np.sort(rng.choice(width, size=max(1, width - 1), replace=False))
    assert np.array_equal(
        grouping.sum_to_sl(a, len(products), products),
        np.moveaxis(np.take(expected, products, axis=2), 0, -1),
    )
    # weighted: each product rounded, then added in order (one weight a member, in order)
    weight = sparse(rng, (members,))
    got = np.empty((classes, width, samples))
    weighted_group_sum(a_sl, grouping.ptr, grouping.order, weight[grouping.order], got)
    weighted = class_sum(a * weight[None, :, None], labels, classes)
    assert np.array_equal(got, np.moveaxis(weighted, 0, -1))


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
    # Shares kept samples-last, of samples-last totals; parts back samples-first (a first
    # axis of 1 repeats).
    rng = np.random.default_rng(seed)
    grouping = Grouping(rng.integers(0, classes, size=members), classes)
    a = sparse(rng, (1 if one_row else samples, members, width))
    total = sparse(rng, (samples, classes, width))
    total_sl = np.ascontiguousarray(np.moveaxis(total, 0, -1))
    share_sl = grouping.share_sl(a, total_sl)
    expected = class_share(a, total, grouping.labels)
    assert np.array_equal(np.moveaxis(share_sl, -1, 0), expected)
    part = grouping.part_sl(share_sl, total_sl)
    assert np.array_equal(part, class_part(expected, total, grouping.labels))


def market_pass_inputs(rng: np.random.Generator, samples: int, controlled: bool, home: bool):
    """A random market, and its lanes' supply, need, normal levels and controls."""
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
    normal = (sparse(rng, (samples, G, width)), sparse(rng, (samples, H, width)))
    allowed = None
    if controlled:  # a share of normal flow, constant within the lanes of a scope
        level = rng.random(samples) * (rng.random(samples) < 0.7)
        allowed = 1.0 - level[:, None, None, None] * market.lanes(scope)[None]
    return market, avail, need, allowed, normal


def production_pass(
    p: AllocationPass,
    avail: np.ndarray,
    need: np.ndarray,
    allowed: np.ndarray | None,
    normal: tuple[np.ndarray, np.ndarray],
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """The engine's pass (`AllocationPass.allocate_sl`), samples first: ``[S, edges, K]``;
    customers spread need by suppliers' ``weights`` in a tier's first round, if given."""
    S = max(avail.shape[0], need.shape[0], 1 if allowed is None else allowed.shape[0])
    x_sl = p.allocate_sl(
        samples_last_of(avail, S),
        samples_last_of(need, S),
        allowed,
        samples_last_of(normal[0], S),
        samples_last_of(normal[1], S),
        weights_sl=None if weights is None else samples_last_of(weights, S),
    )
    return np.moveaxis(x_sl, -1, 0)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    samples=st.integers(1, 5),
    controlled=st.booleans(),
    home=st.booleans(),
    weighted=st.booleans(),
)
def test_pass_kernel_equals_the_numpy_pass(
    seed: int, samples: int, controlled: bool, home: bool, weighted: bool
) -> None:
    rng = np.random.default_rng(seed)
    market, avail, need, allowed, normal = market_pass_inputs(rng, samples, controlled, home)
    # suppliers' weights for the first round (the metal market's qualified suppliers)
    weights = sparse(rng, avail.shape) if weighted else None
    for p in [market.world] + ([market.home] if market.home is not None else []):
        got = production_pass(p, avail, need, allowed, normal, weights)
        expected = pass_flows(p, avail, need, allowed, *normal, weights)
        assert np.array_equal(got, np.broadcast_to(expected, got.shape))
        s = int(rng.integers(0, samples))  # a sample alone gives its row of the batch
        alone = production_pass(
            p,
            avail[s : s + 1],
            need[min(s, need.shape[0] - 1)][None],
            None if allowed is None else allowed[s : s + 1],
            (normal[0][s : s + 1], normal[1][s : s + 1]),
            None if weights is None else weights[s : s + 1],
        )
        assert np.array_equal(alone[0], got[s])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), samples=st.integers(1, 4))
def test_market_allocates_as_between_every_supplier_and_customer(seed: int, samples: int) -> None:
    # Lanes and classes are interchangeable members: in exact arithmetic the market's
    # allocation is the dense one; in floating point, the same within rounding.
    rng = np.random.default_rng(seed)
    suppliers, customers, width = (int(v) for v in rng.integers(1, 7, size=3))
    open_ = (rng.random((suppliers, customers, width)) < 0.6).astype(float)
    priority = rng.integers(0, 3, size=customers)
    market = Market(open_, priority, sup_key=rng.integers(0, 2, size=suppliers))
    avail = rng.uniform(1.0, 100.0, (samples, suppliers, width))
    need = rng.uniform(1.0, 100.0, (samples, customers, width))
    got = market.allocate(avail, need, None).dense(slice(None))
    expected = dense_allocate(avail, need, open_, priority)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), samples=st.integers(1, 4))
def test_flows_between_members_equal_numpy_bit_for_bit(seed: int, samples: int) -> None:
    rng = np.random.default_rng(seed)
    suppliers, customers, width = (int(v) for v in rng.integers(1, 7, size=3))
    open_ = (rng.random((suppliers, customers, width)) < 0.6).astype(float)
    market = Market(
        open_, rng.integers(0, 3, size=customers), sup_key=rng.integers(0, 2, suppliers)
    )
    rows = 1 if rng.random() < 0.5 else samples  # one row of supply may serve every sample
    flow = market.allocate(
        sparse(rng, (rows, suppliers, width)), sparse(rng, (samples, customers, width)), None
    )
    for part in (slice(0, 1), slice(None)):
        got, expected = flow.dense(part), member_flows(flow, part)
        assert got.shape == expected.shape and got.flags.c_contiguous
        assert got.tobytes() == expected.tobytes()


def shipping(rng: np.random.Generator) -> tuple:
    """A random market's allocation, lead times between its lanes, and a pipeline's size."""
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
    for offset, got in arrivals(flow, lead, chosen):
        numpy_[(5 + offset) % slots] += got
    assert np.array_equal(compiled, numpy_)


@pytest.mark.parametrize("seed", range(12))
def test_shipping_into_columns_and_pools_equals_the_numpy_arrivals(seed: int) -> None:
    rng = np.random.default_rng(seed)
    flow, lead, slots, samples, customers, width = shipping(rng)
    # a market of some products of a wider pipeline: each product to its column
    wide = width + 2
    products = np.sort(rng.choice(wide, size=width, replace=False))
    compiled = sparse(rng, (slots, samples, customers, wide))
    numpy_ = compiled.copy()
    flow.ship_into(compiled, 3, lead, destinations=Destinations.columns(customers, products))
    for offset, got in arrivals(flow, lead):
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
    flow.ship_into(compiled, 3, lead, destinations=pool.destinations(share))
    for offset, got in arrivals(flow, lead):
        numpy_[(3 + offset) % slots] += (pool.pick(got) * share)[:, :, None]
    assert np.array_equal(compiled, numpy_)


@pytest.mark.parametrize("seed", range(6))
def test_arriving_along_weighted_routes_equals_the_numpy_sums(seed: int) -> None:
    rng = np.random.default_rng(seed)
    flow, lead, _, _, customers, _ = shipping(rng)
    m = flow.market
    weight = (rng.random((m.sup.size, m.cus.size)) < 0.5).astype(float)
    by_lane = class_sum(
        flow.x * weight.reshape(-1)[m.edge_flat][None, :, None], m.edge_cus.labels, m.cus.size
    )
    first = int(rng.integers(0, customers))
    expected = flow.cus_share[:, first:] * np.take(by_lane, m.cus.labels[first:], axis=1)
    assert np.array_equal(flow.arriving(weight, slice(first, None)), expected)


@pytest.mark.parametrize("seed", range(12))
def test_the_lead_a_flow_takes_by_tonne_equals_its_weighted_arrivals(seed: int) -> None:
    rng = np.random.default_rng(seed)
    flow, lead, _, _, customers, _ = shipping(rng)
    first = int(rng.integers(0, customers))
    part = slice(first, None)
    got, months = flow.arriving(np.ones_like(lead), part), flow.arriving(lead, part)
    tiny = float(rng.choice([0.0, 1e-9, 5.0]))
    expected = np.divide(months, got, out=np.full_like(months, np.nan), where=got > tiny)
    seen = flow.lead_seen(lead, tiny, part)
    assert seen.shape == expected.shape and seen.tobytes() == expected.tobytes()


def test_a_flow_given_samples_first_ships_as_given_samples_last() -> None:
    rng = np.random.default_rng(4)
    flow, lead, slots, samples, customers, width = shipping(rng)
    again = Flow(flow.market, flow.sup_share_sl, flow.cus_share_sl, x=flow.x.copy())
    rings = [np.zeros((slots, samples, customers, width)) for _ in range(2)]
    flow.ship_into(rings[0], 2, lead)
    again.ship_into(rings[1], 2, lead)
    assert np.array_equal(rings[0], rings[1])
    assert np.array_equal(again.x_sl, flow.x_sl)


@pytest.mark.parametrize("seed", range(8))
def test_transposes_put_samples_last_and_back(seed: int) -> None:
    rng = np.random.default_rng(seed)
    S, R, K = (int(v) for v in rng.integers(1, 7, size=3))
    for a in (sparse(rng, (S, R, K)), sparse(rng, (1, R, K)), sparse(rng, (S, R, 1))):
        out = np.empty((R, K, S))
        samples_last(a, out)
        assert np.array_equal(out, np.moveaxis(np.broadcast_to(a, (S, R, K)), 0, -1))
        back = np.empty((S, R, K))
        samples_first(out, back)
        assert np.array_equal(back, np.broadcast_to(a, (S, R, K)))
    grid = sparse(rng, (S, 3, 4, K))
    sup, cus = rng.integers(0, 3, size=5), rng.integers(0, 4, size=5)
    edges = np.empty((5, K, S))
    edges_samples_last(grid, sup, cus, edges)
    assert np.array_equal(edges, np.moveaxis(grid[:, sup, cus], 0, -1))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), samples=st.integers(1, 4))
def test_a_market_of_some_columns_equals_it_on_those_columns_alone(seed: int, samples: int) -> None:
    # The metal market trades the elements magnets use out of every element's stocks: read
    # in place (`products`), they must give what the same columns taken out give.
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
        (got.x_sl, taken.x_sl),
        (got.sup_share, taken.sup_share),
        (got.cus_share, taken.cus_share),
        (got.supplied(), taken.supplied()),
        (got.received(), taken.received()),
    ):
        assert np.array_equal(a, b)

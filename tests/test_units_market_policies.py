"""Unit tests: time arithmetic, ramps, allocation and prices."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sim.market import Market, MarketCache
from sim.market.pricing import adapt, blended_cover, foreseen_cover, indicated_price
from sim.model.levers.timing import active_fraction, change_steps, ramp_average
from sim.units import month_index, month_start


def test_month_index_is_fractional_within_the_month() -> None:
    origin = dt.date(2024, 1, 1)
    assert month_index(origin, dt.date(2024, 1, 1)) == 0.0
    assert month_index(origin, dt.date(2025, 4, 4)) == pytest.approx(15 + 3 / 30)
    assert month_start(origin, 15) == dt.date(2025, 4, 1)
    assert month_start(origin, -1) == dt.date(2023, 12, 1)


def test_active_fraction_covers_partial_steps() -> None:
    start, end = np.array([2.25]), np.array([4.5])
    got = [active_fraction(start, end, t)[0] for t in range(6)]
    assert got == pytest.approx([0, 0, 0.75, 1, 0.5, 0])


def test_ramp_average_integrates_a_linear_ramp() -> None:
    start, ramp = np.array([1.0]), np.array([4.0])
    levels = [ramp_average(start, ramp, t)[0] for t in range(7)]
    assert levels == pytest.approx([0, 0.125, 0.375, 0.625, 0.875, 1, 1])
    assert ramp_average(np.array([-np.inf]), np.array([0.0]), 0)[0] == 1.0
    assert ramp_average(np.array([2.5]), np.array([0.0]), 2)[0] == pytest.approx(0.5)


def test_change_steps_cover_starts_ends_and_their_next_steps() -> None:
    steps = change_steps([np.array([2.3]), np.array([np.inf])], -12, 24, always=-12)
    assert steps == [-12, 2, 3]


def allocated(
    avail: np.ndarray,
    need: np.ndarray,
    open_: np.ndarray,
    priority: np.ndarray,
    allowed: np.ndarray | None = None,
    home_first: bool = False,
) -> np.ndarray:
    """Flows ``x[S, P, C, K]`` as the engine allocates them (`Market.allocate`); a control's
    ``allowed[S, P, C, K]`` share of normal flow scopes the market's lanes, as the chain's do.
    With ``home_first`` every route is a home route: the home pass, then the world's."""
    scopes = () if allowed is None else (np.moveaxis(allowed, 0, -1),)
    home = np.ones(open_.shape[:2]) if home_first else None
    market = Market(open_, priority, home=home, scopes=scopes)
    flow = market.allocate(
        avail, need, market.sample_lanes(allowed), home_share=np.ones(1) if home_first else None
    )
    return flow.dense(slice(None))


@pytest.mark.parametrize("home_first", [False, True])
def test_priority_tier_is_served_first(home_first: bool) -> None:
    avail = np.array([[[10.0]]])
    need = np.array([[[8.0], [8.0]]])
    x = allocated(avail, need, np.ones((1, 2, 1)), np.array([1, 3]), home_first=home_first)
    assert x[0, 0, 1, 0] == pytest.approx(8.0)
    assert x[0, 0, 0, 0] == pytest.approx(2.0)


def test_priority_tiers_are_served_in_order_within_a_batch() -> None:
    # Three tiers and two samples: each tier takes what the tiers above it left.
    avail = np.array([[[10.0]], [[25.0]]])
    need = np.full((2, 3, 1), 8.0)
    x = allocated(avail, need, np.ones((1, 3, 1)), np.array([2, 0, 5]))
    assert x[0, 0, :, 0] == pytest.approx([2.0, 0.0, 8.0])
    assert x[1, 0, :, 0] == pytest.approx([8.0, 8.0, 8.0])


def test_quota_caps_a_route_at_its_share_of_normal_flow() -> None:
    avail = np.array([[[100.0], [5.0]]])
    need = np.array([[[40.0]]])
    allowed = np.ones((1, 2, 1, 1))
    allowed[0, 0] = 0.25
    x = allocated(avail, need, np.ones((2, 1, 1)), np.array([1]), allowed)
    normal = allocated(avail, need, np.ones((2, 1, 1)), np.array([1]))
    assert x[0, 0, 0, 0] == pytest.approx(0.25 * normal[0, 0, 0, 0])
    assert x[0, 1, 0, 0] == pytest.approx(5.0)  # the free supplier gives all it has


@settings(max_examples=60, deadline=None)
@given(
    avail=hnp.arrays(float, (2, 3, 2), elements=st.floats(0, 1e4)),
    need=hnp.arrays(float, (2, 4, 2), elements=st.floats(0, 1e4)),
    open_=hnp.arrays(bool, (3, 4, 2)),
    prio=hnp.arrays(int, 4, elements=st.integers(1, 3)),
)
def test_allocation_never_exceeds_supply_or_need(avail, need, open_, prio) -> None:
    x = allocated(avail, need, open_.astype(float), prio)
    assert (x >= 0).all()
    assert (x.sum(axis=2) <= avail + 1e-6).all()
    assert (x.sum(axis=1) <= need + 1e-6).all()
    assert (x[:, ~open_] == 0).all()


def test_indicated_price_follows_cover_within_its_bounds() -> None:
    anchor, normal = np.array([50.0]), np.array([2.0])

    def price(cover: float) -> float:
        return float(indicated_price(anchor, np.array([cover]), normal, 1.5, 0.1, 0.7)[0])

    assert price(2.0) == 50.0  # normal cover: the anchor
    assert price(1.0) == pytest.approx(50.0 * 2**1.5)  # half the cover
    assert price(0.0) == pytest.approx(50.0 * 0.1**-1.5)  # no stock: the bound from history
    assert price(100.0) == pytest.approx(35.0)  # a glut: producers' cash cost, 0.7x
    covers = np.linspace(0.0, 10.0, 50)
    prices = indicated_price(anchor, covers, normal, 1.5, 0.1, 0.7)
    assert (np.diff(prices) <= 0).all()  # more stock never raises the price


def test_prices_adapt_in_logs_and_tiers_share_cover_where_trade_is_free() -> None:
    moved = adapt(np.array([10.0]), np.array([40.0]), 3.0)[0]
    assert moved == pytest.approx(10.0 * 4.0 ** (1 - np.exp(-1 / 3)))
    assert adapt(np.array([10.0]), np.array([40.0]), 0.0)[0] == 40.0
    own, pooled = np.array([0.5]), np.array([2.0])
    assert blended_cover(own, pooled, np.array([0.0]))[0] == 2.0  # free trade: one market
    assert blended_cover(own, pooled, np.array([1.0]))[0] == 0.5  # a ban: its own stocks


def test_markets_of_the_same_routes_are_built_once_by_a_cache() -> None:
    rng = np.random.default_rng(3)
    open_ = (rng.random((5, 4, 2)) < 0.6).astype(float)
    open_[0] = 1.0
    priority = np.array([0, 1, 0, 1])
    home = (rng.random((5, 4)) < 0.5).astype(float)
    cache = MarketCache()
    one = cache.get(open_, priority, home=home, scopes=[open_[..., :1]])
    again = cache.get(
        open_.copy(), priority.copy(), home=home.copy(), scopes=[open_[..., :1].copy()]
    )
    assert again is one
    for other in (
        cache.get(open_, priority, home=home),  # no scope
        cache.get(open_, priority[::-1], home=home, scopes=[open_[..., :1]]),
        cache.get(1.0 - open_, priority, home=home, scopes=[open_[..., :1]]),
    ):
        assert other is not one
    # another cache (another run or sweep) builds its own
    assert MarketCache().get(open_, priority, home=home, scopes=[open_[..., :1]]) is not one


def test_a_market_cache_keeps_its_newest_markets() -> None:
    cache = MarketCache(size=2)
    markets = [cache.get(np.ones((1, 1, 1)), np.array([i])) for i in range(3)]
    assert cache.get(np.ones((1, 1, 1)), np.array([2])) is markets[2]
    assert cache.get(np.ones((1, 1, 1)), np.array([0])) is not markets[0]  # dropped, rebuilt


def test_ramp_average_of_many_steps_is_that_of_each_step() -> None:
    start, ramp = np.array([[-np.inf, 2.5, 4.0]]), np.array([[0.0, 3.0, 0.0]])
    curve = np.array([[False, True, False]])
    steps = np.arange(-2.0, 9.0)[:, None, None]
    together = ramp_average(start, ramp, steps, curve)
    for i, step in enumerate(range(-2, 9)):
        assert np.array_equal(together[i], ramp_average(start, ramp, step, curve))


def test_chains_share_markets_only_through_a_cache_they_are_given() -> None:
    from sim.model.chain import Chain
    from tests.worlds import one_chain, scenario

    world, plan = one_chain(), scenario()
    cache = MarketCache()
    one = Chain(world, plan, 1, 12, market_cache=cache)
    batch = Chain(world, plan, 3, 12, market_cache=cache)  # a run's prefix and its batch
    markets = one.trade.markets
    assert markets and all(markets[k] is batch.trade.markets[k] for k in markets)
    alone = Chain(world, plan, 1, 12)  # another run: markets of its own
    assert all(alone.trade.markets[k] is not markets[k] for k in markets)


def test_foreseen_cover_extends_this_months_change_and_never_goes_below_zero() -> None:
    cover, last = np.array([4.0, 2.0]), np.array([5.0, 1.0])
    np.testing.assert_allclose(foreseen_cover(cover, last, 3.0), [1.0, 5.0])
    assert foreseen_cover(cover, np.array([10.0, 2.0]), 3.0)[0] == 0.0
    np.testing.assert_array_equal(foreseen_cover(cover, last, 0.0), cover)

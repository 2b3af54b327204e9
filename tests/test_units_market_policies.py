"""Unit tests: time arithmetic, ramps, allocation and prices."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sim.market.market import allocate, allocate_controlled, scarcity_price
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


def test_priority_tier_is_served_first() -> None:
    avail = np.array([[[10.0]]])
    need = np.array([[[8.0], [8.0]]])
    x = allocate(avail, need, np.ones((1, 2, 1)), np.array([1, 3]))
    assert x[0, 0, 1, 0] == pytest.approx(8.0)
    assert x[0, 0, 0, 0] == pytest.approx(2.0)


def test_quota_caps_a_route_at_its_share_of_normal_flow() -> None:
    avail = np.array([[[100.0], [5.0]]])
    need = np.array([[[40.0]]])
    allowed = np.ones((1, 2, 1, 1))
    allowed[0, 0] = 0.25
    x = allocate_controlled(avail, need, np.ones((2, 1, 1)), np.array([1]), allowed)
    normal = allocate(avail, need, np.ones((2, 1, 1)), np.array([1]))
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
    x = allocate(avail, need, open_.astype(float), prio)
    assert (x >= 0).all()
    assert (x.sum(axis=2) <= avail + 1e-6).all()
    assert (x.sum(axis=1) <= need + 1e-6).all()
    assert (x[:, ~open_] == 0).all()


def test_scarcity_price_rises_as_fill_falls_and_is_capped() -> None:
    base = np.array([50.0])
    assert scarcity_price(base, np.array([1.0]), 0.5, 20)[0] == 50.0
    assert scarcity_price(base, np.array([0.5]), 0.5, 20)[0] == pytest.approx(200.0)
    assert scarcity_price(base, np.array([0.0]), 0.5, 20)[0] == pytest.approx(1000.0)


def test_markets_of_the_same_routes_are_built_once() -> None:
    from sim.market.market import Market

    rng = np.random.default_rng(3)
    open_ = (rng.random((5, 4, 2)) < 0.6).astype(float)
    open_[0] = 1.0
    priority = np.array([0, 1, 0, 1])
    home = (rng.random((5, 4)) < 0.5).astype(float)
    one = Market.shared(open_, priority, home=home, scopes=[open_[..., :1]])
    assert (
        Market.shared(
            open_.copy(), priority.copy(), home=home.copy(), scopes=[open_[..., :1].copy()]
        )
        is one
    )
    for other in (
        Market.shared(open_, priority, home=home),  # no scope
        Market.shared(open_, priority[::-1], home=home, scopes=[open_[..., :1]]),
        Market.shared(1.0 - open_, priority, home=home, scopes=[open_[..., :1]]),
    ):
        assert other is not one


def test_ramp_average_of_many_steps_is_that_of_each_step() -> None:
    start, ramp = np.array([[-np.inf, 2.5, 4.0]]), np.array([[0.0, 3.0, 0.0]])
    curve = np.array([[False, True, False]])
    steps = np.arange(-2.0, 9.0)[:, None, None]
    together = ramp_average(start, ramp, steps, curve)
    for i, step in enumerate(range(-2, 9)):
        assert np.array_equal(together[i], ramp_average(start, ramp, step, curve))

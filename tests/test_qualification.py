"""Qualified suppliers (`sim.model.levers.qualification`): magnet makers spread their metal
orders in proportion to what each metal plant has been able to deliver, followed over
``metal_qualification_months``, not to this month's stocks; what a plant cannot deliver is
asked again of the others. The engine-level case it mends (China's metal plant larger just
before a licence raised the shortfall abroad) is in `tests/test_more_capacity.py`."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.market import Market
from sim.model.levers.qualification import available, qualified
from sim.runs.engine import run
from sim.world.loader import default_world
from sim.world.world import World
from tests.worlds import scenario


def _market() -> Market:
    """Two metal plants of different routes (so of different classes): plant 0 may serve
    both magnet plants, plant 1 only magnet plant 0."""
    open_ = np.array([[[1.0], [1.0]], [[1.0], [0.0]]])
    return Market(open_, np.ones(2, dtype=int))


def test_customers_spread_their_orders_by_the_weights() -> None:
    avail = np.array([[[100.0], [100.0]]])
    need = np.array([[[80.0], [0.0]]])
    by_stock = _market().allocate(avail, need, None).supplied()[0, :, 0]
    np.testing.assert_allclose(by_stock, [40.0, 40.0])
    weights = np.array([[[1.0], [3.0]]])
    by_weights = _market().allocate(avail, need, None, weights=weights).supplied()[0, :, 0]
    np.testing.assert_allclose(by_weights, [20.0, 60.0])


def test_what_a_qualified_plant_cannot_deliver_is_asked_of_the_others() -> None:
    avail = np.array([[[10.0], [100.0]]])
    need = np.array([[[100.0], [0.0]]])
    flow = _market().allocate(avail, need, None, weights=np.array([[[1.0], [1.0]]]))
    np.testing.assert_allclose(flow.supplied()[0, :, 0], [10.0, 90.0])
    np.testing.assert_allclose(flow.received()[0, :, 0], [100.0, 0.0])


def test_weights_follow_what_plants_can_deliver_over_the_months() -> None:
    weights, avail = np.array([[[10.0]]]), np.array([[[40.0]]])
    moved = qualified(weights, avail, 12.0)
    np.testing.assert_allclose(moved, 10.0 + 30.0 * (1.0 - np.exp(-1.0 / 12.0)))
    assert qualified(weights, avail, 0.0) is avail  # at once: the market splits by stock
    drawn = qualified(np.full((2, 1, 1), 10.0), np.full((2, 1, 1), 40.0), np.array([0.0, 12.0]))
    np.testing.assert_allclose(drawn[:, 0, 0], [40.0, moved[0, 0, 0]])


@pytest.mark.parametrize("cap", [0.0, 5.0, 1_000.0])
def test_what_plants_can_deliver_is_their_stock_within_capacity(cap: float) -> None:
    metal_in = np.array([[[6.0, 2.0, 0.0]]])
    got = available(metal_in, np.array([[cap]]), 0.97)
    expected = 0.97 * metal_in * min(1.0, cap / (0.97 * 8.0))
    np.testing.assert_allclose(got, expected)
    assert got.sum() <= cap + 1e-12


def _world(months: float) -> World:
    """The default world with magnet makers qualifying metal plants over ``months``."""
    world = default_world()
    return dataclasses.replace(
        world, parameters={**world.parameters, "metal_qualification_months": months}
    )


def _china_share_of_metal(months: float, events: list[dict]) -> tuple[np.ndarray, list[str]]:
    """China's metal plant's share of the metal market each month to 2025, and the months."""
    res = run(_world(months), scenario(events, end="2025-12-31"), detail=True)
    plants = [f.id for f in res.chain.stage("metal")]
    sold = res.record.flows["metal"].sum(axis=(2, 3))  # [T, metal plants]
    share = sold[:, plants.index("china_metal")] / sold.sum(axis=1)
    return share, [d.strftime("%Y-%m") for d in res.dates]


def test_orders_move_to_a_larger_plant_over_months_not_at_once() -> None:
    """China's metal plant 30,000 t/yr larger from January 2025: with orders following this
    month's stocks its share of the metal market jumps that month (1.5 points); with
    qualifying over a year it gains a small part of that at first and more each month."""
    larger = [{"kind": "new_capacity", "facility": "china_metal", "nameplate_tpa": 30_000.0,
               "start": "2025-01-01"}]  # fmt: skip
    gains = {}
    for months in (0.0, 12.0):
        (before, dates), (after, _) = (_china_share_of_metal(months, e) for e in ([], larger))
        j = dates.index("2025-01")
        gains[months] = after[j : j + 6] - before[j : j + 6]
    at_once, qualified = gains[0.0], gains[12.0]
    assert at_once[0] > 0.01
    assert 0.0 < qualified[0] < 0.25 * at_once[0]
    assert np.all(np.diff(qualified) > 0.0)  # more of the way each month
    assert qualified[-1] < at_once[-1]


def test_with_no_event_qualifying_changes_next_to_nothing() -> None:
    """In a steady market the weights are what plants can deliver: with no event nobody is
    short either way and prices differ by under 1%."""
    runs = [run(_world(m), scenario([], end="2030-12-31"), detail=False) for m in (0.0, 12.0)]
    assert all(r.shortfall.sum() <= 1.0 for r in runs)
    at_once, qualified = (r.prices_usd_per_kg[0] for r in runs)
    assert np.nanmax(np.abs(qualified / at_once - 1.0)) < 0.01

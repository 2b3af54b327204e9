"""Producer economics and price floors: a floor keeps running a loss-making producer that
curtails without it, and records what it pays; price levels move the reported prices."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.runs.engine import run
from sim.world.loader import default_world
from tests.worlds import scenario

HORIZON = {"start": "2024-01-01", "end": "2027-12-31"}
SLUMP = {
    "kind": "price_level",
    "product": "NdPr_oxide",
    "usd_per_kg": 37.0,
    "start": "2025-01-01",
}  # the 2015 year-end low (USGS MCS 2016), below MP's cost
FLOOR = {
    "kind": "price_floor",
    "product": "NdPr_oxide",
    "usd_per_kg": 110.0,
    "beneficiary": "mp_materials",
    "start": "2025-01-01",
    "years": 10,
    "payer": "US DoD",
}
M0 = 12


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return default_world()


def _mp(res: object) -> np.ndarray:
    level = res.record.producer_level  # type: ignore[attr-defined]
    assert level is not None
    return level[0, :, 0]


def test_a_floor_keeps_running_a_producer_that_curtails_without_it(world) -> None:  # type: ignore[no-untyped-def]
    without = run(world, scenario([SLUMP], **HORIZON))
    with_floor = run(world, scenario([SLUMP, FLOOR], **HORIZON))
    level = _mp(without)
    assert (level[:M0] == 1.0).all()
    # the market price moves to the slump's level over months (expectations adapt): below
    # cost within a few, curtailed 3 months after that, idle 12 months after that
    below = M0 + int(np.argmax(without.prices_usd_per_kg[0, M0:, 0, 1] < 45.0))
    assert below <= M0 + 3
    assert level[below + 3] == 0.5 and level[below + 12] == 0.0
    assert (_mp(with_floor) == 1.0).all()
    mp_sep = without.chain.index["mp_mountain_pass_sep"]
    idle = np.zeros(level.shape, dtype=bool)
    idle[1:] = level[:-1] == 0.0  # a step's level is set for the next one
    assert without.record.production is not None and with_floor.record.production is not None
    assert with_floor.record.production[idle, mp_sep].sum() > 100.0
    assert without.record.production[idle, mp_sep].sum() < 1e-6
    assert with_floor.residual < 1e-9 and without.residual < 1e-9


def test_floor_payments_are_the_gap_times_the_output(world) -> None:  # type: ignore[no-untyped-def]
    res = run(world, scenario([SLUMP, FLOOR], **HORIZON))
    paid = res.record.floor_usd
    assert paid is not None and paid[0, :M0].sum() == 0.0
    chain = res.chain
    seps = [chain.index[f] for f in ("mp_mountain_pass_sep", "mp_mountain_pass_sep_ramp")]
    assert res.record.production is not None
    ndpr_t = res.record.production[M0 + 6, seps, 0].sum()
    price = res.prices_usd_per_kg[
        0, M0 + 5, PRICE_PRODUCTS.index("NdPr_oxide"), TIERS.index("ex_china")
    ]  # producers see last month's price
    assert paid[0, M0 + 6, 0] == pytest.approx((110.0 - price) * ndpr_t * 1000.0, rel=1e-9)


def test_no_floor_payment_when_the_market_is_above_the_floor(world) -> None:  # type: ignore[no-untyped-def]
    low = {**FLOOR, "usd_per_kg": 20.0}
    res = run(world, scenario([low], **HORIZON))
    assert res.record.floor_usd is not None and res.record.floor_usd.max() == 0.0


def test_price_level_moves_the_reported_base(world) -> None:  # type: ignore[no-untyped-def]
    res = run(world, scenario([{**SLUMP, "tiers": ["china"]}], **HORIZON))
    p = PRICE_PRODUCTS.index("NdPr_oxide")
    china, ex_china = res.prices_usd_per_kg[0, :, p, 0], res.prices_usd_per_kg[0, :, p, 1]
    base = run(world, scenario([], **HORIZON)).prices_usd_per_kg[0, :, p]
    assert np.array_equal(china[:M0], base[:M0, 0])  # nothing before it
    # the market moves towards the new level over months (adaptive expectations) ...
    assert china[M0] < china[M0 - 1] and china[M0 + 6] < 0.85 * base[M0 + 6, 0]
    assert (np.diff(china[M0 - 1 : M0 + 6]) < 0).all()
    # ... and the other tier keeps its own anchor: it moves only through the balance
    assert np.allclose(ex_china[: M0 + 3], base[: M0 + 3, 1], rtol=0.02)


def test_a_price_cap_bounds_reported_prices_only_while_it_runs(world) -> None:  # type: ignore[no-untyped-def]
    licence = {
        "kind": "export_control",
        "exporter": "CN",
        "elements": ["Dy"],
        "forms": ["oxide", "metal"],
        "mode": "licence",
        "approval_rate": 0.3,
        "review_delay_days": 60,
        "start": "2025-01-01",
    }
    cap = {
        "kind": "price_cap",
        "product": "Dy_oxide",
        "tiers": ["ex_china"],
        "usd_per_kg": 500.0,
        "start": "2025-03-01",
        "end": "2026-01-01",
    }
    free = run(world, scenario([licence], **HORIZON)).prices_usd_per_kg[0]
    capped = run(world, scenario([licence, cap], **HORIZON)).prices_usd_per_kg[0]
    dy, ex = PRICE_PRODUCTS.index("Dy_oxide"), TIERS.index("ex_china")
    assert free[M0 + 2 : M0 + 12, dy, ex].max() > 500.0  # the cap binds
    assert (capped[M0 + 2 : M0 + 12, dy, ex] <= 500.0 + 1e-9).all()
    outside = np.r_[0 : M0 + 2, M0 + 12 : free.shape[0]]
    assert np.array_equal(capped[outside], free[outside], equal_nan=True)


def test_a_cap_below_cost_makes_a_producer_curtail(world) -> None:  # type: ignore[no-untyped-def]
    cap = {"kind": "price_cap", "product": "NdPr_oxide", "usd_per_kg": 40.0, "start": "2025-01-01"}
    res = run(world, scenario([cap], **HORIZON))
    assert _mp(res)[M0 + 3] == 0.5 and _mp(res)[M0 + 12] == 0.0


def test_producers_prices_are_those_cells_of_the_whole_price_table(world) -> None:  # type: ignore[no-untyped-def]
    # Producers read their own cells (`market_price` with cells): the numbers must be those
    # of the whole table, caps and levels included.
    from sim.model.levers.timing import active_fraction

    cap = {
        "kind": "price_cap",
        "product": "NdPr_oxide",
        "tiers": ["ex_china"],
        "usd_per_kg": 45.0,
        "start": "2025-01-01",
        "end": "2025-03-15",
    }
    level = {
        "kind": "price_level",
        "product": "Dy_oxide",
        "usd_per_kg": 900.0,
        "start": "2025-02-01",
    }
    licence = {
        "kind": "export_control",
        "exporter": "CN",
        "elements": ["Dy", "Nd"],
        "forms": ["oxide"],
        "mode": "quota",
        "share": 0.5,
        "start": "2024-11-01",
    }
    res = run(
        world,
        scenario([licence, cap, level], **HORIZON),
        samples=2,
        draws={"events[0].share": np.array([0.3, 0.8])},
    )
    rules, prices = res.chain.economics, res.state.prices
    P, K = len(PRICE_PRODUCTS), len(TIERS)
    cells = (np.repeat(np.arange(P), K)[::-1].copy(), np.tile(np.arange(K), P)[::-1].copy())
    ndpr, ex = PRICE_PRODUCTS.index("NdPr_oxide"), TIERS.index("ex_china")
    (held,) = rules.price_caps
    for step in (M0 - 1, M0 + 1, M0 + 2, M0 + 5):
        whole = rules.market_price(prices, step)
        got = rules.market_price(prices, step, cells)
        assert np.array_equal(got, whole[:, cells[0], cells[1]], equal_nan=True)
        # the table itself: the market's prices, the cap on its own product and tier alone
        expected = prices.copy()
        share = active_fraction(held.start, held.end, step)
        row = expected[:, ndpr, ex]
        expected[:, ndpr, ex] = row * (1 - share) + np.minimum(row, 45.0) * share
        assert np.array_equal(whole, expected, equal_nan=True)
    assert not np.allclose(prices, rules.base_at(M0 + 5))  # moved by stocks, not only base

"""Two-way trade between the price tiers is netted out (`sim.market.net_kernels`): pro rata,
Japan's metal plants sold most of their metal to China's magnet plants while Japan's magnet
plants bought China's metal. Netting keeps what every supplier ships and every customer
receives, ships nothing both ways between the tiers, and a control caps a share of the net
flow out of China, not of the two-way trade."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.market import Market, allocation_kernels
from sim.runs.engine import RunResult, run
from sim.world.loader import default_world
from tests.worlds import scenario

ROOT = Path(__file__).parent.parent
OPEN = np.ones((2, 2, 1))  # suppliers China, abroad; customers China, abroad
CHINA = (np.array([True, False]), np.array([True, False]))


def test_the_pass_module_holds_the_netting_steps_digest() -> None:
    text = (ROOT / "sim" / "market" / "net_kernels.py").read_bytes()
    assert hashlib.sha256(text).hexdigest()[:16] == allocation_kernels.NET_KERNELS_DIGEST


def _flows(china: tuple[np.ndarray, np.ndarray] | None, avail: list[float]) -> np.ndarray:
    """Member flows ``[P, C]`` of one product, supply ``avail`` (China, abroad), each
    customer needing 100 t."""
    market = Market(OPEN, np.ones(2, dtype=int), china=china)
    flow = market.allocate(
        np.array(avail, dtype=float).reshape(1, 2, 1), np.full((1, 2, 1), 100.0), None
    )
    return flow.dense()[0, :, :, 0]


@pytest.mark.parametrize("avail", [[100.0, 100.0], [150.0, 50.0], [40.0, 180.0], [0.0, 90.0]])
def test_netting_keeps_every_partys_total_and_ships_one_way(avail: list[float]) -> None:
    gross, net = _flows(None, avail), _flows(CHINA, avail)
    np.testing.assert_allclose(net.sum(axis=1), gross.sum(axis=1), atol=1e-9)  # shipped
    np.testing.assert_allclose(net.sum(axis=0), gross.sum(axis=0), atol=1e-9)  # received
    assert min(net[0, 1], net[1, 0]) < 1e-9  # China -> abroad or abroad -> China, not both
    assert net[0, 1] - net[1, 0] == pytest.approx(gross[0, 1] - gross[1, 0])  # same net trade
    if min(avail) > 0:
        assert min(gross[0, 1], gross[1, 0]) > 10.0  # pro rata alone ships both ways


def test_a_control_caps_a_share_of_the_net_flow_out_of_china() -> None:
    # China 150 t, abroad 50 t, each side needs 100: pro rata ships 75 t out of China and
    # 25 t into it, 50 t net. A control letting 40% through, with the route into China shut,
    # lets 20 t out (40% of the net 50 t), not 30 t (40% of the 75 t shipped both ways).
    out = np.zeros((2, 2, 1))
    out[0, 1] = 1.0
    allowed = np.ones((1, 2, 2, 1))
    allowed[0, 1, 0] = 0.0  # abroad -> China shut
    for china, let_out in ((CHINA, 20.0), (None, 30.0)):
        market = Market(OPEN, np.ones(2, dtype=int), scopes=[out], china=china)
        flow = market.allocate(
            np.array([150.0, 50.0]).reshape(1, 2, 1),
            np.full((1, 2, 1), 100.0),
            allowed,
            withheld=np.array([[0.6]]),
        )
        x = flow.dense()[0, :, :, 0]
        assert x[0, 1] == pytest.approx(let_out)
        assert x[1, 0] == pytest.approx(0.0)
        assert x[:, 1].sum() == pytest.approx(50.0 + let_out)  # abroad: its own and the quota


@pytest.fixture(scope="module")
def baseline() -> RunResult:
    return run(default_world(), scenario([], end=dt.date(2027, 12, 31)))


@pytest.mark.parametrize("market", ["oxide", "metal", "magnet"])
def test_no_product_goes_both_ways_between_the_tiers_with_no_event(
    baseline: RunResult, market: str
) -> None:
    chain = baseline.chain
    suppliers, customers = chain.sides(chain.buyers, chain.magnet_buyers, chain.element_buyers)[
        market
    ]
    sup_cn = np.array([c == "CN" for c in suppliers.countries])
    cus_cn = np.array([c == "CN" for c in customers.countries])
    x = baseline.record.flows[market]  # [T, suppliers, customers, products]
    assert x.shape[1:3] == (sup_cn.size, cus_cn.size)
    out = x[:, sup_cn][:, :, ~cus_cn].sum(axis=(1, 2))  # [T, products]
    back = x[:, ~sup_cn][:, :, cus_cn].sum(axis=(1, 2))
    both = np.minimum(out, back)
    assert (both <= 1e-9 * (out + back) + 1e-9).all(), np.argwhere(both > 1e-9)
    assert out.sum() + back.sum() > 1000.0  # the tiers do trade


def test_a_buyer_sees_the_lead_time_of_what_it_receives_by_tonne() -> None:
    # two plants, one and three months away, ship 30 t and 10 t: 1.5 months by tonne; a buyer
    # planning on 1 month moves a third of the way there; one that got nothing keeps its own
    from sim.model.orders import LEAD_SPEED, lead_seen_by, moved_lead

    market = Market(np.ones((2, 2, 1)), np.ones(2, dtype=int), sup_key=np.array([0, 1]))
    flow = market.allocate(
        np.array([30.0, 10.0]).reshape(1, 2, 1), np.array([40.0, 0.0]).reshape(1, 2, 1), None
    )
    lead = market.lanes(np.array([[1.0, 1.0], [3.0, 3.0]]))
    seen = lead_seen_by(flow, lead)[0, :, 0]
    assert seen[0] == pytest.approx(1.5)
    assert np.isnan(seen[1])
    planned = moved_lead(np.array([[1.0, 2.0]]), seen[None])
    assert planned[0, 0] == pytest.approx(1.0 + 0.5 * LEAD_SPEED)
    assert planned[0, 1] == 2.0
    assert 0.25 < LEAD_SPEED < 0.3  # a third of the way in logs of a month: 1 - exp(-1/3)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_netting_parts_are_the_graph_s_connected_components(seed: int) -> None:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from sim.market.allocation import _components

    rng = np.random.default_rng(seed)
    G, H = (int(v) for v in rng.integers(1, 8, size=2))
    edges = int(rng.integers(0, 12))
    sup, cus = rng.integers(0, G, edges), rng.integers(0, H, edges)
    graph = coo_matrix((np.ones(edges), (sup, G + cus)), shape=(G + H, G + H))
    _, labels = connected_components(graph, directed=False)
    expected = [np.flatnonzero(labels == c) for c in dict.fromkeys(labels.tolist())]
    got = _components(sup, cus, G, H)
    assert [g.tolist() for g in got] == [e.tolist() for e in expected]

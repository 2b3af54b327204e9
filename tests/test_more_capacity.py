"""More capacity never means more shortfall (issues 14 and 18): on the default world, a
`new_capacity` at any existing facility of any size up to 400,000 t/yr (China's whole mining
quota is 270,000) never raises the world's total shortfall, and the books balance. And the
concentrate market's rule that makes it so: separation plants take established mines' output
first, then the rest most valuable ore first (docs/design.md, How feed is shared)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sim.market import Market
from sim.model.ledger import TOLERANCE
from sim.runs.engine import run
from sim.world.loader import default_world
from tests.worlds import scenario

END = dt.date(2026, 12, 31)
PROPERTY = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Baseline:
    """The default world and its run with no event (to END), with a short repr (Hypothesis
    prints its arguments)."""

    def __init__(self) -> None:
        self.world = default_world()
        self.result = run(self.world, scenario([], end=END.isoformat()), detail=False)

    def __repr__(self) -> str:
        return "Baseline()"


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return Baseline()


def _facilities() -> list[str]:
    return [f.id for f in default_world().facilities]


@PROPERTY
@given(
    facility=st.sampled_from(_facilities()),
    tpa=st.floats(1.0, 400_000.0),
    month=st.integers(0, 30),
)
# pro rata feed: cheap ore crowded out China's heavy rare earths (24,610 t short on 8d26028),
# and ore richer than China's own crowded out its NdPr (35,330 t; 32,044 t)
@example(facility="mountain_pass", tpa=400_000.0, month=0)
@example(facility="mt_weld_segh", tpa=400_000.0, month=0)
@example(facility="china_scandium", tpa=400_000.0, month=0)
# value order alone: Myanmar's clays crowded out China's own ore, Ce ran short (21,929 t)
@example(facility="myanmar", tpa=400_000.0, month=0)
def test_more_capacity_never_raises_the_shortfall(
    baseline: Baseline, facility: str, tpa: float, month: int
) -> None:
    start = dt.date(2024 + month // 12, month % 12 + 1, 1)
    more = {"kind": "new_capacity", "facility": facility, "nameplate_tpa": tpa}
    events = [more | {"start": start.isoformat()}]
    after = run(baseline.world, scenario(events, end=END.isoformat()), detail=False)
    assert after.residual <= TOLERANCE  # the mass balance (run raises past it too)
    before = baseline.result
    tolerance = max(1.0, 1e-6 * before.record.demand.sum())
    assert after.shortfall.sum() <= before.shortfall.sum() + tolerance, facility


def _market(order: list[int]) -> Market:
    """Three suppliers of one product, each may serve one customer, in ``order``."""
    return Market(np.ones((3, 1, 1)), np.ones(1, dtype=int), sup_order=np.array(order))


def test_customers_draw_on_suppliers_in_their_order() -> None:
    avail = np.array([[[50.0], [50.0], [50.0]]])
    flow = _market([1, 0, 1]).allocate(avail, np.array([[[80.0]]]), None)
    # all of supplier 1 first, then the other two pro rata for the rest
    np.testing.assert_allclose(flow.supplied()[0, :, 0], [15.0, 50.0, 15.0])


def test_supply_offered_first_is_taken_before_the_rest_in_order() -> None:
    avail = np.array([[[50.0], [50.0], [50.0]]])
    first = np.array([[[20.0], [0.0], [10.0]]])
    flow = _market([2, 0, 1]).allocate(avail, np.array([[[80.0]]]), None, first=first)
    # 30 offered first; of the 50 still needed, supplier 1 (first in order) gives all it has
    np.testing.assert_allclose(flow.supplied()[0, :, 0], [20.0, 50.0, 10.0])

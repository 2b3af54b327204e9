"""Analytic case: one chain, a full ban, known cover: the shortfall starts when cover runs out.

With demand ``d`` a month, buyers holding ``c`` months of cover and shipments taking ``L``
months, a ban from the start of month ``m0`` leaves ``c`` months on hand and ``L`` months in
transit: months ``m0 .. m0+L+c-1`` are fully served and month ``m0+L+c`` is the first short.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.runs.engine import run
from sim.units import DAYS_PER_MONTH
from tests.worlds import one_chain, scenario

BAN = [
    {
        "kind": "export_control",
        "exporter": "CN",
        "destinations": ["US"],
        "forms": ["magnet"],
        "mode": "ban",
        "start": "2025-01-01",
    }
]
M0 = 12  # 2025-01 is month 12 after the 2024-01 origin


@pytest.mark.parametrize("cover_months", [1, 2, 3])
@pytest.mark.parametrize("lead_months", [0, 1, 2])
def test_shortfall_starts_exactly_when_cover_is_used_up(
    cover_months: int, lead_months: int
) -> None:
    world = one_chain(
        cover_weeks=cover_months * DAYS_PER_MONTH / 7.0, lead_days=lead_months * DAYS_PER_MONTH
    )
    result = run(world, scenario(BAN))
    short = result.shortfall[0, :, 0]
    demand = result.record.demand[0, :, 0]
    first = M0 + lead_months + cover_months
    assert np.allclose(short[:first], 0.0, atol=1e-6), short[:first]
    assert short[first] == pytest.approx(demand[first], rel=1e-9)
    assert np.allclose(short[first:], demand[first:])


def test_ban_mid_month_applies_pro_rata() -> None:
    world = one_chain(cover_weeks=0.0)
    evs = [{**BAN[0], "start": "2025-01-17"}]  # 16 of 31 days unaffected
    short = run(world, scenario(evs)).shortfall[0, :, 0]
    demand = 100.0
    assert short[M0 - 1] == pytest.approx(0.0, abs=1e-6)
    assert short[M0] == pytest.approx(demand * 15 / 31, rel=1e-6)
    assert short[M0 + 1] == pytest.approx(demand, rel=1e-9)


def test_no_event_no_shortfall() -> None:
    result = run(one_chain(), scenario())
    assert result.shortfall.max() < 1e-6


def test_quota_lets_through_its_share_once_cover_is_gone() -> None:
    world = one_chain(cover_weeks=0.0)
    evs = [
        {
            "kind": "export_control",
            "exporter": "CN",
            "forms": ["magnet"],
            "mode": "quota",
            "share": 0.25,
            "start": "2025-01-01",
        }
    ]
    result = run(world, scenario(evs))
    got = result.record.delivered[0, M0 + 2 :, 0]
    assert np.allclose(got, 0.25 * result.record.demand[0, M0 + 2 :, 0], rtol=1e-6)


def test_quota_is_a_share_of_normal_flow_even_when_buyers_hold_cover() -> None:
    # Emptied stocks make buyers order more than they use; the quota must not grow with that.
    world = one_chain(cover_weeks=8.0, lead_days=20.0)
    evs = [
        {
            "kind": "export_control",
            "exporter": "CN",
            "forms": ["magnet"],
            "mode": "quota",
            "share": 0.4,
            "start": "2025-01-01",
        }
    ]
    result = run(world, scenario(evs))
    got = result.record.delivered[0, M0 + 6 :, 0]
    assert np.allclose(got, 0.4 * result.record.demand[0, M0 + 6 :, 0], rtol=1e-6)

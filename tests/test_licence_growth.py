"""A licence lets through a share of normal flow as demand grows; a quota a fixed tonnage.

The markets hold a control's reference (normal flow when it began) so that a loss elsewhere
cannot loosen it, and grow it with the buyers' exogenous demand path (`sim.market.reference`).
On a one-chain world whose only buyer grows 10% a year, a licence approving half of all
shipments delivers half of each year's demand, while a quota of half the normal flow delivers
the same tonnes every year.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.market.reference import Reference
from sim.runs.engine import run
from sim.world.world import Buyer, World
from tests.worlds import one_chain, scenario

GROWTH = 0.10
HORIZON = {"start": "2024-01-01", "end": "2029-12-31"}
CONTROL = {
    "kind": "export_control",
    "exporter": "CN",
    "forms": ["NdFeB"],
    "start": "2025-01-01",
}


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    base = one_chain(cover_weeks=0.0)
    return dataclasses.replace(
        base, buyers=tuple(dataclasses.replace(b, growth_pa=GROWTH) for b in base.buyers)
    )


def _yearly_share_delivered(world, control: dict) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Deliveries over demand, a year each, 2025-2029, under ``control``."""
    free = run(world, scenario([], **HORIZON))
    held = run(world, scenario([control], **HORIZON))
    delivered = held.record.delivered[0, :, 0].reshape(6, 12).sum(axis=1)
    wanted = free.record.delivered[0, :, 0].reshape(6, 12).sum(axis=1)
    return (delivered / wanted)[1:]


def test_a_licence_lets_through_its_share_of_demand_as_demand_grows(world) -> None:  # type: ignore[no-untyped-def]
    licence = {**CONTROL, "mode": "licence", "approval_rate": 0.5, "review_delay_days": 0}
    share = _yearly_share_delivered(world, licence)
    # frozen at December 2024's flow, 2029's share would be 0.5 / 1.1**4.5 = 0.33
    assert np.allclose(share, 0.5, atol=0.02), share


def test_a_quota_lets_through_the_same_tonnes_every_year(world) -> None:  # type: ignore[no-untyped-def]
    quota = {**CONTROL, "mode": "quota", "share": 0.5}
    share = _yearly_share_delivered(world, quota)
    years = np.arange(2025, 2030) + 0.5
    expected = 0.5 * (1.0 + GROWTH) ** (2024.96 - years)  # December 2024's flow, held
    assert np.allclose(share, expected, rtol=0.03), (share, expected)


def _with_cerium() -> World:
    """The one-chain world's magnet buyer growing 10% a year, and a buyer of cerium twice
    its tonnage, not growing."""
    base = one_chain(cover_weeks=0.0)
    magnets = tuple(dataclasses.replace(b, growth_pa=GROWTH) for b in base.buyers)
    cerium = Buyer("US", "other", "Ce", 2 * magnets[0].demand_tpa, 0.0, 0.0, 1)
    return dataclasses.replace(base, buyers=(*magnets, cerium))


def test_a_licence_keeps_up_with_its_own_products_demand() -> None:
    """The reference grows with the demand for what it carries: magnets' here, not the
    world's tonnes of rare earths. Here a world index would grow ~3.7% a year against the
    magnets' 10%, and a licence approving half of all shipments would deliver 0.5 /
    1.063**4.5 = 0.38 of 2029's demand."""
    licence = {**CONTROL, "mode": "licence", "approval_rate": 0.5, "review_delay_days": 0}
    share = _yearly_share_delivered(_with_cerium(), licence)
    assert np.allclose(share, 0.5, atol=0.02), share


def test_a_quota_on_magnets_stays_a_tonnage_beside_other_buyers() -> None:
    quota = {**CONTROL, "mode": "quota", "share": 0.5}
    share = _yearly_share_delivered(_with_cerium(), quota)
    years = np.arange(2025, 2030) + 0.5
    expected = 0.5 * (1.0 + GROWTH) ** (2024.96 - years)
    assert np.allclose(share, expected, rtol=0.03), (share, expected)


def test_the_reference_grows_with_the_index_only_while_held() -> None:
    reference = Reference()
    live = np.full((1, 1, 2), 10.0)
    first = reference.hold(None, live, live, index=2.0)
    assert np.array_equal(first[0], live)
    on = np.array([True, False])
    supply, need = reference.hold(on, live * 5.0, live * 5.0, index=3.0)
    assert np.allclose(supply[0, 0], [15.0, 50.0]) and np.allclose(need[0, 0], [15.0, 50.0])


def test_a_world_with_no_demand_holds_its_reference_unscaled() -> None:
    reference = Reference()
    live = np.full((1, 1, 1), 4.0)
    reference.hold(None, live, live, index=0.0)
    supply, need = reference.hold(np.array([True]), live * 2.0, live * 2.0, index=0.0)
    assert np.array_equal(supply, live) and np.array_equal(need, live)

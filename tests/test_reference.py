"""A control's reference (`sim.market.Reference`): its routes' normal levels averaged over about
the 12 months before it started, per unit of world demand, held while it is in force, each
sample on its own."""

from __future__ import annotations

import numpy as np
import pytest

from sim.market.reference import SPEED, Reference

SHAPE = (3, 2, 2)  # lanes, products, samples


def _levels(value: float) -> np.ndarray:
    return np.full(SHAPE, value)


def test_a_jump_the_month_before_a_control_moves_its_reference_by_a_month_s_weight() -> None:
    ref = Reference()
    for _ in range(36):  # years of normal times at 100
        ref.hold(None, _levels(100.0), _levels(50.0))
    ref.hold(None, _levels(200.0), _levels(50.0))  # a plant doubles the month before
    supply, need = ref.hold(np.array([True, True]), _levels(10.0), _levels(5.0))
    assert supply == pytest.approx(_levels(100.0 + 100.0 * SPEED))  # ~108, not 200
    assert need == pytest.approx(_levels(50.0))
    assert 1.0 / 13.0 < SPEED < 1.0 / 11.0  # about a twelfth


def test_the_held_reference_grows_with_world_demand_and_ignores_what_happens() -> None:
    ref = Reference()
    for _ in range(60):
        ref.hold(None, _levels(100.0), _levels(50.0), index=2.0)  # 50 a unit of demand
    for index in (2.0, 2.5, 3.0):
        supply, _ = ref.hold(np.array([True, True]), _levels(1.0), _levels(1.0), index=index)
        assert supply == pytest.approx(_levels(50.0 * index))


def test_each_sample_keeps_its_own_reference() -> None:
    ref = Reference()
    for _ in range(60):
        ref.hold(None, _levels(100.0), _levels(50.0))
    active = np.array([True, False])
    supply, _ = ref.hold(active, _levels(300.0), _levels(50.0))
    assert supply[..., 0] == pytest.approx(np.full(SHAPE[:2], 100.0))  # held
    assert supply[..., 1] == pytest.approx(np.full(SHAPE[:2], 300.0))  # this month's own
    # the sample with no control went on averaging; the other's average did not move
    supply, _ = ref.hold(np.array([True, True]), _levels(0.0), _levels(0.0))
    assert supply[..., 0] == pytest.approx(np.full(SHAPE[:2], 100.0))
    assert supply[..., 1] == pytest.approx(np.full(SHAPE[:2], 100.0 + 200.0 * SPEED))

"""A control's reference (`sim.market.Reference`): its routes' normal levels averaged over about
the 12 months before it started, per unit of world demand, held while it is in force, each
sample on its own."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _numpy_hold(
    held: tuple[np.ndarray, np.ndarray] | None,
    active: np.ndarray | None,
    supply: np.ndarray,
    need: np.ndarray,
    index: float,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """`Reference.hold` in numpy: the new held levels, and the levels to use."""
    index = index if index > 0.0 else 1.0
    if held is None:
        new = (supply / index, need / index)
    else:
        on = (np.zeros(supply.shape[2], bool) if active is None else active)[None, None, :]
        new = (
            np.where(on, held[0], held[0] + (supply / index - held[0]) * SPEED),
            np.where(on, held[1], held[1] + (need / index - held[1]) * SPEED),
        )
    if active is None or not active.any():
        return new, (supply, need)
    on = active[None, None, :]
    return new, (np.where(on, new[0] * index, supply), np.where(on, new[1] * index, need))


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), samples=st.integers(1, 4))
def test_holding_equals_the_numpy_arithmetic_bit_for_bit(seed: int, samples: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(0, 4)), int(rng.integers(1, 3)), samples)
    ref, held = Reference(), None
    for _ in range(6):
        supply, need = rng.uniform(0.0, 100.0, shape), rng.uniform(0.0, 100.0, shape)
        active = None if rng.random() < 0.3 else rng.random(samples) < 0.5
        index = float(rng.choice([0.0, 0.7, 1.0, 1.3]))
        held, expected = _numpy_hold(held, active, supply, need, index)
        got = ref.hold(active, supply, need, index)
        for a, b in zip((*got, ref.supply_sl, ref.need_sl), (*expected, *held)):
            assert a.shape == b.shape and a.tobytes() == b.tobytes()

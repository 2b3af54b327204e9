"""The chain's structure and a run's state are apart: a run changes its `State` alone, and a
one-sample state repeated is a batch's state (how `sim.runs.history` carries a shared
history into a batch)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from sim.io.scenario_files import load_scenario
from sim.market import Market
from sim.model.chain import Chain
from sim.model.ledger import Ledger
from sim.model.pipeline import Pipeline
from sim.model.state import State
from sim.runs.engine import run
from sim.units import ELEMENTS
from sim.world.loader import vintage_world

SCENARIOS = Path(__file__).parent.parent / "scenarios"


def _arrays(value: object, path: str = "state") -> dict[str, np.ndarray | None]:
    """Every array a state holds, by where it is (its parts' arrays included)."""
    if value is None or isinstance(value, np.ndarray):
        return {path: value}
    if isinstance(value, (list, tuple)):
        items: dict = dict(enumerate(value))
    elif isinstance(value, dict):
        items = value
    elif dataclasses.is_dataclass(value):
        items = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    elif isinstance(value, Pipeline):
        items = {"buf": value.buf}
    else:
        return {}
    out: dict[str, np.ndarray | None] = {}
    for key, item in items.items():
        out.update(_arrays(item, f"{path}.{key}"))
    return out


@pytest.mark.parametrize(
    "name", ["china-2025-october-expansion", "china-2025-april-licensing-response"]
)
def test_a_one_sample_state_repeated_is_a_batch_state_and_copies_are_apart(name: str) -> None:
    # Without draws a batch's samples start alike: its initial state is the one-sample state
    # repeated (the upstream rows kept as one row), every array of it; and neither a repeat
    # nor a copy shares an array with the state it came from.
    path = SCENARIOS / f"{name}.yaml"
    world = vintage_world(load_scenario(path).world)
    scenario = load_scenario(path, world)
    one = State.initial(Chain(world, scenario, 1, 12))
    batch = State.initial(Chain(world, scenario, 3, 12))
    repeated, copied = one.repeat(3), one.copy()
    ones, batches = _arrays(one), _arrays(batch)
    assert sorted(_arrays(repeated)) == sorted(batches) == sorted(_arrays(copied)) == sorted(ones)
    assert one.control_levels and (one.origin_shares or one.stockpiles or one.producers)
    for where, expected in batches.items():
        got = _arrays(repeated)[where]
        assert (got is None) == (expected is None), where
        if got is not None and expected is not None:  # NaN: a price the world has none of
            assert got.shape == expected.shape, where
            assert np.array_equal(got, expected, equal_nan=True), where
    for other in (repeated, copied):
        for where, a in _arrays(other).items():
            assert a is None or not np.shares_memory(a, ones[where]), where


def test_a_one_sample_ledger_repeated_keeps_its_books() -> None:
    ledger = Ledger(1)
    ledger.open(np.arange(float(len(ELEMENTS)))[None])
    ledger.mined[0, 2] = 4.0
    wide = ledger.repeat(3)
    assert wide.samples == 3 and wide.mined.shape == (3, len(ELEMENTS))
    assert np.array_equal(wide.mined, np.repeat(ledger.mined, 3, axis=0))
    opening = np.arange(float(len(ELEMENTS)))
    assert wide.opening is not None and np.array_equal(wide.opening[2], opening)
    wide.mined[0, 2] = 0.0
    assert ledger.mined[0, 2] == 4.0 and ledger.copy().mined[0, 2] == 4.0


def _structure(value: object, path: str = "chain", depth: int = 0) -> dict[str, np.ndarray]:
    """Every array the chain's structure holds, by where it is (not the markets' caches, the
    world or the scenario, which are frozen)."""
    if isinstance(value, np.ndarray):
        return {path: value}
    if depth > 6 or isinstance(value, (Market, str, int, float, bool)) or value is None:
        return {}
    if isinstance(value, (list, tuple)):
        items: dict = dict(enumerate(value))
    elif isinstance(value, dict):
        items = value
    elif type(value).__module__.startswith("sim.model"):
        items = {k: v for k, v in vars(value).items() if not k.startswith("_")}
        items.pop("world", None), items.pop("scenario", None)
    else:
        return {}
    out: dict[str, np.ndarray] = {}
    for key, item in items.items():
        out.update(_structure(item, f"{path}.{key}", depth + 1))
    return out


@pytest.mark.parametrize(
    "name", ["china-2025-october-expansion", "china-2025-april-licensing-response"]
)
def test_a_run_changes_its_state_not_the_chain(name: str) -> None:
    path = SCENARIOS / f"{name}.yaml"
    world = vintage_world(load_scenario(path).world)
    scenario = load_scenario(path, world)
    result = run(world, scenario, samples=2, detail=False)
    built = _structure(Chain(world, scenario, 2, 12))
    after = _structure(result.chain)
    assert sorted(after) == sorted(built) and len(built) > 50
    for where, a in built.items():
        nan = a.dtype.kind == "f"
        assert np.array_equal(after[where], a, equal_nan=nan), where

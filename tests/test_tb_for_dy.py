"""Magnet makers choose between Tb and Dy on their prices (issue 14): a kg of Tb does in the
magnet phase what about 1.9 kg of Dy does, so when Dy grows dear against Tb they move some of
the recipe's Dy onto Tb, and back when Tb does. Without the choice the two elements, which
come out of the ionic clays in a fixed ratio, parted: in the no-event 2024 baseline Dy oxide
rose 1.8x while Tb oxide sat at its price floor for ten years."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.io.scenario_files import load_scenario
from sim.model.levers import thrifting
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.runs.engine import RunResult, run
from sim.units import ELEMENTS
from sim.world.loader import default_world
from tests.worlds import scenario

DY, TB, NDPR = (ELEMENTS.index(e) for e in ("Dy", "Tb", "NdPr"))
DY_OXIDE, TB_OXIDE = (PRICE_PRODUCTS.index(p) for p in ("Dy_oxide", "Tb_oxide"))
ABROAD = TIERS.index("ex_china")
SWAP = thrifting.LEVERS.index("swap")
BASELINE = "scenarios/baseline.yaml"


def _rules(share: float = 0.5) -> thrifting.ThriftRules:
    world = default_world()
    return thrifting.build(
        {**world.parameters, "swap_max_share": share},
        world.recipes,
        {"Dy_oxide", "Tb_oxide"},
        ["CN", "JP"],
        np.array([0, 0]),
        np.array(["NdFeB"]),
    )


def _held(rules: thrifting.ThriftRules, dy: float, tb: float, months: int = 240) -> np.ndarray:
    """The levels after ``months`` at Dy and Tb oxide ``dy`` and ``tb`` times their base."""
    base = np.ones((1, len(PRICE_PRODUCTS), len(TIERS)))
    prices = base.copy()
    prices[:, DY_OXIDE] *= dy
    prices[:, TB_OXIDE] *= tb
    levels = np.zeros((1, len(TIERS), len(thrifting.LEVERS)))
    for _ in range(months):
        levels = thrifting.settle(rules, levels, prices, base, step=0)
    return levels


def test_a_swap_moves_dy_onto_less_tb_and_keeps_the_rare_earths_of_a_tonne() -> None:
    recipe = default_world().recipes["NdFeB"]
    change = thrifting.swap_delta(recipe, 1.9)
    assert change.sum() == pytest.approx(0.0, abs=1e-15)
    assert change[DY] == -recipe[DY]
    assert change[TB] == pytest.approx(recipe[DY] / 1.9)
    assert change[NDPR] == pytest.approx(recipe[DY] * (1 - 1 / 1.9))
    assert (thrifting.swap_delta(default_world().recipes["SmCo"], 1.9) == 0).all()


def test_the_swap_follows_the_ratio_of_dy_to_tb_not_their_level() -> None:
    rules = _rules()
    low, high = rules.swap_range
    assert low < 0 < high
    full = rules.swap_full
    assert _held(rules, full, 1.0)[0, :, SWAP] == pytest.approx([high, high], rel=1e-3)
    assert _held(rules, 1.0, full)[0, :, SWAP] == pytest.approx([low, low], rel=1e-3)
    assert _held(rules, 5.0, 5.0)[0, :, SWAP] == pytest.approx([0.0, 0.0])
    halfway = _held(rules, np.sqrt(full), 1.0)[0, 0, SWAP]
    assert halfway == pytest.approx(high / 2, rel=1e-3)
    assert (_held(_rules(0.0), full, 1.0)[..., SWAP] == 0).all()  # no choice, no move


@settings(max_examples=100, deadline=None)
@given(
    ratios=st.lists(st.floats(0.05, 20.0), min_size=1, max_size=24),
    share=st.floats(0.0, 1.0),
)
def test_swap_levels_stay_in_range_and_never_empty_a_recipe(
    ratios: list[float], share: float
) -> None:
    """Whatever Dy and Tb cost, the swap stays in its range, and a magnet made at any level
    of it, its ends included, on top of a whole thrift or none, holds no negative Dy or Tb."""
    rules = _rules(share)
    low, high = rules.swap_range
    ends = np.zeros((2, len(TIERS), len(thrifting.LEVERS)))
    ends[0, :, SWAP], ends[1, :, SWAP] = low, high
    ends[:, 1, 0] = rules.max_share  # one tier's makers thrift all they can, the other's none
    made = thrifting.recipes(rules, default_world().recipes["NdFeB"][None].repeat(2, 0), ends)
    assert made[..., [DY, TB]].min() >= -1e-15
    base = np.ones((1, len(PRICE_PRODUCTS), len(TIERS)))
    levels = np.zeros((1, len(TIERS), len(thrifting.LEVERS)))
    recipe = default_world().recipes["NdFeB"][None].repeat(2, axis=0)
    for ratio in ratios:
        prices = base.copy()
        prices[:, DY_OXIDE] *= ratio
        levels = thrifting.settle(rules, levels, prices, base, step=0)
        assert low - 1e-12 <= levels[..., SWAP].min() <= levels[..., SWAP].max() <= high + 1e-12
        for thrift in (0.0, rules.max_share):
            at = levels.copy()
            at[..., 0] = thrift
            made = thrifting.recipes(rules, recipe, at)
            assert made[..., [DY, TB]].min() >= -1e-15


@pytest.fixture(scope="module")
def baselines() -> tuple[RunResult, RunResult]:
    """The no-event 2024 baseline with and without the choice."""
    world, plan = default_world(), load_scenario(BASELINE)
    off = dataclasses.replace(world, parameters={**world.parameters, "swap_max_share": 0.0})
    return run(world, plan), run(off, plan)


def test_with_no_event_tb_and_dy_oxide_move_together(
    baselines: tuple[RunResult, RunResult],
) -> None:
    """In the no-event baseline Dy and Tb oxide stay within 1.5x of each other's multiple of
    their 2024 price, and Tb leaves its floor; without the choice Dy rose 1.8x while Tb sat
    at the floor (0.7x) for a decade."""
    with_it, without = baselines
    for res, parted in ((with_it, False), (without, True)):
        prices = res.prices_usd_per_kg[0, :, :, ABROAD]
        dy, tb = (prices[:, p] / prices[0, p] for p in (DY_OXIDE, TB_OXIDE))
        apart = np.abs(np.log(dy / tb)).max()
        assert (apart > np.log(1.5)) == parted, apart
        assert (tb[-60:].mean() < 0.8) == parted, tb[-60:].mean()  # the floor is 0.7x
    assert with_it.shortfall.sum() <= without.shortfall.sum() + 1.0


def test_the_run_summary_says_how_much_dy_makers_moved_onto_tb(
    baselines: tuple[RunResult, RunResult],
) -> None:
    from sim.io.console import _thrifting

    with_it, without = baselines
    (line,) = [line for line in _thrifting(with_it) if line.startswith("Tb for Dy")]
    level = with_it.record.thrift[-1, ABROAD, SWAP]  # type: ignore[index]
    assert f"ex_china {100 * level:.2g}% of its Dy onto Tb by the end" in line
    assert not [line for line in _thrifting(without) if line.startswith("Tb for Dy")]


def test_a_squeeze_on_tb_alone_moves_makers_abroad_onto_dy() -> None:
    """China withholds Tb alone from mid-2024: abroad Tb grows dear against Dy and makers
    move Tb onto Dy (a negative swap level), which China's makers, not squeezed, do less."""
    ban = {
        "kind": "export_control",
        "exporter": "CN",
        "destinations": "all",
        "elements": ["Tb"],
        "forms": ["oxide", "metal"],
        "mode": "ban",
        "start": "2024-06-01",
    }
    res = run(default_world(), scenario([ban], end="2026-12-31"))
    levels = res.record.thrift
    assert levels is not None
    assert levels[-1, ABROAD, SWAP] < -0.05
    assert levels[-1, ABROAD, SWAP] < levels[-1, TIERS.index("china"), SWAP]

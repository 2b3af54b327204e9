"""Thrifting (issue 14): magnet makers design Dy and Tb out of NdFeB as Dy grows dear, and
the mass balance follows the thrifted magnets wherever they go (buyers, pipelines,
stockpiles)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.levers import thrifting
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.runs.engine import RunResult, run
from sim.units import ELEMENTS
from sim.world.loader import default_world
from sim.world.world import World
from tests.worlds import scenario

DY, TB, NDPR = (ELEMENTS.index(e) for e in ("Dy", "Tb", "NdPr"))
ABROAD, HOME = TIERS.index("ex_china"), TIERS.index("china")
THRIFT = thrifting.LEVERS.index("thrift")
BAN = {
    "kind": "export_control",
    "exporter": "CN",
    "destinations": "all",
    "elements": ["Dy", "Tb"],
    "forms": ["oxide", "metal", "magnet"],
    "mode": "ban",
}
STOCKPILE = {  # buys while its buyers are served, releases when they run short
    "kind": "stockpile",
    "region": "US",
    "material": "NdFeB",
    "initial_t": 100.0,
    "release_threshold": 0.02,
    "max_release_t_per_month": 200.0,
    "purchase_t_per_month": 150.0,
    "target_t": 2000.0,
    "start": "2024-01-01",
}


def _thrift_only() -> World:
    """Today's world with the thrift alone (no Tb-for-Dy choice: `tests/test_tb_for_dy.py`)."""
    world = default_world()
    return dataclasses.replace(world, parameters={**world.parameters, "swap_max_share": 0.0})


@pytest.fixture(scope="module")
def squeezed() -> RunResult:
    """China bans Dy and Tb (and magnets holding them) for 18 months, then again from
    mid-2026, while a US stockpile of NdFeB buys and releases."""
    events = [
        {**BAN, "start": "2024-04-01", "end": "2025-10-01"},
        {**BAN, "start": "2026-06-01"},
        STOCKPILE,
    ]
    return run(_thrift_only(), scenario(events, end="2027-12-31"))


def test_a_dy_squeeze_sets_off_thrifting_abroad_that_never_falls(squeezed: RunResult) -> None:
    assert squeezed.record.thrift is not None
    levels = squeezed.record.thrift[..., THRIFT]
    abroad = levels[:, ABROAD]
    rules = squeezed.chain.thrift
    assert abroad.max() > 0.1 and abroad.max() <= rules.max_share
    assert (np.diff(abroad) >= 0).all()  # a requalified magnet stays qualified
    dy = squeezed.prices_usd_per_kg[0, :, PRICE_PRODUCTS.index("Dy_oxide"), HOME]
    base = squeezed.chain.economics.base_at(0)[0, PRICE_PRODUCTS.index("Dy_oxide"), HOME]
    if dy.max() < rules.trigger * base:  # China's Dy, kept at home, never got dear
        assert (levels[:, HOME] == 0).all()


def test_magnets_are_made_to_the_thrifted_recipe(squeezed: RunResult) -> None:
    """A tonne of thrifted magnet holds (1 - level) of the recipe's Dy and Tb and what they
    gave up as NdPr: the same rare earths a tonne."""
    chain, rec = squeezed.chain, squeezed.record
    assert rec.production is not None and rec.thrift is not None
    made = rec.production[:, chain.slices["magnet"]]  # [T, plants, E] content of magnets made
    ndfeb = np.flatnonzero(chain.thrift.plant_delta[THRIFT, :, DY] < 0)
    level = rec.thrift[:, chain.thrift.plant_tier[ndfeb], THRIFT]  # [T, plants]
    total = made[:, ndfeb].sum(axis=2)
    ok = total > 1.0
    recipe = chain.recipe[ndfeb]
    for e, expected in (
        (DY, recipe[:, DY] * (1 - level)),
        (TB, recipe[:, TB] * (1 - level)),
        (NDPR, recipe[:, NDPR] + level * (recipe[:, DY] + recipe[:, TB])),
    ):
        share = made[:, ndfeb, e] / np.where(ok, total, 1.0)
        assert np.allclose(share[ok], (expected / recipe.sum(axis=1))[ok], rtol=1e-9), e
    assert (level[ok] > 0.1).any()  # some magnets were made thrifted


def test_the_balance_follows_thrifted_magnets_everywhere(squeezed: RunResult) -> None:
    """Buyers, pipelines and the stockpile hold thrifted magnets, and every element's books
    still close (the run checks them each step; here the end)."""
    assert squeezed.state.thrifted.max() > 0
    assert squeezed.residual < 1e-9
    assert squeezed.record.stockpile_t is not None
    assert squeezed.record.stockpile_t[0, -1, 0] < squeezed.record.stockpile_t[0, :, 0].max()
    # before the second ban the stockpile has bought magnets made thrifted
    events = [{**BAN, "start": "2024-04-01", "end": "2025-10-01"}, STOCKPILE]
    before = run(_thrift_only(), scenario(events, end="2026-05-31"))
    assert before.state.stockpiles[0].thrifted[0, THRIFT] > 0


def test_thrifting_eases_a_dy_squeeze() -> None:
    world = _thrift_only()
    events = [{**BAN, "start": "2024-04-01"}]
    off = dataclasses.replace(world, parameters={**world.parameters, "thrift_max_share": 0.0})
    with_it, without = (run(w, scenario(events, end="2027-12-31")) for w in (world, off))
    assert with_it.record.thrift is not None and with_it.record.thrift[..., THRIFT].max() > 0.1
    assert without.record.thrift is not None and (without.record.thrift == 0).all()
    assert with_it.unmet.sum() < without.unmet.sum()


@settings(max_examples=200, deadline=None)
@given(
    ratios=st.lists(st.floats(0.1, 30.0), min_size=1, max_size=24),
    max_share=st.floats(0.0, 1.0),
)
def test_levels_stay_within_bounds_and_never_fall(ratios: list[float], max_share: float) -> None:
    world = default_world()
    rules = thrifting.build(
        {**world.parameters, "thrift_max_share": max_share},
        world.recipes,
        {"Dy_oxide", "Tb_oxide"},
        ["CN", "JP"],
        np.array([0, 0]),
        np.array(["NdFeB"]),
    )
    base = np.ones((1, len(PRICE_PRODUCTS), len(TIERS)))
    levels = np.zeros((1, len(TIERS), len(thrifting.LEVERS)))
    for ratio in ratios:
        prices = base * ratio
        nxt = thrifting.settle(rules, levels, prices, base, step=0)
        now, then = nxt[..., THRIFT], levels[..., THRIFT]
        assert (now >= then).all() and (now <= max_share + 1e-12).all()
        if ratio <= rules.trigger:
            assert (now == then).all()
        levels = nxt
    assert (thrifting.settle(rules, levels, base * 30, base, step=-1) == levels).all()


def test_a_whole_thrift_keeps_the_rare_earths_of_a_tonne() -> None:
    recipe = default_world().recipes["NdFeB"]
    change = thrifting.delta(recipe)
    assert change.sum() == pytest.approx(0.0, abs=1e-15)
    assert change[DY] == -recipe[DY] and change[TB] == -recipe[TB]
    assert (thrifting.delta(default_world().recipes["SmCo"]) == 0).all()


def test_each_sample_of_a_thrifting_batch_equals_its_own_single_run() -> None:
    """Samples that thrift at their own pace (bans of their own length) carry their own
    thrifted tonnes: each equals its single run, bit for bit."""
    world = default_world()
    ends = ["2024-06-01", "2025-06-01", "2026-06-01"]
    events = [{**BAN, "start": "2024-03-01", "end": ends[0]}, STOCKPILE]
    ordinals = np.array([dt.date.fromisoformat(d).toordinal() for d in ends], float)
    batch = run(
        world,
        scenario(events, end="2026-12-31"),
        samples=3,
        draws={"events[0].end": ordinals},
        detail=False,
    )
    levels = batch.state.thrift_levels[:, ABROAD, THRIFT]
    assert levels[2] > levels[0] > 0
    for s, end in enumerate(ends):
        alone = run(
            world,
            scenario([{**BAN, "start": "2024-03-01", "end": end}, STOCKPILE], end="2026-12-31"),
            detail=False,
        )
        assert np.array_equal(batch.shortfall[s], alone.shortfall[0])
        assert np.array_equal(
            batch.prices_usd_per_kg[s], alone.prices_usd_per_kg[0], equal_nan=True
        )
        assert np.array_equal(batch.state.thrifted[s], alone.state.thrifted[0])


@settings(max_examples=25, deadline=None)
@given(
    max_share=st.sampled_from([0.25, 0.5, 1.0]),
    trigger=st.sampled_from([0.5, 1.0, 1.5]),
    adoption=st.sampled_from([0.0, 6.0, 24.0]),
    mode=st.sampled_from(["ban", "quota"]),
    start=st.integers(1, 18),
    months=st.integers(1, 24),
    pile=st.booleans(),
)
def test_thrifted_tonnes_stay_within_what_is_held(
    max_share: float,
    trigger: float,
    adoption: float,
    mode: str,
    start: int,
    months: int,
    pile: bool,
) -> None:
    """Whatever the thrift's pace and the squeeze, the balance closes (the run checks it),
    and every holder's thrifted tonnes of each lever lie between its tonnes times the
    lever's lowest and highest level of the run, 0 included (each tonne was made at a level
    between them; the swap's may be negative)."""
    world = default_world()
    params = {
        "thrift_max_share": max_share,
        "thrift_trigger_price_ratio": trigger,
        "thrift_full_price_ratio": trigger + 1.0,
        "thrift_adoption_months": adoption,
    }
    world = dataclasses.replace(world, parameters={**world.parameters, **params})
    begin = dt.date(2024 + start // 12, start % 12 + 1, 1)
    end = dt.date(2024 + (start + months) // 12, (start + months) % 12 + 1, 1)
    control = {**BAN, "mode": mode, "start": begin.isoformat(), "end": end.isoformat()}
    if mode == "quota":
        control["share"] = 0.3
    res = run(world, scenario([control, STOCKPILE] if pile else [control], end="2026-12-31"))
    assert res.residual < 1e-9
    state, record = res.state, res.record.thrift
    assert record is not None
    assert 0.0 <= record[..., THRIFT].max() <= max_share + 1e-12
    low = np.minimum(record.min(axis=(0, 1)), 0.0)  # [L]
    top = np.maximum(record.max(axis=(0, 1)), 0.0)
    held = state.inventory[..., None]
    assert (state.thrifted >= held * low - 1e-9).all()
    assert (state.thrifted <= held * top + 1e-9).all()
    for pile in state.stockpiles:
        assert (pile.thrifted[0] >= pile.held[0] * low - 1e-9).all()
        assert (pile.thrifted[0] <= pile.held[0] * top + 1e-9).all()


def test_the_run_summary_says_how_much_was_thrifted(squeezed: RunResult) -> None:
    from sim.io.console import _thrifting

    (line,) = _thrifting(squeezed)
    assert line.startswith("thrifting: magnet makers designed out of NdFeB's Dy and Tb:")
    level = squeezed.record.thrift[-1, ABROAD, THRIFT]  # type: ignore[index]
    assert f"ex_china {100 * level:.2g}% by the end" in line
    calm = run(default_world(), scenario([], end="2024-12-31"))
    assert not [line for line in _thrifting(calm) if line.startswith("thrifting")]
    neither = run(_thrift_only(), scenario([], end="2024-12-31"))
    assert _thrifting(neither) == []

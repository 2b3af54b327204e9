"""The scenario library: each file says what it represents, and the headline behaviour of the
policy scenarios holds (timing of shortfalls, tiers of prices, the floor, the lapse)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from sim.io.scenario_files import load_scenario
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.runs.engine import RunResult, run
from sim.world.loader import default_world

SCENARIOS = Path(__file__).parent.parent / "scenarios"
LIBRARY = [
    "china-2025-april-licensing",
    "china-2025-october-expansion",
    "china-2025-october-expansion-lapse",
    "us-dod-mp-price-floor",
    "us-dod-mp-price-floor-slump",
    "us-dod-mp-price-floor-slump-no-floor",
    "new-capacity-ex-china",
    "us-australia-framework",
    "full-embargo-us",
    "full-embargo-us-defence-stockpile",
]
_cache: dict[str, RunResult] = {}


def result(name: str) -> RunResult:
    if name not in _cache:
        world = default_world()
        _cache[name] = run(world, load_scenario(SCENARIOS / f"{name}.yaml", world))
    return _cache[name]


def month(res: RunResult, day: str) -> int:
    return res.dates.index(dt.date.fromisoformat(day))


@pytest.mark.parametrize("name", LIBRARY)
def test_each_file_opens_with_what_it_represents_and_its_sources(name: str) -> None:
    lines = (SCENARIOS / f"{name}.yaml").read_text(encoding="utf-8").splitlines()
    comment = [line for line in lines[:25] if line.startswith("#")]
    assert lines[0].startswith("# ") and len(comment) >= 3, name
    assert any(ch.isdigit() for ch in " ".join(comment)), name  # dated, sourced


def test_april_2025_ex_china_magnet_users_run_short_once_cover_is_used() -> None:
    res = result("china-2025-april-licensing")
    chain, short = res.chain, res.shortfall[0]
    april = month(res, "2025-04-01")
    ndfeb = np.array([b.material == "NdFeB" for b in chain.buyers])
    abroad = np.array([b.region != "CN" for b in chain.buyers]) & ndfeb
    assert short[:april].sum() < 1e-6
    first = [
        int(np.argmax(short[:, b] > 1e-6))
        for b in np.flatnonzero(abroad)
        if chain.buyers[b].sector != "defence"
    ]
    assert min(first) == month(res, "2025-05-01")  # 3 weeks' cover + 5 weeks' shipping
    assert max(first) <= month(res, "2026-03-01")
    china = np.array([b.region == "CN" for b in chain.buyers]) & ndfeb
    assert short[april : month(res, "2027-01-01"), china].sum() < 1e-6


def test_april_2025_china_and_ex_china_prices_diverge() -> None:
    res = result("china-2025-april-licensing")
    prices = res.prices_usd_per_kg[0]
    magnet = PRICE_PRODUCTS.index("NdFeB_magnet")
    dy = PRICE_PRODUCTS.index("Dy_oxide")
    china, ex_china = TIERS.index("china"), TIERS.index("ex_china")
    before = slice(0, month(res, "2025-04-01"))
    after = slice(month(res, "2025-06-01"), month(res, "2026-06-01"))
    assert (prices[before, magnet, ex_china] / prices[before, magnet, china] < 1.4).all()
    # one market before; two after: ex-China magnets and Dy dear, China's cheap (glut at home)
    assert (prices[after, magnet, ex_china] / prices[after, magnet, china] > 2.0).all()
    assert (prices[after, dy, ex_china] > 1.5 * prices[after, dy, china]).all()
    assert (prices[after, dy, china] < prices[before, dy, china].min()).all()


def test_october_lapse_switches_the_measures_on_only_after_the_suspension_ends() -> None:
    kept, lapsed = (
        result("china-2025-october-expansion"),
        result("china-2025-october-expansion-lapse"),
    )
    lapse = month(kept, "2026-11-01")
    assert np.allclose(kept.shortfall[0, :lapse], lapsed.shortfall[0, :lapse])
    assert [level[0] for level in lapsed.state.control_levels[1:]] == pytest.approx([0.6, 1.0, 0.6])
    assert [level[0] for level in kept.state.control_levels[1:]] == [0.0, 0.0, 0.0]
    # the 0.1% rule reaches magnets made abroad from Chinese metal: more shortfall abroad
    chain = kept.chain
    abroad = np.array([b.region != "CN" and b.material == "NdFeB" for b in chain.buyers])
    more = lapsed.shortfall[0, lapse:, abroad].sum() - kept.shortfall[0, lapse:, abroad].sum()
    assert more > 0.05 * kept.shortfall[0, lapse:, abroad].sum()


def test_the_floor_keeps_mp_running_through_a_slump() -> None:
    floor, no_floor = (
        result("us-dod-mp-price-floor-slump"),
        result("us-dod-mp-price-floor-slump-no-floor"),
    )
    assert floor.record.producer_level is not None
    assert no_floor.record.producer_level is not None
    assert (floor.record.producer_level[0, :, 0] == 1.0).all()
    assert no_floor.record.producer_level[0, -1, 0] == 0.0
    assert floor.record.floor_usd is not None and floor.record.floor_usd.sum() > 1e8
    calm = result("us-dod-mp-price-floor")
    assert calm.record.floor_usd is not None
    assert 0.0 < calm.record.floor_usd.sum() < floor.record.floor_usd.sum()


def test_an_embargo_on_everything_hurts_the_us_at_least_as_much_as_a_magnet_ban() -> None:
    world = default_world()
    ban = run(world, load_scenario(SCENARIOS / "china-magnet-ban-us.yaml", world))
    embargo = result("full-embargo-us")
    us = np.array([b.region == "US" for b in embargo.chain.buyers])
    assert embargo.shortfall[0][:, us].sum() >= ban.shortfall[0][:, us].sum() - 1e-6

"""Dy-free NdFeB: the cool uses (electronics: hard disk drives, speakers, small consumer
motors) take grades without Dy or Tb, made on lines of their own; the grades that hold Dy and
Tb carry the fleet's heavy rare earths. A control on Dy and Tb magnets does not reach the
Dy-free grades (China's April 2025 list covered NdFeB magnets containing Dy or Tb); one on
every magnet does."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.runs.engine import RunResult, run
from sim.units import ELEMENT_INDEX, FORM_ALIASES
from sim.world.loader import default_world
from tests.worlds import scenario

HEAVY = {  # China's April 2025 list, as a ban on every route abroad
    "kind": "export_control",
    "exporter": "CN",
    "elements": ["Dy", "Tb"],
    "forms": ["oxide", "metal", "magnet"],
    "mode": "ban",
    "start": "2025-04-04",
}
EVERY_MAGNET = {**HEAVY, "elements": "all", "forms": ["magnet"]}
_cache: dict[str, RunResult] = {}


def _run(name: str, events: list[dict]) -> RunResult:
    if name not in _cache:
        _cache[name] = run(default_world(), scenario(events, end="2026-12-31"))
    return _cache[name]


def _short_share(res: RunResult, sector: str, material: str) -> float:
    """Share of ex-China demand of one sector and magnet unmet over the horizon."""
    rows = [
        i
        for i, b in enumerate(res.chain.buyers)
        if b.region != "CN" and b.sector == sector and b.material == material
    ]
    assert rows, (sector, material)
    short = res.shortfall[..., rows].sum()
    demand = res.record.demand[..., rows].sum()
    return float(short / demand)


def test_dy_free_grades_hold_no_heavy_rare_earth_and_the_fleet_keeps_its_average() -> None:
    world = default_world()
    free, held = world.recipes["NdFeB_DyFree"], world.recipes["NdFeB"]
    dy, tb, ndpr = (ELEMENT_INDEX[e] for e in ("Dy", "Tb", "NdPr"))
    assert free[dy] == 0.0 and free[tb] == 0.0
    assert free.sum() == pytest.approx(held.sum())  # the same rare earths, all as NdPr
    assert free[ndpr] > held[ndpr]
    tonnes = {m: 0.0 for m in ("NdFeB", "NdFeB_DyFree")}
    for buyer in world.buyers:
        if buyer.material in tonnes:
            tonnes[buyer.material] += buyer.demand_tpa
    fleet_dy = held[dy] * tonnes["NdFeB"] / sum(tonnes.values())
    assert fleet_dy == pytest.approx(0.008, rel=0.01)  # the fleet average of 2024
    assert {b.sector for b in world.buyers if b.material == "NdFeB_DyFree"} == {"electronics"}
    lines = world.by_stage("magnet")
    assert any(f.product == "NdFeB_DyFree" and f.country != "CN" for f in lines)  # abroad too


def test_a_heavy_rare_earth_control_does_not_reach_dy_free_magnets() -> None:
    res = _run("heavy", [HEAVY])
    assert res.residual <= 1e-9
    assert _short_share(res, "ev_traction", "NdFeB") > 0.1  # Dy-bearing buyers run short
    assert _short_share(res, "electronics", "NdFeB_DyFree") < 1e-6  # Dy-free ones do not


def test_a_control_on_every_magnet_reaches_the_dy_free_grades_too() -> None:
    res = _run("every", [EVERY_MAGNET])
    assert res.residual <= 1e-9
    assert _short_share(res, "electronics", "NdFeB_DyFree") > 0.1
    assert _short_share(res, "ev_traction", "NdFeB") > 0.1


def test_a_control_naming_ndfeb_names_both_grades() -> None:
    assert set(FORM_ALIASES["NdFeB"]) == {"NdFeB", "NdFeB_DyFree"}
    assert "NdFeB_DyFree" in FORM_ALIASES["magnet"]


def test_a_dy_free_magnet_uses_no_dy_so_its_demand_moves_no_dy() -> None:
    """Electronics' demand doubled leaves the Dy that magnet plants use unchanged while Dy is
    not scarce: Dy-free magnets are made of NdPr alone."""
    world = default_world()
    more = dataclasses.replace(
        world,
        buyers=tuple(
            dataclasses.replace(b, demand_tpa=2 * b.demand_tpa)
            if b.material == "NdFeB_DyFree"
            else b
            for b in world.buyers
        ),
    )
    horizon = scenario([], end="2024-12-31")
    base, doubled = run(world, horizon), run(more, horizon)
    magnets = base.chain.slices["magnet"]

    def made(res: RunResult, element: str) -> float:  # t of the element in magnets made
        production = res.record.production
        assert production is not None
        return float(production[:, magnets, ELEMENT_INDEX[element]].sum())

    assert np.isclose(made(doubled, "Dy"), made(base, "Dy"), rtol=0.01)  # prices move a little
    assert made(doubled, "NdPr") > 1.03 * made(base, "NdPr")  # more magnets made


def test_an_event_naming_ndfeb_reaches_buyers_of_both_grades() -> None:
    from sim.model.levers.demand_response import _covered

    world = default_world()
    buyers = list(world.buyers)
    event = {
        "kind": "substitution",
        "materials": ["NdFeB"],
        "max_share": 0.2,
        "start": "2025-01-01",
    }
    named = {buyers[k].material for k in _covered(scenario([event]).events[0], buyers)}
    assert named == {"NdFeB", "NdFeB_DyFree"}
    only = {**event, "materials": ["NdFeB_DyFree"]}
    assert {buyers[k].material for k in _covered(scenario([only]).events[0], buyers)} == {
        "NdFeB_DyFree"
    }

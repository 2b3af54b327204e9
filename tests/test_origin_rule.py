"""The extraterritorial rule (October 2025's 0.1%): magnets made outside the exporter from its
material fall under its control on their exports; magnets made from other material do not."""

from __future__ import annotations

import dataclasses

import numpy as np

from sim.runs.engine import run
from sim.world.world import Facility, Tranche, World
from tests.worlds import one_chain, scenario

M0 = 12
RULE = {
    "kind": "export_control",
    "exporter": "CN",
    "destinations": ["US"],
    "forms": ["magnet"],
    "mode": "ban",
    "start": "2025-01-01",
    "foreign_content_threshold": 0.001,
}


def _japanese_magnets(clean_share: float = 0.0) -> World:
    """One chain whose magnet plant is in Japan; with ``clean_share`` > 0 an Australian chain
    (mine, separation, metal) supplies that share of the metal capacity."""
    world = one_chain(cover_weeks=0.0)
    facs = [
        dataclasses.replace(f, country="JP") if f.stage == "magnet" else f for f in world.facilities
    ]
    if clean_share:
        x = next(f for f in facs if f.id == "x")
        facs = [
            dataclasses.replace(x, tranches=(Tranche(50_000.0 * (1 - clean_share)),))
            if f.id == "x"
            else f
            for f in facs
        ]
        facs += [
            Facility(
                "m_au", "AU mine", "AU", "mine", "concentrate", (Tranche(100_000.0),), ore="o"
            ),
            Facility(
                "s_au",
                "AU sep",
                "AU",
                "separation",
                "oxide",
                (Tranche(200_000.0),),
                feeds_from=("m_au",),
            ),
            Facility(
                "x_au", "AU metal", "AU", "metal", "metal", (Tranche(50_000.0 * clean_share),)
            ),
        ]
        for f in facs:  # Chinese separation takes only Chinese ore
            if f.id == "s":
                facs[facs.index(f)] = dataclasses.replace(f, feeds_from=("m",))
    countries = {**world.countries, "JP": "JP", "AU": "ROW"}
    return dataclasses.replace(world, facilities=tuple(facs), countries=countries)


def test_magnets_made_abroad_from_chinese_metal_are_caught() -> None:
    world = _japanese_magnets()
    plain = {k: v for k, v in RULE.items() if k != "foreign_content_threshold"}
    without = run(world, scenario([plain]))
    with_rule = run(world, scenario([RULE]))
    assert without.shortfall.max() < 1e-6  # a Chinese ban does not reach Japanese magnets
    assert np.allclose(with_rule.shortfall[0, M0 + 1 :, 0], with_rule.record.demand[0, M0 + 1 :, 0])
    assert with_rule.residual < 1e-9


def test_a_lower_threshold_never_lowers_the_shortfall() -> None:
    world = _japanese_magnets(clean_share=0.5)
    thresholds = np.array([1.0, 0.9, 0.5, 0.1, 0.001])  # loosest first
    res = run(
        world,
        scenario([RULE]),
        samples=thresholds.size,
        detail=False,
        draws={"events[0].foreign_content_threshold": thresholds},
    )
    total = res.shortfall[:, :, 0].sum(axis=1)
    assert (np.diff(total) >= -1e-6).all() and total[-1] > total[0] + 10.0
    assert total[0] < 1e-6  # nothing is 100% Chinese once Australian metal is mixed in

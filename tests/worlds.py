"""Small hand-made worlds for tests: one chain, or a few random ones."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from sim.config.scenario import Scenario
from sim.units import ELEMENTS
from sim.world.world import Buyer, Facility, Tranche, World

REGIONS = ("US", "EU", "JP", "KR", "CN", "ROW")
PARAMS = {
    "separation_recovery": 0.95,
    "metal_yield": 0.97,
    "magnet_yield": 0.75,
    "swarf_recovery": 0.8,
    "plant_input_cover_months": 1.5,
    "separation_input_cover_months": 1.0,
    "price_cover_sensitivity": 1.5,
    "price_cover_floor": 0.1,
    "price_floor_share": 0.7,
    "price_adjustment_months": 3.0,
    "price_foresight_months": 0.0,
    "demand_response_months": 6.0,
    "stocking_sensitivity": 1.0,
    "holding_sensitivity": 0.0,
    "stocking_cover_min": 0.5,
    "stocking_cover_max": 3.0,
    "stocking_months": 3.0,
    "expectation_months": 12.0,
    "announced_cover": 2.0,
    "thrift_max_share": 0.0,  # no thrifting unless a test asks for it
    "thrift_trigger_price_ratio": 1.5,
    "thrift_full_price_ratio": 4.0,
    "thrift_adoption_months": 24.0,
    "swap_max_share": 0.0,  # no Tb-for-Dy choice unless a test asks for it
    "swap_full_price_ratio": 2.0,
    "tb_per_dy": 1.9,
    "buyer_cover_scale": 1.0,
    "metal_qualification_months": 0.0,  # orders follow this month's stocks
}


def ore(**shares: float) -> np.ndarray:
    out = np.array([shares.get(e, 0.0) for e in ELEMENTS])
    return out / out.sum()


def one_chain(
    cover_weeks: float = 8.0,
    lead_days: float = 0.0,
    demand_tpa: float = 1200.0,
) -> World:
    """One mine, separator, metal and magnet plant in CN; one US buyer of NdFeB."""
    recipe = np.zeros(len(ELEMENTS))
    recipe[0], recipe[1] = 0.29, 0.02
    facs = (
        Facility("m", "Mine", "CN", "mine", "concentrate", (Tranche(100_000.0),), ore="o"),
        Facility("s", "Sep", "CN", "separation", "oxide", (Tranche(200_000.0),)),
        Facility("x", "Metal", "CN", "metal", "metal", (Tranche(50_000.0),)),
        Facility("g", "Magnets", "CN", "magnet", "NdFeB", (Tranche(100_000.0),)),
    )
    buyers = (Buyer("US", "ev_traction", "NdFeB", demand_tpa, 0.0, cover_weeks, 1),)
    lead = {(a, b): (0.0 if a == b else lead_days) for a in REGIONS for b in REGIONS}
    return World(
        base_year=2024,
        countries={"CN": "CN", "US": "US"},
        ores={"o": ore(NdPr=20, Dy=1, La=30, Ce=49)},
        facilities=facs,
        buyers=buyers,
        lead_days=lead,
        recipes={"NdFeB": recipe, "SmCo": np.eye(len(ELEMENTS))[3] * 0.25},
        parameters=dict(PARAMS),
        prices_usd_per_kg={("NdFeB_magnet", "china"): 60.0, ("NdFeB_magnet", "ex_china"): 60.0},
    )


def scenario(
    events: list[dict] | None = None, start: str = "2024-01-01", end: str = "2026-12-31"
) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "test",
            "horizon": {"start": start, "end": end},
            "events": events or [],
        }
    )


def date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def with_defence(world: World, demand_tpa: float = 120.0, cover_weeks: float = 0.0) -> World:
    """The world plus a US defence buyer of NdFeB (priority 3)."""
    defence = Buyer("US", "defence", "NdFeB", demand_tpa, 0.0, cover_weeks, 3)
    return dataclasses.replace(world, buyers=(*world.buyers, defence))

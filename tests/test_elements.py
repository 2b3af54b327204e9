"""Every controlled element is an element of its own: a control on one reaches its users and
nobody else, its users appear in the shortfall tables, and its books balance on its own scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.config.scenario import Scenario
from sim.errors import MassBalanceError
from sim.io.scenario_files import load_scenario
from sim.model.ledger import Ledger
from sim.runs.engine import run
from sim.runs.tables import shortfall_table, summary_table
from sim.units import ELEMENT_ALIASES, ELEMENTS, REGIONS
from sim.world.loader import default_world

CONTROLLED = ("Sm", "Gd", "Tb", "Dy", "Lu", "Sc", "Y", "Ho", "Er", "Tm", "Eu", "Yb")
SPLIT = ("Gd", "Eu", "Ho", "Er", "Tm", "Yb", "Lu", "Sc")  # the former `other` bucket
SCENARIOS = Path(__file__).parent.parent / "scenarios"


def _scenario(events: list[dict]) -> Scenario:
    horizon = {"start": "2024-01-01", "end": "2025-12-31"}
    return Scenario.model_validate({"name": "eu", "horizon": horizon, "events": events})


def _short(table: pd.DataFrame) -> pd.Series:
    """Each material's shortfall by region (t), buyers short of more than a millionth."""
    short = table[table["shortfall_t"] > 1e-6 * table["demand_t"]]
    return short.groupby(["material", "region"])["shortfall_t"].sum()


@pytest.fixture(scope="module")
def europium_ban() -> pd.DataFrame:
    ban = {
        "kind": "export_control",
        "exporter": "CN",
        "destinations": "all",
        "elements": ["Eu"],
        "forms": ["oxide"],
        "mode": "ban",
        "start": "2024-03-01",
    }
    return shortfall_table(run(default_world(), _scenario([ban])))


def test_every_element_a_control_names_is_an_element_of_its_own() -> None:
    assert {ELEMENT_ALIASES[e] for e in CONTROLLED} == set(CONTROLLED)
    assert "other" not in ELEMENTS and ELEMENT_ALIASES["Nd"] == ELEMENT_ALIASES["Pr"] == "NdPr"


def test_a_control_on_europium_reaches_europium_users_and_nobody_else(europium_ban) -> None:
    base = _short(shortfall_table(run(default_world(), _scenario([]))))
    assert base.empty  # nobody is short without the control
    short = _short(europium_ban)
    assert set(short.index.get_level_values("material")) == {"Eu"}
    assert set(short.index.get_level_values("region")) == set(REGIONS) - {"CN"}


def test_each_split_element_has_its_buyers_in_the_shortfall_and_summary_tables(
    europium_ban,
) -> None:
    summary = summary_table(europium_ban)
    for table in (europium_ban, summary):
        buyers = table.groupby("material")["region"].nunique()
        for element in SPLIT:
            assert buyers.get(element, 0) == len(REGIONS), element
    eu = summary[summary["material"] == "Eu"].set_index("region")
    assert (eu.drop(index="CN")["shortfall_t"] > 0).all()


@pytest.mark.parametrize("element", ["Lu", "Sc", "Tm"])
def test_the_books_of_a_scarce_element_are_held_to_its_own_scale(element: str) -> None:
    # a gram of lutetium created in a world that moves 100,000 t of cerium is caught: 1e-7 of
    # the element's 10 t, though 1e-11 of all the world's tonnes
    ledger = Ledger(1)
    ledger.open(np.zeros((1, len(ELEMENTS))))
    e = ELEMENTS.index(element)
    ledger.mined[0, ELEMENTS.index("Ce")] = 1e5
    ledger.mined[0, e] = 10.0
    holdings = ledger.mined.copy()
    holdings[0, e] += 1e-6
    with pytest.raises(MassBalanceError, match=f"for {element} "):
        ledger.check(holdings)


@pytest.mark.parametrize(
    "name", ["china-2025-april-licensing.yaml", "china-2025-october-expansion-lapse.yaml"]
)
def test_the_2025_controls_name_the_real_elements(name: str) -> None:
    named = {
        e
        for event in load_scenario(SCENARIOS / name).events
        if getattr(event, "kind", "") == "export_control" and event.elements != "all"
        for e in event.elements
    }
    assert {"Sm", "Gd", "Tb", "Dy", "Lu", "Sc", "Y"} <= named
    if "october" in name:
        assert {"Ho", "Er", "Tm", "Eu", "Yb"} <= named

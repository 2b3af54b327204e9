"""The 2021-22 NdPr run-up on the 2020 world with its fitted market parameters: the backtest
meets the episode's measures for NdPr oxide, and the run-up is the demand's, not a bubble of
the world's own."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from sim.io.observed import read_observed
from sim.io.scenario_files import load_scenario
from sim.runs.backtest import compare
from sim.runs.engine import PRICE_PRODUCTS, TIERS, run
from sim.runs.episode import Episode, episodes
from sim.world.loader import vintage_world

ROOT = Path(__file__).parent.parent
SCENARIO = ROOT / "scenarios" / "ndpr-run-up-2021.yaml"
OBSERVED = ROOT / "scenarios" / "observed" / "prices-2020-2024.csv"
KEYS = ("ex_china:NdPr_oxide", "china:NdPr_oxide", "ex_china:Dy_oxide")


def measured(with_events: bool) -> dict[str, Episode]:
    scenario = load_scenario(SCENARIO)
    if not with_events:
        scenario = scenario.model_copy(update={"events": []})
    result = run(vintage_world(scenario.world), scenario)
    return {ep.key: ep for ep in episodes(compare(result, read_observed(OBSERVED)), KEYS)}


@pytest.fixture(scope="module")
def run_up() -> dict[str, Episode]:
    return measured(True)


@pytest.mark.parametrize("key", ["ex_china:NdPr_oxide", "china:NdPr_oxide"])
def test_the_run_up_of_ndpr_meets_the_episode_measures(
    run_up: dict[str, Episode], key: str
) -> None:
    """NdPr oxide rises within half to twice the observed multiple (ex-China 2.7x its 2020
    average, China's own 4.4x its May 2020 price), peaks within 4 months of the observed peak
    and loses more than half of it within 18 months, as it did in 2023."""
    assert run_up[key].checks == {"multiple": True, "peak_month": True, "fall": True}


def test_dy_rises_about_as_observed(run_up: dict[str, Episode]) -> None:
    """Ex-China Dy oxide rose 1.6x (2021 over 2020, yearly means): the run rises within half
    to twice that. Its peak month and fall are not measured: yearly means place the observed
    peak at mid-2021 and show a 13% fall, not an episode's."""
    assert run_up["ex_china:Dy_oxide"].checks["multiple"]


def test_the_run_up_is_the_demand_s_not_the_world_s_own() -> None:
    """With no demand event (the 2020 world growing as forecast in 2020) NdPr rises by less
    than 40% of the observed rise: electric cars and wind make the run-up."""
    calm = measured(False)
    for key in ("ex_china:NdPr_oxide", "china:NdPr_oxide"):
        ep = calm[key]
        assert ep.sim_multiple - 1.0 < 0.4 * (ep.obs_multiple - 1.0), (key, ep.sim_multiple)


def test_sim_backtest_measures_the_other_prices_that_rose(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Beyond the acceptance's two prices, `sim backtest` measures every other observed price
    that rose from its first period the same way, without the acceptance's verdicts; prices
    that never rose (La and Ce oxide fell from 2 to 1 US$/kg) get no line."""
    from sim.io.cli import main

    args = ["backtest", str(SCENARIO), "--observed", str(OBSERVED), "--out", str(tmp_path / "o")]
    assert main(args) == 0
    out = capsys.readouterr().out
    head, _, others = out.partition("the other observed prices that rose from their first period:")
    assert "ex_china:NdPr_oxide: peak" in head and "ok within 4" in head
    assert "china:NdPr_oxide: peak" in others and "ex_china:Tb_oxide: peak" in others
    assert "La_oxide" not in others and "Ce_oxide" not in others
    assert "NOT MET" not in others and "ok within" not in others


def test_magnets_in_china_follow_their_raw_materials_cost() -> None:
    """From the low of mid-2020 to the end of 2021 China's NdFeB magnets doubled in price while
    their rare-earth raw materials (PrNd, Dy, Tb) about tripled (Horizon Magnets, "China NdFeB
    magnet output and market in 2021", 2022, with MIIT output figures; D): the run's magnets
    rise 1.5-2.5x over June-July 2020 by December 2021, and less than its NdPr oxide. Magnets'
    own scarcity premium is not fitted (docs/design.md, Known limits); this is its one check
    on history before April 2025."""
    scenario = load_scenario(SCENARIO)
    result = run(vintage_world(scenario.world), scenario)
    dates = result.dates
    mid_2020 = [dates.index(dt.date(2020, 6, 1)), dates.index(dt.date(2020, 7, 1))]
    end_2021 = dates.index(dt.date(2021, 12, 1))
    china = TIERS.index("china")

    def rise(product: str) -> float:
        path = result.prices_usd_per_kg[0, :, PRICE_PRODUCTS.index(product), china]
        return float(path[end_2021] / np.mean(path[mid_2020]))

    magnets, ndpr = rise("NdFeB_magnet"), rise("NdPr_oxide")
    assert 1.5 <= magnets <= 2.5, magnets
    assert magnets < ndpr, (magnets, ndpr)

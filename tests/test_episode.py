"""The 2010-11 episode (issue 14): its acceptance measures on synthetic series, holders'
precautionary cover in price formation, and the backtest of China's 2010 quotas on the 2009
world against the committed observed file."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.io.observed import read_observed
from sim.io.scenario_files import load_scenario
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.runs.backtest import Backtest, compare
from sim.runs.engine import RunResult, run
from sim.runs.episode import Episode, episodes
from sim.runs.fit import calm_limit
from sim.world.loader import vintage_world

ROOT = Path(__file__).parent.parent
SCENARIO = ROOT / "scenarios" / "china-2010-quotas.yaml"
OBSERVED = ROOT / "scenarios" / "observed" / "china-2010-episode.csv"


# -- the measures on known series ----------------------------------------------------------------
def _held(values: np.ndarray, observed: list[tuple[str, float]]) -> Backtest:
    """A backtest of one price key with a monthly simulated path from January 2009 and
    monthly observations at the given months."""
    dates = pd.date_range("2009-01-01", periods=len(values), freq="MS")
    starts = [pd.Timestamp(m + "-01") for m, _ in observed]
    compared = pd.DataFrame(
        {
            "series": "price",
            "key": "ex_china:Dy_oxide",
            "start": [s.date() for s in starts],
            "end": [(s + pd.offsets.MonthBegin(1)).date() for s in starts],
            "simulated": [values[(s.year - 2009) * 12 + s.month - 1] for s in starts],
            "observed": [v for _, v in observed],
        }
    )
    simulated = pd.DataFrame(
        {"date": dates.date, "series": "price", "key": "ex_china:Dy_oxide", "simulated": values}
    )
    empty = pd.DataFrame()
    return Backtest(empty, empty, compared, simulated, [])


def test_the_measures_of_a_known_spike() -> None:
    values = np.full(72, 10.0)
    values[31] = 200.0  # August 2011: 20x January 2009
    values[32:50] = np.linspace(150.0, 60.0, 18)  # 18 months on (February 2013): 60
    observed = [("2009-01", 5.0), ("2011-06", 100.0), ("2013-06", 20.0)]
    (found,) = episodes(_held(values, observed))
    assert found.sim_multiple == pytest.approx(20.0)
    assert found.obs_multiple == pytest.approx(20.0)
    assert found.lag_months == pytest.approx(2.0, abs=0.1)  # August against June
    assert found.sim_fall == pytest.approx(0.7)
    assert found.checks == {"multiple": True, "peak_month": True, "fall": True}


@pytest.mark.parametrize("observed", [[("2009-01", 5.0)], [("2009-01", 5.0), ("2011-06", 9.0)]])
def test_too_few_observations_have_no_episode_to_measure(
    observed: list[tuple[str, float]],
) -> None:
    # a file of pre-event statistics (one Dy price, January 2009) printed "observed 1.0x",
    # its peak in January 2009 and the simulated one 49 months late: NOT MET
    values = np.full(72, 10.0)
    values[31] = 200.0
    assert episodes(_held(values, observed)) == []


def test_each_check_fails_on_its_own() -> None:
    peak = pd.Timestamp("2011-08-15")
    good = Episode("k", 20.0, 20.0, peak, peak, 0.7, 0.76)
    assert all(good.checks.values())
    late = dataclasses.replace(good, sim_peak=peak + pd.DateOffset(months=5))
    assert late.checks == {"multiple": True, "peak_month": False, "fall": True}
    small = dataclasses.replace(good, sim_multiple=9.9)
    assert small.checks == {"multiple": False, "peak_month": True, "fall": True}
    assert not dataclasses.replace(good, sim_fall=0.5).checks["fall"]
    assert not dataclasses.replace(good, sim_fall=float("nan")).checks["fall"]


# -- the 2009 world ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quotas() -> RunResult:
    scenario = load_scenario(SCENARIO)
    return run(vintage_world(scenario.world), scenario)


def _price(res: RunResult, product: str, tier: str) -> np.ndarray:
    return res.prices_usd_per_kg[0, :, PRICE_PRODUCTS.index(product), TIERS.index(tier)]


def test_a_feared_control_raises_the_prices_it_will_reach_before_it_starts(quotas) -> None:  # type: ignore[no-untyped-def]
    """From the draft plan's report (August 2009) to the cut (July 2010) holders outside China
    want more cover, so ex-China oxides rise ahead of the quota, more than half by the month
    before the cut, as observed (Dy oxide 91 -> 280 US$/kg, Nd oxide 14.5 -> 42 by July
    2010), while China's, which the control will not reach, do not."""
    months = [dt.date(2010, m, 1) for m in range(1, 7)]
    first_half = np.isin(np.array(quotas.dates), months)
    before_cut = list(quotas.dates).index(dt.date(2010, 6, 1))
    for product in ("Dy_oxide", "NdPr_oxide"):
        abroad, home = _price(quotas, product, "ex_china"), _price(quotas, product, "china")
        assert abroad[before_cut] > 1.5 * abroad[0], product
        assert home[first_half].mean() < 1.1 * home[0], product
        assert home[before_cut] < 1.1 * home[0], product


def test_without_precaution_the_feared_control_moves_no_price() -> None:
    scenario = load_scenario(SCENARIO)
    world = vintage_world(scenario.world)
    calm = {"announced_cover": 1.0, "holding_sensitivity": 0.0, "stocking_sensitivity": 0.0}
    res = run(dataclasses.replace(world, parameters={**world.parameters, **calm}), scenario)
    months = [dt.date(2010, m, 1) for m in range(1, 7)]
    first_half = np.isin(np.array(res.dates), months)
    path = _price(res, "Dy_oxide", "ex_china")
    assert path[first_half].mean() < 1.1 * path[0]


def test_the_2010_episode_against_the_observed_file(quotas) -> None:  # type: ignore[no-untyped-def]
    """Issue 14's acceptance: ex-China Dy and Nd oxide peak within half to twice their
    observed multiples of January 2009, within 4 months of the observed peaks, and lose more
    than half within 18 months."""
    found = {ep.key: ep for ep in episodes(compare(quotas, read_observed(OBSERVED)))}
    assert set(found) == {"ex_china:Dy_oxide", "ex_china:NdPr_oxide"}
    for key, ep in found.items():
        assert ep.checks == {"multiple": True, "peak_month": True, "fall": True}, (key, ep)


def test_with_no_event_the_2009_world_makes_no_episode_of_its_own() -> None:
    """The 2010-11 spike must come from China's measures: with no event the 2009 world's
    ex-China Dy and Nd oxide stay under a quarter of the observed multiples of the episode (26x
    and 22x January 2009), the bound the fit holds them to. Parameters that meet the episode
    by a bubble of their own fail here (rejected fits of December 2026 took Dy to 33x in
    February 2012, and to ~13x and 8.5x in the episode's months, with no event)."""
    scenario = load_scenario(SCENARIO)
    calm = scenario.model_copy(update={"events": []})
    res = run(vintage_world(scenario.world), calm)
    found = {ep.key: ep for ep in episodes(compare(res, read_observed(OBSERVED)))}
    assert set(found) == {"ex_china:Dy_oxide", "ex_china:NdPr_oxide"}
    for key, ep in found.items():
        assert ep.sim_multiple < calm_limit(ep.obs_multiple), (key, ep.sim_multiple)


def test_the_mining_cap_holds_the_quota_not_all_china_mined(quotas) -> None:  # type: ignore[no-untyped-def]
    """China's 2011-2014 mining cap held the quota's output while about a third of what China
    mined was above the quota (the scenario's sources): China's own NdPr oxide in 2013-2014
    stays near the ~3x its January 2009 price observed (45.7 and 43.8 US$/kg in July 2013
    and August 2014), not the 13x a cap on all China mined gave; and the inspections of
    late 2011 lift China's Dy oxide while they last."""
    years = np.array([d.year for d in quotas.dates])
    nd = _price(quotas, "NdPr_oxide", "china")
    assert nd[(years >= 2013) & (years <= 2014)].mean() < 4.0 * nd[0]
    months = np.array([d.year * 12 + d.month for d in quotas.dates])
    dy = _price(quotas, "Dy_oxide", "china")
    before, during = dy[months == 2011 * 12 + 7][0], dy[months == 2011 * 12 + 12][0]
    assert during > 1.5 * before


def test_chinas_output_answers_price_in_the_2009_world() -> None:
    """The 2009 world's China row (quota plus the output above it) answers the NdPr price as
    today's quota rule does (`vintages/2009/supply_response.csv`): with no event its own
    deficit lifts prices and China mines more by 2013; without the rule it mines as in 2009
    and Dy oxide abroad ends dearer."""
    scenario = load_scenario(SCENARIO)
    calm = scenario.model_copy(update={"events": []})
    world = vintage_world(scenario.world)
    assert [r.id for r in world.supply_responses] == ["china_output"]
    answers, flat = run(world, calm), run(dataclasses.replace(world, supply_responses=()), calm)
    assert _mined(answers, 2013) > 1.05 * _mined(answers, 2009)
    assert _mined(flat, 2013) == pytest.approx(_mined(flat, 2009), rel=1e-6)
    dy = (_price(r, "Dy_oxide", "ex_china")[-12:].mean() for r in (answers, flat))
    assert next(dy) < next(dy)


def _mined(res: RunResult, year: int) -> float:
    """China's mine output in ``year``, t of element."""
    assert res.record.production is not None
    years = np.array([d.year for d in res.dates])
    return float(res.record.production[years == year, res.chain.index["china"]].sum())


def test_traders_who_look_ahead_price_a_cut_when_they_see_it() -> None:
    """With `price_foresight_months` traders price on the cover a few months on if this
    month's change goes on, so the July 2010 cut lifts ex-China oxide prices within months,
    before the stocks it drains are gone; at 0 prices follow the stocks held."""
    scenario = load_scenario(SCENARIO)
    world = vintage_world(scenario.world)
    seen, blind = (
        dataclasses.replace(world, parameters={**world.parameters, "price_foresight_months": m})
        for m in (6.0, 0.0)
    )
    ahead, held = run(seen, scenario), run(blind, scenario)
    months = np.isin(np.array(held.dates), [dt.date(2010, m, 1) for m in (9, 10, 11, 12)])
    for product in ("Dy_oxide", "NdPr_oxide"):
        assert _price(ahead, product, "ex_china")[months].mean() > 1.2 * (
            _price(held, product, "ex_china")[months].mean()
        ), product

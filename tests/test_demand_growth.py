"""`demand_growth` events: some buyers' demand grows at another yearly rate for a while (an
EV boom, a recession), then at its own trend again from the level reached."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.config import draws as sampling
from sim.config.scenario import Scenario
from sim.io.cli import main
from sim.io.scenario_files import load_scenario
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.runs.engine import RunResult, run
from sim.world.loader import vintage_world

START, END = dt.date(2026, 1, 1), dt.date(2028, 1, 1)


def scenario(growth: float | dict[str, object] | None, years: int = 6) -> Scenario:
    events = []
    if growth is not None:
        events.append(
            {
                "kind": "demand_growth",
                "materials": ["NdFeB"],
                "sectors": ["ev_traction"],
                "growth_pa": growth,
                "start": START,
                "end": END,
            }
        )
    data = {
        "name": "boom",
        "horizon": {"start": dt.date(2024, 1, 1), "end": dt.date(2023 + years, 12, 31)},
        "events": events,
    }
    with tempfile.TemporaryDirectory() as folder:  # read as a file is (distributions too)
        path = Path(folder) / "boom.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return load_scenario(path)


def ev_buyers(result: RunResult) -> np.ndarray:
    return np.array(
        [b.sector == "ev_traction" and b.material == "NdFeB" for b in result.chain.buyers]
    )


@pytest.fixture(scope="module")
def runs() -> dict[float | None, RunResult]:
    world = vintage_world("default")
    return {g: run(world, scenario(g)) for g in (None, 0.0, 0.6)}


def test_the_named_buyers_demand_grows_at_the_event_rate_then_at_their_trend(
    runs: dict[float | None, RunResult],
) -> None:
    """Before the start nothing changes; between start and end the named buyers' demand path
    grows by (1 + rate) / (1 + trend) a year over their own; after the end it keeps the
    level reached and grows at its trend. Other buyers' paths never change."""
    calm, boom = runs[None], runs[0.6]
    ev = ev_buyers(boom)
    path = calm.demand_path  # before price answers (cheap NdPr in 2024-25 raises use above it)
    grown = boom.demand_path
    dates = boom.dates
    before = dates.index(dt.date(2025, 12, 1))
    assert np.allclose(grown[0, : before + 1], path[0, : before + 1])
    assert np.allclose(grown[0][:, ~ev], path[0][:, ~ev])
    trend = np.array([b.growth_pa for b in boom.chain.buyers])[ev]
    for day in (dt.date(2026, 7, 1), END):
        t = dates.index(day)
        months = t + 0.5 - dates.index(START)
        expected = ((1.6 / (1.0 + trend)) ** (min(months, 24.0) / 12.0))[None]
        assert np.allclose(grown[0, t][ev] / path[0, t][ev], expected[0])
    late = dates.index(dt.date(2029, 6, 1))
    ratio = grown[0, late][ev] / path[0, late][ev]
    assert np.allclose(ratio, (1.6 / (1.0 + trend)) ** 2.0)  # the level reached, held


def test_a_rate_equal_to_the_trend_changes_nothing_and_a_boom_never_helps(
    runs: dict[float | None, RunResult],
) -> None:
    """Zero growth for two years lowers demand; a boom raises it, and with it what buyers go
    without and the price of NdPr oxide and magnets, in both tiers: more demand never helps."""
    calm, flat, boom = runs[None], runs[0.0], runs[0.6]
    ev = ev_buyers(boom)
    assert flat.unmet[0][:, ev].sum() <= calm.unmet[0][:, ev].sum() + 1e-6
    assert flat.record.demand[0][:, ev].sum() < calm.record.demand[0][:, ev].sum()
    assert boom.unmet[0].sum() > calm.unmet[0].sum()
    for product in ("NdPr_oxide", "NdFeB_magnet"):
        for tier in TIERS:
            k, j = PRICE_PRODUCTS.index(product), TIERS.index(tier)
            high, low = boom.prices_usd_per_kg[0][:, k, j], calm.prices_usd_per_kg[0][:, k, j]
            assert high.max() > low.max() * 1.2, (product, tier)
    for result in runs.values():
        assert abs(result.residual) < 1e-6  # mass balance


def test_a_drawn_rate_gives_each_sample_its_own_demand() -> None:
    world = vintage_world("default")
    uncertain = scenario({"dist": "uniform", "low": 0.1, "high": 0.9}, years=3)
    draws = sampling.draw(uncertain, 3, 7)
    result = run(world, uncertain, samples=3, draws=draws)
    ev = ev_buyers(result)
    last = result.unmet[:, -1][:, ev].sum(axis=1) + result.record.delivered[:, -1][:, ev].sum(
        axis=1
    )
    order = np.argsort(draws["events[0].growth_pa"])
    assert np.all(np.diff(last[order]) > 0)  # a higher rate, more demand


def test_a_demand_growth_naming_no_buyer_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nhorizon: {start: 2024-01-01, end: 2026-12-31}\nevents:\n"
        "  - kind: demand_growth\n    sectors: [ev_tractoin]\n    growth_pa: 0.3\n"
        "    start: 2025-01-01\n",
        encoding="utf-8",
    )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "events[0].sectors" in err and "ev_tractoin" in err and "Traceback" not in err
    path.write_text(path.read_text().replace("ev_tractoin", "ev_traction").replace("0.3", "5"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "events[0].growth_pa" in err and ":6:" in err

"""Demand response: substitution follows price with a lag and lowers shortfall; end-of-life
recycling brings material back into the books; both are per-sample inputs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from sim.errors import InputError
from sim.io.scenario_files import load_scenario
from sim.runs.engine import run
from tests.worlds import one_chain, scenario

M0 = 12  # 2025-01 in a horizon from 2024-01
BAN = {
    "kind": "export_control",
    "exporter": "CN",
    "destinations": ["US"],
    "forms": ["magnet"],
    "mode": "quota",
    "share": 0.3,
    "start": "2025-01-01",
    "end": "2025-12-31",
}
SUB = {
    "kind": "substitution",
    "materials": ["NdFeB"],
    "max_share": 0.4,
    "trigger_price_ratio": 1.5,
    "full_price_ratio": 4.0,
    "adoption_months": 6.0,
    "start": "2024-01-01",
}


def _short(events: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    res = run(one_chain(cover_weeks=2.0), scenario(events))
    assert res.residual < 1e-9
    return res.shortfall[0, :, 0], res.record.demand[0, :, 0]


def test_substitution_needs_a_price_rise() -> None:
    base_short, base_demand = _short([])
    short, demand = _short([SUB])
    assert np.array_equal(demand, base_demand) and np.array_equal(short, base_short)


def test_substitution_lowers_demand_and_shortfall_after_a_price_rise_with_a_lag() -> None:
    short0, demand0 = _short([BAN])
    short1, demand1 = _short([BAN, SUB])
    assert np.array_equal(demand1[:M0], demand0[:M0])  # nothing before prices rise
    switched = 1.0 - demand1 / demand0
    assert switched.max() <= 0.4 + 1e-12
    assert switched[M0 + 1] < switched[M0 + 6]  # it builds up over months
    assert switched[-1] > 0.1  # sticky: redesigned motors stay redesigned after the control
    assert short1.sum() < short0.sum() - 1.0


def test_faster_or_larger_substitution_never_raises_the_shortfall() -> None:
    slow, _ = _short([BAN, SUB])
    fast, _ = _short([BAN, {**SUB, "adoption_months": 1.0}])
    big, _ = _short([BAN, {**SUB, "max_share": 0.8}])
    assert fast.sum() <= slow.sum() + 1e-6
    assert big.sum() <= slow.sum() + 1e-6


def test_reversible_substitution_returns_when_the_price_falls() -> None:
    _, demand0 = _short([BAN])
    _, sticky = _short([BAN, SUB])
    _, back = _short([BAN, {**SUB, "reversible": True}])
    assert 1 - back[-1] / demand0[-1] < 1 - sticky[-1] / demand0[-1]


REC = {
    "kind": "recycling",
    "region": "US",
    "material": "NdFeB",
    "collection_share": 0.5,
    "life_years": 5,
    "ramp_months": 0,
    "facility": "s",
    "start": "2024-06-01",
}


def test_recycling_returns_half_of_five_year_old_magnets_into_the_books() -> None:
    world = one_chain(cover_weeks=2.0)
    without = run(world, scenario([]))
    with_rec = run(world, scenario([REC]))
    assert with_rec.residual < 1e-9
    assert np.array_equal(with_rec.shortfall, without.shortfall)
    gained = (with_rec.state.holdings(with_rec.chain) - without.state.holdings(without.chain))[0]
    months = 31  # June 2024 to December 2026; 100 t of magnet a month, no growth
    per_month = 0.5 * 100.0 * 0.8  # collected x recovered (swarf recovery 0.8 in tests)
    assert gained[0] == pytest.approx(months * per_month * 0.29, rel=1e-9)  # NdPr
    assert gained[1] == pytest.approx(months * per_month * 0.02, rel=1e-9)  # Dy
    assert gained[2:].sum() == pytest.approx(0.0, abs=1e-9)


def test_lever_draws_per_sample_equal_single_runs() -> None:
    world = one_chain(cover_weeks=2.0)
    shares, collect = [0.1, 0.4, 0.7], [0.2, 0.5, 0.9]
    draws = {
        "events[1].max_share": np.array(shares),
        "events[2].collection_share": np.array(collect),
        "events[1].start": np.array([dt.date(2024, m, 1).toordinal() for m in (1, 3, 9)], float),
    }
    batch = run(
        world,
        scenario([BAN, SUB, {**REC, "start": "2024-01-01"}]),
        samples=3,
        draws=draws,
        detail=False,
    )
    for s, month in enumerate((1, 3, 9)):
        alone = run(
            world,
            scenario(
                [
                    BAN,
                    {**SUB, "max_share": shares[s], "start": f"2024-{month:02d}-01"},
                    {**REC, "start": "2024-01-01", "collection_share": collect[s]},
                ]
            ),
            detail=False,
        )
        assert np.array_equal(batch.shortfall[s], alone.shortfall[0])


@pytest.mark.parametrize(
    ("event", "expect"),
    [
        ({**SUB, "full_price_ratio": 1.2}, "must exceed"),
        ({**SUB, "regions": ["XX"]}, "events[0].regions: unknown name"),
        ({**SUB, "max_share": 1.5}, "events[0].max_share"),
        ({**REC, "facility": "g"}, "events[0].facility: not a separation plant"),
        ({**REC, "region": "Mars"}, "events[0].region: unknown demand region"),
    ],
)
def test_bad_demand_response_input_names_its_field(
    tmp_path: Path, event: dict, expect: str
) -> None:
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "bad",
                "horizon": {"start": "2024-01-01", "end": "2026-12-31"},
                "events": [event],
            }
        )
    )
    with pytest.raises(InputError) as err:
        load_scenario(path, one_chain())
    assert expect in str(err.value) and f"{path}:" in str(err.value)

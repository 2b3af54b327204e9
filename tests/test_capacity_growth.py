"""`capacity_growth`: a country's facilities grow at another yearly rate for a while (China's
quotas as a policy). Its capacity follows its formula, only its facilities move, slower growth
never helps, and a drawn rate gives what a single run at that rate gives."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import InputError
from sim.io.scenario_files import load_scenario
from sim.model.capacity import capacity_at
from sim.model.chain import Chain
from sim.runs.engine import RunResult, run
from sim.units import month_index
from sim.world.loader import default_world
from tests.worlds import date, scenario

START, END = "2025-01-01", "2027-01-01"


def _growth(rate: float, end: str | None = END) -> dict:
    event = {"kind": "capacity_growth", "country": "CN", "growth_pa": rate, "start": START}
    return event | ({"end": end} if end else {})


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return default_world()


def _capacity(chain: Chain, step: int) -> np.ndarray:
    """``[S, F]`` the chain's capacity at ``step`` with no outage."""
    return capacity_at(
        chain.tranches,
        step,
        chain.warmup,
        chain.samples,
        chain.outages,
        [np.zeros(chain.samples) for _ in chain.outages],
        chain.growth_changes,
    )[0]


def test_capacity_follows_the_formula_for_the_facilities_reached(world) -> None:  # type: ignore[no-untyped-def]
    plain = Chain(world, scenario(end="2028-12-31"), 1, 12)
    slowed = Chain(world, scenario([_growth(0.02)], end="2028-12-31"), 1, 12)
    start = round(month_index(plain.origin, date(START)))
    end = round(month_index(plain.origin, date(END)))
    # China's mines and separation plants; not recovered scrap, which no mining quota governs
    reached = np.array(
        [
            f.country == "CN" and f.stage in ("mine", "separation") and not f.secondary
            for f in plain.facilities
        ]
    )
    assert any(f.secondary and f.country == "CN" for f in plain.facilities)
    trend = np.array([f.growth_pa for f in plain.facilities])
    assert reached.sum() >= 2 and (trend[reached] > 0.02).all()
    for step in (0, start - 1, start, start + 7, end - 1, end, end + 13, plain.steps - 1):
        years = min(max(step + 0.5 - start, 0.0), end - start) / 12.0
        expected = np.where(reached, (1.02 / (1.0 + trend)) ** years, 1.0)
        np.testing.assert_allclose(
            _capacity(slowed, step)[0], _capacity(plain, step)[0] * expected, rtol=1e-12
        )


def _unmet(res: RunResult) -> float:
    return float(res.unmet.sum())


def _ndpr_peak(res: RunResult) -> float:
    from sim.model.levers.economics import PRICE_PRODUCTS

    return float(res.prices_usd_per_kg[0, :, PRICE_PRODUCTS.index("NdPr_oxide")].max())


def test_slower_growth_never_helps(world) -> None:  # type: ignore[no-untyped-def]
    # China's quota growing at 2%, 6% or its trend (10.7%) from 2025 to 2030: the slower,
    # the more buyers miss and the dearer NdPr gets.
    runs = [
        run(world, scenario([_growth(rate, "2030-01-01")], end="2030-12-31"), detail=False)
        for rate in (0.02, 0.06)
    ]
    runs.append(run(world, scenario(end="2030-12-31"), detail=False))
    unmet = [_unmet(r) for r in runs]
    peaks = [_ndpr_peak(r) for r in runs]
    assert unmet[0] > unmet[1] >= unmet[2] - 1e-6, unmet
    assert peaks[0] > peaks[1] > peaks[2], peaks


def test_a_drawn_rate_gives_the_single_run_at_that_rate(world) -> None:  # type: ignore[no-untyped-def]
    swept = scenario([_growth(0.05)], end="2026-12-31")  # the draws replace its rate
    rates = np.array([0.01, 0.08])
    batch = run(world, swept, samples=2, draws={"events[0].growth_pa": rates})
    for i, rate in enumerate(rates):
        alone = run(world, scenario([_growth(float(rate))], end="2026-12-31"))
        np.testing.assert_array_equal(batch.shortfall[i], alone.shortfall[0])
        np.testing.assert_array_equal(batch.prices_usd_per_kg[i], alone.prices_usd_per_kg[0])


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("country: FR\n    stages: [mine]", "stages: FR has no facility of these stages"),
        ("country: ZZ", "country: unknown country"),
        ("country: CN\n    growth_pa: 3", "growth_pa: Input should be less than or equal to 1"),
    ],
)
def test_bad_growth_events_are_refused_with_their_place(tmp_path, fields, expected) -> None:  # type: ignore[no-untyped-def]
    text = (
        "name: bad\nhorizon: {start: 2024-01-01, end: 2026-12-31}\nevents:\n"
        f"  - kind: capacity_growth\n    {fields}\n    start: 2025-01-01\n"
    )
    if "growth_pa" not in fields:
        text += "    growth_pa: 0.03\n"
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert f"{path}:" in str(info.value) and f"events[0].{expected}" in str(info.value)

"""A `production_cap` holds a facility's output at most at a tonnage (China's mining quota as
a tonnage): neither the facility's growth nor its answer to price lifts it, below it nothing
changes, a tighter cap never lowers a shortfall, and a bad reference is an input error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import InputError
from sim.io.scenario_files import load_scenario
from sim.runs.engine import RunResult, run
from sim.units import REO_TO_ELEMENT
from sim.world.loader import default_world
from tests.worlds import scenario

END = "2028-12-31"


def _cap(tpa: float, start: str = "2025-01-01", **more: str) -> dict:
    return {"kind": "production_cap", "facility": "china", "tpa": tpa, "start": start, **more}


def _mined(res: RunResult) -> dict[int, float]:
    """China's mine output, t REO a calendar year."""
    i = res.chain.index["china"]
    assert res.record.production is not None
    reo = (res.record.production[:, i] / REO_TO_ELEMENT[None]).sum(axis=1)
    years = np.array([d.year for d in res.dates])
    return {int(y): float(reo[years == y].sum()) for y in np.unique(years)}


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return default_world()


@pytest.fixture(scope="module")
def free(world) -> RunResult:  # type: ignore[no-untyped-def]
    return run(world, scenario(end=END))


def test_a_cap_holds_output_at_its_tonnage_whatever_growth_and_price_say(world, free) -> None:  # type: ignore[no-untyped-def]
    # with no cap China's quota grows with trend and with the NdPr price (supply_response.csv)
    assert _mined(free)[2027] > 1.2 * 270_000
    capped = run(world, scenario([_cap(270_000)], end=END))
    mined = _mined(capped)
    assert mined[2024] == pytest.approx(_mined(free)[2024])  # before it: as without it
    for year in (2025, 2026, 2027, 2028):
        assert mined[year] == pytest.approx(270_000, rel=1e-9)


def test_a_cap_above_output_changes_nothing(world, free) -> None:  # type: ignore[no-untyped-def]
    loose = run(world, scenario([_cap(5_000_000)], end=END))
    np.testing.assert_array_equal(loose.shortfall, free.shortfall)
    np.testing.assert_array_equal(loose.prices_usd_per_kg, free.prices_usd_per_kg)


def test_a_cap_in_force_for_part_of_a_month_holds_that_part(world) -> None:  # type: ignore[no-untyped-def]
    # from the 16th of January 2025 to the end of March: half of January at the cap
    res = run(world, scenario([_cap(120_000, "2025-01-16", end="2025-04-01")], end=END))
    i = res.chain.index["china"]
    assert res.record.production is not None
    reo = (res.record.production[:, i] / REO_TO_ELEMENT[None]).sum(axis=1)
    month = {d: reo[t] for t, d in enumerate(res.dates)}
    jan, feb, apr = (month[d] for d in sorted(month) if d.year == 2025 and d.month in (1, 2, 4))
    assert feb == pytest.approx(10_000, rel=1e-9)
    assert apr > 2 * feb  # lifted in April
    assert feb < jan < apr


def test_a_tighter_cap_never_lowers_the_shortfall(world) -> None:  # type: ignore[no-untyped-def]
    shortfalls = [
        float(run(world, scenario([_cap(tpa)], end=END), detail=False).unmet.sum())
        for tpa in (400_000, 300_000, 250_000, 200_000)
    ]
    assert shortfalls == sorted(shortfalls)
    assert shortfalls[-1] > shortfalls[0]


def test_a_cap_on_an_unknown_facility_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: t
            horizon: {start: 2024-01-01, end: 2026-12-31}
            events:
              - kind: production_cap
                facility: chna
                tpa: 100000
                start: 2025-01-01
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(InputError) as info:
        load_scenario(path, default_world())
    text = str(info.value)
    assert "s.yaml:5" in text and "events[0].facility" in text and "chna" in text, text
    assert "china" in text, text  # the nearest name


def test_a_cap_must_be_positive(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: t\nhorizon: {start: 2024-01-01, end: 2026-12-31}\nevents:\n"
        "  - {kind: production_cap, facility: china, tpa: 0, start: 2025-01-01}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert "events[0].tpa" in str(info.value), str(info.value)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    facility=st.sampled_from([f.id for f in default_world().facilities]),
    share=st.floats(0.05, 1.0),
    month=st.integers(0, 30),
)
def test_a_tighter_cap_on_any_facility_never_lowers_the_worlds_shortfall(
    world,
    free,
    facility: str,
    share: float,
    month: int,  # type: ignore[no-untyped-def]
) -> None:
    """Capping any facility at a share of its 2024 output, then at half that, never lowers
    the world's shortfall, as less capacity never does (tests/test_more_capacity.py). (With
    what buyers gave up for price counted too it can, by a little: Japan's metal plant capped
    at half its 2024 output rather than all of it lowers that by 14 t of 6,144 by 2028, as
    its input stocks move the prices' cover: docs/design.md, Export controls.)"""
    i = free.chain.index[facility]
    assert free.record.production is not None
    made = free.record.production[:12, i].sum()  # 2024, t of its product's elements
    start = f"{2024 + month // 12}-{month % 12 + 1:02d}-01"
    cap = {"kind": "production_cap", "facility": facility, "start": start}
    loose, tight = (
        run(world, scenario([cap | {"tpa": max(made * s, 1.0)}], end=END), detail=False)
        for s in (share, share / 2)
    )
    tolerance = max(1.0, 1e-6 * float(free.record.demand.sum()))
    assert tight.shortfall.sum() >= loose.shortfall.sum() - tolerance, facility

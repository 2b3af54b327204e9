"""Schedules of a control's numbers: steps are the chained controls they replace, a ramp's
monthly values are its formula's means, scheduled review delays open windows with no grants,
a sweep of a schedule's parts equals single runs, and bad schedules are refused at their line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from sim.config import draws as draws_module
from sim.errors import InputError
from sim.io.scenario_files import load_scenario
from sim.runs.engine import RunResult, run
from sim.units import DAYS_PER_MONTH, month_index
from sim.world.loader import default_world
from tests.worlds import one_chain, scenario

HORIZON = {"start": "2024-01-01", "end": "2027-12-31"}
ORIGIN = dt.date(2024, 1, 1)
APRIL = {
    "kind": "export_control",
    "exporter": "CN",
    "elements": ["Dy", "Tb", "Sm"],
    "forms": ["oxide", "metal", "magnet"],
    "mode": "licence",
    "review_delay_days": 63,
    "announced": "2025-04-04",
    "start": "2025-04-04",
}


def _same(a: RunResult, b: RunResult) -> None:
    """Two runs' outputs are identical, month by month."""
    assert np.array_equal(a.shortfall, b.shortfall)
    assert np.array_equal(a.unmet, b.unmet)
    assert np.array_equal(a.prices_usd_per_kg, b.prices_usd_per_kg, equal_nan=True)
    assert np.array_equal(a.record.delivered, b.record.delivered)


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return default_world()


def test_step_schedule_of_approvals_equals_the_chained_licences_it_replaces(world) -> None:  # type: ignore[no-untyped-def]
    steps = [
        {"from": "2025-04-04", "value": 0.1},
        {"from": "2025-07-01", "value": 0.5},
        {"from": "2026-01-01", "value": 0.3},
    ]
    scheduled = run(world, scenario([{**APRIL, "approval_rate": {"steps": steps}}], **HORIZON))
    chained = [
        {**APRIL, "approval_rate": 0.1, "end": "2025-07-01"},
        {**APRIL, "approval_rate": 0.5, "start": "2025-07-01", "end": "2026-01-01"},
        {**APRIL, "approval_rate": 0.3, "start": "2026-01-01"},
    ]
    for later in chained[1:]:
        later.update(review_delay_days=0, announced=later["start"])
    _same(scheduled, run(world, scenario(chained, **HORIZON)))
    plain = run(world, scenario([{**APRIL, "approval_rate": 0.1}], **HORIZON))
    assert not np.array_equal(scheduled.shortfall, plain.shortfall)  # the steps matter


def test_step_schedule_of_a_quota_equals_the_chained_quotas_it_replaces(world) -> None:  # type: ignore[no-untyped-def]
    quota = {k: v for k, v in APRIL.items() if k != "review_delay_days"} | {"mode": "quota"}
    steps = [{"from": "2025-01-01", "value": 0.2}, {"from": "2025-10-01", "value": 0.7}]
    scheduled = run(world, scenario([{**quota, "share": {"steps": steps}}], **HORIZON))
    chained = [
        {**quota, "share": 0.2, "end": "2025-10-01"},
        {**quota, "share": 0.7, "start": "2025-10-01", "announced": "2025-10-01"},
    ]
    _same(scheduled, run(world, scenario(chained, **HORIZON)))


def _month_means(formula, steps: range) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The mean of ``formula(months)`` over each step, by the midpoint rule (4,000 points)."""
    points = (np.arange(4000) + 0.5) / 4000
    return np.array([formula(step + points).mean() for step in steps])


@pytest.mark.parametrize("shape", ["linear", "logistic"])
def test_a_ramps_monthly_values_are_the_means_of_its_formula(shape: str) -> None:
    midpoint, width = "2025-03-16", 5.0
    ramp = {"from": 0.1, "to": 0.6, "shape": shape, "midpoint": midpoint, "width_months": width}
    event = {
        "kind": "export_control",
        "exporter": "CN",
        "forms": ["magnet"],
        "mode": "quota",
        "share": {"ramp": ramp},
        "start": "2024-07-01",
    }
    res = run(one_chain(cover_weeks=0.0), scenario([event]))
    mid = month_index(ORIGIN, dt.date.fromisoformat(midpoint))

    def share(months: np.ndarray) -> np.ndarray:
        u = (months - mid) / width
        rise = np.clip(u + 0.5, 0, 1) if shape == "linear" else 1 / (1 + np.exp(-4 * u))
        return 0.1 + 0.5 * rise

    steps = range(6, 36)  # from the control's start (July 2024) to the horizon's end
    expected = _month_means(share, steps)
    control = res.chain.controls[0]
    assert np.allclose([control.at(s)[0] for s in steps], 1.0 - expected, rtol=0, atol=1e-9)
    got, demand = res.record.delivered[0, :, 0], res.record.demand[0, :, 0]
    assert np.allclose(got[steps.start :], expected * demand[steps.start :], rtol=1e-6)
    assert np.allclose(got[: steps.start], demand[: steps.start])


def test_longer_reviews_open_a_window_with_no_grants_and_shorter_ones_none() -> None:
    month = DAYS_PER_MONTH
    delays = [
        {"from": "2025-01-01", "value": 1 * month},
        {"from": "2025-07-01", "value": 3 * month},  # longer: nothing granted Aug-Sep 2025
        {"from": "2026-01-01", "value": 1 * month},  # shorter: no gap
    ]
    event = {
        "kind": "export_control",
        "exporter": "CN",
        "forms": ["magnet"],
        "mode": "licence",
        "approval_rate": 0.5,
        "review_delay_days": {"steps": delays},
        "start": "2025-01-01",
    }
    res = run(one_chain(cover_weeks=0.0), scenario([event]))
    got, demand = res.record.delivered[0, :, 0], res.record.demand[0, :, 0]
    share = got[12:] / demand[12:]  # from January 2025
    expected = np.full(24, 0.5)
    expected[0] = 0.0  # the first review
    expected[7:9] = 0.0  # applications from July wait three months: August, September
    assert np.allclose(share, expected, atol=1e-6)


@pytest.mark.filterwarnings("error")
def test_a_ramped_approval_under_lengthening_reviews_is_withheld_whole_in_the_gap() -> None:
    month = DAYS_PER_MONTH
    ramp = {"from": 0.2, "to": 0.8, "midpoint": "2025-07-01", "width_months": 6}
    delays = [
        {"from": "2025-01-01", "value": 2 * month},
        {"from": "2025-09-01", "value": 4 * month},
    ]
    event = {
        "kind": "export_control",
        "exporter": "CN",
        "forms": ["magnet"],
        "mode": "licence",
        "approval_rate": {"ramp": ramp},
        "review_delay_days": {"steps": delays},
        "start": "2025-01-01",
        "suspended": "2026-03-01",
        "resumed": "2026-05-01",
    }
    res = run(one_chain(cover_weeks=0.0), scenario([event]))
    control = res.chain.controls[0]
    approved = _month_means(lambda t: 0.2 + 0.6 * np.clip((t - 18) / 6 + 0.5, 0, 1), range(36))
    expected = 1.0 - approved
    expected[:12] = 0.0  # before the start
    expected[12:14] = 1.0  # the first review: January and February 2025
    expected[22:24] = 1.0  # applications from September wait four months: Nov, Dec 2025
    expected[26:28] = 0.0  # suspended March to April 2026
    assert np.allclose([control.at(s)[0] for s in range(36)], expected, atol=1e-9)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nhorizon: {start: 2024-01-01, end: 2026-12-31}\nevents:\n" + text,
        encoding="utf-8",
    )
    return path


UNCERTAIN = """\
  - kind: export_control
    exporter: CN
    forms: [magnet]
    mode: licence
    start: 2024-06-01
    review_delay_days:
      steps:
        - {from: 2024-06-01, value: 30}
        - {from: {dist: uniform, low: 2024-09-01, high: 2025-03-01}, value: 90}
    approval_rate:
      steps:
        - from: 2024-06-01
          value: {dist: uniform, low: 0.1, high: 0.4}
        - from: 2025-06-01
          value: 0.8
  - kind: export_control
    exporter: CN
    forms: [oxide]
    mode: quota
    start: 2024-03-01
    share:
      ramp: {from: 0.2, to: {dist: triangular, low: 0.5, mode: 0.7, high: 0.9}, shape: logistic,
             midpoint: {dist: uniform, low: 2024-10-01, high: 2025-12-01}, width_months: 4}
"""


def _written(text: str, values: dict[str, float]) -> str:
    """``text`` with each distribution replaced by the sample's value (dates as ISO)."""
    lines = text.splitlines()
    replaced = {
        "{dist: uniform, low: 2024-09-01, high: 2025-03-01}": (
            "events[0].review_delay_days.steps[1].from"
        ),
        "{dist: uniform, low: 0.1, high: 0.4}": "events[0].approval_rate.steps[0].value",
        "{dist: triangular, low: 0.5, mode: 0.7, high: 0.9}": "events[1].share.ramp.to",
        "{dist: uniform, low: 2024-10-01, high: 2025-12-01}": "events[1].share.ramp.midpoint",
    }
    out = []
    for line in lines:
        for dist, path in replaced.items():
            value = values[path]
            shown = dt.date.fromordinal(int(value)).isoformat() if "-" in dist else repr(value)
            line = line.replace(dist, shown)
        out.append(line)
    return "\n".join(out) + "\n"


def test_a_sweep_of_scheduled_parts_equals_single_runs_at_the_drawn_values(tmp_path: Path) -> None:
    world = one_chain(cover_weeks=2.0, lead_days=20.0)
    swept = load_scenario(_write(tmp_path, UNCERTAIN), world)
    assert len(swept.uncertain) == 4
    drawn = draws_module.draw(swept, 4, seed=3)
    batch = run(world, swept, samples=4, draws=drawn, detail=False)
    assert not np.allclose(batch.shortfall[0], batch.shortfall[1])  # the draws matter
    for s in range(4):
        values = {path: float(column[s]) for path, column in drawn.items()}
        alone_path = tmp_path / f"alone{s}"
        alone_path.mkdir()
        alone = run(world, load_scenario(_write(alone_path, _written(UNCERTAIN, values)), world))
        assert np.array_equal(batch.shortfall[s], alone.shortfall[0])
        assert np.array_equal(
            batch.prices_usd_per_kg[s], alone.prices_usd_per_kg[0], equal_nan=True
        )


CONTROL = """\
  - kind: export_control
    exporter: CN
    mode: {mode}
    start: 2025-04-04
    {field}:
{body}"""


@pytest.mark.parametrize(
    ("mode", "field", "body", "line", "path", "words"),
    [
        (
            "licence",
            "approval_rate",
            "      steps:\n        - {from: 2025-04-04, value: 0.1}\n"
            "        - {from: 2025-07-01, value: 1.5}\n",
            8,
            "events[0].approval_rate.steps[1].value",
            ["less than or equal to 1", "(got 1.5)"],
        ),
        (
            "licence",
            "approval_rate",
            "      steps:\n        - {from: 2025-07-01, value: 0.1}\n"
            "        - {from: 2025-04-04, value: 0.5}\n",
            5,
            "events[0].approval_rate",
            ["date order", "steps[1].from (2025-04-04)"],
        ),
        (
            "licence",
            "approval_rate",
            "      steps:\n        - {from: 2025-05-01, value: 0.1}\n",
            1,
            "events[0]",
            ["approval_rate.steps[0].from (2025-05-01) is after the control's start"],
        ),
        (
            "licence",
            "review_delay_days",
            "      ramp: {from: 30, to: 60, midpoint: 2025-06-01, width_months: 2}\n",
            5,
            "events[0].review_delay_days",
            ["a review delay takes steps, not a ramp"],
        ),
        (
            "quota",
            "share",
            "      ramp: {from: 0.1, to: 0.6, midpiont: 2025-06-01, width_months: 2}\n",
            6,
            "events[0].share.ramp.midpiont",
            ["unknown field; did you mean 'midpoint'?"],
        ),
        (
            "quota",
            "share",
            "      ramp: {from: 0.1, to: 0.6, shape: cubic, midpoint: 2025-06-01,\n"
            "             width_months: 2}\n",
            6,
            "events[0].share.ramp.shape",
            ["'linear' or 'logistic'", "(got 'cubic')"],
        ),
        (
            "quota",
            "share",
            "      stairs: [{from: 2025-04-04, value: 0.1}]\n",
            5,
            "events[0].share",
            ["expected a number from 0 to 1, or a schedule"],
        ),
        (
            "quota",
            "share",
            "      steps:\n        - from: 2025-04-04\n"
            "          value: {dist: normal, mean: 0.5, sd: 0.3}\n",
            8,
            "events[0].share.steps[0].value",
            ["lowest draw is refused", "add bounds"],
        ),
    ],
)
def test_a_bad_schedule_is_refused_at_its_line_and_path(  # type: ignore[no-untyped-def]
    tmp_path: Path, mode: str, field: str, body: str, line: int, path: str, words: list[str]
) -> None:
    file = _write(tmp_path, CONTROL.format(mode=mode, field=field, body=body))
    with pytest.raises(InputError) as caught:
        load_scenario(file, one_chain())
    message = str(caught.value)
    assert message.startswith(f"{file}:{line + 3}: {path}: "), message
    for word in words:
        assert word in message, message

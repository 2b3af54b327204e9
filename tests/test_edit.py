"""`sim.edit`: a scenario changed in Python is the scenario a file with the change gives, is
checked as a file is, and leaves the scenario it came from as it was."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.errors import InputError

SCENARIOS = Path(__file__).parent.parent / "scenarios"
APRIL = SCENARIOS / "china-2025-april-licensing-held.yaml"


def test_an_edit_runs_as_the_file_with_the_change(tmp_path: Path) -> None:
    changed = tmp_path / "changed.yaml"
    text = APRIL.read_text().replace(
        "extends: baseline.yaml", f"extends: {SCENARIOS}/baseline.yaml"
    )
    assert text.count("approval_rate: 0.4\n") == 1
    changed.write_text(text.replace("approval_rate: 0.4\n", "approval_rate: 0.7\n"))
    original = sim.load_scenario(APRIL)
    edited = sim.edit(original, {"events[0].approval_rate": 0.7})
    assert original.events[0].approval_rate == 0.4  # the scenario given is unchanged
    assert edited == sim.load_scenario(changed)
    pd.testing.assert_frame_equal(sim.run(edited).summary, sim.run(changed).summary)


def test_an_edited_uncertain_field_is_no_longer_uncertain() -> None:
    forecast = sim.load_scenario(SCENARIOS / "china-2025-april-forecast.yaml")
    path = "events[0].approval_rate.ramp.to"
    assert path in {u.path for u in forecast.uncertain}
    edited = sim.edit(forecast, {path: 0.9})
    assert edited.events[0].approval_rate.ramp.last == 0.9
    assert path not in {u.path for u in edited.uncertain}
    assert len(edited.uncertain) == len(forecast.uncertain) - 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"events[0].approval_rate": 7}, "events[0].approval_rate: Input should be less than"),
        ({"events[9].approval_rate": 0.5}, "events[9].approval_rate: no such field"),
        ({"horizon.ends": dt.date(2027, 1, 1)}, "horizon.ends: no such field"),
        ({"events[0].exporter": "ZZ"}, "events[0].exporter: unknown country"),
        ({"events[0]approval_rate": 0.5}, "no such field"),
    ],
)
def test_a_bad_edit_is_refused_at_its_field(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InputError) as caught:
        sim.edit(sim.load_scenario(APRIL), changes)
    assert str(caught.value).startswith("<python>: ") and message in str(caught.value)

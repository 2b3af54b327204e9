"""Charts mark events as they are in force: a control suspended before it started is drawn
from its resumption (or not at all), with lines where it is suspended, resumed or ends."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from matplotlib.dates import num2date

from sim.io import plotting
from sim.io.scenario_files import load_scenario
from sim.world.loader import default_world
from tests.worlds import scenario

SCENARIOS = Path(__file__).parent.parent / "scenarios"
BAN = {"kind": "export_control", "exporter": "CN", "mode": "ban", "start": "2025-04-01"}


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.mark.parametrize(
    ("fields", "periods"),
    [
        ({}, [("2025-04-01", None)]),
        ({"end": "2026-01-01"}, [("2025-04-01", "2026-01-01")]),
        ({"suspended": "2025-03-01"}, []),
        ({"suspended": "2025-03-01", "resumed": "2026-11-10"}, [("2026-11-10", None)]),
        (
            {"suspended": "2025-06-01", "resumed": "2025-09-01", "end": "2026-01-01"},
            [("2025-04-01", "2025-06-01"), ("2025-09-01", "2026-01-01")],
        ),
        (
            {"suspended": "2025-06-01", "resumed": "2026-02-01", "end": "2026-01-01"},
            [("2025-04-01", "2025-06-01")],
        ),
        ({"suspended": "2026-06-01", "end": "2026-01-01"}, [("2025-04-01", "2026-01-01")]),
    ],
)
def test_a_control_is_in_force_from_its_start_to_its_end_less_its_suspension(
    fields: dict[str, str], periods: list[tuple[str, str | None]]
) -> None:
    event = scenario([{**BAN, **fields}]).events[0]
    expected = [(_day(a), None if b is None else _day(b)) for a, b in periods]
    assert plotting.in_force(event) == expected


def _lines(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """The dates of the dashed and dotted vertical lines on the first panel of a scenario's
    shortfall chart."""
    figures: list[Any] = []
    monkeypatch.setattr(plotting.Figure, "savefig", lambda fig, path, **_: figures.append(fig))
    loaded = load_scenario(SCENARIOS / f"{name}.yaml", default_world())
    frame = pd.DataFrame(
        {
            "date": ["2025-01-01", "2025-02-01"],
            "region": ["US", "US"],
            "sector": ["ev_traction", "ev_traction"],
            "material": ["NdFeB", "NdFeB"],
            "shortfall_t": [0.0, 1.0],
        }
    )
    plotting.plot_shortfall(frame, loaded, tmp_path / "x.png")
    found: dict[str, set[str]] = {"--": set(), ":": set()}
    for line in figures[0].axes[0].get_lines():
        x = line.get_xdata()
        if line.get_linestyle() in found and len(set(x)) == 1:
            day = x[0] if isinstance(x[0], pd.Timestamp) else num2date(x[0])
            found[line.get_linestyle()].add(f"{day:%Y-%m-%d}")
    return found


def test_the_suspended_october_controls_are_not_drawn_from_their_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = _lines(tmp_path, "china-2025-october-expansion", monkeypatch)
    assert kept == {"--": {"2025-04-04"}, ":": {"2025-11-10"}}  # April's start; the suspension
    lapsed = _lines(tmp_path, "china-2025-october-expansion-lapse", monkeypatch)
    assert lapsed == {"--": {"2025-04-04", "2026-11-10"}, ":": {"2025-11-10"}}  # + resumption


def test_a_title_says_when_each_event_is_in_force() -> None:
    loaded = load_scenario(SCENARIOS / "china-2025-october-expansion-lapse.yaml", default_world())
    text = plotting._events_text(loaded)
    assert "CN licensing (No. 18) from 2025-04-04" in text
    assert "2025-12-01" not in text
    assert "from 2026-11-10 (suspended 2025-11-10, before its start)" in text

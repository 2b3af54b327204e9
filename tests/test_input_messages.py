"""Errors for people (issue 17): a date says how dates are written, a YAML syntax error says
what is probably wrong in plain words, and every problem the schema finds in a file is
reported at once (up to `MAX_REPORTED`), one line each, with exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.errors import InputError
from sim.io.cli import main
from sim.io.scenario_files import load_scenario
from sim.io.scenario_validation import MAX_REPORTED

HEAD = "name: t\nhorizon: {start: 2024-01-01, end: 2026-12-31}\n"
OUTAGE = "  - kind: outage\n    facility: mt_weld\n    start: 2025-01-01\n    end: 2025-06-01\n"


def _refused(tmp_path: Path, text: str) -> InputError:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_scenario(path)
    return info.value


@pytest.mark.parametrize("written", ["01/03/2026", "2027-3-1", "2025-13-01", "March 2026"])
def test_a_bad_date_says_how_dates_are_written(tmp_path: Path, written: str) -> None:
    error = _refused(tmp_path, f"name: t\nhorizon: {{start: {written}, end: 2030-01-01}}\n")
    assert "horizon.start" in str(error) and "YYYY-MM-DD" in str(error), str(error)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("name: t\nhorizon:\n  start: 2024-01-01\n   end: 2026-01-01\n", "indented"),
        (HEAD + "events:\n  - kind: outage\n    facility: x\n   start: 2025-01-01\n", "indented"),
        ("name: t\nhorizon:\n\tstart: 2024-01-01\n", "tab"),
        ('name: "t\nhorizon: {start: 2024-01-01\n', "not closed"),
    ],
)
def test_a_yaml_syntax_error_says_what_is_probably_wrong(
    tmp_path: Path, text: str, hint: str
) -> None:
    error = _refused(tmp_path, text)
    assert "not valid YAML" in str(error) and hint in str(error), str(error)
    assert error.line is not None


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    text = HEAD + "events:\n" + OUTAGE.replace("2025-06-01", "2024-06-01")  # ends first
    text += OUTAGE.replace("    start: 2025-01-01\n", "    share: 3\n    start: 20250101\n")
    text += "  - kind: stockpile\n    regoin: US\n    start: 2025-01-01\n"
    error = _refused(tmp_path, text)
    problems = [str(e) for e in (error, *error.others)]
    assert "events[2].regoin: unknown field; did you mean 'region'?" in problems[0]
    assert any("events[0]: end (2024-06-01) must be after start" in p for p in problems)
    assert any("events[1].share" in p for p in problems)
    assert any("events[1].start: must be a date" in p for p in problems)
    assert any("events[2].material: required field is missing" in p for p in problems)
    # the misspelt field is not also reported missing
    assert not any("events[2].region: required" in p for p in problems)
    assert main(["validate", str(tmp_path / "bad.yaml")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == len(problems) and all(line.startswith("error: ") for line in lines)


def test_at_most_so_many_problems_are_reported(tmp_path: Path) -> None:
    bad = OUTAGE.replace("    start: 2025-01-01\n", "    share: 3\n    start: 2025-01-01\n")
    error = _refused(tmp_path, HEAD + "events:\n" + bad * (MAX_REPORTED + 5))
    assert len(error.others) == MAX_REPORTED - 1
    assert "and 5 more problems not shown" in str(error.others[-1])

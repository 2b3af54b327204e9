"""The command line, through `sim.io.cli.main(argv)`: exit statuses, messages and run folders."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sim.io.cli import main
from sim.version import __version__

ROOT = Path(__file__).parent.parent
SCENARIOS = ROOT / "scenarios"
BAN = SCENARIOS / "china-magnet-ban-us.yaml"

SHORT = """\
name: short
horizon:
  start: 2024-01-01
  end: 2024-06-30
"""
HEADERS = {
    "shortfall.csv": "date,region,sector,material,demand_t,delivered_t,shortfall_t",
    "flows.csv": "date,stage,source,target,source_country,target_country,form,element,tonnes",
    "prices.csv": "date,market,product,usd_per_kg",
}


def header(path: Path) -> str:
    with path.open(encoding="utf-8") as f:
        return f.readline().rstrip("\r\n")


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


def no_partial(root: Path) -> None:
    assert not [p for p in root.rglob("*") if "partial" in p.name]


# -- validate ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_validate_good_file(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "valid" in out and path.stem in out
    assert err == ""


def test_validate_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        SHORT + "events:\n  - kind: outage\n    facility: mountain_pass\n"
        "    start: 2024-02-01\n    end: 2024-03-01\n    share: 1.5\n"
    )
    assert main(["validate", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{bad}:10: events[0].share: " in err
    assert "(got 1.5)" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "name: [unclosed\n",
        "- a\n- b\n",
        "a: 1\na: 2\n",
        "name: t\nhorizon:\n  start: 2024-13-45\n",
        "x: \x00\n",
    ],
)
def test_validate_broken_yaml(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert re.match(rf"error: {re.escape(str(bad))}:\d+: ", err), err
    assert "Traceback" not in err


def test_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml" in err and "no such file" in err and "Traceback" not in err


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["run", str(BAN), "--seed", "many"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "validate" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_python_m_sim_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sim", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"sim {__version__}"


def test_python_m_sim_input_error_exit_status(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\nhorizon: 3\n")
    done = subprocess.run(
        [sys.executable, "-m", "sim", "validate", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{bad}:2: horizon: " in done.stderr and "Traceback" not in done.stderr


def test_a_closed_stdout_is_no_error(tmp_path: Path) -> None:
    """``sim run ... | head -1``: the reader stops reading; the run is written, nothing said."""
    scenario = tmp_path / "short.yaml"
    scenario.write_text(SHORT)
    command = [sys.executable, "-m", "sim", "run", str(scenario), "--out", str(tmp_path / "out")]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # before the child prints anything
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=120) == 0, stderr
    # nothing said but, on a first run, the note that the kernels are compiling
    said = [line for line in stderr.splitlines() if not line.startswith("note: this first run")]
    assert said == []
    assert (tmp_path / "out" / "manifest.json").exists()


# -- run --------------------------------------------------------------------------------------
def test_run_writes_a_complete_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["run", str(BAN), "--out", str(out), "--seed", "7", "--format", "csv"]) == 0
    printed, err = capsys.readouterr()
    assert "Traceback" not in err
    assert "china-magnet-ban-us" in printed and "mass-balance residual" in printed
    assert "shortfall" in printed and f"wrote {out}" in printed

    for name in (
        "shortfall.csv",
        "flows.csv",
        "stocks.csv",
        "prices.csv",
        "manifest.json",
        "shortfall.png",
        "summary.csv",
        "production.csv",
    ):
        assert (out / name).is_file(), name
        assert (out / name).stat().st_size > 0, name
    for name, expected in HEADERS.items():
        assert header(out / name) == expected, name
    assert header(out / "stocks.csv").startswith("date,")
    assert (out / "shortfall.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    manifest = json.loads((out / "manifest.json").read_text())
    for key in (
        "scenario",
        "scenario_hash",
        "seed",
        "version",
        "horizon",
        "wall_seconds",
        "mass_balance_residual",
    ):
        assert key in manifest, key
    assert manifest["scenario"] == "china-magnet-ban-us"
    assert manifest["seed"] == 7 and manifest["version"] == __version__
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["scenario_hash"])
    assert manifest["horizon"]["start"] == "2024-01-01"
    assert manifest["horizon"]["end"] == "2029-12-31"
    assert 0 <= manifest["mass_balance_residual"] <= 1e-9
    assert manifest["wall_seconds"] >= 0
    assert set(manifest["files"]) == {p.name for p in out.iterdir()}
    no_partial(tmp_path)

    # A second run into the same folder is refused before any work, and touches nothing.
    before = snapshot(out)
    assert main(["run", str(BAN), "--out", str(out)]) == 2
    printed, err = capsys.readouterr()
    assert "already exists" in err and str(out) in err and "Traceback" not in err
    assert snapshot(out) == before
    no_partial(tmp_path)


def test_run_default_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "short.yaml"
    scenario.write_text(SHORT)
    results = tmp_path / "results"
    assert main(["run", str(scenario), "--results", str(results)]) == 0
    assert main(["run", str(scenario), "--results", str(results)]) == 0
    capsys.readouterr()
    folders = sorted(p for p in (results / "short").iterdir())
    assert len(folders) == 2 and folders[0] != folders[1]
    for folder in folders:
        assert re.fullmatch(r"\d{8}T\d{6}Z(-\d+)?", folder.name), folder.name
        assert (folder / "manifest.json").is_file() and (folder / "shortfall.parquet").is_file()
    no_partial(tmp_path)


def test_run_bad_scenario_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\nhorizon:\n  start: 2024-01-01\n  end: 2023-01-01\n")
    assert main(["run", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: horizon: " in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
    assert main(["run", str(bad), "--results", str(tmp_path / "results")]) == 2
    assert not (tmp_path / "results").exists()


def test_run_out_under_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "short.yaml"
    scenario.write_text(SHORT)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["run", str(scenario), "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert blocker.read_text() == "not a folder"
    no_partial(tmp_path)


def test_calibrate_prints_measures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate"]) == 0
    out = capsys.readouterr().out
    assert "world_mine_t_reo" in out and "target:" in out


def test_a_horizon_past_the_world_trends_gets_a_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the default world's constant growth trends hold to 2035: past it the baseline runs short
    # from about 2040, which a user running to 2050 should be told
    path = tmp_path / "long.yaml"
    path.write_text("name: long\nhorizon: {start: 2024-01-01, end: 2036-06-30}\n")
    assert main(["validate", str(path)]) == 0
    assert "notice: long runs past 2035" in capsys.readouterr().err
    short = tmp_path / "short.yaml"
    short.write_text("name: short\nhorizon: {start: 2024-01-01, end: 2035-12-31}\n")
    assert main(["validate", str(short)]) == 0
    assert "notice" not in capsys.readouterr().err

"""`sim sweep`, `sim compare` and `sim sensitivity` on the default world: the files they
write, their refusals, and a sweep killed part-way that resumes to the same numbers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim.io.cli import main
from tests.terminal import like_a_terminal

ROOT = Path(__file__).parent.parent
SWEEP = """\
name: {name}
horizon: {{start: 2025-01-01, end: 2025-12-31}}
events:
  - kind: export_control
    label: CN magnet licences
    exporter: CN
    destinations: all
    forms: [magnet]
    mode: licence
    approval_rate: {{dist: beta, a: 2, b: 5, name: approval}}
    review_delay_days: {{dist: triangular, low: 30, mode: 63, high: 120, name: delay}}
    start: 2025-03-01
  - kind: new_capacity
    facility: mp_10x
    stage: magnet
    country: US
    nameplate_tpa: 7000
    ramp_months: {{dist: uniform, low: 3, high: 12}}
    start: {{dist: uniform, low: 2025-03-01, high: 2025-09-30}}
"""


def _file(tmp: Path, name: str = "unc") -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(SWEEP.format(name=name))
    return path


def test_sweep_writes_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "sweep",
            str(_file(tmp_path)),
            "-n",
            "12",
            "--seed",
            "4",
            "--workers",
            "1",
            "--batch-size",
            "5",
            "--keep-samples",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    names = {p.name for p in out.iterdir()}
    assert names == {
        "summary.csv",
        "totals.csv",
        "impact.csv",
        "extra_cost.csv",
        "resilience.csv",
        "parameters.csv",
        "manifest.json",
        "fan.png",
        "prices.png",
        "samples.parquet",
        "scenario.yaml",
    }
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == [
        "date",
        "region",
        "sector",
        "material",
        "metric",
        "mean",
        "p05",
        "p50",
        "p95",
    ]
    us = summary[(summary["metric"] == "shortfall_t") & (summary["region"] == "US")]
    assert (us["p95"] > us["p05"]).any()
    assert (summary["p05"] <= summary["p50"] + 1e-9).all()
    assert (summary["p50"] <= summary["p95"] + 1e-9).all()
    params = pd.read_csv(out / "parameters.csv")
    assert len(params) == 12 and {
        "sample",
        "seed",
        "events[0].approval_rate",
        "events[0].review_delay_days",
        "events[1].start",
        "events[1].ramp_months",
    } <= set(params)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["samples"] == 12 and manifest["mass_balance_residual"] < 1e-9
    assert [u["key"] for u in manifest["uncertain_inputs"]][:2] == ["approval", "delay"]
    table = pq.read_table(out / "samples.parquet")
    months, buyers = (
        summary["date"].nunique(),
        len(summary[summary["metric"] == "shortfall_t"]) // 12,
    )
    assert table.num_rows == 12 * months * buyers
    assert "sweep unc: 12 futures" in capsys.readouterr().out
    before = (out / "summary.csv").read_bytes()
    assert main(["sweep", str(_file(tmp_path)), "-n", "3", "--out", str(out)]) == 2
    assert (out / "summary.csv").read_bytes() == before


CERTAIN = """\
name: certain
horizon: {start: 2025-01-01, end: 2025-06-30}
events:
  - kind: new_capacity
    facility: mp_10x
    stage: magnet
    country: US
    nameplate_tpa: 7000
    completion_probability: COMPLETION
    start: 2025-03-01
"""


@pytest.mark.parametrize(("completion", "warned"), [("1.0", True), ("0.6", False)])
def test_a_sweep_with_nothing_uncertain_warns_in_one_line_and_still_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], completion: str, warned: bool
) -> None:
    path = tmp_path / "certain.yaml"
    path.write_text(CERTAIN.replace("COMPLETION", completion))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "-n", "3", "--workers", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "uncertain" in line]
    if warned:  # a certain project draws nothing; one that may not be built is uncertain
        assert lines == [
            f"warning: {path}: nothing in the scenario is uncertain (no distribution, no "
            "completion probability below 1), so every future is the same; write a "
            "distribution in place of a value to sweep it"
        ]
    else:
        assert lines == []
    assert (out / "summary.csv").is_file()


@pytest.mark.parametrize(
    "argv",
    [
        ["-n", "0"],
        ["-n", "2000000"],
        ["-n", "5", "--workers", "0"],
        ["-n", "5", "--method", "halton"],
    ],
)
def test_bad_sweep_options_exit_2(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", str(_file(tmp_path)), *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()
    assert not (tmp_path / "o").exists()


def test_a_sweep_too_big_for_memory_is_refused_with_the_estimate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "long.yaml"
    path.write_text(SWEEP.format(name="long").replace("end: 2025-12-31", "end: 2060-12-31"))
    out = tmp_path / "o"
    argv = ["sweep", str(path), "-n", "900000", "--workers", "1", "--out", str(out)]
    assert main([*argv, "--force"]) == 2  # --force passes the time limit, not memory's
    err = capsys.readouterr().err
    assert re.search(r"about \d+\.\d GiB, over the 4 GiB limit", err), err
    assert not out.exists() and not list(tmp_path.glob(".o*"))


def test_compare_and_sensitivity_write_their_tables(tmp_path: Path) -> None:
    a = _file(tmp_path, "a")
    out = tmp_path / "cmp"
    assert main(["compare", str(a), str(a), "-n", "6", "--workers", "1", "--out", str(out)]) == 0
    table = pd.read_csv(out / "comparison.csv")
    assert (table["diff_mean"] == 0).all()
    files = json.loads((out / "manifest.json").read_text())["files"]
    for picture in ("comparison_shortfall.png", "comparison_prices.png"):  # B - A, drawn
        assert picture in files and (out / picture).read_bytes()[:4] == b"\x89PNG", picture
    sens = tmp_path / "sens"
    assert (
        main(
            [
                "sensitivity",
                str(a),
                "--output",
                "shortfall_t:US:ev_traction:NdFeB",
                "-n",
                "2",
                "--workers",
                "1",
                "--out",
                str(sens),
            ]
        )
        == 0
    )
    result = pd.read_csv(sens / "sensitivity.csv")
    assert set(result["input"]) == {"approval", "delay", "events[1].start", "events[1].ramp_months"}
    assert (sens / "tornado.png").stat().st_size > 1000
    assert (
        main(["sensitivity", str(a), "--output", "shortfall:US", "--out", str(tmp_path / "s2")])
        == 2
    )


def _sweep_proc(path: Path, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim",
            "sweep",
            str(path),
            "-n",
            str(KILLED_SAMPLES),
            "--batch-size",
            "2",
            "--workers",
            "1",
            "--seed",
            "1",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        preexec_fn=like_a_terminal,  # noqa: PLW1509
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


# enough batches that the sweep cannot finish between its second saved batch and the signal
KILLED_SAMPLES = 200


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_sweep_leaves_earlier_results_and_resumes_to_the_same_numbers(
    tmp_path: Path, sig: int
) -> None:
    path = _file(tmp_path)
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "summary.csv").write_text("kept")
    out = tmp_path / "new"
    proc = _sweep_proc(path, out)
    store = None
    deadline = time.time() + 60
    while time.time() < deadline:
        stores = list(tmp_path.glob(".new.sweep-*"))
        if stores and len(list(stores[0].glob("batch-*.npz"))) >= 2:
            store = stores[0]
            break
        time.sleep(0.05)
    assert store is not None, "the sweep never saved a batch"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert not out.exists(), "a killed sweep must not leave a complete-looking folder"
    assert (earlier / "summary.csv").read_text() == "kept"
    done = len(list(store.glob("batch-*.npz")))
    resumed = _sweep_proc(path, out)
    stdout, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0
    assert f"{done} of {KILLED_SAMPLES // 2} batches resumed" in stdout.decode()
    assert not store.exists(), "the store is removed once the sweep's folder is complete"
    fresh = tmp_path / "fresh"
    assert (
        main(
            [
                "sweep",
                str(path),
                "-n",
                str(KILLED_SAMPLES),
                "--batch-size",
                "8",
                "--workers",
                "2",
                "--seed",
                "1",
                "--out",
                str(fresh),
            ]
        )
        == 0
    )
    assert (out / "summary.csv").read_bytes() == (fresh / "summary.csv").read_bytes()
    assert (out / "parameters.csv").read_bytes() == (fresh / "parameters.csv").read_bytes()

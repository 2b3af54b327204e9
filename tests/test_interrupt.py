"""Interrupted runs leave no complete-looking folder and never touch earlier results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from sim.config.scenario import Scenario
from sim.errors import InputError
from sim.runs.engine import estimate_bytes, run
from sim.world.loader import default_world
from tests.terminal import like_a_terminal

ROOT = Path(__file__).parent.parent


def _start(out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim",
            "run",
            str(ROOT / "scenarios/baseline.yaml"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        preexec_fn=like_a_terminal,  # noqa: PLW1509
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
@pytest.mark.parametrize("delay", [0.8, 1.6, 2.4])
def test_killed_run_leaves_no_complete_looking_folder(
    tmp_path: Path, sig: int, delay: float
) -> None:
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "manifest.json").write_text("{}")
    out = tmp_path / "new"
    proc = _start(out)
    time.sleep(delay)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert (earlier / "manifest.json").read_text() == "{}"
    if out.exists():  # it finished before the signal: then it is complete
        assert (out / "manifest.json").is_file()
        assert (out / "shortfall.png").is_file()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("earlier", "new")]
    assert all(name.startswith(".new.partial-") for name in leftovers), leftovers


def test_a_run_too_big_for_memory_is_refused_before_it_starts() -> None:
    world = default_world()
    scenario = Scenario.model_validate(
        {"name": "huge", "horizon": {"start": "2024-01-01", "end": "2120-12-31"}}
    )
    assert estimate_bytes(world, scenario, 1, True) < 4 * 1024**3  # one sample fits
    assert estimate_bytes(world, scenario, 5000, True) > 4 * 1024**3
    with pytest.raises(InputError, match=r"GiB.*limit"):
        run(world, scenario, samples=5000)


def _running(process: psutil.Process) -> bool:
    """Whether ``process`` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _children(parent: psutil.Process, count: int, seconds: float) -> list[psutil.Process]:
    """The first ``count`` children of ``parent``, once it has them (within ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        children = [c for c in parent.children() if _running(c)]
        if len(children) >= count:
            return children
        time.sleep(0.1)
    raise AssertionError(f"the sweep started no {count} workers in {seconds} s")


def test_a_killed_sweep_leaves_no_worker_behind(tmp_path: Path) -> None:
    scenario = ROOT / "scenarios/china-2025-licensing-uncertain.yaml"
    argv = ["sweep", str(scenario), "-n", "400", "--workers", "2", "--out", str(tmp_path / "o")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", *argv],
        cwd=ROOT,
        env={**os.environ, "MPLBACKEND": "Agg"},
        preexec_fn=like_a_terminal,  # noqa: PLW1509
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        workers = _children(psutil.Process(proc.pid), 2, 60)
        time.sleep(1.0)  # the workers are running batches
        assert proc.poll() is None, "the sweep ended before it could be killed"
    finally:
        proc.kill()
        proc.wait(timeout=60)
    deadline = time.monotonic() + 10
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [w.pid for w in workers if _running(w)]
    for pid in left:  # not to leave them running after the test
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"workers {left} outlived their killed sweep by 10 s"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_sweep_says_what_it_kept(tmp_path: Path, sig: int) -> None:
    # stopped once a batch is stored: no results folder, and the error line names the store
    # and how many finished batches it holds, from which the same command resumes
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: s\nhorizon: {start: 2024-01-01, end: 2026-12-31}\nevents:\n"
        "  - {kind: outage, facility: mt_weld, start: 2025-01-01,\n"
        "     end: {dist: uniform, low: 2025-03-01, high: 2025-12-01}}\n"
    )
    out = tmp_path / "out"
    argv = ["sweep", str(scenario), "-n", "4000", "--batch-size", "50", "--workers", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", *argv, "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, "MPLBACKEND": "Agg"},
        preexec_fn=like_a_terminal,  # noqa: PLW1509
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".out.sweep-*/batch-*.npz")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no batch stored in time"
        time.sleep(0.1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    (store,) = tmp_path.glob(".out.sweep-*")
    kept = len(list(store.glob("batch-*.npz")))
    assert not out.exists()
    assert err.strip().splitlines()[-1] == (
        f"interrupted; no results folder was written; {kept} finished batch(es) kept in "
        f"{store}: the same command resumes from them ('sim clean' removes them)"
    ), err
    assert kept >= 1 and "Traceback" not in err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_the_chart_process_ends_with_its_command(tmp_path: Path, sig: int) -> None:
    # stopped or killed while its chart's process still waits for the picture's data, the
    # command leaves no process behind (that one reads the end of its input and ends)
    proc = _start(tmp_path / "new")
    command = psutil.Process(proc.pid)
    began = time.monotonic()
    helpers: list[psutil.Process] = []
    while not helpers and time.monotonic() - began < 30:
        helpers = [p for p in command.children() if "chart_process" in " ".join(p.cmdline())]
        time.sleep(0.02)
    assert helpers, "no chart process started"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    _, alive = psutil.wait_procs(helpers, timeout=10)
    assert alive == [], "the chart's process outlived its command"

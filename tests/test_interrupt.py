"""Interrupted runs leave no complete-looking folder and never touch earlier results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.config.scenario import Scenario
from sim.errors import InputError
from sim.runs.engine import estimate_bytes, run
from sim.world.loader import default_world

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

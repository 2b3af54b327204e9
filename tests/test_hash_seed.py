"""A run's numbers are the same bit for bit in every process: nothing may depend on the order
in which Python iterates a set of strings, which changes with the process's hash seed
(``PYTHONHASHSEED``, random by default). A quota's demand index once summed the elements it
names in set order, so the same scenario moved in the last bits from one process to the
next (flows.csv printed 5.43787 or 5.43788 t)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# a quota on seven elements (a set of seven names), to 2026: a run that forks on them
SCRIPT = """
import sys
import numpy as np
from sim.io.scenario_files import load_scenario
from sim.runs.engine import run
from sim.world.loader import default_world
world = default_world()
scenario = load_scenario(sys.argv[1], world)
result = run(world, scenario, detail=False)
np.savez(sys.argv[2], shortfall=result.shortfall, prices=result.prices_usd_per_kg,
         index=np.stack([c.phases[0][2].demand.index for c in result.chain.controls
                         if hasattr(c.phases[0][2], "demand")]))
"""


def _run(tmp_path: Path, hash_seed: str) -> dict[str, np.ndarray]:
    out = tmp_path / f"run-{hash_seed}.npz"
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "SIM_SERVER": "0"}
    scenario = ROOT / "scenarios" / "china-heavy-ree-controls-2025.yaml"
    subprocess.run(
        [sys.executable, "-c", SCRIPT, str(scenario), str(out)], env=env, check=True, cwd=ROOT
    )
    with np.load(out) as saved:
        return {name: saved[name] for name in saved.files}


def test_the_same_scenario_gives_the_same_numbers_whatever_the_hash_seed(tmp_path: Path) -> None:
    # hash seeds 1 to 3 put the seven names in different orders (the old sum differed in
    # every pair of them)
    runs = [_run(tmp_path, seed) for seed in ("1", "2", "3")]
    for other in runs[1:]:
        for name, values in runs[0].items():
            assert np.array_equal(values, other[name], equal_nan=True), name

"""Benchmark: the tables `sim sweep` writes, over one sweep's futures.

It sweeps ``-n`` futures of the README's uncertain scenario
(``scenarios/china-2025-licensing-uncertain.yaml``, 2 workers), then times each table the
sweep's folder holds (the monthly summary, totals, drawn parameters, units not built, what
buyers paid over base prices, resilience), the median of ``--repeat`` builds each, and prints
them with their sum. The sweep itself is not timed (`bench_sweep.py` does that).

Run: ``python benchmarks/bench_tables.py [-n 10000] [--repeat 3] [--tree DIR]``. To compare
two trees in the same hour: ``python benchmarks/bench_tables.py --ab OLD_TREE NEW_TREE
--rounds 2`` (each round runs each tree once, in a fresh process, in turns; it prints each
table's median and new/old).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__:  # imported (pytest): the tree under test is already importable
    from benchmarks import trees
else:  # run as a script: its folder is first on sys.path
    import trees

SCENARIO = Path("scenarios") / "china-2025-licensing-uncertain.yaml"


def measure(n: int, repeat: int, tree: Path | None = None) -> dict[str, float]:
    """Median seconds of each sweep table over one sweep of ``n`` futures."""
    api = trees.load(tree)
    import sim
    from sim.runs import sweep_costs, sweep_impact, sweep_resilience, sweep_tables
    from sim.runs.windows import BY_YEAR

    root = Path(sim.__file__).resolve().parent.parent
    world = api.load_world()
    raw = api.sweep(world, api.load_scenario(root / SCENARIO), n, seed=0, workers=2).raw
    tables: dict[str, Any] = {
        "summary": lambda: sweep_tables.summary_table(raw),
        "totals": lambda: sweep_tables.totals_table(raw),
        "parameters": lambda: sweep_tables.parameters_table(raw),
        "impact": lambda: sweep_impact.sweep_impact_table(raw, world, BY_YEAR),
        "extra_cost": lambda: sweep_costs.sweep_extra_cost_table(raw, world, BY_YEAR),
        "resilience": lambda: sweep_resilience.sweep_resilience_table(raw),
    }
    out = {}
    for name, build in tables.items():
        build()  # compiles (or loads) what it needs
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            build()
            times.append(time.perf_counter() - began)
        out[name] = statistics.median(times)
    out["all"] = sum(out.values())
    return out


def ab(old: Path, new: Path, n: int, rounds: int) -> dict[str, dict[str, float]]:
    """Each tree ``rounds`` times in turns, a fresh process each: medians and new/old."""
    got: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for _ in range(rounds):
        for label, tree in (("old", old), ("new", new)):
            args = [sys.executable, __file__, "-n", str(n), "--repeat", "1", "--tree", str(tree)]
            done = subprocess.run(args, capture_output=True, text=True, check=True)
            got[label].append(json.loads(done.stdout))
    medians = {
        label: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for label, runs in got.items()
    }
    medians["new/old"] = {k: medians["new"][k] / medians["old"][k] for k in medians["old"]}
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tree", type=Path, default=None)
    parser.add_argument("--ab", nargs=2, type=Path, metavar=("OLD", "NEW"))
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.ab:
        print(json.dumps(ab(*args.ab, args.n, args.rounds), indent=2))
    else:
        print(json.dumps(measure(args.n, args.repeat, args.tree), indent=2))


if __name__ == "__main__":
    main()

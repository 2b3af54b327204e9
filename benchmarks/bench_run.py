"""Benchmark: one 10-year monthly run of the default world (target: 0.3 s at most).

Run: ``python benchmarks/bench_run.py [--repeat 7] [--tree DIR]``. Prints the median and
spread of the model's wall time (building the chain, the SimPy run and the mass-balance check;
writing files excluded) and the median with the shortfall and flows tables built. Or, under
pytest, ``python -m pytest -m benchmark benchmarks/`` asserts the median is 0.3 s at most.

It measures the tree ``--tree`` (default: the one it is in), through its public API or, in a
tree before it (812e266), the modules of the time (`benchmarks.trees`). To compare two trees
in the same hour, in turns: ``python benchmarks/bench_run.py --ab OLD_TREE NEW_TREE --rounds 5``
(each round runs each tree once, in a fresh process; it prints the medians and new/old).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

if __package__:  # imported (pytest): the tree under test is already importable
    from benchmarks import trees
else:  # run as a script: its folder is first on sys.path
    import trees

SCENARIO = {
    "name": "bench",
    "horizon": {"start": "2024-01-01", "end": "2033-12-31"},
    "events": [
        {
            "kind": "export_control",
            "exporter": "CN",
            "destinations": ["US"],
            "forms": ["magnet"],
            "mode": "ban",
            "start": "2025-04-04",
        }
    ],
}


def measure(repeat: int, tree: Path | None = None) -> dict[str, float]:
    """Median and range of the run's wall time, and with tables built, in seconds."""
    sim = trees.load(tree)
    world = sim.load_world()
    scenario = sim.scenario(SCENARIO)
    sim.run(world, scenario)  # warm caches and imports
    model, full = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        result = sim.run(world, scenario)
        model.append(time.perf_counter() - began)
        sim.tables(result)
        full.append(time.perf_counter() - began)
    return {
        "median_s": statistics.median(model),
        "min_s": min(model),
        "max_s": max(model),
        "median_with_tables_s": statistics.median(full),
        "months": sim.months(result),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    trees.add_options(parser)
    args = parser.parse_args()
    if args.ab:
        trees.alternate(__file__, *args.ab, args.rounds, ["--repeat", str(args.repeat)])
        return
    out = measure(args.repeat, args.tree)
    if args.json:
        json.dump(out, sys.stdout)
        return
    print(
        f"default world, {out['months']} months, 1 sample: median {out['median_s']:.3f} s "
        f"(min {out['min_s']:.3f}, max {out['max_s']:.3f}); with tables "
        f"{out['median_with_tables_s']:.3f} s; target <= 0.3 s"
    )


if __name__ == "__main__":
    main()

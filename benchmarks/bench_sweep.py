"""Benchmark: Monte Carlo sweeps of the default world, 10 years monthly.

Targets (issue 4): 10,000 samples on 2 workers in at most 10 s wall with peak memory at most
2 GB; at least 50x the throughput of the same samples run one at a time through the engine;
2 workers at least 1.6x faster than 1.

Run: ``python benchmarks/bench_sweep.py [-n 10000] [--repeat 3] [--single 20] [--tree DIR]``.
It prints the median wall time of the sweep on 1 and 2 workers (each a fresh sweep with no
store), the per-sample cost of one-at-a-time runs (the median of ``--single`` sweeps of one
sample), the ratios, and the peak resident memory of this process and of its largest worker.

It measures the tree ``--tree`` (default: the one it is in), through its public API or, in a
tree before it (812e266), the modules of the time (`benchmarks.trees`). To compare two trees
in the same hour, in turns: ``python benchmarks/bench_sweep.py --ab OLD_TREE NEW_TREE --rounds
3 --repeat 1`` (each round runs each tree once, in a fresh process; it prints the medians and
new/old; the peak memory of a round is its own process's).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__:  # imported (pytest): the tree under test is already importable
    from benchmarks import trees
else:  # run as a script: its folder is first on sys.path
    import trees

SCENARIO: dict[str, Any] = {
    "name": "bench-sweep",
    "horizon": {"start": dt.date(2024, 1, 1), "end": dt.date(2033, 12, 31)},
    "events": [
        {
            "kind": "export_control",
            "label": "CN heavy-RE licensing",
            "exporter": "CN",
            "elements": ["Dy", "Tb", "Sm"],
            "forms": ["oxide", "metal", "magnet"],
            "mode": "quota",
            "share": {"dist": "uniform", "low": 0.25, "high": 0.6},
            "start": {
                "dist": "triangular",
                "low": dt.date(2025, 4, 4),
                "mode": dt.date(2025, 5, 15),
                "high": dt.date(2025, 7, 1),
            },
        },
        {
            "kind": "new_capacity",
            "facility": "mp_10x",
            "stage": "magnet",
            "country": "US",
            "nameplate_tpa": 7000,
            "ramp_months": 24,
            "start": {"dist": "uniform", "low": dt.date(2027, 6, 1), "high": dt.date(2029, 6, 30)},
        },
    ],
}


def _peak_mb() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"parent_peak_mb": own, "largest_worker_peak_mb": child}


def measure(n: int, repeat: int, single: int, tree: Path | None = None) -> dict[str, float]:
    """Medians of sweep wall time on 2 and 1 workers, and of one-at-a-time cost."""
    sim = trees.load(tree)
    world = sim.load_world()
    scenario = sim.scenario(SCENARIO)
    timings: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(repeat):
        for workers in (2, 1):
            began = time.perf_counter()
            sim.sweep(world, scenario, n, seed=1, workers=workers)
            timings[workers].append(time.perf_counter() - began)
    one = []
    for seed in range(single):
        began = time.perf_counter()
        sim.sweep(world, scenario, 1, seed=seed, workers=1)
        one.append(time.perf_counter() - began)
    t2, t1 = statistics.median(timings[2]), statistics.median(timings[1])
    per_sample_alone = statistics.median(one)
    return {
        "samples": n,
        "sweep_2_workers_s": t2,
        "sweep_1_worker_s": t1,
        "speedup_2_vs_1": t1 / t2,
        "one_at_a_time_per_sample_s": per_sample_alone,
        "throughput_vs_one_at_a_time_1_worker": per_sample_alone * n / t1,
        "throughput_vs_one_at_a_time_2_workers": per_sample_alone * n / t2,
        **_peak_mb(),
        "repeats": repeat,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--single", type=int, default=20)
    trees.add_options(parser)
    args = parser.parse_args()
    if args.ab:
        options = ["-n", str(args.n), "--repeat", str(args.repeat), "--single", str(args.single)]
        trees.alternate(__file__, *args.ab, args.rounds, options)
        return
    out = measure(args.n, args.repeat, args.single, args.tree)
    print(json.dumps(out) if args.json else json.dumps(out, indent=2), file=sys.stdout)


if __name__ == "__main__":
    main()

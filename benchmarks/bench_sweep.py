"""Benchmark: Monte Carlo sweeps of the default world, 10 years monthly.

Targets (issue 4): 10,000 samples on 2 workers in at most 10 s wall with peak memory at most
2 GB; at least 50x the throughput of the same samples run one at a time through the engine;
2 workers at least 1.6x faster than 1.

Run: ``python benchmarks/bench_sweep.py [-n 10000] [--repeat 3] [--single 20]``. It prints
the median wall time of the sweep on 1 and 2 workers (each a fresh sweep with no store), the
per-sample cost of one-at-a-time runs (median over ``--single`` samples), the ratios, and the
peak resident memory of this process and of its largest worker.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

from sim.config import draws as sampling
from sim.config.distributions import Distribution, Uncertain
from sim.config.scenario import Scenario
from sim.runs.engine import run
from sim.runs.sweep import sweep
from sim.world.loader import default_world

BASE = Scenario.model_validate(
    {
        "name": "bench-sweep",
        "horizon": {"start": "2024-01-01", "end": "2033-12-31"},
        "events": [
            {
                "kind": "export_control",
                "label": "CN heavy-RE licensing",
                "exporter": "CN",
                "elements": ["Dy", "Tb", "Sm"],
                "forms": ["oxide", "metal", "magnet"],
                "mode": "quota",
                "share": 0.4,
                "start": "2025-04-04",
            },
            {
                "kind": "new_capacity",
                "facility": "mp_10x",
                "stage": "magnet",
                "country": "US",
                "nameplate_tpa": 7000,
                "ramp_months": 24,
                "start": "2028-01-01",
            },
        ],
    }
)
INPUTS = (
    ("events[0].share", {"dist": "uniform", "low": 0.25, "high": 0.6}),
    (
        "events[0].start",
        {"dist": "triangular", "low": "2025-04-04", "mode": "2025-05-15", "high": "2025-07-01"},
    ),
    ("events[1].start", {"dist": "uniform", "low": "2027-06-01", "high": "2029-06-30"}),
)
SCENARIO = BASE.model_copy(
    update={
        "uncertain": tuple(
            Uncertain(path=p, key=p, dist=Distribution.model_validate(d)) for p, d in INPUTS
        )
    }
)


def _peak_mb() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"parent_peak_mb": own, "largest_worker_peak_mb": child}


def measure(n: int, repeat: int, single: int) -> dict[str, float]:
    """Medians of sweep wall time on 2 and 1 workers, and of one-at-a-time cost."""
    world = default_world()
    timings: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(repeat):
        for workers in (2, 1):
            began = time.perf_counter()
            sweep(world, SCENARIO, n, seed=1, workers=workers)
            timings[workers].append(time.perf_counter() - began)
    draws = sampling.draw(SCENARIO, single, 1)
    one = []
    for s in range(single):
        began = time.perf_counter()
        run(
            world,
            SCENARIO,
            samples=1,
            detail=False,
            draws={k: v[s : s + 1] for k, v in draws.items()},
        )
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
    args = parser.parse_args()
    print(json.dumps(measure(args.n, args.repeat, args.single), indent=2))


if __name__ == "__main__":
    main()

"""Benchmark: one 10-year monthly run of the default world (target: under 1 s).

Run: ``python benchmarks/bench_run.py [--repeat 7]``. Prints the median and spread of the
model's wall time (building the chain, the SimPy run and the mass-balance check; writing
files excluded) and the median with table building included. Or, under pytest,
``python -m pytest -m benchmark benchmarks/`` asserts the median is under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import time

from sim.config.scenario import Scenario
from sim.runs.engine import run
from sim.runs.tables import flows_table, shortfall_table
from sim.world.loader import default_world

SCENARIO = Scenario.model_validate(
    {
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
)


def measure(repeat: int) -> dict[str, float]:
    """Median and range of the run's wall time, and with tables built, in seconds."""
    world = default_world()
    run(world, SCENARIO)  # warm caches and imports
    model, full = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        result = run(world, SCENARIO)
        model.append(time.perf_counter() - began)
        shortfall_table(result)
        flows_table(result)
        full.append(time.perf_counter() - began)
    return {
        "median_s": statistics.median(model),
        "min_s": min(model),
        "max_s": max(model),
        "median_with_tables_s": statistics.median(full),
        "months": result.chain.steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    out = measure(parser.parse_args().repeat)
    print(
        f"default world, {out['months']} months, 1 sample: median {out['median_s']:.3f} s "
        f"(min {out['min_s']:.3f}, max {out['max_s']:.3f}); with tables "
        f"{out['median_with_tables_s']:.3f} s; target < 1 s"
    )


if __name__ == "__main__":
    main()

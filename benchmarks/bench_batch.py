"""Benchmark: cost per sample of a batch of the default world against one-at-a-time runs.

Run: ``python benchmarks/bench_batch.py [--sizes 1 100 1000] [--repeat 3] [--sweep]``. For
each batch size ``S`` it prints the median wall time of ``run(world, scenario, samples=S,
detail=False)`` on ``scenarios/china-heavy-ree-controls-2025.yaml`` (60 months plus 12 of
warm-up), the cost per sample and per sample-step, and the speed-up of the batch over running
its samples one at a time (``S x`` the median of ``S = 1``). With ``--sweep`` it times what a
sweep worker runs instead: `sim.runs.sweep.run_batch` on the 10-year scenario of
``bench_sweep.py`` with each sample's own draws (132 steps with the warm-up), its shared
histories kept across batches as a worker keeps them. Under pytest,
``python -m pytest -m benchmark benchmarks/`` runs it for ``S = 1000`` and asserts the batch
is at least 10x faster a sample than one-at-a-time runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if not __package__:  # run as a script: measure the tree it is in, not an installed sim
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.io.scenario_files import load_scenario  # noqa: E402
from sim.runs.engine import run  # noqa: E402
from sim.world.loader import default_world  # noqa: E402

SCENARIO_FILE = Path(__file__).parent.parent / "scenarios" / "china-heavy-ree-controls-2025.yaml"


def median_seconds(samples: int, repeat: int, sweep: bool = False) -> tuple[float, int]:
    """Median wall time of a batch of ``samples`` and its number of steps (with warm-up)."""
    world = default_world()
    if sweep:
        from bench_sweep import SCENARIO
        from trees import load

        from sim.config import draws as sampling
        from sim.runs.engine import HistoryCache
        from sim.runs.sweep import run_batch

        swept = load(None).scenario(SCENARIO)
        draws = sampling.draw(swept, max(samples, 10), 1)
        histories = HistoryCache()  # as a sweep worker's, kept across its batches
        run_batch(world, swept, {k: v[:10] for k, v in draws.items()}, 10, histories)  # warm up
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            run_batch(world, swept, {k: v[:samples] for k, v in draws.items()}, samples, histories)
            times.append(time.perf_counter() - began)
        return statistics.median(times), 132
    scenario = load_scenario(SCENARIO_FILE, world)
    run(world, scenario, samples=min(samples, 10), detail=False)  # warm caches and imports
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = run(world, scenario, samples=samples, detail=False)
        times.append(time.perf_counter() - began)
    return statistics.median(times), result.chain.steps + result.chain.warmup


def measure(sizes: list[int], repeat: int, sweep: bool = False) -> dict[int, dict[str, float]]:
    """Per batch size: median seconds, per sample, per sample-step and speed-up vs S = 1."""
    single, steps = median_seconds(1, max(repeat, 5), sweep)
    out: dict[int, dict[str, float]] = {}
    for size in sizes:
        seconds = single if size == 1 else median_seconds(size, repeat, sweep)[0]
        out[size] = {
            "median_s": seconds,
            "per_sample_ms": 1e3 * seconds / size,
            "per_sample_step_us": 1e6 * seconds / size / steps,
            "speedup_vs_single": single * size / seconds,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--sweep", action="store_true", help="time sweep batches of the 10-year benchmark scenario"
    )
    args = parser.parse_args()
    for size, row in measure(args.sizes, args.repeat, args.sweep).items():
        print(
            f"S={size:>6}: median {row['median_s']:.3f} s, {row['per_sample_ms']:.3f} ms a "
            f"sample, {row['per_sample_step_us']:.1f} us a sample-step, "
            f"{row['speedup_vs_single']:.1f}x one-at-a-time"
        )


if __name__ == "__main__":
    main()

"""Benchmark: ``sim run scenarios/baseline.yaml`` end to end, wall clock (target: <= 1.5 s).

Each run is a fresh process (``python -m sim run ... --out FOLDER`` from the tree measured, so
it runs that tree's code): imports, loading, the simulation, the tables, the CSV files, the
chart and the manifest. One warm-up run first compiles the kernels into numba's cache (or
finds them there); the median of the ``--repeat`` runs after it is printed, with ``sim
--help`` for the start-up alone. Later runs are run as a user's are: by the tree's warm server
(`sim.io.server`, which the warm-up run starts; the benchmark waits until it is ready with
``sim server start`` and stops it after), unless ``--no-server`` (``SIM_SERVER=0``: each run
in its own process). A tree without servers runs in its own process either way.

``--first`` measures instead the first run of a new copy (target: <= 10 s): each run with an
empty numba cache folder of its own, so the kernels run uncompiled while a background process
starts compiling them (`sim.io.compiled`); that process is stopped after each run, so that
it does not load the next.

Run: ``python benchmarks/bench_cli.py [--repeat 5] [--tree DIR] [--first]``. Under pytest,
``python -m pytest -m benchmark benchmarks/`` asserts the median is at most 1.5 s. To compare
two trees in the same hour: ``python benchmarks/bench_cli.py --ab OLD_TREE NEW_TREE --rounds
5`` warms both up, then runs OLD once and NEW once, in turns, and prints each one's median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

if __package__:  # imported (pytest)
    from benchmarks import trees
else:  # run as a script: its folder is first on sys.path
    import trees

SCENARIO = Path("scenarios/baseline.yaml")


def timed(tree: Path, *arguments: str, env: dict[str, str] | None = None) -> float:
    """Wall seconds of ``python -m sim ARGUMENTS`` run from ``tree`` in a fresh process."""
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "sim", *arguments],
        cwd=tree,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    return time.perf_counter() - began


def first_runs(repeat: int, tree: Path = trees.HERE) -> dict[str, float]:
    """Median, min and max wall seconds of ``sim run`` of the baseline in a copy whose
    kernels were never compiled (an empty cache folder each time)."""
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(repeat):
            cache = Path(scratch) / f"cache-{i}"
            env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"}
            env["NUMBA_CACHE_DIR"] = str(cache)
            out = Path(scratch) / f"run-{i}"
            runs.append(timed(tree, "run", str(SCENARIO), "--out", str(out), env=env))
            _stop_warming(cache)
    return {"median_s": statistics.median(runs), "min_s": min(runs), "max_s": max(runs)}


def _stop_warming(cache: Path) -> None:
    """Stop the compiling process a first run started with ``cache`` as numba's folder."""
    import psutil

    for process in psutil.process_iter(["cmdline"]):
        if any(str(cache) in part for part in process.info["cmdline"] or ()):
            process.kill()


def later_env(server: bool = True) -> dict[str, str]:
    """The environment of later runs: kernels compiled (``NUMBA_DISABLE_JIT=0``: the
    warm-up run compiles them in its own process if they never were, rather than running
    uncompiled, as a first run does), with or without a warm server."""
    return {**os.environ, "NUMBA_DISABLE_JIT": "0", "SIM_SERVER": "1" if server else "0"}


def run_once(tree: Path, scratch: Path, server: bool = True) -> float:
    """Wall seconds of one ``sim run`` of the baseline into a new folder under ``scratch``."""
    out = Path(tempfile.mkdtemp(dir=scratch)) / "run"
    return timed(tree, "run", str(SCENARIO), "--out", str(out), env=later_env(server))


@contextmanager
def warm(tree: Path, scratch: Path, server: bool = True) -> Iterator[None]:
    """A warm-up run of ``tree``, then its server ready (if it has servers and ``server``)
    until the block ends."""
    run_once(tree, scratch, server)  # compiles the kernels, or loads them from the cache
    serving = server and (tree / "sim" / "io" / "server.py").exists()
    if serving:
        _server(tree, "start")
    try:
        yield
    finally:
        if serving:
            _server(tree, "stop")


def _server(tree: Path, action: str) -> None:
    """``sim server ACTION`` of ``tree``."""
    subprocess.run(
        [sys.executable, "-m", "sim", "server", action],
        cwd=tree,
        check=True,
        stdout=subprocess.DEVNULL,
        env=later_env(),
    )


def measure(repeat: int, tree: Path = trees.HERE, server: bool = True) -> dict[str, float]:
    """Median, min and max wall seconds of ``sim run`` of the baseline after a warm-up run
    (by the tree's warm server, if ``server``), and the median of ``sim --help``."""
    with tempfile.TemporaryDirectory() as scratch, warm(tree, Path(scratch), server):
        runs = [run_once(tree, Path(scratch), server) for _ in range(repeat)]
    helps = [timed(tree, "--help") for _ in range(repeat)]
    return {
        "median_s": statistics.median(runs),
        "min_s": min(runs),
        "max_s": max(runs),
        "help_median_s": statistics.median(helps),
    }


def alternate(old: Path, new: Path, rounds: int, server: bool = True) -> dict[str, list[float]]:
    """Each tree warmed up, then run once each, in turns, ``rounds`` times."""
    found: dict[str, list[float]] = {str(old): [], str(new): []}
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        for tree in (old, new):
            stack.enter_context(warm(tree, Path(scratch), server))
        for _ in range(rounds):
            for tree in (old, new):
                found[str(tree)].append(run_once(tree, Path(scratch), server))
    return found


def print_alternated(found: dict[str, list[float]]) -> None:
    """Each tree's runs and median, and the ratio of the second's to the first's."""
    medians = {tree: statistics.median(runs) for tree, runs in found.items()}
    for tree, runs in found.items():
        listed = ", ".join(f"{r:.2f}" for r in runs)
        print(f"{tree}: median {medians[tree]:.3f} s ({listed})")
    old, new = medians.values()
    print(f"new/old {new / old:.3f}")


def show(out: dict[str, float], repeat: int, as_json: bool, server: bool = True) -> None:
    """Print the measures, as JSON or as a line."""
    if as_json:
        json.dump(out, sys.stdout)
        return
    how = "by its warm server" if server else "each in its own process"
    print(
        f"sim run {SCENARIO} ({how}): median {out['median_s']:.3f} s of {repeat} "
        f"(min {out['min_s']:.3f}, max {out['max_s']:.3f}); sim --help "
        f"{out['help_median_s']:.3f} s; target <= 1.5 s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--first", action="store_true", help="the first run of a new copy")
    parser.add_argument(
        "--no-server", action="store_true", help="later runs each in its own process"
    )
    trees.add_options(parser)
    args = parser.parse_args()
    if args.first:
        out = first_runs(args.repeat, args.tree)
        print(
            f"first sim run {SCENARIO} of a new copy: median {out['median_s']:.3f} s of "
            f"{args.repeat} (min {out['min_s']:.3f}, max {out['max_s']:.3f}); target <= 10 s"
        )
    elif args.ab:
        print_alternated(alternate(*args.ab, args.rounds, not args.no_server))
    else:
        server = not args.no_server
        show(measure(args.repeat, args.tree, server), args.repeat, args.json, server)


if __name__ == "__main__":
    main()

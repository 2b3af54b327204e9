"""Which source tree a benchmark measures, and A/B runs of two trees taken in turns.

A benchmark script measures the tree given by ``--tree DIR`` (default: the tree the script is
in), whatever ``sim`` is installed: `load` puts DIR first on ``sys.path`` and imports its
``sim``. It calls the tree's public API (``sim.load_world``, ``sim.run``, ``sim.sweep``; issue 13
on) or, in a tree without one (812e266 and before), the same functions where they were then
(``sim.io.loading``, ``sim.runs.engine``, ``sim.runs.sweep``, ``sim.runs.tables``), so one
script measures both.

``--ab OLD NEW [--rounds N]`` runs the script on OLD, then NEW, N times in turn, each in a
fresh process (``--tree T --json``), and prints each measure's median per tree and their
ratio: the same hour, the same machine load for both. For example, with the old tree checked
out beside the new one::

    git worktree add /tmp/old 812e266
    python benchmarks/bench_run.py --ab /tmp/old . --rounds 5
    python benchmarks/bench_sweep.py --ab /tmp/old . --rounds 3 -n 10000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Tree:
    """What a benchmark calls, the same on every tree."""

    load_world: Callable[[], Any]
    load_scenario: Callable[[Path], Any]
    run: Callable[[Any, Any], Any]  # (world, scenario) -> a run
    tables: Callable[[Any], None]  # builds a run's shortfall and flows tables
    months: Callable[[Any], int]  # a run's reported months
    sweep: Callable[..., Any]  # (world, scenario, samples, seed=, workers=) -> a sweep

    def scenario(self, data: dict[str, Any]) -> Any:
        """``data`` read as a scenario file by this tree's loader."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{data['name']}.yaml"
            path.write_text(yaml.safe_dump(data, sort_keys=False))
            return self.load_scenario(path)


def load(tree: Path | None) -> Tree:
    """The functions of the ``sim`` in ``tree`` (``None``: the ``sim`` already importable)."""
    if tree is not None:
        if "sim" in sys.modules:
            raise RuntimeError("sim is already imported; choose the tree first")
        sys.path.insert(0, str(Path(tree).resolve()))
    import sim

    # Look for the file: an editable install's finder would find `sim.api` in its own tree.
    if not (Path(sim.__file__).parent / "api.py").exists():
        return _before_the_api()
    import sim.api as api

    def tables(result: Any) -> None:
        result.shortfall, result.flows  # noqa: B018 (built when first read)

    def sweep(world: Any, scenario: Any, samples: int, **options: Any) -> Any:
        return api.sweep(scenario, samples, world=world, **options)

    return Tree(
        load_world=api.load_world,
        load_scenario=api.load_scenario,
        run=lambda world, scenario: api.run(scenario, world=world),
        tables=tables,
        months=lambda result: len(result.raw.dates),
        sweep=sweep,
    )


def _before_the_api() -> Tree:
    """The same functions in a tree before the public API (812e266)."""
    from sim.io.loading import default_world, load_scenario

    from sim.runs.engine import run
    from sim.runs.sweep import sweep
    from sim.runs.tables import flows_table, shortfall_table

    def tables(result: Any) -> None:
        shortfall_table(result)
        flows_table(result)

    return Tree(
        load_world=default_world,
        load_scenario=load_scenario,
        run=run,
        tables=tables,
        months=lambda result: len(result.dates),
        sweep=sweep,
    )


def add_options(parser: argparse.ArgumentParser) -> None:
    """``--tree``, ``--json``, ``--ab`` and ``--rounds``."""
    parser.add_argument("--tree", type=Path, default=HERE, help="source tree to measure")
    parser.add_argument("--json", action="store_true", help="print the measures as JSON")
    parser.add_argument(
        "--ab", nargs=2, type=Path, metavar=("OLD", "NEW"), help="measure two trees in turns"
    )
    parser.add_argument("--rounds", type=int, default=3, help="turns of each tree with --ab")


def alternate(script: str, old: Path, new: Path, rounds: int, options: list[str]) -> None:
    """Run ``script`` on ``old`` and ``new`` in turns, ``rounds`` times; print the medians."""
    found: dict[Path, list[dict[str, float]]] = {old: [], new: []}
    for turn in range(rounds):
        for tree in (old, new):
            command = [sys.executable, script, "--tree", str(tree), "--json", *options]
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            found[tree].append(json.loads(done.stdout))
            print(f"round {turn + 1}/{rounds}: {tree} done", file=sys.stderr)
    keys = [k for k, v in found[old][0].items() if isinstance(v, (int, float))]
    print(f"{'measure':40s} {'old':>12s} {'new':>12s} {'new/old':>8s}   (medians of {rounds})")
    for key in keys:
        a = statistics.median(r[key] for r in found[old])
        b = statistics.median(r[key] for r in found[new])
        print(f"{key:40s} {a:12.4g} {b:12.4g} {b / a if a else float('nan'):8.3f}")

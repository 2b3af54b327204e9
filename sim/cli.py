"""The command line: ``sim validate``, ``sim run``, ``sim backtest`` and ``sim calibrate``.

Errors in input print one line (``FILE:LINE: field.path: problem (got VALUE)``) and exit with
status 2, never a traceback; a broken mass balance exits with status 3.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim import __version__
from sim.errors import InputError, MassBalanceError, SimError

EXIT_INPUT = 2
EXIT_BALANCE = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sim", description="Simulate rare-earth supply disruptions: who runs short of what, "
        "when, and by how much.")
    parser.add_argument("--version", action="version", version=f"sim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    val = sub.add_parser("validate", help="check a scenario file and exit")
    val.add_argument("scenario", type=Path)
    run = sub.add_parser("run", help="run a scenario and write a results folder")
    run.add_argument("scenario", type=Path)
    run.add_argument("--out", type=Path, default=None,
                     help="folder to create (default results/<name>/<UTC timestamp>/)")
    run.add_argument("--seed", type=int, default=0, help="random seed (recorded)")
    run.add_argument("--results", type=Path, default=Path("results"),
                     help="root for default output folders (default: results)")
    _backtest_parser(sub)
    cal = sub.add_parser("calibrate", help="print a world's first-year calibration")
    cal.add_argument("scenario", type=Path, nargs="?", default=None,
                     help="scenario (default: the world's first year with no event)")
    cal.add_argument("--world", default="default",
                     help="world when no scenario is given: default (2024) or default@2009")
    return parser




def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_INPUT
    try:
        if args.command == "validate":
            return _validate(args)
        if args.command == "run":
            return _run(args)
        if args.command == "backtest":
            return _backtest(args)
        return _calibrate(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except MassBalanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BALANCE
    except SimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. --out under a file, or an unwritable results folder
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130


def _validate(args: argparse.Namespace) -> int:
    from sim.loading import load_scenario

    scenario = load_scenario(args.scenario)
    print(f"{args.scenario}: valid scenario '{scenario.name}' "
          f"({scenario.horizon.start} to {scenario.horizon.end}, {len(scenario.events)} events)")
    return 0


def _run(args: argparse.Namespace) -> int:
    from sim.engine import run
    from sim.loading import load_scenario, vintage_world
    from sim.report import check_free, default_folder, write_run
    from sim.results import shortfall_table, summary_table

    scenario = load_scenario(args.scenario)
    world = vintage_world(scenario.world)
    folder = args.out if args.out is not None else default_folder(args.results, scenario)
    check_free(folder)
    result = run(world, scenario, seed=args.seed)
    manifest = write_run(result, folder)
    summary = summary_table(shortfall_table(result))
    print(f"scenario {scenario.name}: {scenario.horizon.start} to {scenario.horizon.end}, "
          f"{result.chain.steps} months, simulated in {result.wall_seconds:.2f} s, "
          f"mass-balance residual {manifest['mass_balance_residual']:.1e}")
    print(_format_summary(summary))
    print(f"wrote {folder}")
    return 0


def _format_summary(summary: pd.DataFrame) -> str:
    short = summary[summary["shortfall_t"] > 0.5].sort_values("shortfall_t", ascending=False)
    if short.empty:
        return "no shortfall: every region and sector was fully supplied"
    table = short.assign(
        shortfall_t=short["shortfall_t"].round(0).astype(int),
        peak_month_t=short["peak_month_t"].round(1),
        share_short=(100 * short["share_short"]).round(1).astype(str) + "%",
    )[["region", "sector", "material", "shortfall_t", "share_short", "peak_month_t",
       "months_short", "first_short"]]
    table = table.rename(columns={"shortfall_t": "cumulative_t", "share_short": "of_demand"})
    return "shortfall by region x sector (t of magnet, or t of element):\n" + table.to_string(
        index=False)


def _calibrate(args: argparse.Namespace) -> int:
    from sim.engine import run
    from sim.loading import calibration_targets, load_scenario, vintage_world, world_names
    from sim.results import calibration
    from sim.scenario import Scenario

    if args.scenario is None:
        if args.world not in world_names():
            raise InputError(f"unknown world; expected one of {world_names()}", path="--world",
                             value=args.world, has_value=True)
        year = vintage_world(args.world).base_year
        scenario = Scenario.model_validate(
            {"name": f"calibration-{year}", "world": args.world,
             "horizon": {"start": f"{year}-01-01", "end": f"{year}-12-31"}})
    else:
        scenario = load_scenario(args.scenario)
    measures = calibration(run(vintage_world(scenario.world), scenario))
    targets = calibration_targets(scenario.world)
    print(f"world {scenario.world}, first 12 months from {scenario.horizon.start}")
    for key, value in measures.items():
        row = targets.get(key, {})
        bounds = f" [{row['low']} to {row['high']}]" if row.get("low") else ""
        target = f"{row['target']}{bounds} ({row['source']})" if row else ""
        print(f"{key:28s} {value:14,.3f}   target: {target}")
    return 0


def _backtest_parser(sub: Any) -> None:
    bt = sub.add_parser("backtest", help="run a scenario and hold its monthly series against "
                        "observed ones")
    bt.add_argument("scenario", type=Path)
    bt.add_argument("--observed", type=Path, required=True,
                    help="CSV with columns date, series, key, value (see README)")
    bt.add_argument("--out", type=Path, default=None,
                    help="folder to create (default results/backtest/<name>/<UTC timestamp>/)")
    bt.add_argument("--seed", type=int, default=0, help="random seed (recorded)")
    bt.add_argument("--results", type=Path, default=Path("results"),
                    help="root for default output folders (default: results)")


def _backtest(args: argparse.Namespace) -> int:
    from sim.backtest import compare
    from sim.engine import run
    from sim.loading import load_scenario, vintage_world
    from sim.observed import check_observed, read_observed
    from sim.report import check_free, default_folder, write_backtest

    scenario = load_scenario(args.scenario)
    world = vintage_world(scenario.world)
    observed = read_observed(args.observed)
    check_observed(observed, world, str(args.observed))
    folder = args.out if args.out is not None else default_folder(args.results / "backtest",
                                                                  scenario)
    check_free(folder)
    result = run(world, scenario, seed=args.seed)
    backtest = compare(result, observed)
    write_backtest(backtest, result, folder, args.observed)
    table = backtest.summary.drop(columns=["unit"]).round(3)
    print(f"scenario {scenario.name} on {scenario.world}, against {args.observed} "
          f"({len(observed)} observations):")
    print(table.to_string(index=False))
    agree = backtest.directions["agree"].dropna()
    if len(agree):
        print(f"direction after events: {int(agree.sum())} of {len(agree)} agree")
    print(f"wrote {folder}")
    return 0

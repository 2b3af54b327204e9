"""The command line: ``sim validate``, ``sim run`` and ``sim calibrate``.

Errors in input print one line (``FILE:LINE: field.path: problem (got VALUE)``) and exit with
status 2, never a traceback; a broken mass balance exits with status 3.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sim import __version__
from sim.errors import InputError, MassBalanceError, SimError

if TYPE_CHECKING:
    from sim.engine import RunResult

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
    cal = sub.add_parser("calibrate", help="print the baseline's 2024 calibration")
    cal.add_argument("scenario", type=Path, nargs="?", default=None,
                     help="scenario (default: the 2024 baseline horizon)")
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
    from sim.loading import default_world, load_scenario
    from sim.report import check_free, default_folder, write_run
    from sim.results import shortfall_table, summary_table

    world = default_world()
    scenario = load_scenario(args.scenario, world)
    folder = args.out if args.out is not None else default_folder(args.results, scenario)
    check_free(folder)
    result = run(world, scenario, seed=args.seed)
    manifest = write_run(result, folder)
    summary = summary_table(shortfall_table(result))
    print(f"scenario {scenario.name}: {scenario.horizon.start} to {scenario.horizon.end}, "
          f"{result.chain.steps} months, simulated in {result.wall_seconds:.2f} s, "
          f"mass-balance residual {manifest['mass_balance_residual']:.1e}")
    print(_format_summary(summary))
    print(_format_levers(result, summary))
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
       "months_short", "first_short", "recovered"]]
    table = table.rename(columns={"shortfall_t": "cumulative_t", "share_short": "of_demand"})
    return "shortfall by region x sector (t of magnet, or t of element):\n" + table.to_string(
        index=False)


def _format_levers(result: RunResult, summary: pd.DataFrame) -> str:
    """Timing of shortfalls, price peaks by tier, floor payments, stockpiles, producers."""
    from sim.summary import (
        first_event,
        floor_payments_table,
        price_peaks_table,
        producers_table,
        stockpiles_table,
    )
    from sim.units import month_index

    lines = []
    short = summary.dropna(subset=["first_short"])
    start = first_event(result)
    if not short.empty:
        first = short.sort_values("first_short").iloc[0]
        since = "" if start is None else (
            f", {month_index(start, first['first_short']):.1f} months after the first event "
            f"({start})")
        lines.append(f"first shortfall: {first['first_short']} ({first['region']} "
                     f"{first['sector']} {first['material']}){since}")
        recovered = short.dropna(subset=["recovered"])
        lines.append(f"recovered by the end: {len(recovered)} of {len(short)} region x sector "
                     "x material groups that ran short")
    peaks = price_peaks_table(result)
    peaks = peaks[peaks["peak_ratio"] > 1.05].sort_values("peak_ratio", ascending=False)
    if not peaks.empty:
        lines.append("price peaks by tier (US$/kg):")
        for row in peaks.head(8).itertuples():
            lines.append(f"  {row.product:13s} {row.market:8s} {row.first_usd_per_kg:10,.1f} -> "
                         f"{row.peak_usd_per_kg:10,.1f} ({row.peak_ratio:.1f}x) in "
                         f"{row.peak_date}")
    paid = floor_payments_table(result)
    for (floor, payer, beneficiary), group in paid.groupby(["floor", "payer", "beneficiary"]):
        lines.append(f"price floor '{floor}': {payer} paid {beneficiary} "
                     f"US${group['usd'].sum() / 1e6:,.1f}M over the horizon")
    piles = stockpiles_table(result)
    for name, group in piles.groupby("stockpile"):
        lines.append(f"stockpile '{name}': {group['tonnes'].iloc[0]:,.1f} t after the first "
                     f"month, {group['tonnes'].iloc[-1]:,.1f} t at the end")
    producers = producers_table(result)
    for name, group in producers.groupby("producer"):
        low = group[group["capacity_share"] < 1.0]
        if not low.empty:
            lines.append(f"producer {name}: below full capacity from {low['date'].iloc[0]} "
                         f"({len(low)} months; {group['capacity_share'].iloc[-1]:.0%} at the end)")
    return "\n".join(lines)


def _calibrate(args: argparse.Namespace) -> int:
    from sim.engine import run
    from sim.loading import default_world, load_scenario
    from sim.results import calibration
    from sim.scenario import Scenario

    world = default_world()
    if args.scenario is None:
        scenario = Scenario.model_validate(
            {"name": "calibration-2024", "horizon": {"start": "2024-01-01", "end": "2024-12-31"}})
    else:
        scenario = load_scenario(args.scenario, world)
    measures = calibration(run(world, scenario))
    targets = {
        "world_mine_t_reo": "390,000 t REO within 5% (USGS MCS 2025)",
        "china_share_mining": "about 0.69 (270/390 kt, USGS MCS 2025)",
        "china_share_separation": "about 0.90 (IEA: 91-92%)",
        "china_share_magnets": "over 0.90 (IEA: 94%)",
        "first_year_shortfall_share": "0 (no event in the baseline)",
        "first_year_magnet_t": "about 300,000 t (2024 NdFeB + SmCo, derived)",
    }
    for key, value in measures.items():
        print(f"{key:28s} {value:14,.3f}   target: {targets.get(key, '')}")
    return 0

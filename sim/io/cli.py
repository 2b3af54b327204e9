"""The command line: ``sim validate``, ``sim run``, ``sim backtest`` and ``sim calibrate``.

Errors in input print one line (``FILE:LINE: field.path: problem (got VALUE)``) and exit with
status 2, never a traceback; a broken mass balance exits with status 3.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.errors import InputError, MassBalanceError, SimError
from sim.version import __version__

if TYPE_CHECKING:
    from sim.runs.engine import RunResult

EXIT_INPUT = 2
EXIT_BALANCE = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sim",
        description="Simulate rare-earth supply disruptions: who runs short of what, "
        "when, and by how much.",
    )
    parser.add_argument("--version", action="version", version=f"sim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    val = sub.add_parser("validate", help="check a scenario file and exit")
    val.add_argument("scenario", type=Path)
    run = sub.add_parser("run", help="run a scenario and write a results folder")
    run.add_argument("scenario", type=Path)
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder to create (default results/<name>/<UTC timestamp>/)",
    )
    run.add_argument("--seed", type=int, default=0, help="random seed (recorded)")
    run.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        help="root for default output folders (default: results)",
    )
    swp = sub.add_parser("sweep", help="run many futures of a scenario with uncertain inputs")
    swp.add_argument("scenario", type=Path)
    _sweep_options(swp)
    swp.add_argument(
        "--keep-samples",
        action="store_true",
        help="also write every sample's path to samples.parquet",
    )
    swp.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder to create (default results/<name>/<UTC timestamp>-sweep/)",
    )
    cmp_ = sub.add_parser(
        "compare", help="sweep two scenarios with shared draws and report the effect of B against A"
    )
    cmp_.add_argument("a", type=Path, metavar="A.yaml")
    cmp_.add_argument("b", type=Path, metavar="B.yaml")
    _sweep_options(cmp_)
    cmp_.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder to create (default results/<A>-vs-<B>/<UTC timestamp>/)",
    )
    sen = sub.add_parser("sensitivity", help="which uncertain inputs drive an outcome (SALib)")
    sen.add_argument("scenario", type=Path)
    sen.add_argument(
        "--output",
        required=True,
        metavar="METRIC",
        help="outcome, e.g. shortfall_t:US:defence (cumulative t), "
        "shortfall_share:EU:ev_traction:NdFeB, or price:ex_china:Dy_oxide (mean); "
        "add @2025-01..2030-12 for a window",
    )
    sen.add_argument(
        "-n",
        type=int,
        default=256,
        help="base samples (Sobol: n x (2 inputs + 2) runs; default 256)",
    )
    sen.add_argument("--analysis", choices=("sobol", "morris"), default="sobol")
    sen.add_argument("--seed", type=int, default=0)
    sen.add_argument("--workers", type=int, default=_default_workers())
    sen.add_argument("--out", type=Path, default=None)
    sen.add_argument("--results", type=Path, default=Path("results"))
    _backtest_parser(sub)
    cal = sub.add_parser("calibrate", help="print a world's first-year calibration")
    cal.add_argument(
        "scenario",
        type=Path,
        nargs="?",
        default=None,
        help="scenario (default: the world's first year with no event)",
    )
    cal.add_argument(
        "--world",
        default="default",
        help="world when no scenario is given: default (2024) or default@2009",
    )
    return parser


def _default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _sweep_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-n", "--samples", type=int, required=True, dest="n", help="number of futures to draw"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--workers",
        type=int,
        default=_default_workers(),
        help="worker processes (default: this machine's cores, at most 8)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask scheduler (tcp://HOST:PORT), or 'local' for a local cluster",
    )
    parser.add_argument(
        "--method",
        choices=("random", "lhs", "sobol"),
        default="random",
        help="how inputs are drawn (default random)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="samples per engine batch (default: up to 250, at least two batches a "
        "worker; does not change results)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        help="root for default output folders (default: results)",
    )


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
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "sensitivity":
            return _sensitivity(args)
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
    from sim.io.scenario_files import load_scenario

    scenario = load_scenario(args.scenario)
    print(
        f"{args.scenario}: valid scenario '{scenario.name}' "
        f"({scenario.horizon.start} to {scenario.horizon.end}, {len(scenario.events)} events"
        + (f", {len(scenario.uncertain)} uncertain inputs" if scenario.uncertain else "")
        + ")"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from sim.io.report import check_free, default_folder, write_run
    from sim.io.scenario_files import load_scenario
    from sim.runs.engine import run
    from sim.runs.tables import shortfall_table, summary_table
    from sim.world.loader import vintage_world

    scenario = load_scenario(args.scenario)
    world = vintage_world(scenario.world)
    folder = args.out if args.out is not None else default_folder(args.results, scenario)
    check_free(folder)
    result = run(world, scenario, seed=args.seed)
    manifest = write_run(result, folder)
    summary = summary_table(shortfall_table(result))
    print(
        f"scenario {scenario.name}: {scenario.horizon.start} to {scenario.horizon.end}, "
        f"{result.chain.steps} months, simulated in {result.wall_seconds:.2f} s, "
        f"mass-balance residual {manifest['mass_balance_residual']:.1e}"
    )
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
    )[
        [
            "region",
            "sector",
            "material",
            "shortfall_t",
            "share_short",
            "peak_month_t",
            "months_short",
            "first_short",
            "recovered",
        ]
    ]
    table = table.rename(columns={"shortfall_t": "cumulative_t", "share_short": "of_demand"})
    return "shortfall by region x sector (t of magnet, or t of element):\n" + table.to_string(
        index=False
    )


def _format_levers(result: RunResult, summary: pd.DataFrame) -> str:
    """Timing of shortfalls, price peaks by tier, floor payments, stockpiles, producers."""
    from sim.runs.summary import (
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
        since = (
            ""
            if start is None
            else (
                f", {month_index(start, first['first_short']):.1f} months after the first event "
                f"({start})"
            )
        )
        lines.append(
            f"first shortfall: {first['first_short']} ({first['region']} "
            f"{first['sector']} {first['material']}){since}"
        )
        recovered = short.dropna(subset=["recovered"])
        lines.append(
            f"recovered by the end: {len(recovered)} of {len(short)} region x sector "
            "x material groups that ran short"
        )
    peaks = price_peaks_table(result)
    peaks = peaks[peaks["peak_ratio"] > 1.05].sort_values("peak_ratio", ascending=False)
    if not peaks.empty:
        lines.append("price peaks by tier (US$/kg):")
        for row in peaks.head(8).itertuples():
            lines.append(
                f"  {row.product:13s} {row.market:8s} {row.first_usd_per_kg:10,.1f} -> "
                f"{row.peak_usd_per_kg:10,.1f} ({row.peak_ratio:.1f}x) in "
                f"{row.peak_date}"
            )
    paid = floor_payments_table(result)
    for (floor, payer, beneficiary), group in paid.groupby(["floor", "payer", "beneficiary"]):
        lines.append(
            f"price floor '{floor}': {payer} paid {beneficiary} "
            f"US${group['usd'].sum() / 1e6:,.1f}M over the horizon"
        )
    piles = stockpiles_table(result)
    for name, group in piles.groupby("stockpile"):
        lines.append(
            f"stockpile '{name}': {group['tonnes'].iloc[0]:,.1f} t after the first "
            f"month, {group['tonnes'].iloc[-1]:,.1f} t at the end"
        )
    producers = producers_table(result)
    for name, group in producers.groupby("producer"):
        low = group[group["capacity_share"] < 1.0]
        if not low.empty:
            lines.append(
                f"producer {name}: below full capacity from {low['date'].iloc[0]} "
                f"({len(low)} months; {group['capacity_share'].iloc[-1]:.0%} at the end)"
            )
    return "\n".join(lines)


def _calibrate(args: argparse.Namespace) -> int:
    from sim.config.scenario import Scenario
    from sim.io.scenario_files import load_scenario
    from sim.runs.engine import run
    from sim.runs.tables import calibration
    from sim.world.loader import calibration_targets, vintage_world, world_names

    if args.scenario is None:
        if args.world not in world_names():
            raise InputError(
                f"unknown world; expected one of {world_names()}",
                path="--world",
                value=args.world,
                has_value=True,
            )
        year = vintage_world(args.world).base_year
        scenario = Scenario.model_validate(
            {
                "name": f"calibration-{year}",
                "world": args.world,
                "horizon": {"start": f"{year}-01-01", "end": f"{year}-12-31"},
            }
        )
    else:
        scenario = load_scenario(args.scenario)
    measures = calibration(run(vintage_world(scenario.world), scenario))
    targets = calibration_targets(scenario.world)
    print(f"world {scenario.world}, first 12 months from {scenario.horizon.start}")
    for key, value in measures.items():
        row = targets.get(key)
        bounds = f" [{row.low} to {row.high}]" if row is not None and row.low else ""
        target = f"{row.target}{bounds} ({row.source})" if row is not None else ""
        print(f"{key:28s} {value:14,.3f}   target: {target}")
    return 0


def _backtest_parser(sub: Any) -> None:
    bt = sub.add_parser(
        "backtest", help="run a scenario and hold its monthly series against observed ones"
    )
    bt.add_argument("scenario", type=Path)
    bt.add_argument(
        "--observed",
        type=Path,
        required=True,
        help="CSV with columns date, series, key, value (see README)",
    )
    bt.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder to create (default results/backtest/<name>/<UTC timestamp>/)",
    )
    bt.add_argument("--seed", type=int, default=0, help="random seed (recorded)")
    bt.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        help="root for default output folders (default: results)",
    )


def _backtest(args: argparse.Namespace) -> int:
    from sim.io.observed import check_observed, read_observed
    from sim.io.report import check_free, default_folder, write_backtest
    from sim.io.scenario_files import load_scenario
    from sim.runs.backtest import compare
    from sim.runs.engine import run
    from sim.world.loader import vintage_world

    scenario = load_scenario(args.scenario)
    world = vintage_world(scenario.world)
    observed = read_observed(args.observed)
    check_observed(observed, world, str(args.observed))
    folder = (
        args.out if args.out is not None else default_folder(args.results / "backtest", scenario)
    )
    check_free(folder)
    result = run(world, scenario, seed=args.seed)
    backtest = compare(result, observed)
    write_backtest(backtest, result, folder, args.observed)
    table = backtest.summary.drop(columns=["unit"]).round(3)
    print(
        f"scenario {scenario.name} on {scenario.world}, against {args.observed} "
        f"({len(observed)} observations):"
    )
    print(table.to_string(index=False))
    agree = backtest.directions["agree"].dropna()
    if len(agree):
        print(f"direction after events: {int(agree.sum())} of {len(agree)} agree")
    print(f"wrote {folder}")
    return 0


def _progress(total: int, label: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A progress bar on a terminal; silent otherwise."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit="sample", disable=not sys.stderr.isatty(), leave=False)
    return bar.update, bar.close


def _sweep_one(path: Path, args: argparse.Namespace, folder: Path | None) -> tuple[Any, Path, Path]:
    """Load and sweep one scenario, resuming from its store; returns result, folder, store."""
    from sim.io.report import check_free, data_hash, default_folder, scenario_hash, sweep_store
    from sim.io.scenario_files import load_scenario
    from sim.runs.sweep import default_batch, sweep, sweep_key
    from sim.world.loader import vintage_world

    if args.workers < 1:
        raise InputError("must be at least 1", path="--workers", value=args.workers, has_value=True)
    batch = args.batch_size or default_batch(args.n, args.workers)
    if batch < 1:
        raise InputError("must be at least 1", path="--batch-size", value=batch, has_value=True)
    scenario = load_scenario(path)
    world = vintage_world(scenario.world)
    default = folder is None
    target = folder if folder is not None else default_folder(args.results, scenario)
    if default:
        target = target.with_name(target.name + "-sweep")
    check_free(target)
    key = sweep_key(scenario_hash(scenario), data_hash(), args.n, args.seed, args.method, batch)
    store = sweep_store(target, key, default)
    update, close = _progress(args.n, scenario.name)
    try:
        result = sweep(
            world,
            scenario,
            args.n,
            seed=args.seed,
            method=args.method,
            workers=args.workers,
            scheduler=args.scheduler,
            batch_size=batch,
            store=store,
            progress=update,
        )
    finally:
        close()
    return result, target, store


def _sweep(args: argparse.Namespace) -> int:
    import shutil

    from sim.io.report import write_sweep
    from sim.runs.sweep import default_batch, totals_table

    result, folder, store = _sweep_one(args.scenario, args, args.out)
    manifest = write_sweep(
        result,
        folder,
        args.keep_samples,
        {
            "workers": args.workers,
            "scheduler": args.scheduler,
            "batch_size": args.batch_size or default_batch(args.n, args.workers),
        },
    )
    shutil.rmtree(store, ignore_errors=True)
    scenario = result.scenario
    print(
        f"sweep {scenario.name}: {result.samples:,} futures ({len(scenario.uncertain)} "
        f"uncertain inputs, method {result.method}, seed {result.seed}) in "
        f"{result.wall_seconds:.1f} s"
        + (f", {result.resumed} of {result.batches} batches resumed" if result.resumed else "")
        + f"; mass-balance residual {manifest['mass_balance_residual']:.1e}"
    )
    print(_format_totals(totals_table(result)))
    print(f"wrote {folder}")
    return 0


def _format_totals(totals: pd.DataFrame, limit: int = 15) -> str:
    short = totals[totals["p95"] > 0.5].sort_values("mean", ascending=False).head(limit)
    if short.empty:
        return "no shortfall in any future"
    table = short[
        ["region", "sector", "material", "mean", "p05", "p50", "p95", "probability_short"]
    ].copy()
    for col in ("mean", "p05", "p50", "p95"):
        table[col] = table[col].round(0).astype(int)
    table["probability_short"] = (100 * table["probability_short"]).round(0).astype(int).astype(
        str
    ) + "%"
    return (
        "cumulative shortfall over the horizon (t of magnet, or t of element), "
        "largest first:\n" + table.to_string(index=False)
    )


def _compare(args: argparse.Namespace) -> int:
    import shutil

    from sim.io.report import check_free, write_comparison

    if args.out is not None:
        check_free(args.out)
    a, _, store_a = _sweep_one(
        args.a, args, None if args.out is None else args.out.with_name(args.out.name + "-a")
    )
    b, folder_b, store_b = _sweep_one(
        args.b, args, None if args.out is None else args.out.with_name(args.out.name + "-b")
    )
    out = (
        args.out
        if args.out is not None
        else (args.results / f"{a.scenario.name}-vs-{b.scenario.name}" / folder_b.name)
    )
    table = write_comparison(a, b, out)
    shutil.rmtree(store_a, ignore_errors=True)
    shutil.rmtree(store_b, ignore_errors=True)
    shared = sorted({u.key for u in a.scenario.uncertain} & {u.key for u in b.scenario.uncertain})
    print(
        f"compare {b.scenario.name} against {a.scenario.name}: {a.samples:,} futures each, "
        f"seed {args.seed}; shared inputs (same draws): {', '.join(shared) or 'none'}"
    )
    moved = table[(table["diff_p95"].abs() > 0.5) | (table["diff_p05"].abs() > 0.5)]
    moved = moved.reindex(moved["diff_mean"].abs().sort_values(ascending=False).index).head(15)
    if moved.empty:
        print("no difference in cumulative shortfall in any future")
    else:
        view = moved[
            [
                "region",
                "sector",
                "material",
                "a_mean",
                "b_mean",
                "diff_mean",
                "diff_p05",
                "diff_p95",
                "probability_b_lower",
            ]
        ].copy()
        for col in ("a_mean", "b_mean", "diff_mean", "diff_p05", "diff_p95"):
            view[col] = view[col].round(0).astype(int)
        view["probability_b_lower"] = (100 * view["probability_b_lower"]).round(0).astype(
            int
        ).astype(str) + "%"
        print("cumulative shortfall, B minus A, paired future by future (t):")
        print(view.to_string(index=False))
    print(f"wrote {out}")
    return 0


def _sensitivity(args: argparse.Namespace) -> int:
    from sim.io.report import check_free, default_folder, write_sensitivity
    from sim.io.scenario_files import load_scenario
    from sim.runs.sensitivity import analyse, parse_output
    from sim.world.loader import vintage_world

    scenario = load_scenario(args.scenario)
    world = vintage_world(scenario.world)
    output = parse_output(args.output, scenario)
    folder = args.out if args.out is not None else default_folder(args.results, scenario)
    if args.out is None:
        folder = folder.with_name(folder.name + "-sensitivity")
    check_free(folder)
    update, close = _progress(0, "sensitivity")
    try:
        table = analyse(
            world,
            scenario,
            output,
            args.n,
            seed=args.seed,
            analysis=args.analysis,
            workers=args.workers,
        )
    finally:
        close()
    write_sensitivity(table, output.label, scenario, folder)
    view = table[
        [
            "input",
            "base",
            "at_p05",
            "at_p95",
            "swing",
            *[c for c in ("S1", "ST", "mu_star", "sigma") if c in table],
        ]
    ]
    print(f"sensitivity of {output.label} in {scenario.name} ({args.analysis}, n={args.n}):")
    print(view.to_string(index=False, float_format=lambda v: f"{v:,.3g}"))
    print(f"wrote {folder}")
    return 0

"""The command line's eleven commands, one function each, returning the exit status.

Each reads its inputs, runs, writes its results folder and prints a summary (`sim.io.console`).
Modules are imported inside each command, so that a command loads only what it needs (``sim
validate`` does not load the engine).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import Interrupted, bad_value
from sim.io import console
from sim.io.chart_process import Charts, charted

if TYPE_CHECKING:
    from sim.config.scenario import Scenario
    from sim.runs.sweep import SweepResult
    from sim.world.world import World


def validate(args: argparse.Namespace) -> int:
    """``sim validate``: check a scenario file against the schema and its world."""
    scenario, _ = _scenario_and_world(args.scenario)
    print(console.validated(args.scenario, scenario))
    return 0


@charted()
def run(args: argparse.Namespace, charts: Charts) -> int:
    """``sim run``: run a scenario once and write its results folder (its chart drawn by a
    second process, started now so that it loads matplotlib while this one simulates)."""
    from sim.io.impact_console import impact_summary
    from sim.io.report import check_free, default_folder, write_run
    from sim.io.table_files import TableChoice, parse_tables
    from sim.runs import engine
    from sim.runs.windows import check_within, parse_window

    window = parse_window(args.by)
    choice = TableChoice(parse_tables(args.tables), args.format)
    scenario, world = _scenario_and_world(args.scenario)
    check_within(window, scenario.horizon.start, scenario.horizon.end)
    folder = args.out if args.out is not None else default_folder(args.results, scenario)
    check_free(folder)
    result = engine.run(world, scenario, seed=args.seed)
    manifest, tables = write_run(result, folder, window, choice, charts)
    summary = tables["summary.csv"]
    print(console.run_header(result, manifest))
    print(console.shortfall_summary(summary))
    print(console.levers(result, summary))
    print(impact_summary(tables, world.base_year))
    print(f"wrote {folder}")
    _report(args, folder, tables)
    return 0


def report(args: argparse.Namespace) -> int:
    """``sim report``: write a results folder's report.html."""
    from sim.io.report_page import write_report

    print(f"wrote {write_report(args.folder, args.out, args.year)}")
    return 0


def server(args: argparse.Namespace) -> int:
    """``sim server``: the warm server's status, or start or stop it."""
    from sim.io.server import control

    print(control(args.action))
    return 0


def _report(args: argparse.Namespace, folder: Path, tables: Any = None) -> None:
    """With ``--report``, the report of the folder just written (``tables`` as held)."""
    if args.report:
        from sim.io.report_page import write_report

        print(f"wrote {write_report(folder, tables=tables)}")


def _scenario_and_world(path: Path) -> tuple[Scenario, World]:
    """A scenario file, read and checked, and the embedded world it names."""
    from sim.io.scenario_files import load_scenario
    from sim.world.loader import vintage_world

    scenario = load_scenario(path)
    if scenario.world == "default" and scenario.horizon.end.year > TRENDS_THROUGH:
        print(
            f"notice: {scenario.name} runs past {TRENDS_THROUGH}: the world's demand and "
            "capacity grow at constant trends from its 2024 data, and with no event buyers "
            "run short from about 2040 (docs/design.md, Supply that answers price)",
            file=sys.stderr,
        )
    return scenario, vintage_world(scenario.world)


#: The last year the default world's constant growth trends are held to (the baseline's
#: horizon, on which no buyer is short; extended to 2053 it runs short from 2040).
TRENDS_THROUGH = 2035


FIT_SCENARIO = Path("scenarios/china-2010-quotas.yaml")
FIT_OBSERVED = Path("scenarios/observed/china-2010-episode.csv")


def calibrate(args: argparse.Namespace) -> int:
    """``sim calibrate``: a world's (or a scenario's) first-year measures against targets, or
    with ``--fit`` the market's behavioural parameters fitted on history."""
    if args.fit:
        from sim.io.fit_command import fit_command

        return fit_command(args.scenario or FIT_SCENARIO, args.observed or FIT_OBSERVED, args)
    from sim.io.scenario_files import load_scenario
    from sim.runs import engine
    from sim.runs.tables import calibration
    from sim.world.loader import calibration_targets, vintage_world

    scenario = (
        _calibration_scenario(args.world) if args.scenario is None else load_scenario(args.scenario)
    )
    measures = calibration(engine.run(vintage_world(scenario.world), scenario))
    targets = calibration_targets(scenario.world)
    print(f"world {scenario.world}, first 12 months from {scenario.horizon.start}")
    for line in console.calibration(measures, targets):
        print(line)
    _print_consistency(scenario.world)
    return 0


def _print_consistency(world_name: str) -> None:
    """The check of a world's demand against the units its regions plan (if it has plans)."""
    from sim.io.impact_console import consistency_lines
    from sim.runs.impact import consistency_table
    from sim.world.impact_data import impact_data
    from sim.world.loader import vintage_world

    table = consistency_table(vintage_world(world_name), impact_data(world_name))
    for line in consistency_lines(table):
        print(line)


def _calibration_scenario(world_name: str) -> Scenario:
    """The first year of a world, with no event."""
    from sim.config.scenario import Scenario
    from sim.world.loader import vintage_world, world_names

    if world_name not in world_names():
        raise bad_value(f"unknown world; expected one of {world_names()}", "--world", world_name)
    year = vintage_world(world_name).base_year
    return Scenario.model_validate(
        {
            "name": f"calibration-{year}",
            "world": world_name,
            "horizon": {"start": f"{year}-01-01", "end": f"{year}-12-31"},
        }
    )


@charted("sim.runs.backtest")
def backtest(args: argparse.Namespace, charts: Charts) -> int:
    """``sim backtest``: run a scenario and hold its series against observed ones (its chart
    drawn by a second process, as `run`'s)."""
    from sim.io.observed import check_observed, read_observed
    from sim.io.report import check_free, default_folder, write_backtest
    from sim.runs import engine
    from sim.runs.backtest import compare

    scenario, world = _scenario_and_world(args.scenario)
    observed = read_observed(args.observed)
    check_observed(observed, world, str(args.observed))
    folder = (
        args.out if args.out is not None else default_folder(args.results / "backtest", scenario)
    )
    check_free(folder)
    result = engine.run(world, scenario, seed=args.seed)
    held = compare(result, observed)
    write_backtest(held, result, folder, args.observed, charts)
    print(console.backtest(held, scenario, args.observed, len(observed)))
    print(f"wrote {folder}")
    return 0


@charted()
def sweep(args: argparse.Namespace, charts: Charts) -> int:
    """``sim sweep``: run many futures of a scenario and write their distribution (its fan
    chart drawn by a second process, as `run`'s)."""
    from sim.io.report import write_sweep
    from sim.runs.sweep import default_batch
    from sim.runs.sweep_tables import totals_table
    from sim.runs.windows import check_within, parse_window

    window = parse_window(args.by)
    loaded = _scenario_and_world(args.scenario)
    _check_time(args, loaded[0])
    _warn_if_certain(loaded[0], args.scenario)
    check_within(window, loaded[0].horizon.start, loaded[0].horizon.end)
    result, folder, store = _sweep_one(loaded, args, args.out)
    manifest = write_sweep(
        result,
        folder,
        args.keep_samples,
        {
            "workers": args.workers,
            "scheduler": args.scheduler,
            "batch_size": args.batch_size or default_batch(args.n, args.workers),
            "periods": window.label,
        },
        window,
        charts,
    )
    shutil.rmtree(store, ignore_errors=True)
    print(console.sweep_header(result, manifest))
    print(console.sweep_totals(totals_table(result)))
    print(f"wrote {folder}")
    _report(args, folder)
    return 0


def _warn_if_certain(scenario: Scenario, path: Path) -> None:
    """One line on stderr when a sweep of ``scenario`` would draw nothing."""
    from sim.config.draws import draws_nothing

    if draws_nothing(scenario):
        print(
            f"warning: {path}: nothing in the scenario is uncertain (no distribution, no "
            "completion probability below 1), so every future is the same; write a "
            "distribution in place of a value to sweep it",
            file=sys.stderr,
        )


@charted()
def compare(args: argparse.Namespace, charts: Charts) -> int:
    """``sim compare``: sweep A and B with shared draws; report B's effect against A (B - A
    drawn by a second process, as `run`'s chart)."""
    from sim.io.impact_console import comparison_impact
    from sim.io.report import check_free, write_comparison
    from sim.runs.sweep import check_comparable
    from sim.runs.windows import check_within, parse_window

    window = parse_window(args.by)
    show = [_region_sector(text) for text in args.show]
    if args.out is not None:
        check_free(args.out)
    first, second = _scenario_and_world(args.a), _scenario_and_world(args.b)
    check_comparable(first[0], second[0])
    _check_time(args, first[0], futures=2 * args.n)
    check_within(window, first[0].horizon.start, first[0].horizon.end)
    out_a, out_b = (
        (None, None) if args.out is None else (_renamed(args.out, "-a"), _renamed(args.out, "-b"))
    )
    a, _, store_a = _sweep_one(first, args, out_a)
    b, folder_b, store_b = _sweep_one(second, args, out_b)
    out = (
        args.out
        if args.out is not None
        else (args.results / f"{a.scenario.name}-vs-{b.scenario.name}" / folder_b.name)
    )
    tables = write_comparison(a, b, out, window, charts)
    shutil.rmtree(store_a, ignore_errors=True)
    shutil.rmtree(store_b, ignore_errors=True)
    print(console.comparison_header(a, b, args.seed))
    print(console.comparison(tables["comparison.csv"], show))
    print(comparison_impact(tables, first[1].base_year))
    print(f"wrote {out}")
    _report(args, out, tables)
    return 0


def _region_sector(text: str) -> tuple[str, str]:
    """``--show REGION:SECTOR``: a region and a sector of the world, either may be ``all``."""
    from sim.units import REGIONS, SECTORS

    region, _, sector = text.partition(":")
    if region not in (*REGIONS, "all") or sector not in (*SECTORS, "all"):
        expected = f"REGION:SECTOR, a region of {', '.join(REGIONS)} and a sector of "
        raise bad_value(expected + f"{', '.join(SECTORS)} (either may be 'all')", "--show", text)
    return region, sector


def solve(args: argparse.Namespace) -> int:
    """``sim solve``: the smallest size of a lever for which a target holds."""
    from sim.io.impact_console import solve_lines
    from sim.io.report import check_free, default_folder, write_solve
    from sim.runs.solve import TYPICAL_TRIALS, Futures, check_probability
    from sim.runs.solve import solve as goal_seek
    from sim.runs.solve_inputs import parse_lever, parse_target

    scenario, world = _scenario_and_world(args.scenario)
    lever, target = parse_lever(args.lever, scenario), parse_target(args.target, scenario, world)
    check_probability(args.probability)
    _check_time(args, scenario, futures=TYPICAL_TRIALS * args.n)
    futures = Futures(args.n, args.seed, args.method, _checked_workers(args.workers))
    folder = args.out or _renamed(default_folder(args.results, scenario), "-solve")
    check_free(folder)
    found = goal_seek(world, scenario, lever, target, args.probability, futures)
    write_solve(found, scenario, args.seed, folder)
    print("\n".join(solve_lines(found, scenario.name)))
    print(f"wrote {folder}")
    if found.answer is None:
        print(f"error: no size of {lever.path} meets the target: {found.reason}", file=sys.stderr)
    return 0 if found.answer is not None else 1


def _check_time(args: argparse.Namespace, scenario: Scenario, futures: int | None = None) -> None:
    """Refuse work (a sweep, a comparison, a sensitivity analysis, a solve) estimated to take
    more than an hour, unless ``--force``."""
    from sim.runs.engine import check_time

    workers = args.workers if isinstance(args.workers, int) and args.workers > 0 else 1
    check_time(scenario, args.n if futures is None else futures, workers, args.force)


def _renamed(folder: Path, suffix: str) -> Path:
    """``folder`` with ``suffix`` added to its name."""
    return folder.with_name(folder.name + suffix)


def sensitivity(args: argparse.Namespace) -> int:
    """``sim sensitivity``: which uncertain inputs drive an outcome (SALib)."""
    from sim.io.report import check_free, default_folder, write_sensitivity
    from sim.runs.sensitivity import analyse, check_design, design_runs, parse_output

    scenario, world = _scenario_and_world(args.scenario)
    output = parse_output(args.output, scenario)
    inputs = len({u.key for u in scenario.uncertain})
    check_design(args.n, inputs)  # a design too large even to draw, before its time
    _check_time(args, scenario, futures=design_runs(args.n, inputs, args.analysis))
    folder = args.out
    if folder is None:
        folder = _renamed(default_folder(args.results, scenario), "-sensitivity")
    check_free(folder)
    _, close = _progress(0, "sensitivity")
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
    write_sensitivity(table, output, scenario, folder)
    print(f"sensitivity of {output.label} in {scenario.name} ({args.analysis}, n={args.n}):")
    print(console.sensitivity(table))
    print(f"wrote {folder}")
    return 0


def _progress(total: int, label: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A progress bar on a terminal; silent otherwise."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit="sample", disable=not sys.stderr.isatty(), leave=False)
    return bar.update, bar.close


def _sweep_one(
    loaded: tuple[Scenario, World], args: argparse.Namespace, folder: Path | None
) -> tuple[SweepResult, Path, Path]:
    """Sweep one scenario on its world, resuming from its store; returns result, folder,
    store."""
    from sim.io.report import check_free, data_hash, default_folder, scenario_hash, sweep_store
    from sim.runs.store import sweep_key
    from sim.runs.sweep import sweep as sweep_samples

    batch = _batch_size(args)
    scenario, world = loaded
    target = folder
    if target is None:
        target = _renamed(default_folder(args.results, scenario), "-sweep")
    check_free(target)
    key = sweep_key(scenario_hash(scenario), data_hash(), args.n, args.seed, args.method, batch)
    store = sweep_store(target, key, folder is None)
    update, close = _progress(args.n, scenario.name)
    try:
        with _kept_on_interrupt(store):
            result = sweep_samples(
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
                notice=lambda text: print(f"notice: {text}", file=sys.stderr),
            )
    finally:
        close()
    return result, target, store


@contextmanager
def _kept_on_interrupt(store: Path) -> Iterator[None]:
    """A sweep interrupted says what it kept: its finished batches, in ``store``, from which
    the same command resumes."""
    try:
        yield
    except KeyboardInterrupt:
        kept = len(list(store.glob("batch-*.npz"))) if store.is_dir() else 0
        raise Interrupted(
            f"no results folder was written; {kept} finished batch(es) kept in {store}: "
            "the same command resumes from them ('sim clean' removes them)"
        ) from None


def _batch_size(args: argparse.Namespace) -> int:
    """Samples per engine batch (``--batch-size``, else the default for the workers)."""
    from sim.runs.sweep import default_batch

    _checked_workers(args.workers)
    batch = args.batch_size or default_batch(args.n, args.workers)
    if batch < 1:
        raise bad_value("must be at least 1", "--batch-size", batch)
    return batch


def _checked_workers(workers: int) -> int:
    """``--workers`` if at least 1."""
    if workers < 1:
        raise bad_value("must be at least 1", "--workers", workers)
    return workers


RECENT_SECONDS = 600  # a store changed this recently may belong to a sweep running now


def clean(args: argparse.Namespace) -> int:
    """``sim clean``: list the stores interrupted sweeps left (with ``--delete``, remove
    those not changed in the last ten minutes)."""
    from sim.runs.store import find_stores

    stores = [s for root in args.folders if root.exists() for s in find_stores(root)]
    total = 0
    for store in stores:
        total += _clean_one(store, args.delete)
    verb = "removed" if args.delete else "found"
    print(f"{verb} {total / 1e6:.1f} MB in sweep stores under {', '.join(map(str, args.folders))}")
    return 0


def _clean_one(store: Path, delete: bool) -> int:
    """Print one store (and remove it if asked and it is not recent); the bytes removed, or
    found when not deleting."""
    from sim.runs.store import remove_store, store_size

    size, age = store_size(store)
    line = f"{store}  {size / 1e6:.1f} MB, last changed {age / 3600:.1f} h ago"
    if delete and age < RECENT_SECONDS:
        print(f"{line}: kept (a sweep may be using it)")
        return 0
    if delete:
        remove_store(store)
    print(f"{line}{': removed' if delete else ''}")
    return size

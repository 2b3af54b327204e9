"""The command line: its parser, and the dispatch of its eleven commands to `sim.io.commands`.

- ``sim validate SCENARIO``: check a scenario file and exit.
- ``sim run SCENARIO``: run a scenario and write a results folder.
- ``sim sweep SCENARIO -n N``: run many futures of a scenario with uncertain inputs.
- ``sim compare A B -n N``: sweep two scenarios with shared draws; the effect of B against A.
- ``sim sensitivity SCENARIO --output METRIC``: which uncertain inputs drive an outcome.
- ``sim solve SCENARIO --lever events[N].FIELD --target TARGET``: the smallest size of a lever
  for which a target holds.
- ``sim backtest SCENARIO --observed FILE``: hold a run's monthly series against observed ones.
- ``sim calibrate [SCENARIO]``: print a world's first-year calibration against its targets.
- ``sim clean [FOLDER ...]``: list (``--delete``: remove) the stores interrupted sweeps left.
- ``sim report FOLDER``: write a results folder's report.html (``--report`` on run, sweep and
  compare writes it with the folder).
- ``sim server status|start|stop``: the warm server that runs ``sim run`` and ``sim
  backtest`` in about a second (`sim.io.server`).

Errors in input print one line (``FILE:LINE: field.path: problem (got VALUE)``) and exit with
status 2, never a traceback; a broken mass balance exits with status 3.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from sim.errors import (
    EXIT_INTERRUPTED,
    MAX_PROBLEM,
    NOTHING_WRITTEN,
    InputError,
    Interrupted,
    MassBalanceError,
    SimError,
    excerpt,
    one_line,
)
from sim.version import __version__

EXIT_INPUT = 2
EXIT_BALANCE = 3


def console() -> NoReturn:
    """The ``sim`` program (and ``python -m sim``): the command line of ``sys.argv``, run by
    this copy's warm server if one answers (`sim.io.server`), else here: its kernels
    uncompiled if they were never compiled, and compiled in the background after it succeeds
    (`sim.io.compiled`), or, once they are, a server started for the commands after it."""
    from sim.io import compiled, server

    served = server.forward(sys.argv[1:])
    if served is not None:
        sys.exit(served)
    first = compiled.uncompiled(sys.argv[1:])
    status = main()
    if first and status == 0:
        print(compiled.compile_later(), file=sys.stderr)
    elif status == 0:
        server.start_later(sys.argv[1:])
    sys.exit(status)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_INPUT
    # Arrow's default allocator (mimalloc) page-faults afresh for each large string column
    # of a run's tables (~0.6 s of CPU time in `sim run` of the baseline); the system's does
    # not. Set before pandas loads pyarrow; a user's own setting stands.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    with _terminate_as_interrupt():
        return _flushed(_run(args))


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler's or ``kill``'s stop) is handled as Ctrl-C is: the command stops
    at once, removes what it had half written and says what it kept. Only in the main
    thread (where Python runs signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _flushed(status: int) -> int:
    """``status``, once what was printed is flushed (a pipe holds it until now). A reader that
    closed stdout (``sim run ... | head -1``) had all it wanted: the rest is dropped quietly."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _drop_stdout()
    return status


def _drop_stdout() -> None:
    """Point stdout at the null device, so that flushing it at exit raises nothing."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)


def _run(args: argparse.Namespace) -> int:
    """Run the command parsed; an error it raises is printed as one line, with its status.

    Warnings (numpy's RuntimeWarning, a library's UserWarning) are held until the command
    ends: after an error only the error's line is printed; after success each distinct
    warning is one line."""
    with warnings.catch_warnings(record=True) as caught:
        try:
            status = _handler(args.command)(args)
        except BrokenPipeError:  # every command prints after its work is done and written
            _drop_stdout()
            return 0
        except (SimError, OSError, KeyboardInterrupt) as exc:
            message, status = _failure(exc)
            print(message, file=sys.stderr)
            return status
    for line in dict.fromkeys(_warning_line(w) for w in caught):
        print(line, file=sys.stderr)
    return status


def _warning_line(caught: warnings.WarningMessage) -> str:
    """One line for a warning: its category and the start of its message."""
    message = excerpt(str(caught.message), MAX_PROBLEM, quote=False)
    return f"warning: {caught.category.__name__}: {message}"


def _handler(command: str) -> Callable[[argparse.Namespace], int]:
    """The function of `sim.io.commands` named ``command`` (imported only now, so that
    ``sim --help`` stays quick)."""
    from sim.io import commands

    handler: Callable[[argparse.Namespace], int] = getattr(commands, command)
    return handler


def _failure(exc: BaseException) -> tuple[str, int]:
    """The line printed for an error a command raised (a line for each problem of an input
    found at once), and the exit status."""
    if isinstance(exc, Interrupted):
        return f"interrupted; {exc}", EXIT_INTERRUPTED
    if isinstance(exc, InputError):
        return "\n".join(f"error: {e}" for e in (exc, *exc.others)), EXIT_INPUT
    if isinstance(exc, MassBalanceError):
        return f"error: {exc}", EXIT_BALANCE
    if isinstance(exc, SimError):
        return f"error: {exc}", 1
    if isinstance(exc, OSError):  # e.g. --out under a file, or an unwritable results folder
        where = f"{one_line(str(exc.filename))}: " if exc.filename else ""
        return f"error: {where}{exc.strerror or exc}", EXIT_INPUT
    return NOTHING_WRITTEN, EXIT_INTERRUPTED


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, as every error of the command line is
    (argparse prints its usage first); ``--help`` still shows the usage."""

    def error(self, message: str) -> NoReturn:
        problem = excerpt(message, MAX_PROBLEM, quote=False)
        self.exit(EXIT_INPUT, f"error: {self.prog}: {problem} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sim",
        description="Simulate rare-earth supply disruptions: who runs short of what, "
        "when, and by how much.",
    )
    parser.add_argument("--version", action="version", version=f"sim {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_validate(subparsers)
    _add_run(subparsers)
    _add_sweep(subparsers)
    _add_compare(subparsers)
    _add_sensitivity(subparsers)
    _add_solve(subparsers)
    _add_backtest(subparsers)
    _add_calibrate(subparsers)
    _add_clean(subparsers)
    _add_report(subparsers)
    _add_server(subparsers)
    return parser


def _add_validate(subparsers: Any) -> None:
    command = subparsers.add_parser("validate", help="check a scenario file and exit")
    command.add_argument("scenario", type=Path)


def _add_run(subparsers: Any) -> None:
    command = subparsers.add_parser("run", help="run a scenario and write a results folder")
    command.add_argument("scenario", type=Path)
    _out_option(command, "results/<name>/<UTC timestamp>/")
    command.add_argument("--seed", type=int, default=0, help="random seed (recorded)")
    _by_option(command)
    _results_option(command)
    command.add_argument(
        "--format",
        choices=("parquet", "csv"),
        default="parquet",
        help="file format of the monthly tables (default parquet; a NAME_by_year.csv is "
        "written beside each, and every other table is CSV)",
    )
    command.add_argument(
        "--tables",
        default="all",
        metavar="NAMES",
        help="monthly tables to write: all (default), none, or some of shortfall, flows, "
        "production, stocks, prices separated by commas",
    )
    _report_option(command)


def _add_sweep(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "sweep", help="run many futures of a scenario with uncertain inputs"
    )
    command.add_argument("scenario", type=Path)
    _sweep_options(command)
    command.add_argument(
        "--keep-samples",
        action="store_true",
        help="also write every sample's path to samples.parquet",
    )
    _by_option(command)
    _out_option(command, "results/<name>/<UTC timestamp>-sweep/")
    _report_option(command)


def _add_compare(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "compare", help="sweep two scenarios with shared draws and report the effect of B against A"
    )
    command.add_argument("a", type=Path, metavar="A.yaml")
    command.add_argument("b", type=Path, metavar="B.yaml")
    _sweep_options(command)
    command.add_argument(
        "--show",
        action="append",
        default=[],
        metavar="REGION:SECTOR",
        help="also print every group of this region and sector (either may be 'all'); may "
        "be given more than once",
    )
    _by_option(command)
    _out_option(command, "results/<A>-vs-<B>/<UTC timestamp>/")
    _report_option(command)


def _add_sensitivity(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "sensitivity", help="which uncertain inputs drive an outcome (SALib)"
    )
    command.add_argument("scenario", type=Path)
    command.add_argument(
        "--output",
        required=True,
        metavar="METRIC",
        help="outcome, e.g. shortfall_t:US:defence (cumulative t), "
        "shortfall_share:EU:ev_traction:NdFeB, or price:ex_china:Dy_oxide (mean); "
        "add @2025-01..2030-12 for a window",
    )
    command.add_argument(
        "-n",
        type=int,
        default=256,
        help="base samples (Sobol: n x (inputs + 2) runs, Morris n x (inputs + 1), and 2 x "
        "inputs + 1 more for the swings; default 256)",
    )
    _force_option(command)
    command.add_argument("--analysis", choices=("sobol", "morris"), default="sobol")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--workers", type=int, default=_default_workers())
    command.add_argument("--out", type=Path, default=None)
    command.add_argument("--results", type=Path, default=Path("results"))


def _add_solve(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "solve", help="the smallest size of one lever for which a target holds"
    )
    command.add_argument("scenario", type=Path)
    command.add_argument(
        "--lever", required=True, metavar="events[N].FIELD", help="e.g. events[2].initial_t"
    )
    command.add_argument(
        "--target",
        required=True,
        help="no_shortfall region=R [sector=S] [material=M] [from=YYYY-MM-DD] "
        "[until=YYYY-MM-DD], e.g. 'no_shortfall region=US sector=defence until=2030-12-31'",
    )
    command.add_argument(
        "--probability", type=float, default=0.95, help="share of futures it must hold in"
    )
    command.add_argument(
        "-n", type=int, default=200, help="futures (default 200; 1 without uncertain inputs)"
    )
    command.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    command.add_argument("--method", choices=("random", "lhs", "sobol"), default="random")
    command.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    _force_option(command)
    _out_option(command, "results/<name>/<UTC timestamp>-solve/")
    _results_option(command)


def _add_backtest(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "backtest", help="run a scenario and hold its monthly series against observed ones"
    )
    command.add_argument("scenario", type=Path)
    command.add_argument(
        "--observed",
        type=Path,
        required=True,
        help="CSV with columns date, series, key, value (see README)",
    )
    _out_option(command, "results/backtest/<name>/<UTC timestamp>/")
    command.add_argument("--seed", type=int, default=0, help="random seed (recorded)")
    _results_option(command)


def _add_calibrate(subparsers: Any) -> None:
    command = subparsers.add_parser("calibrate", help="print a world's first-year calibration")
    command.add_argument(
        "scenario",
        type=Path,
        nargs="?",
        default=None,
        help="scenario (default: the world's first year with no event)",
    )
    command.add_argument(
        "--world",
        default="default",
        help="world when no scenario is given: default (2024), default@2009 or default@2020",
    )
    command.add_argument(
        "--fit",
        action="store_true",
        help="fit the market's behavioural parameters (scipy.optimize) on a historical "
        "scenario's prices (default scenarios/china-2010-quotas.yaml against "
        "scenarios/observed/china-2010-episode.csv) and print them with their errors",
    )
    command.add_argument(
        "--observed", type=Path, default=None, help="observed series to fit on (with --fit)"
    )
    fitting = {
        "--params": "comma-separated parameters to fit (default: sim.runs.fit.FITTED)",
        "--keys": "comma-separated TIER:PRODUCT prices whose observed path the fit scores "
        "(default: ex-China Dy and NdPr oxide, whose episode it always scores)",
        "--start": "comma-separated NAME=VALUE of fitted parameters to refine a fit from "
        "(a local search only; the others start at the world's values)",
    }
    for flag, text in fitting.items():
        command.add_argument(flag, default=None, help=f"with --fit: {text}")
    for flag, default, text in (
        ("--runs", 150, "about how many runs (default 150)"),
        ("--workers", _default_workers(), "processes (default: cores)"),
    ):
        command.add_argument(flag, type=int, default=default, help=f"with --fit: {text}")
    also = "SCENARIO OBSERVED [TIER:PRODUCT ...]: one more history to fit on at once, and the "
    also += "prices it scores (default: ex-China Dy and NdPr oxide); repeatable"
    command.add_argument("--also", nargs="+", action="append", metavar="ARG", help=also)


def _add_clean(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "clean", help="list the resume stores interrupted sweeps left (--delete: remove them)"
    )
    command.add_argument(
        "folders", type=Path, nargs="*", default=[Path("results")], help="(default: results)"
    )
    command.add_argument("--delete", action="store_true", help="remove stores idle for 10 min")


def _add_report(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "report", help="write a results folder's report: one HTML file that needs no network"
    )
    command.add_argument("folder", type=Path, help="a folder sim run, sweep or compare wrote")
    command.add_argument(
        "--year",
        type=int,
        default=None,
        help="year of the flows diagram (default: the horizon's first full year)",
    )
    command.add_argument(
        "--out", type=Path, default=None, help="file to create (default FOLDER/report.html)"
    )


def _add_server(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "server",
        help="the warm server that runs later 'sim run' and 'sim backtest' commands in about "
        "a second (started by the first; SIM_SERVER=0 turns it off)",
    )
    command.add_argument(
        "action",
        choices=("status", "start", "stop"),
        help="status: whether one runs for this copy of sim; start: start one (and wait "
        "until it is ready); stop: stop it",
    )


def _report_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--report", action="store_true", help="also write report.html into the folder"
    )


def _out_option(command: argparse.ArgumentParser, default: str) -> None:
    command.add_argument(
        "--out", type=Path, default=None, help=f"folder to create (default {default})"
    )


def _by_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--by",
        default="year",
        metavar="PERIOD",
        help="periods of the impact tables: year (default), or one window: 2027, "
        "2026..2027, 2026-01..2027-06",
    )


def _results_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        help="root for default output folders (default: results)",
    )


def _default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _force_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--force",
        action="store_true",
        help="run even if the work is estimated to take more than an hour",
    )


def _sweep_options(command: argparse.ArgumentParser) -> None:
    """The options ``sweep`` and ``compare`` share: how many futures, drawn how, run where."""
    command.add_argument(
        "-n", "--samples", type=int, required=True, dest="n", help="number of futures to draw"
    )
    _force_option(command)
    command.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    command.add_argument(
        "--workers",
        type=int,
        default=_default_workers(),
        help="worker processes (default: this machine's cores, at most 8)",
    )
    command.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask scheduler (tcp://HOST:PORT), or 'local' for a local cluster",
    )
    command.add_argument(
        "--method",
        choices=("random", "lhs", "sobol"),
        default="random",
        help="how inputs are drawn (default random)",
    )
    command.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="samples per engine batch (default: up to 250, at least two batches a "
        "worker; does not change results)",
    )
    _results_option(command)

"""Writing results folders: tables, manifest and pictures, atomically, never over another.

A run, a backtest, a sweep, a comparison, a sensitivity analysis or a solve. Files are
written into a hidden temporary folder beside the destination and the folder is renamed into
place only when complete, so an interrupted run leaves no folder that looks finished, and an
existing folder is never touched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import NonFiniteError, bad_value
from sim.io.chart_process import Charts, in_process
from sim.io.csv_text import write_csv
from sim.io.table_files import ALL_PARQUET, TableChoice, write_table
from sim.version import __version__

# Plotting, the sweep's tables and pandas are imported by the writers that use them: `sim run`
# does not pay for matplotlib's pyplot, nor a run for the sweep's modules.
if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    import pandas as pd

    from sim.config.scenario import Scenario
    from sim.runs.backtest import Backtest
    from sim.runs.engine import RunResult
    from sim.runs.sensitivity import Output
    from sim.runs.solve import Solve
    from sim.runs.sweep import SweepResult
    from sim.runs.windows import Window
    from sim.world.world import World


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario's canonical JSON."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def data_hash() -> str:
    """SHA-256 over the embedded world's data files (every vintage), in name order."""
    digest = hashlib.sha256()
    for name, entry in _data_files():
        digest.update(name.encode() + entry.read_bytes())
    return digest.hexdigest()


def _data_files() -> Iterator[tuple[str, Traversable]]:
    """The embedded data files by their names in the data folder, folder by folder (a folder's
    files and subfolders in name order)."""
    folders = [("", resources.files("sim.world.data"))]
    while folders:
        prefix, folder = folders.pop(0)
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.is_dir() and not entry.name.startswith(("_", ".")):
                folders.append((f"{prefix}{entry.name}/", entry))
            elif entry.name.endswith(".csv"):
                yield f"{prefix}{entry.name}", entry


def default_folder(root: Path, scenario: Scenario) -> Path:
    """``root/<scenario name>/<UTC timestamp>``, with a suffix if that already exists."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return _unused(root / scenario.name / stamp)


def _unused(path: Path) -> Path:
    """``path``, or the first of ``path-1``, ``path-2``, ... that does not exist."""
    candidate, n = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}-{n}")
        n += 1
    return candidate


def check_free(folder: Path) -> None:
    """Refuse a destination that already exists, a link even to nothing, or one that cannot
    be made where it is (before any work is done)."""
    if folder.exists() or folder.is_symlink():
        raise bad_value(
            "output folder already exists; it is never overwritten, choose another",
            "--out",
            str(folder),
        )
    _check_makeable(folder)


def _check_makeable(folder: Path) -> None:
    """Refuse a destination whose nearest existing parent is not a writable folder."""
    parent = folder.absolute().parent
    while not parent.exists() and not parent.is_symlink() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise bad_value(
            f"cannot make the output folder there ({parent} is not a writable folder)",
            "--out",
            str(folder),
        )


@contextmanager
def atomic_folder(folder: Path) -> Iterator[Path]:
    """A hidden temporary folder beside ``folder``, renamed to it when the block ends
    without error, removed otherwise; ``folder`` must not exist."""
    check_free(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    try:
        yield tmp
        tmp.chmod(_normal_mode())  # mkdtemp's 0700, made what a mkdir would have made
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _normal_mode() -> int:
    """The mode a new folder gets from ``mkdir`` under the process's umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def _write_manifest(tmp: Path, manifest: dict[str, Any]) -> None:
    """manifest.json, strict JSON: a NaN or infinity in it is a `NonFiniteError` naming it."""
    where = _non_finite(manifest, "")
    if where is not None:
        raise NonFiniteError(f"manifest.json: {where} is not a finite number")
    text = json.dumps(manifest, indent=2, default=str, allow_nan=False)
    (tmp / "manifest.json").write_text(text + "\n")


def _non_finite(value: object, path: str) -> str | None:
    """The path (``a.b[2]``) of the first NaN or infinity in a JSON-like ``value``, if any."""
    if isinstance(value, dict):
        found = (_non_finite(v, f"{path}.{k}" if path else str(k)) for k, v in value.items())
    elif isinstance(value, list | tuple):
        found = (_non_finite(v, f"{path}[{i}]") for i, v in enumerate(value))
    else:
        return path if isinstance(value, float) and not math.isfinite(value) else None
    return next((p for p in found if p is not None), None)


def _utc_now() -> str:
    """The time now, UTC, to the second (ISO 8601)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _write_tables(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    for name, table in tables.items():
        write_table(table, folder / name)


def run_tables(
    result: RunResult,
    shortfall: pd.DataFrame,
    window: Window,
    choice: TableChoice,
    stockpiles: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """A run's tables by file name: the monthly ones ``choice`` names in its format, each
    with its ``_by_year.csv``; the summaries; those of its levers only when they have rows;
    its impact tables by ``window``'s periods. ``shortfall``: its `shortfall_table`;
    ``stockpiles``: its `stockpiles_table` if already built."""
    from sim.runs import summary
    from sim.runs.impact import impact_tables
    from sim.runs.tables import summary_table

    tables = {
        "summary.csv": summary_table(shortfall),
        **_monthly_tables(result, shortfall, choice),
        "price_peaks.csv": summary.price_peaks_table(result),
    }
    extras = {
        "floor_payments.csv": summary.floor_payments_table(result),
        "stockpiles.csv": summary.stockpiles_table(result) if stockpiles is None else stockpiles,
        "producers.csv": summary.producers_table(result),
    }
    tables |= impact_tables(result, shortfall, window)
    return tables | {name: table for name, table in extras.items() if not table.empty}


def _monthly_tables(
    result: RunResult, shortfall: pd.DataFrame, choice: TableChoice
) -> dict[str, pd.DataFrame]:
    """The monthly tables ``choice`` names (built only then), each with its yearly one."""
    from sim.runs import tables as build
    from sim.runs.yearly import by_year

    builders = {
        "shortfall": lambda: shortfall,
        "flows": lambda: build.flows_table(result),
        "production": lambda: build.production_table(result),
        "stocks": lambda: build.stocks_table(result),
        "prices": lambda: build.prices_table(result),
    }
    written: dict[str, pd.DataFrame] = {}
    for name in choice.tables:
        monthly = builders[name]()
        written[choice.monthly_file(name)] = monthly
        written[f"{name}_by_year.csv"] = by_year(monthly, name)
    return written


def write_run(
    result: RunResult,
    folder: Path,
    window: Window | None = None,
    choice: TableChoice = ALL_PARQUET,
    charts: Charts = in_process,
) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Write the tables ``choice`` names, the picture and the manifest into ``folder``
    atomically (impact tables by ``window``'s periods, default calendar years); the
    manifest and the tables written, by file name. The picture is drawn by ``charts``
    (`sim.io.chart_process`: a second process draws it while the tables are written)."""
    from sim.io.scenario_record import write_scenario
    from sim.runs.summary import stockpiles_table
    from sim.runs.tables import shortfall_table
    from sim.runs.windows import BY_YEAR

    with atomic_folder(folder) as tmp:
        shortfall, piles = shortfall_table(result), stockpiles_table(result)
        charts.draw("plot_shortfall", shortfall, result.scenario, tmp / "shortfall.png", piles)
        tables = run_tables(result, shortfall, window or BY_YEAR, choice, piles)
        _write_tables(tables, tmp)
        charts.finish()
        written = [*tables, "shortfall.png", write_scenario(tmp, result.scenario), "manifest.json"]
        manifest = build_manifest(result, sorted(written))
        manifest["periods"] = window.label if window is not None else "year"
        _write_manifest(tmp, manifest)
    return manifest, tables


def write_backtest(
    backtest: Backtest,
    result: RunResult,
    folder: Path,
    observed: Path,
    charts: Charts = in_process,
) -> dict[str, Any]:
    """Write a backtest's tables, its picture (drawn by ``charts``) and a manifest into
    ``folder`` atomically."""
    with atomic_folder(folder) as tmp:
        charts.draw("plot_backtest", backtest, result.scenario, tmp / "backtest.png")
        tables = {
            "backtest.csv": backtest.summary,
            "directions.csv": backtest.directions,
            "compared.csv": backtest.compared,
            "simulated.csv": backtest.simulated,
        }
        _write_tables(tables, tmp)
        charts.finish()
        files = sorted([*tables, "backtest.png", "manifest.json"])
        manifest = build_manifest(result, files)
        manifest["observed"] = {
            "file": str(observed),
            "sha256": hashlib.sha256(observed.read_bytes()).hexdigest(),
        }
        _write_manifest(tmp, manifest)
    return manifest


def build_manifest(result: RunResult, files: list[str]) -> dict[str, Any]:
    """What a reader needs to trust and reproduce a run."""
    horizon = result.scenario.horizon
    return {
        "scenario": result.scenario.name,
        "scenario_hash": scenario_hash(result.scenario),
        "world": result.scenario.world,
        "data_hash": data_hash(),
        "seed": result.seed,
        "samples": result.chain.samples,
        "version": __version__,
        "horizon": {
            "start": horizon.start.isoformat(),
            "end": horizon.end.isoformat(),
            "step": horizon.step,
            "months": result.chain.steps,
        },
        "warmup_months": result.chain.warmup,
        "wall_seconds": round(result.wall_seconds, 4),
        "mass_balance_residual": result.residual,
        "created_utc": _utc_now(),
        "python": platform.python_version(),
        "files": files,
    }


def sweep_store(folder: Path, key: str, default: bool) -> Path:
    """Where a sweep keeps its finished batches until its folder is complete: beside the
    destination, named by the sweep's identity, so that rerunning the same command (even with
    a new default timestamped folder) finds and resumes it."""
    return folder.parent / (f".sweep-{key}" if default else f".{folder.name}.sweep-{key}")


def write_sweep(
    result: SweepResult,
    folder: Path,
    keep_samples: bool,
    extra: dict[str, Any],
    window: Window | None = None,
    charts: Charts = in_process,
    world: World | None = None,
) -> dict[str, Any]:
    """Write a sweep's summary, totals, parameters, impact and extra cost by ``window``'s
    periods (default: years; on ``world``, default its scenario's), resilience, fan charts
    (``charts`` draws), manifest (``keep_samples``: every path) into ``folder`` atomically."""
    from sim.io.samples_file import write_samples
    from sim.io.scenario_record import write_scenario
    from sim.runs.sweep_costs import sweep_extra_cost_table, sweep_policy_costs_table
    from sim.runs.sweep_impact import sweep_impact_table
    from sim.runs.sweep_resilience import sweep_resilience_table
    from sim.runs.sweep_tables import parameters_table, totals_table
    from sim.runs.sweep_tables import summary_table as sweep_summary
    from sim.runs.windows import BY_YEAR
    from sim.world.loader import vintage_world

    with atomic_folder(folder) as tmp:
        summary = sweep_summary(result)
        charts.draw(SWEEP_CHARTS, summary, result.scenario, tmp, result.samples)
        world = world or vintage_world(result.scenario.world)
        tables = {
            "summary.csv": summary,
            "totals.csv": totals_table(result),
            "parameters.csv": parameters_table(result),
            "impact.csv": sweep_impact_table(result, world, window or BY_YEAR),
            "extra_cost.csv": sweep_extra_cost_table(result, world, window or BY_YEAR),
            "resilience.csv": sweep_resilience_table(result),
        }
        policy = sweep_policy_costs_table(result, window or BY_YEAR)
        tables |= {"policy_costs.csv": policy} if len(policy) else {}
        _write_tables(tables, tmp)
        files = [*tables, *SWEEP_PICTURES, write_scenario(tmp, result.scenario), "manifest.json"]
        if keep_samples:
            write_samples(result, tmp / "samples.parquet")
            files.append("samples.parquet")
        charts.finish()
        manifest = {**_sweep_manifest(result, sorted(files)), **extra}
        _write_manifest(tmp, manifest)
    return manifest


def _uncertain_inputs(scenario: Scenario) -> list[dict[str, Any]]:
    """Every input a sweep draws: each distribution, and each project that may not be built
    (a Bernoulli draw of its chance)."""
    from sim.config.draws import completion_draws

    drawn = [
        {"path": u.path, "key": u.key, **u.dist.model_dump(mode="json", exclude_none=True)}
        for u in scenario.uncertain
    ]
    return drawn + [
        {"path": f"events[{i}].completes", "key": f"{name}.completes", "dist": "bernoulli", "p": p}
        for i, (name, p) in completion_draws(scenario).items()
    ]


def _sweep_manifest(result: SweepResult, files: list[str]) -> dict[str, Any]:
    """What a reader needs to trust and reproduce a sweep."""
    return {
        "scenario": result.scenario.name,
        "scenario_hash": scenario_hash(result.scenario),
        "world": result.scenario.world,
        "data_hash": data_hash(),
        "seed": result.seed,
        "samples": result.samples,
        "method": result.method,
        "batches": result.batches,
        "batches_resumed": result.resumed,
        "uncertain_inputs": _uncertain_inputs(result.scenario),
        "version": __version__,
        "horizon": {
            "start": result.scenario.horizon.start.isoformat(),
            "end": result.scenario.horizon.end.isoformat(),
            "months": len(result.dates),
        },
        "wall_seconds": round(result.wall_seconds, 3),
        "mass_balance_residual": float(np.max(result.arrays["residual"])),
        "created_utc": _utc_now(),
        "python": platform.python_version(),
        "files": files,
    }


#: The pictures `sim compare` draws (`report_charts.save_differences`: B - A of monthly
#: shortfall, then of prices), and what draws a sweep's, in one chart job, and their files.
DIFFERENCE_FILES = ("comparison_shortfall.png", "comparison_prices.png")
SWEEP_CHARTS, SWEEP_PICTURES = "sim.io.report_charts.sweep_charts", ("fan.png", "prices.png")


def write_comparison(
    a: SweepResult,
    b: SweepResult,
    folder: Path,
    window: Window | None = None,
    charts: Charts = in_process,
) -> dict[str, pd.DataFrame]:
    """Paired comparison of two sweeps: comparison.csv, both summaries, B - A of the impact
    tables by ``window``'s periods (default: calendar years), B - A month by month and its
    pictures (drawn by ``charts``) and a manifest; the tables written, by file name."""
    from sim.io.scenario_record import write_scenario
    from sim.runs.compare_impact import impact_comparisons
    from sim.runs.compare_monthly import monthly_comparison_table
    from sim.runs.sweep_tables import comparison_table, totals_table
    from sim.runs.windows import BY_YEAR
    from sim.world.loader import vintage_world

    with atomic_folder(folder) as tmp:
        table = comparison_table(a, b)
        world = vintage_world(a.scenario.world)
        impact = impact_comparisons(a, b, world, window or BY_YEAR)
        totals = {"totals_a.csv": totals_table(a), "totals_b.csv": totals_table(b)}
        monthly = {"comparison_monthly.csv": monthly_comparison_table(a, b)}
        pair = [a.scenario, b.scenario]
        charts.draw("sim.io.report_charts.save_differences", *monthly.values(), pair, tmp)
        _write_tables({"comparison.csv": table, **totals, **impact, **monthly}, tmp)
        scenarios = [
            write_scenario(tmp, s.scenario, f"scenario_{n}.yaml") for n, s in zip("ab", (a, b))
        ]
        charts.finish()
        manifest = {
            "a": {"scenario": a.scenario.name, "scenario_hash": scenario_hash(a.scenario)},
            "b": {"scenario": b.scenario.name, "scenario_hash": scenario_hash(b.scenario)},
            "samples": a.samples,
            "seed": a.seed,
            "method": a.method,
            "shared_inputs": sorted(
                {u.key for u in a.scenario.uncertain} & {u.key for u in b.scenario.uncertain}
            ),
            "data_hash": data_hash(),
            "version": __version__,
            "created_utc": _utc_now(),
            "periods": (window or BY_YEAR).label,
            "files": sorted(
                ["comparison.csv", "manifest.json", "totals_a.csv", "totals_b.csv", *impact]
                + [*monthly, *scenarios, *DIFFERENCE_FILES]
            ),
        }
        _write_manifest(tmp, manifest)
    return {"comparison.csv": table, **impact}


def write_sensitivity(
    table: pd.DataFrame, output: Output, scenario: Scenario, folder: Path
) -> None:
    """sensitivity.csv, tornado.png and a manifest, atomically."""
    from sim.io.plotting import plot_tornado

    with atomic_folder(folder) as tmp:
        table.to_csv(tmp / "sensitivity.csv", index=False, float_format="%.6g")
        plot_tornado(table, output.describe(), scenario.name, tmp / "tornado.png")
        manifest = {
            "scenario": scenario.name,
            "scenario_hash": scenario_hash(scenario),
            "output": output.label,
            "data_hash": data_hash(),
            "version": __version__,
            "created_utc": _utc_now(),
            "files": ["manifest.json", "sensitivity.csv", "tornado.png"],
        }
        _write_manifest(tmp, manifest)


def write_solve(found: Solve, scenario: Scenario, seed: int, folder: Path) -> None:
    """trials.csv (every lever value tried) and a manifest with the answer, atomically."""
    with atomic_folder(folder) as tmp:
        write_csv(found.trials_table(), tmp / "trials.csv")
        manifest = {
            "scenario": scenario.name,
            "scenario_hash": scenario_hash(scenario),
            "lever": found.lever.path,
            "target": found.target.text,
            "probability": found.probability,
            "futures": found.futures,
            "seed": seed,
            "answer": found.answer,
            "no_answer": found.reason or None,
            "data_hash": data_hash(),
            "version": __version__,
            "wall_seconds": round(found.wall_seconds, 3),
            "created_utc": _utc_now(),
            "files": ["manifest.json", "trials.csv"],
        }
        _write_manifest(tmp, manifest)

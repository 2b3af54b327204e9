"""Writing a run's folder: tables, manifest and picture, atomically and never over another.

Files are written into a hidden temporary folder beside the destination and the folder is
renamed into place only when complete, so an interrupted run leaves no folder that looks
finished, and an existing folder is never touched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from sim import __version__
from sim.backtest import Backtest
from sim.engine import RunResult
from sim.errors import InputError
from sim.plotting import plot_backtest, plot_shortfall
from sim.results import (
    flows_table,
    prices_table,
    production_table,
    shortfall_table,
    stocks_table,
    summary_table,
)
from sim.scenario import Scenario


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario's canonical JSON."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def data_hash() -> str:
    """SHA-256 over the embedded world's data files (every vintage), in name order."""
    digest = hashlib.sha256()
    folders = [("", resources.files("sim.data"))]
    while folders:
        prefix, folder = folders.pop(0)
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.is_dir() and not entry.name.startswith(("_", ".")):
                folders.append((f"{prefix}{entry.name}/", entry))
            elif entry.name.endswith(".csv"):
                digest.update(f"{prefix}{entry.name}".encode())
                digest.update(entry.read_bytes())
    return digest.hexdigest()


def default_folder(root: Path, scenario: Scenario) -> Path:
    """``root/<scenario name>/<UTC timestamp>``, with a suffix if that already exists."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = root / scenario.name / stamp
    candidate, n = base, 1
    while candidate.exists():
        candidate = base.with_name(f"{stamp}-{n}")
        n += 1
    return candidate


def check_free(folder: Path) -> None:
    """Refuse a destination that already exists (before any work is done)."""
    if folder.exists():
        raise InputError(
            "output folder already exists; it is never overwritten, choose another",
            path="--out",
            value=str(folder),
            has_value=True,
        )


@contextlib.contextmanager
def atomic_folder(folder: Path) -> Iterator[Path]:
    """A hidden temporary folder beside ``folder``, renamed to it when the block completes
    and removed if it fails or is interrupted."""
    check_free(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    try:
        yield tmp
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_tables(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    for name, table in tables.items():
        table.to_csv(folder / name, index=False, float_format="%.6g")


def write_run(result: RunResult, folder: Path) -> dict[str, Any]:
    """Write every table, the picture and the manifest into ``folder`` atomically."""
    with atomic_folder(folder) as tmp:
        shortfall = shortfall_table(result)
        tables: dict[str, pd.DataFrame] = {
            "shortfall.csv": shortfall,
            "summary.csv": summary_table(shortfall),
            "flows.csv": flows_table(result),
            "production.csv": production_table(result),
            "stocks.csv": stocks_table(result),
            "prices.csv": prices_table(result),
        }
        _write_tables(tables, tmp)
        plot_shortfall(shortfall, result.scenario, tmp / "shortfall.png")
        manifest = build_manifest(result, sorted([*tables, "shortfall.png", "manifest.json"]))
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def write_backtest(backtest: Backtest, result: RunResult, folder: Path, observed: Path
                   ) -> dict[str, Any]:
    """Write a backtest's tables, its picture and a manifest into ``folder`` atomically."""
    with atomic_folder(folder) as tmp:
        tables = {
            "backtest.csv": backtest.summary,
            "directions.csv": backtest.directions,
            "compared.csv": backtest.compared,
            "simulated.csv": backtest.simulated,
        }
        _write_tables(tables, tmp)
        plot_backtest(backtest, result.scenario, tmp / "backtest.png")
        files = sorted([*tables, "backtest.png", "manifest.json"])
        manifest = build_manifest(result, files)
        manifest["observed"] = {"file": str(observed),
                                "sha256": hashlib.sha256(observed.read_bytes()).hexdigest()}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def build_manifest(result: RunResult, files: list[str]) -> dict[str, Any]:
    """What a reader needs to trust and reproduce a run."""
    h = result.scenario.horizon
    return {
        "scenario": result.scenario.name,
        "scenario_hash": scenario_hash(result.scenario),
        "world": result.scenario.world,
        "data_hash": data_hash(),
        "seed": result.seed,
        "samples": result.chain.samples,
        "version": __version__,
        "horizon": {
            "start": h.start.isoformat(),
            "end": h.end.isoformat(),
            "step": h.step,
            "months": result.chain.steps,
        },
        "warmup_months": result.chain.warmup,
        "wall_seconds": round(result.wall_seconds, 4),
        "mass_balance_residual": result.residual,
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "files": files,
    }

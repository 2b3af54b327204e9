"""A results folder read for its report: what wrote it (run, sweep or compare), its manifest,
the scenarios it ran and its tables, each read when first asked for.

A folder that is not one of those, or lacks a file its kind always holds, is an `InputError`
naming the folder or file and what was expected (the command line: one line, exit 2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from sim.config.scenario import Scenario

#: The tables each kind of folder always holds (a table may be .csv or .parquet).
REQUIRED = {
    "run": ("summary", "shortfall"),
    "sweep": ("summary", "totals"),
    "compare": ("comparison",),
}
#: The scenario files each kind of folder holds (`sim.io.scenario_record`).
SCENARIO_FILES = {
    "run": ("scenario.yaml",),
    "sweep": ("scenario.yaml",),
    "compare": ("scenario_a.yaml", "scenario_b.yaml"),
}
OTHER_KINDS = {"observed": "backtest", "output": "sensitivity", "lever": "solve"}
WHAT = "sim report reads the folders sim run, sim sweep and sim compare write"


@dataclass
class ResultsFolder:
    """A results folder: its path, kind, manifest and scenarios (with their YAML text)."""

    path: Path
    kind: str
    manifest: dict[str, Any]
    scenarios: list[Scenario]
    texts: list[str]
    _tables: dict[str, pd.DataFrame | None] = field(default_factory=dict, repr=False)

    def table(self, stem: str) -> pd.DataFrame | None:
        """The table ``stem`` (``stem.parquet`` or ``stem.csv``), or None if not written."""
        if stem not in self._tables:
            self._tables[stem] = _read_table(self.path, stem)
        return self._tables[stem]

    def preload(self, stem: str, table: pd.DataFrame) -> None:
        """Use ``table`` as the table ``stem`` (one the caller holds already)."""
        self._tables[stem] = table

    def images(self) -> list[Path]:
        """The pictures the command drew into the folder, in name order."""
        return sorted(p for p in self.path.glob("*.png") if p.is_file())


def read_folder(path: Path) -> ResultsFolder:
    """Read ``path``'s manifest and scenarios and check it holds what its kind always does."""
    manifest = _manifest(path)
    kind = _kind(manifest, path)
    for stem in REQUIRED[kind]:
        if not any((path / f"{stem}{suffix}").is_file() for suffix in (".parquet", ".csv")):
            problem = f"a {kind} folder holds {stem}.parquet or {stem}.csv; it is missing"
            if kind == "run":
                problem += f" (a run writes it unless --tables leaves {stem} out)"
            raise InputError(problem, file=str(path))
    scenarios, texts = _scenarios(path, kind, manifest)
    return ResultsFolder(path, kind, manifest, scenarios, texts)


def _manifest(path: Path) -> dict[str, Any]:
    """The folder's manifest.json, as a mapping."""
    if not path.is_dir():
        raise InputError(f"not a folder; {WHAT}", file=str(path))
    file = path / "manifest.json"
    if not file.is_file():
        raise InputError(f"not a results folder: no manifest.json in it; {WHAT}", file=str(path))
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid JSON ({exc})", file=str(file)) from None
    if not isinstance(manifest, dict):
        raise InputError(
            "expected a JSON object (the manifest of a results folder)", file=str(file)
        )
    return manifest


def _kind(manifest: dict[str, Any], path: Path) -> str:
    """What wrote the folder, from the fields its manifest holds."""
    if "a" in manifest and "b" in manifest:
        return "compare"
    other = next((kind for key, kind in OTHER_KINDS.items() if key in manifest), None)
    if other is not None:
        raise InputError(f"a {other} folder; {WHAT}", file=str(path))
    if "scenario" not in manifest:
        raise InputError(f"its manifest.json names no scenario; {WHAT}", file=str(path))
    return "sweep" if "method" in manifest else "run"


def _scenarios(path: Path, kind: str, manifest: dict[str, Any]) -> tuple[list[Scenario], list[str]]:
    """The scenarios the folder ran, with their text; a folder written before scenarios were
    kept gets a scenario of its manifest's name and horizon, and no text."""
    from sim.io.scenario_files import load_scenario

    files = [path / name for name in SCENARIO_FILES[kind]]
    if all(file.is_file() for file in files):
        return [load_scenario(f) for f in files], [f.read_text(encoding="utf-8") for f in files]
    names = [manifest["a"], manifest["b"]] if kind == "compare" else [manifest]
    return [_stand_in(entry.get("scenario"), manifest) for entry in names], ["" for _ in names]


def _stand_in(name: Any, manifest: dict[str, Any]) -> Scenario:
    """A scenario of ``name`` over the manifest's horizon (or none known), with no event."""
    from pydantic import ValidationError

    from sim.config.scenario import Scenario

    horizon = manifest.get("horizon") or {}
    start, end = horizon.get("start", "2024-01-01"), horizon.get("end", "2024-12-31")
    try:
        return Scenario.model_validate({"name": name, "horizon": {"start": start, "end": end}})
    except ValidationError:
        raise InputError(
            "its scenario name or horizon is not one sim writes", file="manifest.json"
        ) from None


def _read_table(folder: Path, stem: str) -> pd.DataFrame | None:
    """``stem.parquet`` or ``stem.csv`` of ``folder``; None if neither is there."""
    import pandas as pd

    parquet, csv = folder / f"{stem}.parquet", folder / f"{stem}.csv"
    try:
        if parquet.is_file():
            return pd.read_parquet(parquet)
        return pd.read_csv(csv, keep_default_na=False, na_values=[""]) if csv.is_file() else None
    except (ValueError, OSError) as exc:
        file = parquet if parquet.is_file() else csv
        raise InputError(f"cannot be read as a table ({exc})", file=str(file)) from None

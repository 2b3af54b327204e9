"""Lower layers never import higher ones; the model does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "sim"
LAYERS = {
    "errors": 0,
    "units": 0,
    "kernels": 0,
    "scenario": 1,
    "sampling": 1,
    "world": 2,
    "chain": 2,
    "policies": 2,
    "market": 2,
    "processes": 2,
    "ledger": 2,
    "startup": 2,
    "economics": 2,
    "stockpile": 2,
    "demand": 2,
    "offtake": 2,
    "origin": 2,
    "engine": 3,
    "prefix": 3,
    "results": 3,
    "summary": 3,
    "backtest": 3,
    "sweep": 3,
    "sensitivity": 3,
    "loading": 4,
    "observed": 4,
    "plotting": 4,
    "report": 4,
    "cli": 4,
}
IO_MODULES = {"yaml", "matplotlib", "csv", "json", "pathlib", "os", "shutil", "tempfile"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_module_imports_only_its_layer_or_lower(module: str) -> None:
    for name in _imports(PACKAGE / f"{module}.py"):
        parts = name.split(".")
        if parts[0] == "sim" and len(parts) > 1 and parts[1] in LAYERS:
            assert LAYERS[parts[1]] <= LAYERS[module], f"{module} imports {name}"
        if LAYERS[module] <= 2:
            assert parts[0] not in IO_MODULES, f"model module {module} imports {name}"


def test_every_module_has_a_layer() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")}
    assert modules <= set(LAYERS), modules - set(LAYERS)

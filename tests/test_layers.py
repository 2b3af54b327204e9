"""Layers by folder: a lower layer never imports a higher one, in any form; no import cycles;
the model does no I/O.

Every import is counted, wherever it is (module level, inside a function, under
``TYPE_CHECKING``) and whatever its form: ``import sim.a.b``, ``from sim.a import b``,
``from sim import a``, relative imports, and ``importlib.import_module("sim.a")``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "sim"
# Lower numbers are lower layers; a module may import its own layer or lower ones.
LAYERS = {
    "arrays": 0,
    "errors": 0,
    "units": 0,
    "version": 0,
    "config": 1,
    "world": 2,
    "market": 3,
    "model": 4,
    "runs": 5,
    "io": 6,
    "api": 7,  # the public API wraps every layer
    "__init__": 7,  # and the package re-exports it
    "__main__": 7,
}
# Layers that do no file I/O, printing or plotting.
NO_IO_LAYERS = {"config", "market", "model"}
IO_MODULES = {"yaml", "matplotlib", "csv", "json", "pathlib", "os", "shutil", "tempfile", "io"}


def module_name(path: Path) -> str:
    """``sim/model/chain.py`` -> ``sim.model.chain``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    """The layer of a module of the package: its top-level folder or file under ``sim``."""
    parts = module.split(".")
    if len(parts) == 1:  # ``sim`` itself: the public API
        return LAYERS["__init__"]
    return LAYERS[parts[1]]


def imported(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module of the package that ``source`` (the text of ``module``) imports, as full
    names; ``from sim import x`` names ``sim.x`` when ``x`` is a module or folder of the
    package, else ``sim`` (a name of the public API)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            for alias in node.names:
                if _is_module(f"{base}.{alias.name}"):
                    found.add(f"{base}.{alias.name}")
        elif isinstance(node, ast.Call) and _is_dynamic_import(node):
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.add(argument.value)
    return found


def _is_dynamic_import(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("import_module", "__import__") and bool(node.args)


def _is_module(name: str) -> bool:
    if not name.startswith("sim."):
        return False
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Upward imports and (in the model's layers) I/O imports in ``source``."""
    found = []
    own = layer_of(module)
    for name in sorted(imported(source, module, is_package)):
        if name == "sim" or name.startswith("sim."):
            if layer_of(name) > own:
                found.append(f"{module} imports {name} (a higher layer)")
        elif set(module.split(".")[1:2]) & NO_IO_LAYERS and name.split(".")[0] in IO_MODULES:
            found.append(f"{module} imports {name} (I/O in a layer that does none)")
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_module_imports_only_its_layer_or_lower(path: Path) -> None:
    module = module_name(path)
    assert violations(path.read_text(), module, path.name == "__init__.py") == []


def test_every_module_has_a_layer() -> None:
    for path in MODULES:
        layer_of(module_name(path))  # KeyError names a file outside every layer


PLANTED = [
    "import sim.io.report",
    "import sim.io.report as report",
    "from sim.io import report",
    "from sim.io.report import write_run",
    "from sim import io",
    "from sim import run",
    "from ...io import report",
    "from ...io.report import write_run",
    "from ... import run",
    "import importlib\nimportlib.import_module('sim.io.report')",
    "__import__('sim.runs.engine')",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sim.io import report",
    "def f():\n    from sim.runs import engine\n    return engine",
]


@pytest.mark.parametrize("line", PLANTED)
def test_an_upward_import_of_each_form_is_caught(line: str) -> None:
    """The checker itself: each form of upward import, planted in a model module, is found."""
    assert violations(line, "sim.model.levers.economics") != []


def test_imports_of_the_same_or_lower_layers_pass() -> None:
    source = "from sim.market import markets\nfrom . import timing\nimport numpy as np"
    assert violations(source, "sim.model.levers.economics") == []


def test_the_model_does_no_io() -> None:
    assert violations("import yaml", "sim.model.chain") != []
    assert violations("from pathlib import Path", "sim.market.markets") != []


def _graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in MODULES}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        names = imported(path.read_text(), module, path.name == "__init__.py")
        graph[module] = {n for n in names if n in modules and n != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles of a graph, each once, found by depth-first search."""
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            found.append(path[path.index(node) :] + [node])
            return
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, [*path, node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return found


def test_no_import_cycle() -> None:
    """Counting every import (``TYPE_CHECKING`` and function-level ones too); a package's
    ``__init__`` importing its own modules is not a cycle unless they import it back."""
    assert cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]

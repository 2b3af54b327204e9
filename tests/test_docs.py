"""The docs describe the code as it is: every `sim.` name they cite exists, and the stage order
they give is the order the engine runs."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from sim.model import stages

ROOT = Path(__file__).parent.parent
DOCS = [
    ROOT / "docs" / "design.md",
    ROOT / "README.md",
    ROOT / "sim" / "world" / "data" / "README.md",
]
CITED = re.compile(r"`(sim(?:\.\w+)+)")
STAGE_LINE = re.compile(r"[Ss]tage order: `([a-z_, ]+)`")


def resolves(dotted: str) -> bool:
    """Whether ``sim.a.b.c`` is a module, or an attribute chain of one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


def cited() -> list[tuple[str, str]]:
    return sorted({(doc.name, name) for doc in DOCS for name in CITED.findall(doc.read_text())})


@pytest.mark.parametrize(("doc", "name"), cited())
def test_every_cited_name_exists(doc: str, name: str) -> None:
    assert resolves(name), f"{doc} cites `{name}`, which does not exist"


def test_a_missing_name_is_caught() -> None:
    assert resolves("sim.model.stages.STAGES")
    assert not resolves("sim.model.stages.no_such_stage")
    assert not resolves("sim.no_such_module")


def stage_orders() -> list[list[str]]:
    """Every stage order written in docs/design.md (the stages' own docstring is checked by
    tests/test_stages.py)."""
    text = " ".join((ROOT / "docs" / "design.md").read_text().split())
    return [[name.strip() for name in found.split(",")] for found in STAGE_LINE.findall(text)]


def test_the_stage_order_is_written_down() -> None:
    assert len(stage_orders()) >= 1


@pytest.mark.parametrize("order", stage_orders())
def test_the_documented_stage_order_is_the_engines(order: list[str]) -> None:
    assert order == [stage.__name__ for stage in stages.STAGES]


def test_the_code_map_lists_every_module() -> None:
    design = (ROOT / "docs" / "design.md").read_text()
    modules = sorted(ROOT.glob("sim/**/*.py"))
    missing = [str(p.relative_to(ROOT)) for p in modules if p.name != "__main__.py"]
    assert [m for m in missing if f"`{m}`" not in design] == []

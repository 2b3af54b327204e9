"""Declared dependency ranges are tested ones (issue 18): every dependency has an upper bound,
CI installs the versions `constraints.txt` pins, and each pin lies in its declared range (so
the locked run tests versions a user may get; `.ci/run` also tests the newest allowed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).parent.parent
BOUNDS = ("<", "<=", "==", "~=")


def declared() -> list[Requirement]:
    """The dependencies of pyproject.toml, with those of its test extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    texts = project["dependencies"] + project["optional-dependencies"]["test"]
    return [Requirement(text) for text in texts]


def pinned() -> dict[str, str]:
    """The versions constraints.txt pins, by canonical name."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        text = line.split("#")[0].strip()
        if text:
            name, _, version = text.partition("==")
            assert version, f"constraints.txt: {line!r} is not NAME==VERSION"
            pins[canonicalize_name(name)] = version
    return pins


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_every_dependency_has_an_upper_bound(requirement: Requirement) -> None:
    assert any(spec.operator in BOUNDS for spec in requirement.specifier), requirement


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_every_dependency_is_pinned_inside_its_range(requirement: Requirement) -> None:
    version = pinned().get(canonicalize_name(requirement.name))
    assert version is not None, f"{requirement.name} is not pinned in constraints.txt"
    assert requirement.specifier.contains(version, prereleases=True), (requirement, version)


def test_ci_installs_the_pins_and_tests_the_newest_versions() -> None:
    ci = (ROOT / ".ci/run").read_text()
    assert re.search(r"^export PIP_CONSTRAINT=.*constraints\.txt", ci, re.MULTILINE)
    assert re.search(r"^unset PIP_CONSTRAINT", ci, re.MULTILINE)
    assert 'pip install -e ".[test]" && python -m pytest' in ci  # the README's command

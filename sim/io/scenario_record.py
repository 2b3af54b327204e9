"""The scenario as run, kept in its results folder: one standalone YAML file.

``scenario.yaml`` (``scenario_a.yaml`` and ``scenario_b.yaml`` for a comparison) is the
validated scenario written back as YAML: its ``extends:`` chain merged, fields at their
defaults left out, and each uncertain input written as the distribution it was given. It
loads to the same scenario (`load_scenario`; tests/test_report_html.py checks the library),
so a folder says exactly what ran and `sim report` can draw it later.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sim.version import __version__

if TYPE_CHECKING:
    from sim.config.scenario import Scenario

SCENARIO_FILE = "scenario.yaml"
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def scenario_text(scenario: Scenario) -> str:
    """The scenario as standalone YAML, headed by a comment saying what it is."""
    document = _plain(scenario.model_dump(by_alias=True, exclude_defaults=True))
    document.pop("uncertain", None)
    moved: set[tuple[int, str | int]] = set()
    for uncertain in scenario.uncertain:
        law = _plain(uncertain.dist.model_dump(by_alias=True, exclude_none=True))
        _put(document, _keys(uncertain.path), law, moved)
    body = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=92,
        default_flow_style=None,
    )
    return (
        f"# The scenario as run by sim {__version__}: extends: merged, defaults left out.\n{body}"
    )


def write_scenario(folder: Path, scenario: Scenario, name: str = SCENARIO_FILE) -> str:
    """Write `scenario_text` into ``folder`` as ``name``; the file name."""
    (folder / name).write_text(scenario_text(scenario), encoding="utf-8")
    return name


class _Dumper(yaml.SafeDumper):
    """YAML's safe dumper, writing text of several lines as a folded block (``>``)."""


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = ">" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)


def _plain(value: Any) -> Any:
    """``value`` as YAML's safe dumper takes it: tuples as lists, dates kept as dates."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str | dt.date):
        return value
    return str(value)


def _keys(path: str) -> list[str | int]:
    """``events[0].approval_rate.ramp.from`` -> ``["events", 0, "approval_rate", ...]``."""
    return [name if name else int(index) for name, index in _PART.findall(path)]


def _put(document: Any, keys: list[str | int], value: Any, moved: set[Any]) -> None:
    """Set ``value`` at ``keys`` in a nested document of dicts and lists, moving each key on
    the way to the end of its mapping the first time: the loader finds uncertain inputs in
    the document's order, so they are found again in the scenario's order."""
    node = document
    for depth, key in enumerate(keys, start=1):
        if isinstance(node, dict) and (id(node), key) not in moved:
            moved.add((id(node), key))
            node[key] = node.pop(key)
        if depth == len(keys):
            node[key] = value
        node = node[key]

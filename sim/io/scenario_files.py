"""Scenario files read into a frozen `Scenario`: the one entry point, `load_scenario`.

A YAML file and its ``extends:`` chain are merged, validated, their uncertain inputs found, and
their references checked against the world they name. Every error raised here is an
`InputError` naming the file, the line, the field path, the bad value and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.config.scenario import Scenario
from sim.errors import InputError
from sim.io.scenario_validation import locate, validate
from sim.io.uncertain_inputs import check_uncertain, uncertain_inputs
from sim.io.world_references import check_against_world
from sim.io.yaml_lines import Lines, read_yaml
from sim.world.loader import vintage_world, world_names
from sim.world.world import World

MAX_EXTENDS = 20  # files in an extends: chain; deeper is refused at the extends: line


def load_scenario(path: str | Path, world: World | None = None) -> Scenario:
    """Read, merge, validate and check a scenario file against ``world`` (default: the world
    the scenario names, e.g. ``default@2009``).

    Fields written as distributions hold their central value in the returned scenario and
    are listed in its ``uncertain`` inputs.

    Raises:
        InputError: at the file, line and field of the first problem found.
    """
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise InputError("no such file", file=file)
    data, lines = resolve(path)
    data, found = uncertain_inputs(data, lines, file)
    scenario = validate(data, lines, file)
    check_uncertain(data, lines, file, scenario, found)
    if found:
        scenario = scenario.model_copy(update={"uncertain": tuple(found)})
    if world is None:
        world = _named_world(scenario, lines, file)
    check_against_world(scenario, world, lines, file)
    return scenario


def edit_scenario(
    scenario: Scenario, changes: Mapping[str, object], world: World | None = None
) -> Scenario:
    """``scenario`` with each field of ``changes`` (a path such as ``events[0].approval_rate``
    or ``horizon.end``) set to its value, validated and checked as a file would be. A field
    that was uncertain is no longer: it holds the value given.

    Raises:
        InputError: at ``<python>`` and the field's path, for a path the scenario does not
            have or a value it does not accept.
    """
    data = scenario.model_dump(by_alias=True, exclude={"uncertain"})
    for path, value in changes.items():
        _set_field(data, path, value)
    edited = validate(data, {}, PYTHON)
    kept = tuple(u for u in scenario.uncertain if u.path not in changes)
    edited = edited.model_copy(update={"uncertain": kept})
    check_against_world(edited, world or _named_world(edited, {}, PYTHON), {}, PYTHON)
    return edited


#: The "file" of a scenario changed in Python, as errors name it.
PYTHON = "<python>"
FIELD_PATH = re.compile(r"[a-z_]+(?:\[\d+\]|\.[a-z_]+)*")
FIELD_PART = re.compile(r"([a-z_]+)|\[(\d+)\]")


def _set_field(data: dict[str, Any], path: str, value: object) -> None:
    """Set the field at ``path`` of a scenario's plain data; an `InputError` if it has none."""
    missing = InputError("no such field in this scenario", file=PYTHON, path=path)
    if not FIELD_PATH.fullmatch(path):
        raise missing
    *parents, last = [name or int(index) for name, index in FIELD_PART.findall(path)]
    where: Any = data
    try:
        for part in parents:
            where = where[part]
        where[last]  # noqa: B018 (the field must exist: a new key would be refused anyway)
    except (IndexError, KeyError, TypeError):
        raise missing from None
    where[last] = value


def _named_world(scenario: Scenario, lines: Lines, file: str) -> World:
    """The embedded world the scenario names, or an `InputError` at its ``world:`` line."""
    try:
        return vintage_world(scenario.world)
    except KeyError:
        place = locate(("world",), lines, file)
        problem = f"unknown world; expected one of {world_names()}"
        raise place.error(problem, scenario.world, has_value=True) from None


def resolve(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], Lines]:
    """A scenario file with its `extends:` chain merged in (parent first)."""
    path = path.resolve() if path.exists() else path
    data, lines = read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data, lines
    parent_data, parent_lines = resolve(_parent_path(path, parent, lines, seen), (*seen, path))
    parent_data.pop("name", None)
    parent_lines = {p: where for p, where in parent_lines.items() if p[:1] != ("name",)}
    return _merge(parent_data, parent_lines, data, lines)


def _parent_path(path: Path, parent: Any, lines: Lines, seen: tuple[Path, ...]) -> Path:
    """The file an ``extends:`` names (relative to the file): an existing ``.yaml`` or
    ``.yml`` regular file, not already in the chain, at most `MAX_EXTENDS` files deep."""
    found = path.parent / parent if isinstance(parent, str) else None
    problem = _parent_problem(found, (*seen, path))
    if problem is not None or found is None:
        raise InputError(
            problem or "must be a path to another scenario file",
            file=str(path),
            line=lines[("extends",)][1],
            path="extends",
            value=parent,
            has_value=True,
        )
    return found


def _parent_problem(found: Path | None, chain: tuple[Path, ...]) -> str | None:
    """Why ``found`` cannot be the parent of the last file of ``chain``, if it cannot."""
    if found is None:
        return "must be a path to another scenario file"
    return _file_problem(found) or _chain_problem(found.resolve(), chain)


def _file_problem(found: Path) -> str | None:
    """Why ``found`` is not a scenario file (a regular .yaml or .yml file), if it is not."""
    if not found.is_file():
        return f"parent scenario {found} " + ("not found", "is not a regular file")[found.exists()]
    if {found.suffix.lower(), found.resolve().suffix.lower()} - {".yaml", ".yml"}:
        return f"parent scenario {found} is not a .yaml or .yml file"
    return None


def _chain_problem(found: Path, chain: tuple[Path, ...]) -> str | None:
    """Why the file ``found`` cannot extend ``chain`` (a cycle, or too deep), if it cannot."""
    if found in chain:
        return "cycle " + " -> ".join(str(p) for p in (*chain, found))
    if len(chain) >= MAX_EXTENDS:
        return f"the extends: chain from {chain[0]} is more than {MAX_EXTENDS} files deep"
    return None


def _merge(
    parent: dict[str, Any], parent_lines: Lines, child: dict[str, Any], child_lines: Lines
) -> tuple[dict[str, Any], Lines]:
    """Child keys override the parent's, mappings merge, and ``events`` lists concatenate."""
    out = dict(parent)
    lines = dict(parent_lines)
    for key, value in child.items():
        if key == "events" and isinstance(value, list) and isinstance(parent.get(key), list):
            offset = len(parent[key])
            out[key] = [*parent[key], *value]
            for path, where in child_lines.items():
                if path[:1] == ("events",) and len(path) > 1 and isinstance(path[1], int):
                    lines[("events", path[1] + offset, *path[2:])] = where
            continue
        if isinstance(value, dict) and isinstance(parent.get(key), dict):
            out[key] = {**parent[key], **value}
        else:
            out[key] = value
            lines = {p: where for p, where in lines.items() if p[:1] != (key,)}
        lines.update({p: where for p, where in child_lines.items() if p[:1] == (key,)})
    if () in child_lines:  # the merged document is the child's: top-level problems point at it
        lines[()] = child_lines[()]
    return out, lines

"""The uncertain inputs of a scenario file: found, replaced by central values, and checked.

Each ``{dist: ...}`` written in place of a value is replaced by its central value and recorded
as an `Uncertain` input; it must stand for a number or date of its own kind, and every value a
sweep can draw must be one the schema accepts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError

from sim.config import draws
from sim.config.distributions import Distribution, Uncertain
from sim.config.scenario import Scenario
from sim.errors import InputError
from sim.io.scenario_validation import locate, schema_error, validate
from sim.io.yaml_lines import Lines

Found = list[tuple[tuple[Any, ...], Distribution]]


def uncertain_inputs(
    data: dict[str, Any], lines: Lines, file: str
) -> tuple[dict[str, Any], list[Uncertain]]:
    """Replace every ``{dist: ...}`` by its central value; return the inputs found."""
    _refuse_reserved(data, lines, file)
    inputs = []
    for path, distribution in _distributions(data, (), lines, file):
        place = locate(path, lines, file)
        if not (path[0] == "events" and len(path) >= 3) and not (
            path[0] == "market" and len(path) == 2
        ):
            raise place.error(
                "only the numbers and dates of events and the market's parameters may be "
                "uncertain (the horizon and names are shared by every sample)"
            )
        data = _put(data, path, draws.central(distribution))
        key = distribution.name or place.path
        inputs.append(
            Uncertain(path=place.path, key=key, dist=distribution, line=place.line, file=place.file)
        )
    return data, inputs


def _refuse_reserved(data: dict[str, Any], lines: Lines, file: str) -> None:
    """``uncertain:`` is filled by the loader, never written."""
    if "uncertain" in data:
        raise locate(("uncertain",), lines, file).error(
            "reserved: write a distribution in place of the value it varies, "
            "e.g. start: {dist: uniform, low: 2027-01-01, high: 2028-06-30}"
        )


def _distributions(node: Any, path: tuple[Any, ...], lines: Lines, file: str) -> Found:
    """Every ``{dist: ...}`` mapping in a document, validated, with its path."""
    if isinstance(node, dict) and "dist" in node and path:
        return [(path, _distribution(node, path, lines, file))]
    found = (_distributions(value, (*path, key), lines, file) for key, value in _children(node))
    return [hit for hits in found for hit in hits]


def _children(node: Any) -> list[tuple[Any, Any]]:
    """A mapping's (key, value) pairs, a list's (index, item) pairs; none for a scalar."""
    if isinstance(node, dict):
        return list(node.items())
    if isinstance(node, list):
        return list(enumerate(node))
    return []


def _distribution(
    node: dict[str, Any], path: tuple[Any, ...], lines: Lines, file: str
) -> Distribution:
    """The distribution written at ``path``, or an `InputError` at its first problem."""
    try:
        return Distribution.model_validate(node)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise schema_error(error, locate((*path, *error["loc"]), lines, file)) from None


def _put(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of ``data`` with the value at ``path`` replaced (the rest shared)."""
    return dict(_replaced(data, path, value))


def _replaced(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    """``node`` (a list or mapping) with the value at ``path`` below it replaced."""
    if not path:
        return value
    head, tail = path[0], path[1:]
    if isinstance(node, list):
        return [_replaced(v, tail, value) if i == head else v for i, v in enumerate(node)]
    return {k: (_replaced(v, tail, value) if k == head else v) for k, v in node.items()}


def check_uncertain(
    data: dict[str, Any], lines: Lines, file: str, scenario: Scenario, found: list[Uncertain]
) -> None:
    """Each uncertain field is a number or date of the distribution's kind, and every value
    the sweep can draw (down to the EPS quantiles) is one the schema accepts."""
    for uncertain in found:
        path = _path_of(uncertain.path)
        _check_kind(uncertain, _field(scenario, path), file)
        _check_extremes(uncertain, data, lines, file, path)


def _path_of(dotted: str) -> tuple[Any, ...]:
    """The path ``events[0].start`` names, as ``("events", 0, "start")``."""
    return tuple(
        int(part) if part.isdigit() else part
        for part in dotted.replace("[", ".").replace("]", "").split(".")
    )


def _field(scenario: Scenario, path: tuple[Any, ...]) -> Any:
    """The value at ``path`` in the scenario (None where there is none: a part of a field
    that is not a mapping or list)."""
    node: Any = scenario
    for part in path:
        node = _child(node, part)
    return node


def _child(node: Any, part: Any) -> Any:
    """``node``'s item ``part`` (an index, or a field by the name a document writes)."""
    if isinstance(part, int):
        return node[part] if isinstance(node, (list, tuple)) and part < len(node) else None
    fields = getattr(type(node), "model_fields", {})
    name = next((n for n, f in fields.items() if (f.alias or n) == part), None)
    return None if name is None else getattr(node, name)


def _check_kind(uncertain: Uncertain, current: Any, file: str) -> None:
    """The field is a number or a date, as the distribution's parameters are."""
    if isinstance(current, bool) or not isinstance(current, (int, float, dt.date)):
        raise _at(uncertain, file, "only numbers and dates may be uncertain")
    is_date = isinstance(current, dt.date)
    if is_date != uncertain.dist.is_date:
        want = "a date" if is_date else "a number"
        problem = f"this field is {want}; the distribution's parameters must be too"
        raise _at(uncertain, file, problem)


def _check_extremes(
    uncertain: Uncertain, data: dict[str, Any], lines: Lines, file: str, path: tuple[Any, ...]
) -> None:
    """The lowest and highest values a sweep can draw are both valid in the field."""
    narrow = "narrow it or add bounds: [low, high]"
    try:
        lowest, highest = draws.extremes(uncertain.dist)
    except ValueError as exc:
        problem = f"the distribution's draws reach beyond dates: {exc}; {narrow}"
        raise _at(uncertain, file, problem) from None
    for label, value in zip(("lowest", "highest"), (lowest, highest)):
        try:
            validate(_put(data, path, value), lines, file)
        except InputError as exc:
            problem = f"the distribution's {label} draw is refused here: {exc.problem}; {narrow}"
            raise _at(uncertain, file, problem, value) from None


def _at(uncertain: Uncertain, file: str, problem: str, *value: object) -> InputError:
    """An `InputError` at an uncertain input's file and line, quoting ``value`` if given."""
    return InputError(
        problem,
        file=uncertain.file or file,
        line=uncertain.line,
        path=uncertain.path,
        value=value[0] if value else None,
        has_value=bool(value),
    )

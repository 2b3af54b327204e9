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
from sim.io.scenario_validation import locate, problem, shows_value, validate
from sim.io.yaml_lines import Lines

Found = list[tuple[tuple[Any, ...], Distribution]]


def uncertain_inputs(
    data: dict[str, Any], lines: Lines, file: str
) -> tuple[dict[str, Any], list[Uncertain]]:
    """Replace every ``{dist: ...}`` by its central value; return the inputs found."""
    _refuse_reserved(data, lines, file)
    inputs = []
    for path, distribution in _distributions(data, (), lines, file):
        where_file, line, path_text = locate(path, lines, file)
        if path[0] != "events" or len(path) != 3:
            raise InputError(
                "only the numbers and dates of events may be uncertain (the "
                "horizon and names are shared by every sample)",
                file=where_file,
                line=line,
                path=path_text,
            )
        data = _put(data, path, draws.central(distribution))
        key = distribution.name or path_text
        inputs.append(
            Uncertain(path=path_text, key=key, dist=distribution, line=line, file=where_file)
        )
    return data, inputs


def _refuse_reserved(data: dict[str, Any], lines: Lines, file: str) -> None:
    """``uncertain:`` is filled by the loader, never written."""
    if "uncertain" in data:
        where_file, line, _ = locate(("uncertain",), lines, file)
        raise InputError(
            "reserved: write a distribution in place of the value it varies, "
            "e.g. start: {dist: uniform, low: 2027-01-01, high: 2028-06-30}",
            file=where_file,
            line=line,
            path="uncertain",
        )


def _distributions(node: Any, path: tuple[Any, ...], lines: Lines, file: str) -> Found:
    """Every ``{dist: ...}`` mapping in a document, validated, with its path."""
    if isinstance(node, dict):
        if "dist" in node and path:
            return [(path, _distribution(node, path, lines, file))]
        children: list[tuple[Any, Any]] = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    else:
        return []
    return [
        hit for key, value in children for hit in _distributions(value, (*path, key), lines, file)
    ]


def _distribution(
    node: dict[str, Any], path: tuple[Any, ...], lines: Lines, file: str
) -> Distribution:
    """The distribution written at ``path``, or an `InputError` at its first problem."""
    try:
        return Distribution.model_validate(node)
    except ValidationError as exc:
        error = exc.errors()[0]
        where_file, line, path_text = locate((*path, *error["loc"]), lines, file)
        raise InputError(
            problem(error),
            file=where_file,
            line=line,
            path=path_text,
            value=error.get("input"),
            has_value=shows_value(error),
        ) from None


def _put(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of ``data`` with the value at ``path`` replaced (the rest shared)."""

    def go(node: Any, rest: tuple[Any, ...]) -> Any:
        if not rest:
            return value
        head, tail = rest[0], rest[1:]
        if isinstance(node, list):
            return [go(v, tail) if i == head else v for i, v in enumerate(node)]
        return {k: (go(v, tail) if k == head else v) for k, v in node.items()}

    return dict(go(data, path))


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
    node: Any = scenario
    for part in path:
        node = node[part] if isinstance(part, int) else getattr(node, part)
    return node


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

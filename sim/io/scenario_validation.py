"""Schema validation of a scenario document, every problem (up to ten) at its file and line.

A pydantic error's location becomes the file, line and dotted field path it comes from; its
message is said for the author of the file, with a 'did you mean' for an unknown field.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any, NamedTuple

from pydantic import ValidationError

from sim.config import events, schedules
from sim.config.distributions import Distribution
from sim.config.events import EVENT_KINDS
from sim.config.licences import GeneralLicence
from sim.config.market import Market
from sim.config.scenario import Horizon, Scenario
from sim.errors import InputError
from sim.io.yaml_lines import Lines, dotted

#: The schema's models, by what a reader calls them, for 'did you mean' hints on unknown fields.
MODELS: dict[str, Any] = {
    "a scenario": Scenario,
    "a horizon": Horizon,
    "the market block": Market,
    "export_control events": events.ExportControl,
    "new_capacity events": events.NewCapacity,
    "export_restraint events": events.ExportRestraint,
    "outage events": events.Outage,
    "production_cap events": events.ProductionCap,
    "capacity_growth events": events.CapacityGrowth,
    "demand_growth events": events.DemandGrowth,
    "stockpile events": events.Stockpile,
    "price_floor events": events.PriceFloor,
    "price_level events": events.PriceLevel,
    "price_cap events": events.PriceCap,
    "offtake events": events.Offtake,
    "substitution events": events.Substitution,
    "recycling events": events.Recycling,
    "a distribution": Distribution,
    "a schedule of steps": schedules.Steps,
    "a ramp schedule": schedules.Ramp,
    "a schedule's steps": schedules.Step,
    "a schedule's ramp": schedules.RampShape,
    "a general licence": GeneralLicence,
}


def _field_names(model: Any) -> set[str]:
    """The names a document writes a model's fields by (aliases where they have one)."""
    return {field.alias or name for name, field in model.model_fields.items()}


#: Every field name the schema knows.
KNOWN_FIELDS: frozenset[str] = frozenset(
    name for model in MODELS.values() for name in _field_names(model)
)


class Place(NamedTuple):
    """Where a field of a scenario document is: its file, its line (if known) and its path."""

    file: str
    line: int | None
    path: str

    def error(self, problem: str, value: object = None, has_value: bool = False) -> InputError:
        """An `InputError` at this field: ``FILE:LINE: path: problem (got VALUE)``."""
        return InputError(
            problem,
            file=self.file,
            line=self.line,
            path=self.path,
            value=value,
            has_value=has_value,
        )


def locate(loc: tuple[Any, ...], lines: Lines, fallback: str) -> Place:
    """File, line and dotted path of a pydantic error location (event kinds dropped)."""
    path = _schema_path(loc)
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            file, line = lines[path[:cut]]
            return Place(file, line, dotted(path))
    return Place(fallback, None, dotted(path))


def _schema_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A pydantic error location without its union members: an event's kind, or a member
    such as "literal['all']"."""
    return tuple(
        p
        for i, p in enumerate(loc)
        if not (isinstance(p, str) and p in EVENT_KINDS and i == 2)
        and not (isinstance(p, str) and "[" in p)
    )


def problem(error: Any) -> str:
    """What a pydantic error means, said for the author of a scenario file."""
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown field" + _suggest(str(error["loc"][-1]))
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        return f"unknown event kind; expected one of {list(EVENT_KINDS)}"
    if kind == "union_tag_not_found":
        return f"event needs a 'kind' (one of {list(EVENT_KINDS)})"
    if kind.startswith(("date_", "datetime_")):
        detail = message.partition(", ")[2]
        return "must be a date written YYYY-MM-DD, e.g. 2026-03-01" + (
            f" ({detail})" if detail else ""
        )
    return message.removeprefix("Value error, ")


def schema_error(error: Any, place: Place) -> InputError:
    """The `InputError` of a pydantic error, at the place of the field it is about."""
    return place.error(problem(error), error.get("input"), shows_value(error))


def shows_value(error: Any) -> bool:
    """Whether the error's message should quote the value it refused (a list or mapping
    only when empty: a long one would bury the message)."""
    value = error.get("input")
    quoted = not isinstance(value, (dict, list)) or not value
    return error["type"] not in ("missing", "extra_forbidden") and quoted


def _suggest(field: str) -> str:
    """A 'did you mean' for an unknown field, from the schema's known fields; a field known
    elsewhere (``full_price_ratio`` in an export control) is said to belong there instead."""
    if field in KNOWN_FIELDS:
        owners = [label for label, model in MODELS.items() if field in _field_names(model)]
        return f"; '{field}' is a field of {' and '.join(owners)}, not of this one"
    close = difflib.get_close_matches(field, sorted(KNOWN_FIELDS), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


#: Most problems of one file reported at once.
MAX_REPORTED = 10


def validate(data: dict[str, Any], lines: Lines, file: str) -> Scenario:
    """The frozen `Scenario`, or an `InputError` for the problems found (the first, with up
    to `MAX_REPORTED` in all as its ``others``)."""
    _check_name_lists(data, lines, file)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        found = [
            schema_error(e, locate(tuple(e["loc"]), lines, file)) for e in _reported(exc.errors())
        ]
        raise found[0].with_others(found[1:]) from None


def _reported(errors: list[Any]) -> list[Any]:
    """The errors to report, one a field: unknown fields first (a misspelt required field is
    also reported "missing"), then the rest in the file's order, at most `MAX_REPORTED`,
    the last of which says how many more there were."""
    ordered = [e for e in sorted(errors, key=_unknown_last) if not _misspelt(e, errors)]
    firsts = list({_schema_path(tuple(e["loc"])): e for e in reversed(ordered)}.values())[::-1]
    if len(firsts) <= MAX_REPORTED:
        return firsts
    more = len(firsts) - MAX_REPORTED + 1
    last = dict(firsts[MAX_REPORTED - 1])
    last["msg"] = f"{problem(last)}; and {more - 1} more problems not shown"
    last["type"] = "shown_last"
    return [*firsts[: MAX_REPORTED - 1], last]


def _unknown_last(error: Any) -> bool:
    """Sort key: unknown fields first."""
    return bool(error["type"] != "extra_forbidden")


def _misspelt(error: Any, errors: list[Any]) -> bool:
    """A required field reported missing beside an unknown field of the same mapping that is
    probably its misspelling (reported already, with a 'did you mean')."""
    if error["type"] != "missing":
        return False
    parent, name = tuple(error["loc"][:-1]), str(error["loc"][-1])
    unknown = [
        str(e["loc"][-1])
        for e in errors
        if e["type"] == "extra_forbidden" and tuple(e["loc"][:-1]) == parent
    ]
    return bool(difflib.get_close_matches(name, unknown, n=1))


def _check_name_lists(data: dict[str, Any], lines: Lines, file: str) -> None:
    """A list or mapping inside an event's `elements`/`forms` (the schema's validator looks
    names up in a dict, so an unhashable item would raise TypeError there)."""
    for path, item in _name_list_items(data):
        if isinstance(item, (dict, list)):
            problem = f"each of {path[2]} must be a name, not a {type(item).__name__}"
            raise locate(path, lines, file).error(problem)


def _name_list_items(data: dict[str, Any]) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Each item of each event's `elements` and `forms` lists, with its path."""
    event_list = data.get("events")
    for i, event in enumerate(event_list if isinstance(event_list, list) else []):
        for field in ("elements", "forms"):
            items = event.get(field) if isinstance(event, dict) else None
            for j, item in enumerate(items if isinstance(items, list) else []):
                yield ("events", i, field, j), item

"""Checks of draws given to a run from outside (``run(..., draws=...)``): each names a number or
date of the scenario (``events[i].FIELD``) or a market parameter (``market.NAME``), holds a
finite value a sample, and every value is one the scenario's schema would accept in that field
(an approval rate of 5.0 is refused as a file's would be).

A sweep's own draws come from the scenario's distributions, within their bounds; these checks
are for draws a caller injects."""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import ValidationError

from sim.config.market import Market
from sim.config.scenario import Scenario
from sim.errors import bad_value

KEY = re.compile(r"events\[(\d+)\]\.(.+)")
PART = re.compile(r"([A-Za-z_]+)(?:\[(\d+)\])?")


def check_draws(scenario: Scenario, draws: Mapping[str, Any], samples: int) -> None:
    """Refuse draws that are not ``samples`` finite values of a number or date the scenario
    has, or that the scenario's schema would refuse there (an `InputError` naming the key)."""
    document = _mutable(
        scenario.model_dump(by_alias=True, exclude_unset=True, exclude={"uncertain"})
    )
    for key, values in draws.items():
        drawn = _values(key, values, samples)
        if key.endswith(".completes"):  # a project built or not: any number (> 0.5 is built)
            continue
        parent, leaf = _field(document, key)
        for value in {float(drawn.min()), float(drawn.max())}:
            _check_value(document, key, parent, leaf, value)


def _mutable(value: Any) -> Any:
    """``value`` with its tuples made lists (a schedule's steps), so a field can be set."""
    if isinstance(value, dict):
        return {k: _mutable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mutable(v) for v in value]
    return value


def _values(key: str, values: Any, samples: int) -> np.ndarray:
    """The draws of ``key`` as floats: one finite value a sample."""
    try:
        drawn = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise bad_value("draws must be numbers (dates as day ordinals)", key, values) from None
    if drawn.shape != (samples,):
        raise bad_value(f"must hold one value a sample ({samples})", key, drawn.shape)
    bad = drawn[~np.isfinite(drawn)]
    if bad.size:
        raise bad_value("draws must be finite numbers", key, float(bad[0]))
    return drawn


def _field(document: dict[str, Any], key: str) -> tuple[Any, str | int]:
    """The mapping or list holding the field ``key`` names, and its name or index there."""
    if key.startswith("market."):  # a market parameter, written in the scenario or not
        parameter = key.removeprefix("market.")
        if parameter not in Market.model_fields:
            raise bad_value("no such market parameter", key, key)
        return document.setdefault("market", {}), parameter
    match = KEY.fullmatch(key)
    events = document.get("events", [])
    if match is None or int(match[1]) >= len(events):
        raise bad_value("no such number or date in the scenario", key, key)
    node: Any = events[int(match[1])]
    parts = match[2].split(".")
    for i, part in enumerate(parts):
        name = PART.fullmatch(part)
        if name is None or not isinstance(node, dict) or name[1] not in node:
            raise bad_value("no such number or date in the scenario", key, key)
        if name[2] is None and i == len(parts) - 1:
            return node, name[1]
        node = node[name[1]]
        if name[2] is not None:
            if not isinstance(node, list) or int(name[2]) >= len(node):
                raise bad_value("no such number or date in the scenario", key, key)
            if i == len(parts) - 1:
                return node, int(name[2])
            node = node[int(name[2])]
    raise bad_value("no such number or date in the scenario", key, key)


def _check_value(
    document: dict[str, Any], key: str, parent: Any, leaf: str | int, value: float
) -> None:
    """Validate the scenario with ``value`` in the field (a date's day ordinal as a date)."""
    unwritten = isinstance(parent, dict) and leaf not in parent  # a market parameter
    written = 0.0 if unwritten else parent[leaf]
    if not isinstance(written, int | float | dt.date) or isinstance(written, bool):
        raise bad_value("no such number or date in the scenario", key, key)
    as_written: object = value
    if isinstance(written, dt.date):
        if not dt.date.min.toordinal() <= value <= dt.date.max.toordinal():
            raise bad_value("a drawn date must be a day ordinal", key, value)
        as_written = dt.date.fromordinal(int(value))
    parent[leaf] = as_written
    try:
        Scenario.model_validate(copy.deepcopy(document))
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise bad_value(f"a drawn value is refused: {problem}", key, as_written) from None
    finally:
        if unwritten:
            del parent[leaf]
        else:
            parent[leaf] = written

"""Shared history: samples of a batch that cannot differ yet are run once.

A sweep's samples differ only through their draws, and most drawn fields of an event cannot
act before the event's earliest date (its start, end, announcement, ...; the earliest drawn
value when a date is drawn): `DATED` lists the numbers that cannot. Until then every
sample's state is the same, so `run` simulates that prefix with one sample, then carries its
state into the full batch and goes on from there.

The carried state is found, not listed: everything in the chain, ledger and record that the
prefix changed (arrays, numbers, `None` that became arrays), repeated along the sample axis;
what it did not change is left as the full batch built it (its per-sample parameters). A run
that forks this way gives the same numbers, bit for bit, as one that does not
(`tests/test_prefix.py`, every shipped scenario).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np

from sim.config.scenario import Scenario
from sim.units import month_index

# Numbers of each kind of event that act only from the event's dates (a drawn number not
# listed here, such as a stockpile's initial holding, acts from the first step: no fork).
DATED = {
    "export_control": {"share", "approval_rate", "review_delay_days", "foreign_content_threshold"},
    "new_capacity": {
        "nameplate_tpa",
        "ramp_months",
        "delay_months",
        "completion_probability",
        "completes",
    },
    "outage": {"share"},
    "stockpile": {
        "release_threshold",
        "max_release_t_per_month",
        "purchase_t_per_month",
        "target_t",
    },
    "price_floor": {"usd_per_kg", "years"},
    "price_level": {"usd_per_kg"},
    "price_cap": {"usd_per_kg"},
    "offtake": {"share", "years"},
    "substitution": {"max_share", "trigger_price_ratio", "full_price_ratio", "adoption_months"},
    "recycling": {"collection_share", "life_years", "ramp_months"},
}
SKIP = frozenset(
    {
        "world",
        "scenario",
        "draws",
        "markets",
        "oxide_pool",
        "chain",
        "facilities",
        "buyers",
        "index",
        "slices",
        "params",
        "_capacity_levels",
    }
)
Path = tuple[tuple[str, Any], ...]


class CannotFork(Exception):
    """The prefix's state has a shape the carry does not handle; run without a fork."""


def shared_until(
    scenario: Scenario, draws: Mapping[str, np.ndarray] | None, origin: dt.date
) -> float:
    """The first step at which samples may differ (``-inf`` if from the start, ``inf``
    without draws): one step before the earliest date of any event with a drawn field (the
    earliest drawn value of a drawn date), or the start if a drawn field is not one that
    acts only from its event's dates (`DATED`)."""
    if not draws:
        return np.inf
    earliest = np.inf
    for key in draws:
        if not key.startswith("events["):
            return -np.inf
        i, name = int(key[len("events[") : key.index("]")]), key.split(".", 1)[1]
        event = scenario.events[i]
        if not isinstance(getattr(event, name, None), dt.date) and name not in DATED.get(
            str(getattr(event, "kind", "")), ()
        ):
            return -np.inf
        dates = [v for v in dict(event).values() if isinstance(v, dt.date)]
        for other, drawn in draws.items():
            if other.startswith(f"events[{i}].") and isinstance(
                getattr(event, other.split(".", 1)[1], None), dt.date
            ):
                dates.append(dt.date.fromordinal(int(np.min(drawn))))
        earliest = min(earliest, np.floor(min(month_index(origin, d) for d in dates)))
    return float(earliest - 1)


def snapshot(*objects: Any) -> dict[Path, Any]:
    """Every array, number and ``None`` reachable from ``objects`` (copies)."""
    out: dict[Path, Any] = {}
    for i, obj in enumerate(objects):
        _walk(obj, (("root", i),), out)
    return out


def _walk(obj: Any, path: Path, out: dict[Path, Any]) -> None:
    if isinstance(obj, np.ndarray):
        out[path] = obj.copy()
    elif obj is None or isinstance(obj, (bool, int, float, str, dt.date, np.generic)):
        out[path] = obj
    elif isinstance(obj, dict):
        out[path + (("keys", None),)] = tuple(obj)
        for k, v in obj.items():
            _walk(v, path + (("key", k),), out)
    elif isinstance(obj, (list, tuple)):
        out[path + (("len", None),)] = len(obj)
        for i, v in enumerate(obj):
            _walk(v, path + (("item", i),), out)
    elif type(obj).__module__.startswith("sim.") and hasattr(obj, "__dict__"):
        for k, v in vars(obj).items():
            if k not in SKIP:
                _walk(v, path + (("attr", k),), out)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and bool(np.array_equal(a, b))
        )
    return bool(a == b) if type(a) is type(b) else False


def carry(
    before: dict[Path, Any], after: dict[Path, Any], full: tuple[Any, ...], samples: int
) -> None:
    """Copy into ``full`` what the prefix changed in the one-sample run (its `snapshot`s
    ``before`` and ``after``), repeated along the sample axis; raise `CannotFork` where that
    is not clear. The snapshots are not changed (``full`` gets copies)."""
    if set(before) - set(after):
        raise CannotFork("the prefix removed part of the state")
    for path, value in after.items():
        if path[-1][0] == "len" and before.get(path) != value:
            raise CannotFork("the prefix changed the length of a list")
        if path[-1][0] in ("keys", "len") or (path in before and _same(value, before[path])):
            continue
        parent, last = _parent(full, path)
        target = _get(parent, last) if path in before else None  # else a new key
        _set(parent, last, _widen(value, target, samples))


def _widen(value: Any, target: Any, samples: int) -> Any:
    if not isinstance(value, np.ndarray):
        return value
    if isinstance(target, np.ndarray):
        try:
            if np.broadcast_shapes(value.shape, target.shape) == target.shape:
                return np.broadcast_to(value, target.shape).copy()
        except ValueError:
            pass
        raise CannotFork(f"an array of shape {value.shape} for one of {target.shape}")
    if value.ndim and value.shape[0] == 1:  # books opened during the prefix, one a sample
        return np.repeat(value, samples, axis=0)
    return value.copy()  # a record of sample 0 alone (the detail of a run)


def _parent(roots: tuple[Any, ...], path: Path) -> tuple[Any, tuple[str, Any]]:
    obj: Any = roots
    for step in path[:-1]:
        obj = _get(obj, step)
    return obj, path[-1]


def _get(obj: Any, step: tuple[str, Any]) -> Any:
    kind, key = step
    if kind == "attr":
        return getattr(obj, key)
    return obj[key]  # root, key, item


def _set(obj: Any, step: tuple[str, Any], value: Any) -> None:
    kind, key = step
    if kind == "attr":
        object.__setattr__(obj, key, value)
    elif isinstance(obj, tuple):
        raise CannotFork("the prefix changed a value held in a tuple")
    else:
        obj[key] = value

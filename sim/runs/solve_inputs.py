"""What ``sim solve`` sizes and what must hold: a lever (one number of one event, such as a
stockpile's ``initial_t``) and a target (``no_shortfall`` of some buyers over a window of
months), parsed from the command line's text and checked against the scenario and its world.

A lever is a field the engine reads per sample (`sim.model.levers.timing.EventValues`), so a
trial sets it as a draw: every trial of a solve runs the same futures, with only the lever
changed. `LEVERS` lists the fields that may be solved for, with the direction that helps; a
price floor's ``usd_per_kg`` or a project's ``nameplate_tpa`` would be added there (each
needs a test that more of it never adds to a shortfall).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.config.events import MAX_TONNES
from sim.config.scenario import Scenario
from sim.errors import bad_value
from sim.runs.sweep import buyer_labels
from sim.runs.windows import ROLLUPS
from sim.world.world import World


@dataclass(frozen=True)
class LeverKind:
    """A field that may be solved for: its unit, its least and most value."""

    unit: str
    least: float
    most: float


#: Solvable fields by (event kind, field). More of each never adds to a shortfall.
LEVERS: dict[tuple[str, str], LeverKind] = {
    ("stockpile", "initial_t"): LeverKind("t", 0.0, MAX_TONNES),
}
LEVER = re.compile(r"events\[(\d+)\]\.([a-z_]+)")


@dataclass(frozen=True)
class Lever:
    """One number of one event of the scenario, sized by ``sim solve``."""

    event: int
    field: str
    name: str
    current: float
    kind: LeverKind

    @property
    def path(self) -> str:
        """The field's path, the key of its draws: ``events[2].initial_t``."""
        return f"events[{self.event}].{self.field}"


def parse_lever(text: str, scenario: Scenario) -> Lever:
    """``events[N].FIELD`` of ``scenario`` as a `Lever`.

    Raises:
        InputError: at ``--lever``, for another form, an event the scenario does not have,
            or a field that may not be solved for (naming the levers it has).
    """
    match = LEVER.fullmatch(text.strip())
    if match is None or int(match.group(1)) >= len(scenario.events):
        raise bad_value(_lever_problem(scenario, match is None), "--lever", text)
    index, field = int(match.group(1)), match.group(2)
    event = scenario.events[index]
    kind = LEVERS.get((event.kind, field))
    if kind is None:
        raise bad_value(_lever_problem(scenario, False), "--lever", text)
    name = event.label or f"{event.kind} {index}"
    return Lever(index, field, name, float(getattr(event, field)), kind)


def _lever_problem(scenario: Scenario, form: bool) -> str:
    """What a bad lever should have been, with the levers the scenario offers."""
    found = [
        f"events[{i}].{field} ({ev.kind} '{ev.label or i}')"
        for i, ev in enumerate(scenario.events)
        for kind, field in LEVERS
        if ev.kind == kind
    ]
    offer = f"this scenario's: {', '.join(found)}" if found else "this scenario has none"
    solvable = ", ".join(f"{kind}.{field}" for kind, field in LEVERS)
    what = "expected events[N].FIELD" if form else "not a lever"
    return f"{what}; a lever is an event's field of {solvable}; {offer}"


TARGET_KINDS = ("no_shortfall",)
TARGET_KEYS = ("region", "sector", "material", "from", "until")
EXPECTED_TARGET = (
    "expected 'no_shortfall region=R [sector=S] [material=M] [from=YYYY-MM-DD] "
    "[until=YYYY-MM-DD]', e.g. 'no_shortfall region=US sector=defence until=2030-12-31'"
)


@dataclass(frozen=True)
class Target:
    """No month short for the chosen buyers from ``first`` to ``last`` (first days of
    months); ``buyers`` are their indices in the world's buyers."""

    text: str
    label: str
    buyers: np.ndarray
    first: dt.date
    last: dt.date


def parse_target(text: str, scenario: Scenario, world: World) -> Target:
    """``no_shortfall region=US sector=defence [material=NdFeB] [from=...] [until=...]``.

    Raises:
        InputError: at ``--target``, for another kind, an unknown or repeated key, a region,
            sector or material the world's buyers do not have, a date not YYYY-MM-DD or
            outside the horizon, or a window that ends before it starts.
    """
    words = text.split()
    if not words or words[0] not in TARGET_KINDS:
        raise bad_value(EXPECTED_TARGET, "--target", text)
    keys = _keys(words[1:], text)
    chosen = _chosen(buyer_labels(world), keys, text)
    first, last = _window(keys, scenario, text)
    return Target(text.strip(), _label(keys, first, last), chosen, first, last)


def _keys(words: list[str], text: str) -> dict[str, str]:
    """``key=value`` words as a mapping; ``region`` is required, no key twice."""
    pairs = [word.partition("=") for word in words]
    keys = [key for key, _, _ in pairs]
    bad = [k for k, sep, v in pairs if not sep or not v or k not in TARGET_KEYS]
    bad += [k for i, k in enumerate(keys) if k in keys[:i]]
    if bad or "region" not in keys:
        problem = f"unknown, repeated or empty key {bad[0]!r}; " if bad else "no region; "
        raise bad_value(problem + EXPECTED_TARGET, "--target", text)
    return {key: value for key, _, value in pairs}


def _chosen(buyers: pd.DataFrame, keys: dict[str, str], text: str) -> np.ndarray:
    """The indices of the buyers the target's region (or roll-up), sector and material pick."""
    regions = ROLLUPS.get(keys["region"], (keys["region"],))
    pick = buyers["region"].isin(regions).to_numpy().copy()
    for column in ("region", "sector", "material"):
        known = sorted({*buyers[column], *(ROLLUPS if column == "region" else ())})
        if column in keys and keys[column] not in known:
            raise bad_value(f"unknown {column}; expected one of {known}", "--target", text)
        if column in keys and column != "region":
            pick &= (buyers[column] == keys[column]).to_numpy()
    if not pick.any():
        raise bad_value("no buyers of that region, sector and material", "--target", text)
    return np.flatnonzero(pick)


def _window(keys: dict[str, str], scenario: Scenario, text: str) -> tuple[dt.date, dt.date]:
    """First days of the window's first and last months (default: the horizon's)."""
    start, end = scenario.horizon.start, scenario.horizon.end
    first = _date(keys.get("from"), start, text)
    last = _date(keys.get("until"), end, text)
    if not start <= first <= last <= end:
        problem = f"the window must run forwards within the horizon ({start} to {end})"
        raise bad_value(problem, "--target", text)
    return max(first, start).replace(day=1), last.replace(day=1)


def _date(value: str | None, default: dt.date, text: str) -> dt.date:
    """A ``from``/``until`` date (YYYY-MM-DD), or ``default``."""
    try:
        return default if value is None else dt.date.fromisoformat(value)
    except ValueError:
        raise bad_value("dates are YYYY-MM-DD; " + EXPECTED_TARGET, "--target", text) from None


def _label(keys: dict[str, str], first: dt.date, last: dt.date) -> str:
    """``US defence NdFeB never short from 2024-01 to 2030-12``."""
    who = " ".join(keys[k] for k in ("region", "sector", "material") if k in keys)
    return f"{who} never short from {first:%Y-%m} to {last:%Y-%m}"


def months_in(target: Target, dates: list[dt.date]) -> np.ndarray:
    """Indices of a run's months (first days) inside the target's window."""
    return np.array([t for t, d in enumerate(dates) if target.first <= d <= target.last])

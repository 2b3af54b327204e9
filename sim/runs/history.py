"""Shared history: samples of a batch that cannot differ yet are run once.

A sweep's samples differ only through their draws, and most drawn fields of an event cannot
act before the event's earliest date (its start, end, announcement, ...; the earliest drawn
value when a date is drawn): `DATED` lists the numbers that cannot. Until then every
sample's state is the same, so `run` simulates that prefix with one sample, then carries its
state into the full batch and goes on from there.

The full batch builds its own structure (`sim.model.chain.Chain`, with its per-sample
parameters); what a run changes is apart from it: its `sim.model.state.State`, books
(`sim.model.ledger.Ledger`) and record (`sim.runs.engine.Record`). Those of the one-sample run
after the prefix become the full batch's by their ``repeat`` methods, every sample a copy of
that history (the upstream rows stay one row for every sample, as the batch keeps them). A
run that forks this way gives the same numbers, bit for bit, as one that does not
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
    "demand_growth": {"growth_pa"},
    "production_cap": {"tpa"},
    "stockpile": {
        "release_threshold",
        "max_release_t_per_month",
        "purchase_t_per_month",
        "target_t",
    },
    "price_floor": {"usd_per_kg", "years"},
    "price_level": {"usd_per_kg"},
    "price_cap": {"usd_per_kg"},
    "offtake": {"share", "years", "tonnes_pa"},
    "substitution": {"max_share", "trigger_price_ratio", "full_price_ratio", "adoption_months"},
    "recycling": {"collection_share", "life_years", "ramp_months"},
}


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
        if not _acts_from_dates(event, name):
            return -np.inf
        dates = _dates(event, i, draws)
        earliest = min(earliest, np.floor(min(month_index(origin, d) for d in dates)))
    return float(earliest - 1)


def _acts_from_dates(event: Any, name: str) -> bool:
    """Whether an event's field ``name`` acts only from the event's dates: a date, or a
    number of `DATED` (or a part of one: a step of a scheduled share)."""
    kind = str(getattr(event, "kind", ""))
    field = name.split(".", 1)[0]
    return isinstance(getattr(event, name, None), dt.date) or field in DATED.get(kind, ())


def _dates(event: Any, i: int, draws: Mapping[str, np.ndarray]) -> list[dt.date]:
    """Event ``i``'s dates, and the earliest drawn value of each of its drawn dates."""
    dates = [v for v in dict(event).values() if isinstance(v, dt.date)]
    for other, drawn in draws.items():
        field = other.removeprefix(f"events[{i}].")
        if field != other and isinstance(getattr(event, field, None), dt.date):
            dates.append(dt.date.fromordinal(int(np.min(drawn))))
    return dates

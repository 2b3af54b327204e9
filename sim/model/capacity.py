"""Capacity: facilities' tranches with their ramps and ends, growth, outages, production caps;
tonnes a step.

A facility's nameplate is the sum of its tranches (a `new_capacity` event adds one: a project,
with a start date, a ramp, maybe a delay and a chance of never being built). Each step its
capacity is that nameplate, ramped and ended pro rata within the step, times its growth since
the world's base year (at another rate where a `capacity_growth` event says so), less what
an outage takes, over twelve. A `production_cap` then holds a facility's (or a group's)
capacity, after its answer to price, at most at its tonnage (`CapSwitch.limit`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from sim.config.events import CapacityGrowth, NewCapacity, Outage, ProductionCap
from sim.config.scenario import Scenario
from sim.model.levers.timing import EventValues, active_fraction, ramp_average
from sim.units import month_index
from sim.world.world import Facility, Tranche, World

CAPACITY_BLOCK = 12  # steps of tranches' levels worked out at once
Switch = TypeVar("Switch")


def apply_capacity_events(world: World, scenario: Scenario) -> World:
    """The world with the scenario's `new_capacity` events turned into tranches."""
    for index, ev in enumerate(scenario.events):
        if not isinstance(ev, NewCapacity):
            continue
        tranche = Tranche(ev.nameplate_tpa, ev.start, ev.ramp_months, event=index)
        try:
            fac = world.facility(ev.facility)
        except KeyError:
            fac = _new_facility(ev)
        tranches = (tranche,) if ev.replace else (*fac.tranches, tranche)
        world = world.with_facility(Facility(**{**fac.__dict__, "tranches": tranches}))
    return world


def _new_facility(ev: NewCapacity) -> Facility:
    """A facility a `new_capacity` event builds from nothing (its stage and country are
    checked by loading)."""
    assert ev.stage is not None and ev.country is not None
    product = {"separation": "oxide", "metal": "metal"}.get(ev.stage, ev.product or "NdFeB")
    return Facility(
        id=ev.facility,
        name=ev.label or ev.facility,
        country=ev.country,
        stage=ev.stage,
        product=product,
        tranches=(),
        recovers=ev.recovers or "all",
        feeds_from=tuple(ev.feeds_from or ()),
    )


@dataclass(frozen=True)
class OutageSwitch:
    """An outage: the indices of the facilities it reaches (one, or a site's or a company's),
    the share of their capacity lost, and its dates (months from the origin); its level, a
    sample, is part of the run's state."""

    facilities: np.ndarray
    share: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def times(self) -> list[np.ndarray]:
        """Every date at which the level may change, months from the origin."""
        return [self.start, self.end]

    def at(self, step: int) -> np.ndarray:
        """Share of the step inside [start, end)."""
        return active_fraction(self.start, self.end, step)


def build_outages(events: EventValues, named: Callable[[str], np.ndarray]) -> list[OutageSwitch]:
    """The scenario's outages, in its order (``named``: the indices of the facilities a name
    reaches)."""
    return _switches(events, named, Outage, "share", OutageSwitch)


def _switches(
    events: EventValues,
    named: Callable[[str], np.ndarray],
    kind: type[Outage] | type[ProductionCap],
    value: str,
    make: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], Switch],
) -> list[Switch]:
    """A switch for each event of ``kind``, in the scenario's order: its facilities, its
    ``value`` and its dates."""
    return [
        make(
            named(ev.facility),
            events.value(i, value),
            events.when(i, "start", 0.0),
            events.when(i, "end", np.inf),
        )
        for i, ev in events.of_kind(kind)
    ]


@dataclass(frozen=True)
class CapSwitch:
    """A `production_cap`: the indices of the facilities it reaches, their most a year
    together (a sample each) and its dates (months from the origin)."""

    facilities: np.ndarray
    tpa: np.ndarray  # [S]
    start: np.ndarray  # [S]
    end: np.ndarray  # [S]

    def limit(self, capacity: np.ndarray, step: int, *parts: np.ndarray) -> None:
        """Hold the facilities' ``capacity[S, F]`` (t a step) at most at the cap, in place,
        pro rata to the share of ``step`` it is in force, each facility cut in proportion;
        ``parts`` (e.g. the projects' share of capacity) are cut by the same factor."""
        on = active_fraction(self.start, self.end, step)  # [S]
        if not on.any():
            return
        total = capacity[:, self.facilities].sum(axis=1)  # [S]
        most = self.tpa / 12.0
        keep = np.where(total > most, most / np.where(total > 0, total, 1.0), 1.0)
        factor = (1.0 - on * (1.0 - keep))[:, None]
        for a in (capacity, *parts):
            a[:, self.facilities] *= factor


def build_caps(events: EventValues, named: Callable[[str], np.ndarray]) -> list[CapSwitch]:
    """The scenario's production caps, in its order (``named``: the indices of the facilities
    a name reaches)."""
    return _switches(events, named, ProductionCap, "tpa", CapSwitch)


@dataclass(frozen=True)
class GrowthChange:
    """A change of yearly growth: a `capacity_growth` event's facilities or a `demand_growth`
    event's buyers (``members``, indices), their own yearly trend, and a sample's new yearly
    rate and dates (months from the origin)."""

    members: np.ndarray
    trend: np.ndarray  # [n] each member's own growth_pa
    growth: np.ndarray  # [S]
    start: np.ndarray  # [S]
    end: np.ndarray  # [S]

    def factor(self, step: int) -> np.ndarray:
        """``[S, n]`` the members' level at ``step`` over what their trend gives: the ratio
        of the two growth rates, compounded over the years of the step's middle that fall
        between start and end."""
        years = np.clip(step + 0.5 - self.start, 0.0, self.end - self.start) / 12.0
        ratio = (1.0 + self.growth[:, None]) / (1.0 + self.trend[None])
        return ratio ** years[:, None]


def build_growth_changes(
    events: EventValues, facilities: list[Facility], index: dict[str, int]
) -> list[GrowthChange]:
    """The scenario's `capacity_growth` events over the facilities the chain has."""
    changes = []
    for i, ev in events.of_kind(CapacityGrowth):
        reached = [
            f
            for f in facilities
            if f.country == ev.country and f.stage in ev.stages and not f.secondary
        ]
        changes.append(
            GrowthChange(
                np.array([index[f.id] for f in reached], dtype=int),
                np.array([f.growth_pa for f in reached]),
                events.value(i, "growth_pa"),
                events.when(i, "start", 0.0),
                events.when(i, "end", np.inf),
            )
        )
    return changes


# One part of the tranches: their columns, the rows of samples they need (one row when every
# sample agrees), their owners, and where each owner's run of them starts among the columns.
Part = tuple[np.ndarray, slice, np.ndarray, np.ndarray]


class Tranches:
    """Every facility's tranches (one value a sample: projects may be drawn) and growth.

    Tranches are listed by owner: a facility's capacity is the sum of its run of them.
    Facilities whose tranches differ between samples (a drawn start or nameplate, say) are one
    part, the others another, whose capacity is worked out once for every sample. Their levels
    depend on the step and the draws alone, so `levels` works them out `CAPACITY_BLOCK` steps
    at a time and keeps the last block (a memo of a pure function, not state of a run).
    """

    def __init__(
        self, facilities: list[Facility], events: EventValues, growth_path: np.ndarray
    ) -> None:
        owner, columns = _tranche_columns(facilities, events)
        stacked = _stack(columns, events.samples)
        self.start, self.ramp, self.end, self.nameplate_tpa, self.s_curve = stacked
        self.growth_path = growth_path  # [steps incl. warm-up, F]
        self.facility_count = len(facilities)
        self.parts = self._parts(np.array(owner, dtype=int))
        self._block: tuple[int, list[tuple[np.ndarray, np.ndarray]]] = (-1 << 30, [])

    def _parts(self, owner: np.ndarray) -> list[Part]:
        """The agreeing and the varying facilities' tranches, each whole runs of them."""
        varies = np.zeros(self.start.shape[1], dtype=bool)
        for a in (self.nameplate_tpa, self.start, self.ramp, self.end, self.s_curve):
            varies |= (a != a[:1]).any(axis=0)
        varies = np.isin(owner, owner[varies])
        parts = []
        for cols, rows in (
            (np.flatnonzero(~varies), slice(0, 1)),
            (np.flatnonzero(varies), slice(None)),
        ):
            if cols.size:
                owners, starts = np.unique(owner[cols], return_index=True)
                parts.append((cols, rows, owners, starts))
        return parts

    def levels(self, step: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each part's facilities' nameplate at ``step`` after ramps and ends, all and of
        projects (tonnes a year, before growth and outages): ``[rows, owners]`` each.

        Worked out for a block of steps at a time, with the steps as a leading axis (the same
        numbers as one step at a time: elementwise, and each facility's run of tranches
        summed in order)."""
        first, parts = self._block
        if not first <= step < first + CAPACITY_BLOCK:
            first = step
            steps = np.arange(first, first + CAPACITY_BLOCK, dtype=float)[:, None, None]
            parts = [self._part_levels(part, steps) for part in self.parts]
            self._block = (first, parts)
        return [(made[step - first], planned[step - first]) for made, planned in parts]

    def _part_levels(self, part: Part, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One part's levels, all and of projects, ``[steps, rows, owners]`` each."""
        cols, rows, _, starts = part
        # C-ordered gathers of whole runs of tranches
        start, ramp, end, s_curve, nameplate = (
            np.take(a[rows], cols, axis=1)
            for a in (self.start, self.ramp, self.end, self.s_curve, self.nameplate_tpa)
        )
        level = ramp_average(start, ramp, steps, s_curve)
        level = level * np.clip(end - steps, 0.0, 1.0)  # share before the end
        # A sum in a fixed order (a BLAS product's order may depend on the batch).
        return (
            np.add.reduceat(nameplate * level, starts, axis=2),
            np.add.reduceat(nameplate * level * np.isfinite(start), starts, axis=2),
        )


def _tranche_columns(
    facilities: list[Facility], events: EventValues
) -> tuple[list[int], tuple[list[np.ndarray], ...]]:
    """Each tranche's owner, and its start, ramp, end, nameplate and S-curve flag (a sample
    each), in lists by owner."""
    owner: list[int] = []
    columns: tuple[list[np.ndarray], ...] = ([], [], [], [], [])
    for i, fac in enumerate(facilities):
        for tranche in fac.tranches:
            owner.append(i)
            for column, value in zip(columns, _tranche(tranche, events)):
                column.append(value)
    return owner, columns


def _stack(columns: tuple[list[np.ndarray], ...], samples: int) -> list[np.ndarray]:
    """Each column's tranches side by side, ``[S, tranches]`` (the last column's booleans)."""
    return [
        np.stack(c, axis=1) if c else np.zeros((samples, 0), dtype=c_type)
        for c, c_type in zip(columns, (float, float, float, float, bool))
    ]


def _tranche(tranche: Tranche, events: EventValues) -> tuple[np.ndarray, ...]:
    """One tranche's start, ramp, end, nameplate and S-curve flag, a sample each: a project's
    from its event (drawn or not), else the world's."""
    samples = events.samples
    end = events.month(tranche.end, np.inf)
    if tranche.event is not None:
        return _project(tranche.event, events, end)
    return (
        events.month(tranche.start, -np.inf),
        np.full(samples, tranche.ramp_months),
        end,
        np.full(samples, tranche.capacity_tpa),
        np.zeros(samples, dtype=bool),
    )


def _project(i: int, events: EventValues, end: np.ndarray) -> tuple[np.ndarray, ...]:
    """A `new_capacity` event's tranche (`_tranche`): delayed, maybe never built."""
    nameplate = events.value(i, "nameplate_tpa") * events.completes(i)
    start = events.when(i, "start", -np.inf) + events.value(i, "delay_months")
    s_curve = getattr(events.scenario.events[i], "ramp", "") == "s_curve"
    return start, events.value(i, "ramp_months"), end, nameplate, np.full(events.samples, s_curve)


def growth_path(
    facilities: list[Facility], origin: dt.date, base_year: int, warmup: int, steps: int
) -> np.ndarray:
    """Each facility's growth since the middle of the base year, every step incl. warm-up,
    ``[steps, F]``."""
    growth = np.array([1.0 + f.growth_pa for f in facilities])
    base = month_index(origin, dt.date(base_year, 7, 1))
    years = (np.arange(-warmup, steps) + 0.5 - base) / 12.0
    return growth[None, :] ** years[:, None]


def running_share(
    outages: list[OutageSwitch], outage_levels: list[np.ndarray], samples: int, facilities: int
) -> np.ndarray:
    """``[S, F]`` the share of each facility's capacity that no outage stops this step (1
    without outages)."""
    running = np.ones((samples, facilities))
    for out, level in zip(outages, outage_levels):
        running[:, out.facilities] *= (1.0 - out.share * level)[:, None]
    return running


def capacity_at(
    tranches: Tranches,
    step: int,
    warmup: int,
    samples: int,
    outages: list[OutageSwitch],
    outage_levels: list[np.ndarray],
    growth_changes: Sequence[GrowthChange] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Capacity at ``step`` and the part of it from projects, tonnes a step, ``[S, F]`` each:
    tranches' levels times growth (changed by ``growth_changes``), less outages (at
    ``outage_levels``)."""
    tpa = np.zeros((samples, tranches.facility_count))
    new_tpa = np.zeros((samples, tranches.facility_count))
    for (_, _, owners, _), (made, planned) in zip(tranches.parts, tranches.levels(step)):
        tpa[:, owners], new_tpa[:, owners] = made, planned  # agreeing facilities: 1 row
    tpa *= tranches.growth_path[step + warmup]
    new_tpa *= tranches.growth_path[step + warmup]
    for change in growth_changes:
        factor = change.factor(step)
        tpa[:, change.members] *= factor
        new_tpa[:, change.members] *= factor
    for out, level in zip(outages, outage_levels):
        tpa[:, out.facilities] *= (1.0 - out.share * level)[:, None]
    capacity = tpa / 12.0
    return capacity, np.minimum(new_tpa / 12.0, capacity)  # of projects, t a step

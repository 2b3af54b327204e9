"""The dated history of the facilities (``history.csv``) applied to a vintage's facilities."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace

from sim.errors import InputError
from sim.world.data_files import LocatedRow
from sim.world.rows import HistoryRow
from sim.world.world import Facility, Tranche


def apply_history(
    facilities: list[Facility],
    year: int,
    cutoff: dt.date,
    rows: Iterable[LocatedRow[HistoryRow]],
) -> list[Facility]:
    """Facilities with the dated changes of ``history.csv`` that a vintage knew of.

    A row applies to the vintage of ``year`` when it is an ``input``, was public by the
    vintage's ``cutoff`` (``known_by``) and takes effect in or after ``year`` (earlier changes
    are already in the vintage's own files): ``start`` adds a capacity tranche (a planned
    start or restart), ``halt`` ends the facility's earlier tranches; ``status`` rows only
    document the timeline, and ``validation`` rows (what happened after the cut-off) are never
    inputs.

    Raises:
        InputError: at the row's file and line, if a row that applies names no facility of
            the vintage.
    """
    by_id = {facility.id: facility for facility in facilities}
    first_day = dt.date(year, 1, 1)
    for located in rows:
        row = located.row
        if not _applies(row, first_day, cutoff):
            continue
        facility = by_id.get(row.facility)
        if facility is None:
            raise InputError(
                f"no facility of this id in the {year} world",
                file=located.file,
                line=located.line,
                path="facility",
                value=row.facility,
                has_value=True,
            )
        by_id[facility.id] = replace(facility, tranches=_tranches_after(facility, row))
    return [by_id[facility.id] for facility in facilities]


def _applies(row: HistoryRow, first_day: dt.date, cutoff: dt.date) -> bool:
    """An input start or halt, dated in or after the vintage's year, public by its cut-off."""
    return (
        row.use == "input"
        and row.event != "status"
        and row.date >= first_day
        and row.known_by <= cutoff
    )


def _tranches_after(facility: Facility, row: HistoryRow) -> tuple[Tranche, ...]:
    """The facility's tranches once a start adds one or a halt ends the earlier ones."""
    if row.event == "start":
        assert row.capacity_tpa is not None  # an input start has one (HistoryRow checks it)
        return (*facility.tranches, Tranche(row.capacity_tpa, row.date, row.ramp_months))
    return tuple(
        replace(tranche, end=row.date) if (tranche.start or dt.date.min) < row.date else tranche
        for tranche in facility.tranches
    )

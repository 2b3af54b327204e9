"""Elements, forms, unit names and the conversions between them.

Inside the model every quantity of material is tonnes of *contained element* (``_t``); rates are
tonnes per year (``_tpa``) in the data and tonnes per step in the engine. Statistics quote rare
earths as tonnes of rare-earth oxide (REO); `REO_TO_ELEMENT` converts at the edges.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

#: Elements tracked by the model, in array order: every rare earth an export control of
#: 2023-2025 names (Sm, Gd, Tb, Dy, Lu, Sc, Y in April 2025; Ho, Er, Tm, Eu, Yb in October
#: 2025) and the light ones it does not (NdPr, La, Ce). Promethium is not mined, so no residual
#: bucket is needed (docs/design.md, Elements).
ELEMENTS: tuple[str, ...] = (
    "NdPr",
    "Dy",
    "Tb",
    "Sm",
    "La",
    "Ce",
    "Y",
    "Gd",
    "Eu",
    "Ho",
    "Er",
    "Tm",
    "Yb",
    "Lu",
    "Sc",
)
ELEMENT_INDEX: dict[str, int] = {e: i for i, e in enumerate(ELEMENTS)}

#: Every rare-earth name a scenario may use, mapped to its element. Nd and Pr travel together.
ELEMENT_ALIASES: dict[str, str] = {**{e: e for e in ELEMENTS}, "Nd": "NdPr", "Pr": "NdPr"}

#: Elements a plant that separates only the light rare earths (``recovers: light``) recovers:
#: the rest (Sm's heavier neighbours, Y and Sc) leaves it in a mixed heavy residue. Sm is kept
#: as before, although Lynas and MP sold no Sm before 2026 (sim/world/data/README.md).
LIGHT: tuple[str, ...] = ("NdPr", "Sm", "La", "Ce")

#: Mass of element per mass of its usual oxide (molar masses, IUPAC 2021 standard atomic
#: weights): Nd2O3 0.857 and Pr6O11 0.828 (NdPr taken as 0.85), Dy2O3 0.871, Tb4O7 0.850,
#: Sm2O3 0.862, La2O3 0.853, CeO2 0.814, Y2O3 0.787, Gd2O3 0.868, Eu2O3 0.864, Ho2O3 0.873,
#: Er2O3 0.875, Tm2O3 0.876, Yb2O3 0.878, Lu2O3 0.879, Sc2O3 0.652.
REO_TO_ELEMENT = np.array(
    [0.85, 0.871, 0.850, 0.862, 0.853, 0.814, 0.787]
    + [0.868, 0.864, 0.873, 0.875, 0.876, 0.878, 0.879, 0.652]
)

#: Forms of material along the chain.
FORMS: tuple[str, ...] = ("concentrate", "oxide", "metal", "NdFeB", "SmCo", "NdFeB_DyFree")
#: A control naming "magnet" covers every magnet, one naming "NdFeB" both NdFeB grades (the
#: elements it names then say which: a control on Dy and Tb does not reach Dy-free NdFeB).
FORM_ALIASES: dict[str, tuple[str, ...]] = {
    **{f: (f,) for f in FORMS},
    "alloy": ("metal",),
    "NdFeB": ("NdFeB", "NdFeB_DyFree"),
    "magnet": ("NdFeB", "SmCo", "NdFeB_DyFree"),
}
#: Magnets: NdFeB of the grades that hold Dy and Tb (the fleet of them, at its average
#: recipe), SmCo, and NdFeB of the Dy-free grades that cool uses take (`recipes.csv`).
MAGNETS: tuple[str, ...] = ("NdFeB", "SmCo", "NdFeB_DyFree")

SECTORS: tuple[str, ...] = (
    "ev_traction",
    "wind",
    "defence",
    "electronics",
    "industrial_motors",
    "other",
)
REGIONS: tuple[str, ...] = ("US", "EU", "JP", "KR", "CN", "ROW")

DAYS_PER_MONTH = 365.25 / 12


def month_index(origin: dt.date, when: dt.date) -> float:
    """Months from ``origin`` (a first of month) to ``when``, fractional within the month.

    >>> month_index(dt.date(2025, 1, 1), dt.date(2025, 4, 16))
    3.5
    """
    whole = (when.year - origin.year) * 12 + (when.month - origin.month)
    first = dt.date(when.year, when.month, 1)
    nxt = dt.date(when.year + (when.month == 12), when.month % 12 + 1, 1)
    return whole + (when - first).days / (nxt - first).days


def month_start(origin: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after ``origin``."""
    total = origin.year * 12 + origin.month - 1 + months
    return dt.date(total // 12, total % 12 + 1, 1)


def decimal_year(day: dt.date) -> float:
    """A date as a decimal year (2024-07-01 is about 2024.5)."""
    start = dt.date(day.year, 1, 1)
    length = (dt.date(day.year + 1, 1, 1) - start).days
    return day.year + (day - start).days / length

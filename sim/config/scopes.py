"""Scope fields of events: 'all' or a non-empty list of names (countries, sectors,
materials, regions, elements, forms), checked so that an empty list never silently puts
nothing in scope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BeforeValidator

from sim.errors import excerpt


def known_names(value: object, allowed: Mapping[str, object], what: str) -> object:
    """``value`` if it is 'all' or a non-empty list of names ``allowed`` knows, else why not."""
    if value == "all":
        return value
    if not isinstance(value, list) or not value:
        raise ValueError(f"must be 'all' or a non-empty list of {what}")
    check_known(value, allowed, what)
    return value


def check_known(names: list[object], allowed: Mapping[str, object], what: str) -> None:
    """Every one of ``names`` is a name ``allowed`` knows."""
    bad = [v for v in names if not isinstance(v, str) or v not in allowed]
    if bad:
        raise ValueError(f"unknown {what} {excerpt(bad)}; expected one of {sorted(allowed)}")


def non_empty(what: str) -> BeforeValidator:
    """A scope field's check: 'all', or a list of names that is not empty (an empty list
    would silently put nothing in scope)."""

    def check(value: object) -> object:
        if isinstance(value, list) and not value:
            raise ValueError(f"must be 'all' or a non-empty list of {what}")
        return value

    return BeforeValidator(check)


Destinations = Annotated[Literal["all"] | list[str], non_empty("countries or regions")]
Sectors = Annotated[Literal["all"] | list[str], non_empty("sectors")]
Materials = Annotated[Literal["all"] | list[str], non_empty("materials")]
Regions = Annotated[Literal["all"] | list[str], non_empty("regions")]

"""The strict, frozen pydantic base of every configuration model, and a shared date check."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Base: frozen, unknown fields rejected, NaN and infinity refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def check_end_after_start(start: dt.date, end: dt.date | None) -> None:
    """Raise the schema's ``ValueError`` when an ``end`` is given and is not after ``start``."""
    if end is not None and end <= start:
        raise ValueError(f"end ({end}) must be after start ({start})")

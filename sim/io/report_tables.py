"""The report's tables: which rows and columns of a results folder's tables it shows, under
what headings and units, and their HTML, numbers with thousands separators.

A table shows the rows that matter (buyer groups ever short, products not built, groups B
moves), largest first, at most `MAX_ROWS` of them; the rest are counted and left in the file.
"""

from __future__ import annotations

import html
import math
from typing import Any, NamedTuple

import pandas as pd

MAX_ROWS = 30


class Column(NamedTuple):
    """A column shown: its name in the file, its heading (with its unit) and its format."""

    name: str
    heading: str
    kind: str = "text"  # text (as written), name (_ as spaces), t, usd, usd_per_kg, count,
    # share, ratio, and signed: +t, +usd


class Spec(NamedTuple):
    """A table shown: its file's stem, its title, the rows kept and the columns shown."""

    stem: str
    title: str
    columns: tuple[Column, ...]
    where: tuple[tuple[str, str], ...] = ()  # (column, value) the rows must hold
    nonzero: str | None = None  # keep rows where this column is not (nearly) 0
    order: str | None = None  # sort by this column's size, largest first (default: nonzero)


BUYER = (
    Column("region", "region"),
    Column("sector", "sector", "name"),
    Column("material", "material"),
)
PRODUCT = (
    Column("period", "period"),
    Column("product", "product", "name"),
    Column("unit", "unit"),
)

RUN_TABLES = (
    Spec(
        "summary",
        "Shortfall by buyer group (groups ever short, largest first)",
        (
            *BUYER,
            Column("demand_t", "demand (t)", "t"),
            Column("shortfall_t", "shortfall (t)", "t"),
            Column("share_short", "share of demand short", "share"),
            Column("peak_month_t", "worst month (t)", "t"),
            Column("months_short", "months short", "count"),
            Column("first_short", "first short"),
            Column("recovered", "recovered"),
        ),
        nonzero="shortfall_t",
    ),
    Spec(
        "price_peaks",
        "Price peaks by tier",
        (
            Column("product", "product", "name"),
            Column("market", "tier", "name"),
            Column("first_usd_per_kg", "first month (US$/kg)", "usd_per_kg"),
            Column("peak_usd_per_kg", "peak (US$/kg)", "usd_per_kg"),
            Column("peak_date", "peak month"),
            Column("peak_ratio", "peak / first", "ratio"),
        ),
    ),
    Spec(
        "units_not_built",
        "Units not built outside China, by period (largest output at risk first)",
        (
            *PRODUCT,
            Column("planned_units", "planned (units)", "count"),
            Column("units_not_built", "not built (units)", "count"),
            Column("share_not_built", "share not built", "share"),
            Column("output_at_risk_usd", "output at risk (US$)", "usd"),
        ),
        where=(("region", "ex_china"),),
        nonzero="output_at_risk_usd",
    ),
)

SWEEP_TABLES = (
    Spec(
        "totals",
        "Cumulative shortfall by buyer group over the futures (groups short in any future)",
        (
            *BUYER,
            Column("mean", "mean (t)", "t"),
            Column("p05", "P5 (t)", "t"),
            Column("p50", "median (t)", "t"),
            Column("p95", "P95 (t)", "t"),
            Column("share_of_demand_mean", "mean share of demand", "share"),
            Column("probability_short", "share of futures short", "share"),
        ),
        where=(("metric", "cumulative_shortfall_t"),),
        nonzero="p95",
        order="mean",
    ),
    Spec(
        "impact",
        "Units not built outside China, by period, over the futures",
        (
            *PRODUCT,
            Column("planned", "planned (units)", "count"),
            Column("mean", "not built, mean (units)", "count"),
            Column("p05", "P5 (units)", "count"),
            Column("p95", "P95 (units)", "count"),
        ),
        where=(("metric", "units_not_built"), ("region", "ex_china")),
        nonzero="mean",
    ),
)

COMPARE_TABLES = (
    Spec(
        "comparison",
        "Cumulative shortfall, B - A, future by future (groups B moves, largest first)",
        (
            *BUYER,
            Column("a_mean", "A, mean (t)", "t"),
            Column("b_mean", "B, mean (t)", "t"),
            Column("diff_mean", "B - A, mean (t)", "+t"),
            Column("diff_p05", "B - A, P5 (t)", "+t"),
            Column("diff_p95", "B - A, P95 (t)", "+t"),
            Column("probability_b_lower", "share of futures B lower", "share"),
        ),
        nonzero="diff_mean",
    ),
    Spec(
        "impact_comparison",
        "Output at risk outside China, B - A, by period",
        (
            Column("period", "period"),
            Column("product", "product", "name"),
            Column("a_mean", "A, mean (US$)", "usd"),
            Column("b_mean", "B, mean (US$)", "usd"),
            Column("diff_mean", "B - A, mean (US$)", "+usd"),
            Column("diff_p05", "B - A, P5 (US$)", "+usd"),
            Column("diff_p95", "B - A, P95 (US$)", "+usd"),
        ),
        where=(("metric", "output_at_risk_usd"), ("region", "ex_china")),
        nonzero="diff_mean",
    ),
)

TABLES = {"run": RUN_TABLES, "sweep": SWEEP_TABLES, "compare": COMPARE_TABLES}


def shown_rows(spec: Spec, table: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``table`` that ``spec`` shows, in order (all of them, before the cap)."""
    rows = table
    for column, value in spec.where:
        rows = rows[rows[column].astype(str) == value]
    if spec.nonzero is not None:
        rows = rows[rows[spec.nonzero].astype(float).abs() > 0.5]
    order = spec.order or spec.nonzero
    if order is not None:
        size = rows[order].astype(float).abs()
        rows = rows.assign(_size=size).sort_values("_size", ascending=False, kind="stable")
    return rows


def table_html(spec: Spec, table: pd.DataFrame, file: str) -> str:
    """The table as HTML under its title, with a note of the rows left out."""
    rows = shown_rows(spec, table)
    missing = [c.name for c in spec.columns if c.name not in rows.columns]
    if missing:
        return _note(f"{file} has no column {', '.join(missing)}; see the file.")
    if rows.empty:
        return f"<h3>{html.escape(spec.title)}</h3>" + _note("No row to show.")
    body = "".join(_row(record, spec.columns) for record in rows.head(MAX_ROWS).to_dict("records"))
    more = len(rows) - MAX_ROWS
    tail = _note(f"... and {more:,} more rows in {file}.") if more > 0 else ""
    return f"<h3>{html.escape(spec.title)}</h3><table>{_head(spec.columns)}{body}</table>{tail}"


def plain_table(frame: pd.DataFrame) -> str:
    """A small table of text as HTML, every cell escaped."""
    columns = tuple(Column(str(name), str(name)) for name in frame.columns)
    rows = "".join(_row(record, columns) for record in frame.to_dict("records"))
    return f"<table>{_head(columns)}{rows}</table>"


def _head(columns: tuple[Column, ...]) -> str:
    cells = "".join(f"<th>{html.escape(c.heading)}</th>" for c in columns)
    return f"<thead><tr>{cells}</tr></thead>"


def _row(record: dict[Any, Any], columns: tuple[Column, ...]) -> str:
    cells = "".join(_cell(record[c.name], c.kind) for c in columns)
    return f"<tr>{cells}</tr>"


def _cell(value: Any, kind: str) -> str:
    """A cell: text as written, numbers formatted and aligned right."""
    if kind in ("text", "name"):
        text = _text(value)
        return f"<td>{html.escape(text.replace('_', ' ') if kind == 'name' else text)}</td>"
    return f'<td class="num">{html.escape(number(value, kind))}</td>'


def _text(value: Any) -> str:
    """A text cell's value; an empty one for a missing value."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "" if missing else str(value)


def number(value: Any, kind: str) -> str:
    """A number as a table shows it, with thousands separators (``+`` kinds signed)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return _text(value)
    if math.isnan(x):
        return ""
    sign = "+" if kind.startswith("+") else ""
    return _FORMATS[kind.lstrip("+")](x, sign)


def _amount(x: float, sign: str) -> str:
    """Tonnes, units or US$: whole numbers, one decimal below 10."""
    return f"{x:{sign},.1f}" if 0 < abs(x) < 10 else f"{x:{sign},.0f}"


def _price(x: float, sign: str) -> str:
    return f"{x:{sign},.2f}" if abs(x) < 10 else f"{x:{sign},.1f}"


_FORMATS = {
    "t": _amount,
    "usd": _amount,
    "count": _amount,
    "usd_per_kg": _price,
    "share": lambda x, sign: f"{x:{sign}.1%}",
    "ratio": lambda x, sign: f"{x:.2f}x",
}


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'

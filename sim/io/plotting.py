"""Pictures of results, with the scenario's events marked.

A run's shortfall timelines, a sweep's fan charts, a backtest's series against observations
and a sensitivity tornado.

Figures are made without pyplot (its import costs ~0.3 s, and it holds every figure until
closed): `Figure.savefig` draws with the Agg canvas, which PNG files are registered to.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.units import MAGNETS, REGIONS, SECTORS

if TYPE_CHECKING:
    from sim.config.scenario import Scenario
    from sim.runs.backtest import Backtest

COLOURS = dict(zip(REGIONS, ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#7f7f7f")))
STYLES = {
    "NdFeB": "-",
    "SmCo": "--",
    "NdFeB_DyFree": ":",
}  # a line style per magnet, a colour per region
MAGNET_NAMES = {"NdFeB_DyFree": "NdFeB, Dy-free"}  # legend names where the id reads badly
STOCKPILE_STYLE: dict[str, Any] = {"color": "#444444", "ls": "-.", "lw": 1.3}
Span = tuple[str, pd.Timestamp, pd.Timestamp | None]  # in force: label, from, until if it ends
Period = tuple[dt.date, dt.date | None]  # from, until (None: to the end)
Marks = tuple[list[Span], list[pd.Timestamp]]  # periods in force; suspensions before a start


def _event_spans(scenario: Scenario) -> list[Span]:
    """Every period an event is in force, with its label."""
    return [
        (_label(event), pd.Timestamp(on), None if off is None else pd.Timestamp(off))
        for event in scenario.events
        for on, off in in_force(event)
    ]


def _label(event: Any) -> str:
    """An event's label, or its kind and the facility, site or company it names."""
    if event.label:
        return str(event.label)
    kind, named = event.kind.replace("_", " "), getattr(event, "facility", None)
    return f"{kind} at {named}" if named else kind


def in_force(event: Any) -> list[Period]:
    """The periods an event is in force: from its start to its end, less a control's
    suspension (none if it was suspended before its start and never resumed)."""
    start, end = event.start, getattr(event, "end", None)
    suspended, resumed = getattr(event, "suspended", None), getattr(event, "resumed", None)
    if suspended is None:
        return [(start, end)]
    periods: list[Period] = []
    if suspended > start:
        periods.append((start, suspended if end is None else min(suspended, end)))
    if resumed is not None and (end is None or max(resumed, start) < end):
        periods.append((max(resumed, start), end))
    return periods


def _events_text(scenario: Scenario) -> str:
    """The scenario's events and when each is in force, for a chart's title (events in force
    at the same times named together)."""
    together: dict[str, list[str]] = {}
    for event in scenario.events:
        together.setdefault(_periods_text(event), []).append(_label(event))
    return "; ".join(f"{', '.join(labels)} {when}" for when, labels in together.items())


def _periods_text(event: Any) -> str:
    """When an event is in force, said briefly."""
    periods = in_force(event)
    early = _suspended_early(event)
    if not periods:
        return f"never in force (suspended {early:%Y-%m-%d}, before its start)"
    text = ", ".join(
        f"from {on:%Y-%m-%d}" if off is None else f"{on:%Y-%m-%d} to {off:%Y-%m-%d}"
        for on, off in periods
    )
    return text if early is None else f"{text} (suspended {early:%Y-%m-%d}, before its start)"


def _suspended_early(event: Any) -> dt.date | None:
    """The date a control was suspended, if that was on or before its start (so no period
    in force ends there)."""
    suspended = getattr(event, "suspended", None)
    return suspended if suspended is not None and suspended <= event.start else None


def _early_suspensions(scenario: Scenario) -> list[pd.Timestamp]:
    """The dates controls were suspended before they started, once each."""
    found = {_suspended_early(event) for event in scenario.events} - {None}
    return [pd.Timestamp(day) for day in sorted(d for d in found if d is not None)]


def _title(heading: str, scenario: Scenario) -> str:
    """A chart's title: its heading, and the scenario's events wrapped to the figure."""
    events = _events_text(scenario)
    if not events:
        return heading
    legend = "events (dashed: in force from; dotted: suspended or ended): "
    return heading + "\n" + "\n".join(textwrap.wrap(legend + events, 150))


def _panels(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str], Any, Any]:
    """Split rows into magnet and element users and lay out one panel a sector (+ elements)."""
    magnets, elements = _users(frame)
    sectors = [s for s in SECTORS if s in set(magnets["sector"])]
    panels = [*sectors, "elements"] if len(elements) else sectors
    fig, axes = _figure(len(panels))
    return magnets, elements, panels, fig, axes


def _users(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of magnet users and those of element users, with dates as timestamps."""
    codes, dates = pd.factorize(frame["date"])  # a run's few distinct months, converted once
    frame = frame.assign(date=pd.to_datetime(dates)[codes])
    magnet = frame["material"].isin(MAGNETS)
    return frame[magnet], frame[~magnet]


def _figure(panels: int) -> tuple[Any, Any]:
    """A figure of ``panels`` panels in two columns; axes past the last panel are hidden,
    and the last panel of each column shows the dates (readable on any horizon)."""
    cols = 2
    rows = (panels + cols - 1) // cols
    fig = Figure(figsize=(12, 2.8 * rows + 0.8))
    axes = fig.subplots(rows, cols, sharex=True, squeeze=False)
    for ax in list(axes.flat)[panels:]:
        ax.axis("off")
    locator = AutoDateLocator(minticks=4, maxticks=9)
    axes.flat[0].xaxis.set_major_locator(locator)
    axes.flat[0].xaxis.set_major_formatter(ConciseDateFormatter(locator))
    for ax in list(axes.flat)[max(panels - cols, 0) : panels]:
        ax.xaxis.set_tick_params(labelbottom=True)
    return fig, axes


def _decorate(ax: Any, panel: str, marks: Marks) -> None:
    """Title, unit, grid and the scenario's events (dashed starts, shaded spans)."""
    title = "non-magnet uses (La, Ce, Y, ...)" if panel == "elements" else panel
    # placed (y given): matplotlib would otherwise measure every panel sharing the dates, for
    # each title, to keep it clear of top tick labels there are none of (~0.3 s a chart)
    ax.set_title(title.replace("_", " "), fontsize=10, y=1.0, pad=4)
    ax.set_ylabel("t element / month" if panel == "elements" else "t magnet / month", fontsize=8)
    ax.grid(alpha=0.3)
    ax.margins(x=0)  # the horizon, edge to edge: no tick for a year outside it
    ax.set_ylim(bottom=0)
    if ax.get_ylim()[1] < 1.0:  # nobody short: a plain 0-1 axis, not a scale of noise
        ax.set_ylim(0.0, 1.0)
    _mark_spans(ax, marks)


def _mark_spans(ax: Any, marks: Marks) -> None:
    """The periods events are in force: a dashed line where each begins (a start, or a
    resumption), a shaded span until it ends and a dotted line there (suspended or ended);
    a dotted line where a control was suspended before it started."""
    spans, suspensions = marks
    for day in suspensions:
        ax.axvline(day, color="#d62728", ls=":", lw=0.9)
    closed = [(begin, until) for _, begin, until in spans if until is not None]
    for begin, until in _merged(closed):
        ax.axvspan(begin, until, color="#d62728", alpha=0.06)  # once where periods overlap
    for _label, start, end in spans:
        if end is not None:
            ax.axvline(end, color="#d62728", ls=":", lw=0.9)
        ax.axvline(start, color="#d62728", ls="--", lw=0.8)


def _merged(periods: list[tuple[pd.Timestamp, pd.Timestamp]]) -> list[list[pd.Timestamp]]:
    """Periods that overlap or touch merged into one, in date order."""
    out: list[list[pd.Timestamp]] = []
    for start, end in sorted(periods):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def plot_shortfall(
    shortfall: pd.DataFrame,
    scenario: Scenario,
    path: Path,
    stockpiles: pd.DataFrame | None = None,
) -> None:
    """Monthly magnet shortfall (t of magnet) per sector, a line per region; element users
    (t of element) in a last panel. Shaded bands and dashed lines mark the scenario's events;
    a stockpile's holding (``stockpiles``: `sim.runs.summary.stockpiles_table`) is drawn on a
    right axis in the panels of the buyers it serves."""
    magnets, elements, panels, fig, axes = _panels(shortfall)
    marks = _event_spans(scenario), _early_suspensions(scenario)
    for ax, panel in zip(axes.flat, panels):
        if panel == "elements":
            _plot_lines(ax, elements.assign(material="elements"))
        else:
            _plot_lines(ax, magnets[magnets["sector"] == panel])
        _decorate(ax, panel, marks)
    _horizon(axes, scenario)
    handles, labels = _legend(axes, set(magnets["material"]))
    piles = _plot_stockpiles(dict(zip(panels, axes.flat)), stockpiles, scenario)
    if piles:
        handles.append(Line2D([], [], **STOCKPILE_STYLE))
        labels.append("stockpile held (t, right axis)")
    nobody = "" if (shortfall["shortfall_t"] > 0).any() else " (no buyer short in any month)"
    title = _title(f"{scenario.name}: monthly shortfall by sector and region{nobody}", scenario)
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    _save_panels(fig, path, title, piles)


def _plot_lines(ax: Any, data: pd.DataFrame) -> None:
    """A line per region (its colour) and magnet (its style) of a panel's monthly shortfall;
    a magnet nobody in the panel is short of is left out (SmCo is often never short)."""
    summed = data.groupby(["date", "region", "material"])["shortfall_t"].sum()
    by = summed.unstack(["region", "material"]).fillna(0.0)
    for column in by.columns:
        region, material = str(column[0]), str(column[1])
        line = by[column]
        if material == "SmCo" and line.max() <= 0.0:
            continue
        style = STYLES.get(str(material), "-")
        ax.plot(line.index, line, label=region, color=COLOURS.get(region), ls=style, lw=1.6)


def _plot_stockpiles(
    axes: dict[str, Any], stockpiles: pd.DataFrame | None, scenario: Scenario
) -> bool:
    """Each stockpile's holding on a right axis of the panels of its buyers (its sectors'
    panels, or every magnet panel for all sectors; element users' for an element); whether
    any was drawn."""
    if stockpiles is None or stockpiles.empty:
        return False
    levels = stockpiles.assign(date=pd.to_datetime(stockpiles["date"]))
    drawn = False
    for pile in (ev for ev in scenario.events if ev.kind == "stockpile"):
        rows = levels[levels["stockpile"] == (pile.label or f"{pile.region} {pile.material}")]
        for panel in _stockpile_panels(pile, axes):
            right = axes[panel].twinx()
            right.plot(rows["date"], rows["tonnes"], **STOCKPILE_STYLE)
            right.margins(x=0)  # the horizon edge to edge, as the panel
            right.set_ylabel(f"{pile.region} stockpile, t", fontsize=8)
            right.set_ylim(bottom=0)
            drawn = True
    return drawn


def _stockpile_panels(pile: Any, axes: dict[str, Any]) -> list[str]:
    """The panels of the buyers a stockpile serves."""
    if pile.material not in MAGNETS:
        return [p for p in axes if p == "elements"]
    sectors = set(axes) - {"elements"} if pile.sectors == "all" else set(pile.sectors)
    return [p for p in axes if p in sectors]


def _legend(axes: Any, materials: set[str]) -> tuple[list[Any], list[str]]:
    """One entry a region (its colour), then one a magnet (its line style) when the
    panels show more than one."""
    entries: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, Line2D([], [], color=handle.get_color(), lw=1.6))
    shown = {line.get_linestyle() for ax in axes.flat for line in ax.get_lines()}
    styles = {m: s for m, s in STYLES.items() if m in materials and s in shown}
    if len(styles) > 1:
        for material, style in styles.items():
            name = MAGNET_NAMES.get(material, material)
            entries[name] = Line2D([], [], color="black", ls=style, lw=1.2)
    return list(entries.values()), list(entries)


def _save(fig: Any, path: Path) -> None:
    """Lay the figure out (``tight_layout``: a trial drawing, then the drawing) and write it
    as a PNG: for figures whose labels' size is not known in advance (a tornado's inputs)."""
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)


#: Margins of a figure of panels, in inches: room for the y ticks and the unit, for a right
#: axis's ticks and unit, for a panel's title, for the date ticks and for the legend, and the
#: height of a line of the figure's title (10 pt).
LEFT, RIGHT_AXIS, PANEL_TITLE, DATES, LEGEND, TITLE_LINE = 0.8, 0.7, 0.32, 0.3, 0.4, 0.19
DPI = 110


def _save_panels(
    fig: Any, path: Path, title: str, right_axis: bool, dates_each_row: bool = False
) -> None:
    """Title a figure of `_figure` panels and write it, its margins set in inches (no trial
    drawing, as ``tight_layout`` makes, which doubled the time to draw): the figure grows by
    the lines of its ``title``; ``right_axis``: some panels have a right axis (a stockpile's
    holding); ``dates_each_row``: every panel has its own dates under it (a backtest's)."""
    width, panels_height = fig.get_size_inches()
    top = 0.1 + TITLE_LINE * (title.count("\n") + 1) + PANEL_TITLE
    height = panels_height + top - 0.8  # `_figure` keeps 0.8 in for a title
    fig.set_figheight(height)
    fig.suptitle(title, fontsize=10, y=1 - 0.1 / height, va="top")
    axes = fig.axes[0]
    rows, cols = axes.get_gridspec().get_geometry()
    right = 0.3 + (RIGHT_AXIS if right_axis else 0.0)
    gap = LEFT + (RIGHT_AXIS if right_axis else 0.0)
    bottom = DATES + LEGEND
    panel_width = (width - LEFT - right - gap * (cols - 1)) / cols
    between = PANEL_TITLE + 0.05 + (DATES if dates_each_row else 0.0)
    panel_height = (height - top - bottom - between * (rows - 1)) / rows
    fig.subplots_adjust(
        left=LEFT / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=gap / panel_width,
        hspace=between / panel_height,
    )
    fig.savefig(path, dpi=DPI)


def plot_backtest(backtest: Backtest, scenario: Scenario, path: Path) -> None:
    """Simulated monthly series (lines) against observations (markers for months, a bar across
    the year for yearly figures, as a monthly average), one panel a series and key; dashed
    lines mark the scenario's events."""
    keys = list(backtest.summary[["series", "key", "unit"]].itertuples(index=False))
    cols = 2 if len(keys) > 1 else 1
    rows = (len(keys) + cols - 1) // cols
    fig = Figure(figsize=(6 * cols, 2.8 * rows + 0.8))
    axes = fig.subplots(rows, cols, squeeze=False)
    simulated, observed = backtest.simulated, backtest.compared
    for ax, (series, key, unit) in zip(axes.flat, keys):
        line = simulated[(simulated["series"] == series) & (simulated["key"] == key)]
        ax.plot(
            pd.to_datetime(line["date"]),
            line["simulated"],
            color="#1f77b4",
            lw=1.5,
            label="simulated",
        )
        _plot_observed(ax, observed[(observed["series"] == series) & (observed["key"] == key)])
        _decorate_series(ax, series, key, unit, backtest.events)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    title = f"{scenario.name} ({scenario.world}): simulated against observed"
    _save_panels(fig, path, title, right_axis=False, dates_each_row=True)


def _plot_observed(ax: Any, observed: pd.DataFrame) -> None:
    """Observations as monthly averages: a marker for a month, a bar across a longer period
    (a price is an average already)."""
    rows: Any = observed.itertuples(index=False)  # named tuples of the compared table
    for i, row in enumerate(rows):
        start, end = pd.Timestamp(row.start), pd.Timestamp(row.end)
        months = max(1, round((end - start).days / 30.44))
        value = row.observed if row.series == "price" else row.observed / months
        label = "observed" if i == 0 else None
        if months == 1:
            ax.plot([start + (end - start) / 2], [value], "o", color="#d62728", label=label)
        else:
            ax.hlines(value, start, end, color="#d62728", lw=3, label=label)


def _decorate_series(ax: Any, series: str, key: str, unit: str, events: Any) -> None:
    """Title, unit, grid, the scenario's events (dashed) and the legend of a backtest panel."""
    per = "" if series == "price" else " / month"
    ax.set_title(f"{series} {key}", fontsize=10)
    ax.set_ylabel(f"{unit}{per}", fontsize=8)
    ax.grid(alpha=0.3)
    for _label, day in events:
        ax.axvline(pd.Timestamp(day), color="#7f7f7f", ls="--", lw=0.8)
    ax.legend(fontsize=7, loc="best")


def plot_fan(summary: pd.DataFrame, scenario: Scenario, path: Path, samples: int) -> None:
    """Shortfall fan charts: per sector, each region's P5-P95 band of monthly magnet shortfall
    (t of magnet) with its median; element users (t of element) in a last panel."""
    magnets, elements, panels, fig, axes = _panels(summary[summary["metric"] == "shortfall_t"])
    marks = _event_spans(scenario), _early_suspensions(scenario)
    for ax, panel in zip(axes.flat, panels):
        _plot_fans(ax, elements if panel == "elements" else magnets[magnets["sector"] == panel])
        _decorate(ax, panel, marks)
    _horizon(axes, scenario)
    legend: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    shown = "(line: median; band: 5th to 95th percentile)" if legend else "(no buyer short in any)"
    heading = f"{scenario.name}: monthly shortfall over {samples:,} futures {shown}"
    title = _title(heading, scenario)
    if legend:
        fig.legend(
            list(legend.values()), list(legend), loc="lower center", ncol=len(legend), fontsize=9
        )
    _save_panels(fig, path, title, right_axis=False)


def _horizon(axes: Any, scenario: Scenario) -> None:
    """The panels' dates span the scenario's horizon, whatever they show (an empty fan would
    otherwise span only its events' lines)."""
    start, end = scenario.horizon.start, scenario.horizon.end
    axes.flat[0].set_xlim(pd.Timestamp(start), pd.Timestamp(end).replace(day=1))


def _plot_fans(ax: Any, data: pd.DataFrame) -> None:
    """A band and a median line for each buyer group of a panel that is ever short.

    Percentiles of a sum are not sums of percentiles: a panel shows each buyer group (region x
    material) on its own; materials of one region share its colour.
    """
    for (region, _material), group in data.groupby(["region", "material"], sort=True):
        if group["p95"].max() <= 0.0:
            continue
        group = group.sort_values("date")
        colour = COLOURS.get(str(region))
        ax.fill_between(group["date"], group["p05"], group["p95"], color=colour, alpha=0.2, lw=0)
        ax.plot(group["date"], group["p50"], color=colour, lw=1.5, label=str(region))


def plot_tornado(table: pd.DataFrame, output: str, scenario: str, path: Path) -> None:
    """Tornado: the output (``output``: it in words, with its unit) at each input's 5th and
    95th percentile, others at their median, widest swing on top; the base case is the
    vertical line; ``scenario`` names it in the title."""
    data = table.sort_values("swing", ascending=True)
    base = float(data["base"].iloc[0]) if len(data) else 0.0
    fig = Figure(figsize=(8, 0.5 * len(data) + 1.6))
    ax = fig.subplots()
    y = range(len(data))
    ax.barh(y, data["at_p05"] - base, left=base, color="#1f77b4", label="input at P5")
    ax.barh(y, data["at_p95"] - base, left=base, color="#d62728", alpha=0.7, label="input at P95")
    ax.axvline(base, color="black", lw=0.8)
    labels = [
        f"{name}  (ST {st:.2f})" if pd.notna(st) else str(name)
        for name, st in zip(data["input"], data.get("ST", [float("nan")] * len(data)))
    ]
    ax.set_yticks(list(y), labels, fontsize=8)
    ax.set_xlabel(output, fontsize=9)
    ax.set_title(
        f"{scenario}: what moves the outcome\n(each input at its P5 and P95, the others at "
        "their median; ST: Sobol total-order index)",
        fontsize=9,
    )
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    _save(fig, path)

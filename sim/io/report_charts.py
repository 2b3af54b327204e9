"""The report's own charts, drawn from a results folder's tables: price paths by tier (a run),
price fans by tier (a sweep) and B - A over time (a comparison, which `sim compare` also saves
into its folder: `save_differences`); and any chart as a PNG data URI, so that the page needs
no file and no network (the flows' diagram is `sim.io.sankey`).

Every chart names its scenario in its title, has units on its axes and a legend, and marks
the scenario's events as the folder's own charts do (`sim.io.plotting.in_force`): a dashed
line where an event comes into force, a shaded span until it ends.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from sim.config.scenario import Scenario
from sim.io.plotting import COLOURS, in_force, plot_fan
from sim.io.report import DIFFERENCE_FILES

#: The products whose prices a report draws, and how it names them.
MAIN_PRODUCTS = {
    "NdPr_oxide": "NdPr oxide",
    "Dy_oxide": "Dy oxide",
    "Tb_oxide": "Tb oxide",
    "NdFeB_magnet": "NdFeB magnet",
}
TIER_COLOURS = {"china": "#d62728", "ex_china": "#1f77b4"}
TIER_NAMES = {"china": "China", "ex_china": "outside China"}
DPI = 100


def data_uri(fig: Figure) -> str:
    """The figure as a PNG ``data:`` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def png_uri(data: bytes) -> str:
    """A PNG file's bytes as a ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def price_paths(prices: pd.DataFrame, scenario: Scenario) -> Figure:
    """A run's monthly price of each main product, a line a tier (US$/kg)."""
    fig, axes = _price_panels()
    frame = prices.assign(date=pd.to_datetime(prices["date"]))
    for ax, (product, name) in zip(axes.flat, MAIN_PRODUCTS.items()):
        rows = frame[frame["product"] == product]
        for tier, line in rows.groupby("market", sort=True):
            ax.plot(line["date"], line["usd_per_kg"], **_tier_style(str(tier)))
        _decorate(ax, name, "US$/kg", scenario)
    return _titled(fig, f"{scenario.name}: monthly prices by tier (US$/kg)")


def price_fans(summary: pd.DataFrame, scenario: Scenario, samples: int) -> Figure:
    """A sweep's monthly price of each main product by tier: P5-P95 band and median."""
    fig, axes = _price_panels()
    rows = summary[summary["metric"] == "price_usd_per_kg"]
    rows = rows.assign(date=pd.to_datetime(rows["date"]))
    for ax, (product, name) in zip(axes.flat, MAIN_PRODUCTS.items()):
        for tier, band in rows[rows["material"] == product].groupby("region", sort=True):
            _band(ax, band, "p05", "p95", "p50", _tier_style(str(tier)))
        _decorate(ax, name, "US$/kg", scenario)
    heading = f"{scenario.name}: monthly prices by tier over {samples:,} futures"
    return _titled(fig, f"{heading} (line: median; band: 5th to 95th percentile)")


def sweep_charts(summary: pd.DataFrame, scenario: Scenario, folder: Path, samples: int) -> None:
    """A sweep's pictures in ``folder``: each buyer group's shortfall fan (``fan.png``) and
    each main product's price fan by tier (``prices.png``)."""
    plot_fan(summary, scenario, folder / "fan.png", samples)
    price_fans(summary, scenario, samples).savefig(folder / "prices.png", dpi=DPI)


def _price_panels() -> tuple[Figure, Any]:
    """A figure of four panels, one a product, sharing their dates."""
    fig = Figure(figsize=(12, 6.4))
    return fig, fig.subplots(2, 2, sharex=True, squeeze=False)


def _tier_style(tier: str) -> dict[str, Any]:
    """A tier's colour, line style and legend label."""
    style = "-" if tier == "china" else "--"
    return {"color": TIER_COLOURS.get(tier), "ls": style, "lw": 1.6, "label": TIER_NAMES[tier]}


def _band(ax: Any, rows: pd.DataFrame, low: str, high: str, middle: str, style: Any) -> None:
    """A shaded band between two columns and a line along a third, dated."""
    rows = rows.sort_values("date")
    ax.fill_between(rows["date"], rows[low], rows[high], color=style["color"], alpha=0.2, lw=0)
    ax.plot(rows["date"], rows[middle], **style)


MOVED_T = 0.5  # a group whose summed B - A is smaller has not moved


def save_differences(
    monthly: pd.DataFrame, scenarios: list[Scenario], folder: Path, top: int = 6
) -> None:
    """A comparison's pictures (`DIFFERENCE_FILES`) in ``folder``: B - A of monthly shortfall
    for the ``top`` groups B moves most (or a line saying it moves none) and of prices."""
    shortfall = shortfall_differences(monthly, scenarios, top)
    if shortfall is None:
        shortfall = Figure(figsize=(12, 1.0))
        shortfall.text(
            0.5,
            0.5,
            f"B - A: {scenarios[1].name} minus {scenarios[0].name}: B moves no buyer group's "
            f"monthly shortfall by more than {MOVED_T:g} t over the horizon",
            ha="center",
            va="center",
            fontsize=10,
        )
    for figure, name in zip((shortfall, price_differences(monthly, scenarios)), DIFFERENCE_FILES):
        figure.savefig(folder / name, dpi=DPI)


def shortfall_differences(
    monthly: pd.DataFrame, scenarios: list[Scenario], top: int
) -> Figure | None:
    """B - A of monthly shortfall (t of magnet or element) for the ``top`` buyer groups B
    moves most, a panel each: the paired difference's mean, and its P5-P95 band (None when B
    moves no group's shortfall by more than `MOVED_T`)."""
    rows = _shortfall_rows(monthly)
    groups = _moved_most(rows, top)
    if not groups:
        return None
    fig = Figure(figsize=(12, 2.6 * ((len(groups) + 1) // 2) + 1.2))
    axes = fig.subplots((len(groups) + 1) // 2, 2, sharex=True, squeeze=False)
    for ax, key in zip(axes.flat, groups):
        region, sector, material = key
        group = rows[(rows["region"] == region) & (rows["sector"] == sector)]
        group = group[group["material"] == material]
        colour = COLOURS.get(str(region), "#444444")
        _band(ax, group, "diff_p05", "diff_p95", "diff_mean", {"color": colour, "label": "mean"})
        title = f"{region} {sector.replace('_', ' ')} ({material})"
        _decorate(ax, title, f"B - A, t {material}/month", scenarios[1])
    _hide_unused(axes, len(groups))
    heading = f"B - A: {scenarios[1].name} minus {scenarios[0].name}, monthly shortfall"
    return _titled(fig, f"{heading} of the groups moved most (line: mean; band: P5 to P95)")


def moved_most(monthly: pd.DataFrame, top: int) -> list[tuple[str, str, str]]:
    """The ``top`` buyer groups whose monthly shortfall B moves most (none if it moves none
    by more than `MOVED_T`), from B - A month by month."""
    return _moved_most(_shortfall_rows(monthly), top)


def _shortfall_rows(monthly: pd.DataFrame) -> pd.DataFrame:
    """The shortfall rows of B - A month by month, dated."""
    rows = monthly[monthly["metric"] == "shortfall_t"]
    return rows.assign(date=pd.to_datetime(rows["date"]))


def _moved_most(rows: pd.DataFrame, top: int) -> list[tuple[str, str, str]]:
    """The buyer groups whose summed mean difference is largest in size."""
    summed = rows.groupby(["region", "sector", "material"])["diff_mean"].sum().abs()
    moved = summed[summed > MOVED_T].sort_values(ascending=False)
    return [tuple(map(str, key)) for key in moved.index[:top]]  # type: ignore[misc]


def price_differences(monthly: pd.DataFrame, scenarios: list[Scenario]) -> Figure:
    """B - A of the main products' monthly prices by tier (US$/kg): mean and P5-P95 band."""
    fig, axes = _price_panels()
    rows = monthly[monthly["metric"] == "price_usd_per_kg"]
    rows = rows.assign(date=pd.to_datetime(rows["date"]))
    for ax, (product, name) in zip(axes.flat, MAIN_PRODUCTS.items()):
        for tier, band in rows[rows["material"] == product].groupby("region", sort=True):
            _band(ax, band, "diff_p05", "diff_p95", "diff_mean", _tier_style(str(tier)))
        _decorate(ax, name, "B - A, US$/kg", scenarios[1])
    heading = f"B - A: {scenarios[1].name} minus {scenarios[0].name}, monthly prices by tier"
    return _titled(fig, f"{heading} (line: mean; band: P5 to P95)")


def _decorate(ax: Any, title: str, unit: str, scenario: Scenario) -> None:
    """A panel's title, unit, grid, dates and the scenario's events; a legend if it has lines."""
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(unit, fontsize=8)
    ax.grid(alpha=0.3)
    ax.margins(x=0)
    locator = AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.xaxis.set_tick_params(labelbottom=True)
    _mark_events(ax, scenario)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")


def _mark_events(ax: Any, scenario: Scenario) -> None:
    """A dashed line where each event comes into force, a shaded span until it ends."""
    for event in scenario.events:
        for start, end in in_force(event):
            ax.axvline(pd.Timestamp(start), color="#7f7f7f", ls="--", lw=0.8)
            if end is not None:
                ax.axvspan(pd.Timestamp(start), pd.Timestamp(end), color="#7f7f7f", alpha=0.08)


def _hide_unused(axes: Any, used: int) -> None:
    for ax in list(axes.flat)[used:]:
        ax.axis("off")


def _titled(fig: Figure, title: str) -> Figure:
    """The figure with its title, laid out."""
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig

"""A Sankey diagram of a run's flows for one year: tonnes of rare-earth element by stage and
country, a column a stage, a band a route whose width is its tonnes.

Columns: mines (and scrap returned by magnet plants) -> separation -> metal and alloy (and
oxide sold to element buyers, who end there) -> magnet making -> magnet buyers by region.
Countries moving less than `SMALL_SHARE` of their column's tonnes are drawn together as
"other", so that every label can be read.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

COLUMNS = ("mines, scrap", "separation (oxide)", "metal, alloy; oxide buyers", "magnets", "buyers")
SMALL_SHARE = 0.015  # of a column's tonnes; smaller countries are drawn as "other"
GAP = 0.02  # between nodes of a column, as a share of the height
NODE_WIDTH = 0.12  # of the distance between columns
# Countries that are not buyer regions (whose colours are `sim.io.plotting.COLOURS`)
PALETTE = ("#8c564b", "#e377c2", "#bcbd22", "#17becf", "#c49c94", "#98df8a", "#ffbb78", "#c5b0d5")


def sankey_links(flows: pd.DataFrame, year: int) -> pd.DataFrame:
    """``source_column, source, target_column, target, tonnes``: a year's flows summed by
    the columns and countries (or regions) they join."""
    rows = flows[flows["date"].astype(str).str.startswith(str(year))]
    buyer = rows["target"].astype(str).str.contains(":")
    stage = rows["stage"].astype(str)
    source_column = stage.map({"mining": 0, "recycling": 0, "separation": 1, "metal": 2})
    links = pd.DataFrame(
        {
            "source_column": source_column.fillna(3).astype(int),
            "source": _source_names(rows, stage),
            "target_column": np.where(buyer & (stage == "separation"), 2, source_column + 1),
            "target": _target_names(rows, buyer, stage),
            "tonnes": rows["tonnes"].astype(float),
        }
    )
    links["target_column"] = links["target_column"].fillna(4).astype(int)
    return _merge_small(_summed(links))


def _source_names(rows: pd.DataFrame, stage: pd.Series) -> pd.Series:
    """Countries of the sources; scrap is named as such."""
    country = rows["source_country"].astype(str)
    return country.where(stage != "recycling", country + " scrap")


def _target_names(rows: pd.DataFrame, buyer: pd.Series, stage: pd.Series) -> pd.Series:
    """Countries of the targets; element buyers, who take oxide, are named as such."""
    country = rows["target_country"].astype(str)
    return country.where(~(buyer & (stage == "separation")), country + " oxide buyers")


def _summed(links: pd.DataFrame) -> pd.DataFrame:
    """Links summed by their ends; those of no tonnes dropped."""
    keys = ["source_column", "source", "target_column", "target"]
    summed = links.groupby(keys, as_index=False, sort=False)["tonnes"].sum()
    return summed[summed["tonnes"] > 0].reset_index(drop=True)


def _merge_small(links: pd.DataFrame) -> pd.DataFrame:
    """Nodes under `SMALL_SHARE` of their column's tonnes renamed "other" (by kind)."""
    sizes = node_sizes(links)
    column_total = sizes.groupby(level=0).transform("sum")
    small = set(sizes[sizes < SMALL_SHARE * column_total].index)
    for side in ("source", "target"):
        ends = list(zip(links[f"{side}_column"], links[side]))
        renamed = [_other(name) if (c, name) in small else name for c, name in ends]
        links[side] = renamed
    return _summed(links)


def _other(name: str) -> str:
    """What a small node is drawn as: "other", of its kind."""
    kind = name.split(" ", 1)[1] if " " in name else "countries"
    return f"other {kind}"


def node_sizes(links: pd.DataFrame) -> pd.Series:
    """Each node's tonnes, the larger of what enters and what leaves it, by (column, name)."""
    out = links.groupby(["source_column", "source"])["tonnes"].sum()
    into = links.groupby(["target_column", "target"])["tonnes"].sum()
    out.index.names = into.index.names = ["column", "node"]
    return pd.concat([out, into], axis=1).fillna(0.0).max(axis=1)


def _layout(sizes: pd.Series) -> tuple[dict[Any, float], float]:
    """Each node's bottom (largest at the top of its column, "other" last) and the height of
    a tonne, such that every column and its gaps fit in a height of 1."""
    totals, counts = sizes.groupby(level=0).sum(), sizes.groupby(level=0).size()
    scale = float(((1.0 - GAP * (counts - 1)) / totals).min())
    bottoms: dict[Any, float] = {}
    for _column, group in sizes.groupby(level=0):
        top = 1.0
        for key in sorted(group.index, key=lambda k: (k[1].startswith("other"), -group[k])):
            top -= group[key] * scale
            bottoms[key] = top
            top -= GAP
    return bottoms, scale


def plot_sankey(links: pd.DataFrame, title: str) -> Figure:
    """The diagram of ``links`` (`sankey_links`), headed by ``title``."""
    sizes = node_sizes(links)
    bottoms, scale = _layout(sizes)
    colours = _colours(sizes.index.get_level_values(1))
    fig = Figure(figsize=(13, 7.8))
    ax = fig.add_axes((0.01, 0.02, 0.98, 0.86))
    _draw_bands(ax, _band_ends(links, sizes, bottoms, scale), colours)
    for key, size in sizes.items():
        column, node = int(key[0]), str(key[1])  # type: ignore[index]  # (column, node)
        _draw_node(ax, column, node, size, bottoms[key], size * scale, colours)
    _frame(ax, scale)
    fig.suptitle(title, fontsize=11)
    return fig


def _colours(nodes: Any) -> dict[str, str]:
    """A colour a country or region (a node's first word), the same in every column."""
    from sim.io.plotting import COLOURS

    names = sorted({str(n).split(" ")[0] for n in nodes} - set(COLOURS))
    spare = dict(zip(names, PALETTE * (len(names) // len(PALETTE) + 1)))
    return {**spare, **COLOURS, "other": "#aaaaaa"}


def _band_ends(
    links: pd.DataFrame, sizes: pd.Series, bottoms: dict[Any, float], scale: float
) -> pd.DataFrame:
    """``links`` with each band's top at its source (``y0``) and target (``y1``) and its
    height: bands leave a node in the order of their targets and enter in that of their
    sources, top to bottom, so they do not cross at the nodes."""
    tops = {key: bottoms[key] + size * scale for key, size in sizes.items()}
    frame = links.assign(height=links["tonnes"] * scale)
    source = list(zip(frame["source_column"], frame["source"]))
    target = list(zip(frame["target_column"], frame["target"]))
    frame["source_top"] = [tops[k] for k in source]
    frame["target_top"] = [tops[k] for k in target]
    frame = frame.sort_values(["target_top", "source_top"], ascending=False)
    frame["y0"] = frame["source_top"] - _stacked(frame, ["source_column", "source"])
    frame = frame.sort_values(["source_top", "target_top"], ascending=False)
    frame["y1"] = frame["target_top"] - _stacked(frame, ["target_column", "target"])
    return frame


def _stacked(frame: pd.DataFrame, node: list[str]) -> pd.Series:
    """The heights of the bands before each one at its node, in the frame's order."""
    return frame.groupby(node, sort=False)["height"].cumsum() - frame["height"]


def _draw_bands(ax: Any, bands: pd.DataFrame, colours: dict[str, str]) -> None:
    """A band a link, curved from its source's column to its target's."""
    t = np.linspace(0.0, 1.0, 40)
    ease = 3 * t**2 - 2 * t**3
    columns = ("source_column", "y0", "y1", "height")
    numbers = bands[list(columns)].to_numpy(dtype=float)
    for (column, y0, y1, height), source in zip(numbers, bands["source"].astype(str)):
        x = column + NODE_WIDTH / 2 + t * (1 - NODE_WIDTH)
        top = y0 + (y1 - y0) * ease
        xs = np.concatenate([x, x[::-1]])
        ys = np.concatenate([top, (top - height)[::-1]])
        ax.fill(xs, ys, color=colours.get(source.split(" ")[0], "#aaaaaa"), alpha=0.35, lw=0)


def _draw_node(
    ax: Any, column: int, node: str, tonnes: float, bottom: float, height: float, colours: Any
) -> None:
    """A node's bar and its label: name and tonnes."""
    colour = colours.get(node.split(" ")[0], "#aaaaaa")
    ax.add_patch(Rectangle((column - NODE_WIDTH / 2, bottom), NODE_WIDTH, height, color=colour))
    ax.text(
        column + NODE_WIDTH / 2 + 0.02,
        bottom + height / 2,
        f"{node} {tonnes:,.0f} t",
        va="center",
        fontsize=8 if height > 0.02 else 7,
        bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 0.5},
    )


def _frame(ax: Any, scale: float) -> None:
    """Column heads, a scale bar of round tonnes, and no axes."""
    for column, head in enumerate(COLUMNS):
        ax.text(column, 1.035, head, ha="center", fontsize=9, fontweight="bold")
    tonnes = _round_tonnes(0.1 / scale)
    ax.add_patch(Rectangle((4.45, 0.0), 0.03, tonnes * scale, color="#444444"))
    ax.text(4.5, tonnes * scale / 2, f"{tonnes:,.0f} t", va="center", fontsize=8)
    ax.set_xlim(-0.3, 4.75)
    ax.set_ylim(-0.01, 1.07)
    ax.axis("off")


def _round_tonnes(tonnes: float) -> float:
    """1, 2 or 5 times a power of ten, at most ``tonnes``."""
    power = 10.0 ** np.floor(np.log10(max(tonnes, 1e-9)))
    return float(max(step * power for step in (1, 2, 5) if step * power <= tonnes))

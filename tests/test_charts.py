"""Charts that read (issue 17): dates under the last panel of each column on any horizon, a
colour per region and a line style per magnet with both in the legend, and a plain axis
where nobody is short."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from sim.io import plotting
from tests.worlds import scenario

SECTORS = ["ev_traction", "wind", "defence", "electronics", "industrial_motors", "other"]


def _frame(years: int, smco_short: bool) -> pd.DataFrame:
    """A shortfall table: every region and sector short of NdFeB, SmCo short only if asked,
    and an element buyer."""
    dates = pd.date_range("2024-01-01", periods=12 * years, freq="MS")
    rows = []
    for date in dates:
        for region in ("US", "EU", "CN"):
            for sector in SECTORS:
                short = 0.0 if sector == "defence" else 5.0
                rows.append((date.date(), region, sector, "NdFeB", short))
                rows.append((date.date(), region, sector, "SmCo", 1.0 if smco_short else 0.0))
            rows.append((date.date(), region, "other", "Ce", 2.0))
    return pd.DataFrame(rows, columns=["date", "region", "sector", "material", "shortfall_t"])


def _figure(
    tmp_path: Path, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, events: int = 0
) -> Any:
    """The shortfall chart of ``frame``, drawn, for a scenario of ``events`` outages."""
    figures: list[Any] = []
    monkeypatch.setattr(plotting.Figure, "savefig", lambda fig, path, **_: figures.append(fig))
    years = (frame["date"].max().year - frame["date"].min().year) + 1
    outages = [
        {
            "kind": "outage",
            "facility": "mt_weld",
            "start": f"2024-0{1 + i % 9}-01",
            "end": "2025-01-01",
        }
        for i in range(events)
    ]
    chosen = scenario(outages, end=f"{2023 + years}-12-31")
    plotting.plot_shortfall(frame, chosen, tmp_path / "s.png")
    (figure,) = figures
    FigureCanvasAgg(figure).draw()  # tick labels are made, labels placed, when drawn
    return figure


@pytest.mark.parametrize("years", [1, 4, 30])
def test_dates_read_under_the_last_panel_of_each_column(
    tmp_path: Path, years: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    figure = _figure(tmp_path, _frame(years, False), monkeypatch)
    shown = [ax for ax in figure.axes if ax.axison]
    labelled = [ax for ax in shown if any(t.get_text() for t in ax.get_xticklabels())]
    assert {ax.get_title() for ax in labelled} == {"other", "non-magnet uses (La, Ce, Y, ...)"}
    for ax in labelled:
        texts = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert 3 <= len(texts) <= 10, texts  # readable: a handful of ticks, not a smear
        years = [text for text in texts if text.isdigit()]  # months between read "Jul"
        assert years and years == sorted(set(years)), texts


def test_a_colour_per_region_and_a_style_per_magnet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figure = _figure(tmp_path, _frame(2, True), monkeypatch)
    (legend,) = figure.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[:3] == ["CN", "EU", "US"] and labels[3:] == ["NdFeB", "SmCo"]
    wind = next(ax for ax in figure.axes if ax.get_title() == "wind")
    styles = {(line.get_color(), line.get_linestyle()) for line in wind.get_lines()}
    assert (plotting.COLOURS["US"], "-") in styles and (plotting.COLOURS["US"], "--") in styles


def test_no_magnet_style_legend_when_only_ndfeb_is_short_and_a_plain_axis_for_nobody(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figure = _figure(tmp_path, _frame(2, False), monkeypatch)
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "SmCo" not in labels and "NdFeB" not in labels
    defence = next(ax for ax in figure.axes if ax.get_title() == "defence")
    assert defence.get_ylim() == (0.0, 1.0)


def test_dates_are_dates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figure = _figure(tmp_path, _frame(4, False), monkeypatch)
    other = next(ax for ax in figure.axes if ax.get_title() == "other")
    texts = [t.get_text() for t in other.get_xticklabels() if t.get_text()]
    years = [int(text) for text in texts if text.isdigit()]
    assert texts[0] == "2024" and years == [2024, 2025, 2026, 2027], texts


@pytest.mark.parametrize(
    ("spec", "unit"),
    [
        ("shortfall_t:EU:ev_traction:NdFeB@2025-01..2026-12", "2025-01..2026-12 (t)"),
        ("shortfall_share:US:defence", "the horizon (0-1)"),
        ("price:ex_china:Dy_oxide", "(US$/kg)"),
    ],
)
def test_a_tornado_names_its_scenario_and_its_outcome_with_a_unit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str, unit: str
) -> None:
    from sim.runs.sensitivity import parse_output

    figures: list[Any] = []
    monkeypatch.setattr(plotting.Figure, "savefig", lambda fig, path, **_: figures.append(fig))
    table = pd.DataFrame(
        {"input": ["a", "b"], "base": 1.0, "at_p05": [0.5, 0.9], "at_p95": [2.0, 1.1]}
    ).assign(swing=lambda t: t["at_p95"] - t["at_p05"])
    uncertain = scenario(end="2030-12-31").model_copy(update={"uncertain": ("x",)})
    output = parse_output(spec, uncertain).describe()
    plotting.plot_tornado(table, output, "my-scenario", tmp_path / "t.png")
    (ax,) = figures[0].axes
    assert ax.get_title().startswith("my-scenario: ")
    assert ax.get_xlabel().endswith(unit) and spec.split(":")[1] in ax.get_xlabel()


def test_the_title_says_when_nobody_was_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = _frame(1, False)
    short = _figure(tmp_path, frame, monkeypatch)._suptitle.get_text()
    nobody = _figure(tmp_path, frame.assign(shortfall_t=0.0), monkeypatch)._suptitle.get_text()
    assert "no buyer short" not in short and "(no buyer short in any month)" in nobody


def _marked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, events: list[dict], **kw: Any) -> Any:
    figures: list[Any] = []
    monkeypatch.setattr(plotting.Figure, "savefig", lambda fig, path, **_: figures.append(fig))
    frame = _frame(2, False)
    plotting.plot_shortfall(frame, scenario(events, end="2025-12-31"), tmp_path / "s.png", **kw)
    return figures[0]


OUTAGE = {"kind": "outage", "facility": "lynas_malaysia", "start": "2024-06-01"}


def test_overlapping_periods_are_shaded_once_and_unlabelled_events_name_their_facility(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outages = [
        {**OUTAGE, "end": "2025-01-01"},
        {**OUTAGE, "facility": "mp_mountain_pass", "start": "2024-09-01", "end": "2025-06-01"},
    ]
    figure = _marked(tmp_path, monkeypatch, outages)
    wind = next(ax for ax in figure.axes if ax.get_title() == "wind")
    assert len(wind.patches) == 1  # one shaded span from June 2024 to June 2025
    assert "outage at lynas_malaysia" in figure._suptitle.get_text()
    assert "outage at mp_mountain_pass" in figure._suptitle.get_text()


def test_a_stockpile_is_drawn_on_a_right_axis_in_its_buyers_panels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pile = {
        "kind": "stockpile",
        "label": "reserve",
        "region": "US",
        "material": "NdFeB",
        "sectors": ["defence"],
        "initial_t": 300.0,
        "max_release_t_per_month": 10.0,
        "start": "2024-01-01",
    }
    dates = pd.date_range("2024-01-01", periods=24, freq="MS").date
    held = pd.DataFrame(
        {"date": dates, "stockpile": "reserve", "region": "US", "material": "NdFeB"}
    ).assign(tonnes=[300.0 - 10 * i for i in range(24)])
    figure = _marked(tmp_path, monkeypatch, [pile], stockpiles=held)
    right = [ax for ax in figure.axes if ax.get_ylabel() == "US stockpile, t"]
    assert len(right) == 1  # the defence panel only
    (line,) = right[0].get_lines()
    assert list(line.get_ydata()) == list(held["tonnes"])
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "stockpile held (t, right axis)" in labels


def test_a_fan_with_nobody_short_spans_the_horizon_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures: list[Any] = []
    monkeypatch.setattr(plotting.Figure, "savefig", lambda fig, path, **_: figures.append(fig))
    frame = _frame(3, False).assign(shortfall_t=0.0, metric="shortfall_t")
    summary = frame.assign(mean=0.0, p05=0.0, p50=0.0, p95=0.0)
    events = [{**OUTAGE, "start": "2025-03-01", "end": "2025-09-01"}]
    plotting.plot_fan(summary, scenario(events, end="2026-12-31"), tmp_path / "f.png", 10)
    (figure,) = figures
    wind = next(ax for ax in figure.axes if ax.get_title() == "wind")
    low, high = (pd.Timestamp(mdates.num2date(x)).date() for x in wind.get_xlim())
    assert (str(low), str(high)) == ("2024-01-01", "2026-12-01")
    assert "(no buyer short in any)" in figure._suptitle.get_text()


@pytest.mark.parametrize(("years", "events"), [(1, 0), (4, 12), (30, 40)])
def test_nothing_is_clipped(
    tmp_path: Path, years: int, events: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # margins set in inches (no trial drawing): every title, label, tick and legend entry
    # lies inside the picture, a title of many lines included, and no panel's title runs
    # into another panel
    figure = _figure(tmp_path, _frame(years, True), monkeypatch, events)
    renderer = figure.canvas.get_renderer()
    inside = figure.bbox.padded(1.0)
    panels = [ax for ax in figure.axes if ax.axison]  # a stockpile's right axis included
    boxes = {ax.get_title() or ax.get_ylabel(): ax.get_tightbbox(renderer) for ax in panels}
    boxes["legend"] = figure.legends[0].get_window_extent(renderer)
    title = figure.get_suptitle()
    boxes[title] = next(t for t in figure.findobj(Text) if t.get_text() == title).get_window_extent(
        renderer
    )
    for name, box in boxes.items():
        assert _within(box, inside), name
    for ax in panels:
        heading = ax.title.get_window_extent(renderer)
        assert not boxes[title].overlaps(ax.get_tightbbox(renderer)), "the figure's title"
        assert not boxes["legend"].overlaps(ax.get_tightbbox(renderer)), "the legend"
        for other in panels:
            if other is not ax:
                assert not heading.overlaps(other.get_tightbbox(renderer)), ax.get_title()


def _within(box: Any, outer: Any) -> bool:
    return box.x0 >= outer.x0 and box.x1 <= outer.x1 and box.y0 >= outer.y0 and box.y1 <= outer.y1


@pytest.mark.parametrize(("keys", "years"), [(1, 2), (12, 6)])
def test_nothing_is_clipped_in_a_backtest(
    tmp_path: Path, keys: int, years: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # margins set in inches, dates under every panel: every panel's title, ticks and legend
    # lie inside the picture and clear of the panel above and below
    figures: list[Any] = []
    monkeypatch.setattr(plotting.Figure, "savefig", lambda fig, path, **_: figures.append(fig))
    dates = pd.date_range("2009-01-01", periods=12 * years, freq="MS")
    names = [("price", f"ex_china:E{i}_oxide", "usd_per_kg") for i in range(keys)]
    simulated = pd.DataFrame(
        [(s, k, d.date(), 100.0 + i) for s, k, _ in names for i, d in enumerate(dates)],
        columns=["series", "key", "date", "simulated"],
    )
    compared = pd.DataFrame(
        [
            (s, k, d.date(), (d + pd.offsets.MonthBegin()).date(), 120.0)
            for s, k, _ in names
            for d in dates[::7]
        ],
        columns=["series", "key", "start", "end", "observed"],
    )
    held = SimpleNamespace(
        summary=pd.DataFrame(names, columns=["series", "key", "unit"]),
        simulated=simulated,
        compared=compared,
        events=[("quota", dates[6].date())],
    )
    run = scenario([], start="2009-01-01", end=str(dates[-1].date()))
    plotting.plot_backtest(held, run, tmp_path / "b.png")
    (figure,) = figures
    FigureCanvasAgg(figure).draw()
    renderer = figure.canvas.get_renderer()
    inside = figure.bbox.padded(1.0)
    panels = [ax for ax in figure.axes if ax.axison]
    assert len(panels) == keys
    for ax in panels:
        box = ax.get_tightbbox(renderer)
        assert _within(box, inside), ax.get_title()
        assert any(t.get_text() for t in ax.get_xticklabels()), ax.get_title()
        for other in panels:
            if other is not ax:
                assert not box.overlaps(other.get_tightbbox(renderer)), ax.get_title()


def _differences(moved: bool) -> pd.DataFrame:
    """A comparison's B - A month by month: two buyer groups' shortfall (the US's moved by
    40 t a month from mid-2025 if ``moved``) and the four main products' prices by tier."""
    rows = []
    for date in pd.date_range("2024-01-01", periods=36, freq="MS"):
        for region in ("US", "EU"):
            diff = 40.0 if moved and region == "US" and date >= pd.Timestamp("2025-07-01") else 0.0
            rows.append((date.date(), region, "defence", "NdFeB", "shortfall_t", diff))
        for product in ("NdPr_oxide", "Dy_oxide", "Tb_oxide", "NdFeB_magnet"):
            for tier in ("china", "ex_china"):
                rows.append((date.date(), tier, "", product, "price_usd_per_kg", 3.0))
    frame = pd.DataFrame(
        rows, columns=["date", "region", "sector", "material", "metric", "diff_mean"]
    )
    return frame.assign(diff_p05=frame["diff_mean"] - 1.0, diff_p95=frame["diff_mean"] + 1.0)


@pytest.mark.parametrize("moved", [True, False])
def test_a_comparison_draws_b_minus_a_of_the_groups_moved_and_of_prices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moved: bool
) -> None:
    from sim.io import report_charts

    figures: list[Any] = []
    monkeypatch.setattr(
        report_charts.Figure, "savefig", lambda fig, path, **_: figures.append((fig, path.name))
    )
    pair = [scenario([]).model_copy(update={"name": n}) for n in ("plan-a", "plan-b")]
    report_charts.save_differences(_differences(moved), pair, tmp_path)
    (shortfall, first), (prices, second) = figures
    assert (first, second) == report_charts.DIFFERENCE_FILES
    texts = " ".join(t.get_text() for t in shortfall.findobj(Text))
    assert "plan-b minus plan-a" in texts
    panels = [ax.get_title() for ax in shortfall.axes if ax.axison]
    assert panels == (["US defence (NdFeB)"] if moved else [])
    assert moved or "moves no buyer group's monthly shortfall" in texts
    assert [ax.get_title() for ax in prices.axes] == [
        "NdPr oxide",
        "Dy oxide",
        "Tb oxide",
        "NdFeB magnet",
    ]
    assert all(ax.get_ylabel() == "B - A, US$/kg" for ax in prices.axes)

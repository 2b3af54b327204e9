"""``report.html``: one self-contained page of a results folder (run, sweep or compare) to
send to a colleague: what ran, its charts, its tables, the scenario as run and the manifest.

The page needs no network and no other file: charts are PNG ``data:`` URIs, the style is
inline, there is no script, and a Content-Security-Policy forbids any fetch but ``data:``
images. Every text from a file is escaped (`html.escape`); what the user wrote (scenario
descriptions and text) is marked ``class="user"``. The page is written beside its
destination and linked into place, never over an existing file.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import InputError, bad_value
from sim.io import report_charts as charts
from sim.io.report_folder import ResultsFolder, read_folder
from sim.io.report_tables import TABLES, plain_table, table_html

if TYPE_CHECKING:
    import pandas as pd

    from sim.config.scenario import Scenario

REPORT_FILE = "report.html"
TOP_GROUPS = 6  # buyer groups drawn in a comparison's B - A chart
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1250px;
  padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc;
  margin-top: 1.8em; } h3 { font-size: 1.05em; margin-bottom: 0.3em; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1em; }
dt { font-weight: 600; } dd { margin: 0; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.4em 0; }
th, td { border: 1px solid #ddd; padding: 0.2em 0.5em; } th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
p.note { color: #555; font-size: 0.9em; } nav a { margin-right: 1em; }
"""


def write_report(
    folder: Path,
    out: Path | None = None,
    year: int | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
) -> Path:
    """Write the report of the results ``folder`` to ``out`` (default its report.html), the
    flows of ``year`` drawn (default the horizon's first full year); the path written.
    ``tables`` (by file name) are used instead of reading those files again."""
    results = read_folder(folder)
    target = out if out is not None else folder / REPORT_FILE
    _check_free(target, out is not None)
    for name, table in (tables or {}).items():
        results.preload(name.rsplit(".", 1)[0], table)
    page = render(results, year)
    _link_into_place(page, target)
    return target


def _check_free(target: Path, given: bool) -> None:
    """Refuse a report that exists (never overwritten) or a place that is not a folder."""
    if target.exists() or target.is_symlink():
        problem = "already exists; a report is never written over a file, choose another"
        if given:
            raise bad_value(problem, "--out", str(target))
        raise InputError(f"{problem} with --out", file=str(target))
    if not target.parent.is_dir():
        raise bad_value("its folder does not exist", "--out", str(target))


def _link_into_place(page: str, target: Path) -> None:
    """Write ``page`` to a hidden file beside ``target`` and link it there (a link fails if
    ``target`` appeared meanwhile: nothing is overwritten)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.partial-", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(page)
        os.chmod(temporary, 0o666 & ~_umask())
        os.link(temporary, target)
    finally:
        os.unlink(temporary)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def render(results: ResultsFolder, year: int | None = None) -> str:
    """The page of a results folder."""
    sections = [_header(results), *_SECTIONS[results.kind](results, year)]
    sections += [_tables(results), _scenario_texts(results), _manifest(results)]
    title = html.escape(f"sim report: {_names(results)}")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
        f"<title>{title}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def _names(results: ResultsFolder) -> str:
    return " vs ".join(s.name for s in results.scenarios)


def _header(results: ResultsFolder) -> str:
    """The title, what each scenario represents, and the facts of the run."""
    manifest = results.manifest
    lines = [f"<h1>{html.escape(_names(results))}</h1>"]
    for label, scenario in _labelled(results):
        text = scenario.description.strip() or "(no description in the scenario)"
        lines.append(f'<p class="user"><b>{label}</b>{html.escape(text)}</p>')
    facts = {
        "what": _WHAT[results.kind].format(samples=int(manifest.get("samples", 0))),
        "horizon": _horizon(results.scenarios[0]),
        "world": results.scenarios[0].world,
        "seed": manifest.get("seed", ""),
        "sim version": manifest.get("version", ""),
        "ran": manifest.get("created_utc", ""),
        "folder": str(results.path),
    }
    rows = "".join(f"<dt>{k}</dt><dd>{html.escape(str(v))}</dd>" for k, v in facts.items())
    return "\n".join([*lines, f"<dl>{rows}</dl>", _nav(results)])


_WHAT = {
    "run": "one run (sim run)",
    "sweep": "a sweep of {samples:,} futures (sim sweep)",
    "compare": "B against A over {samples:,} paired futures (sim compare)",
}


def _labelled(results: ResultsFolder) -> list[tuple[str, Scenario]]:
    """Each scenario with its label in a comparison (A, B) or none."""
    if results.kind != "compare":
        return [("", results.scenarios[0])]
    return [(f"{key} = {s.name}: ", s) for key, s in zip("AB", results.scenarios)]


def _horizon(scenario: Scenario) -> str:
    start, end = scenario.horizon.start, scenario.horizon.end
    return f"{start:%Y-%m-%d} to {end:%Y-%m-%d}, monthly"


def _nav(results: ResultsFolder) -> str:
    """Links to the page's sections (within the page)."""
    names = [*_SECTION_NAMES[results.kind], "tables", "scenario", "manifest"]
    return "<nav>" + "".join(f'<a href="#{n}">{n}</a>' for n in names) + "</nav>"


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>\n{body}</section>'


def _figure(uri: str, alt: str) -> str:
    return f'<figure><img src="{uri}" alt="{html.escape(alt)}"></figure>'


def _chart(fig: Any, alt: str) -> str:
    return _figure(charts.data_uri(fig), alt)


def _folder_images(results: ResultsFolder) -> str:
    """The pictures the command drew, as they are in the folder."""
    images = results.images()
    found = [_figure(charts.png_uri(p.read_bytes()), f"{p.name} of the folder") for p in images]
    return "\n".join(found) or '<p class="note">No picture in the folder.</p>'


def _run_sections(results: ResultsFolder, year: int | None) -> list[str]:
    scenario = results.scenarios[0]
    prices, flows = results.table("prices"), results.table("flows")
    price_chart = (
        _chart(charts.price_paths(prices, scenario), "monthly prices by tier")
        if prices is not None
        else _missing("prices")
    )
    return [
        _section("shortfall", "Shortfall over time", _folder_images(results)),
        _section("prices", "Prices by tier", price_chart),
        _section("flows", "Flows by stage and country", _flows(results, flows, year)),
    ]


def _flows(results: ResultsFolder, flows: pd.DataFrame | None, year: int | None) -> str:
    """The Sankey diagram of a year's flows."""
    from sim.io.sankey import plot_sankey, sankey_links

    if flows is None:
        return _missing("flows")
    scenario = results.scenarios[0]
    chosen = flows_year(scenario, year)
    title = (
        f"{scenario.name}: flows of rare-earth elements by stage and country in {chosen} "
        "(t of element; band widths are tonnes)"
    )
    note = (
        f'<p class="note">Tonnes of rare-earth element moved in {chosen} (sim report --year '
        "chooses another year); a band's width is its tonnes.</p>"
    )
    return note + _chart(plot_sankey(sankey_links(flows, chosen), title), f"flows in {chosen}")


def flows_year(scenario: Scenario, year: int | None) -> int:
    """``year`` if the horizon reaches it, else the first full year after the scenario's
    first event starts (the horizon's first full year if it has none)."""
    start, end = scenario.horizon.start, scenario.horizon.end
    if year is not None and not start.year <= year <= end.year:
        raise bad_value(f"outside the horizon ({start.year} to {end.year})", "--year", year)
    first_full = start.year if (start.month, start.day) == (1, 1) else start.year + 1
    starts = [event.start for event in scenario.events if event.start >= start]
    after = min(starts).year + 1 if starts else first_full
    return year if year is not None else min(max(first_full, after), end.year)


def _missing(stem: str) -> str:
    return f'<p class="note">{stem} was not written in this folder.</p>'


def _sweep_sections(results: ResultsFolder, year: int | None) -> list[str]:
    scenario, summary = results.scenarios[0], results.table("summary")
    samples = int(results.manifest.get("samples", 0))
    assert summary is not None  # a sweep folder holds it (`read_folder`)
    # the sweep's own pictures; a folder from before it drew its price fans gets them here
    fans = _drawn(results, "prices.png", "price fans by tier") or _chart(
        charts.price_fans(summary, scenario, samples), "price fans by tier"
    )
    shortfall = _drawn(results, "fan.png", "fan.png of the folder") or _folder_images(results)
    return [
        _section("shortfall", "Shortfall over the futures", shortfall),
        _section("prices", "Prices by tier over the futures", fans),
        _section("inputs", "Uncertain inputs", _uncertain(results.manifest)),
    ]


def _uncertain(manifest: dict[str, Any]) -> str:
    """The inputs the sweep drew, and their laws, as its manifest records them."""
    import pandas as pd

    inputs = manifest.get("uncertain_inputs") or []
    if not inputs:
        return '<p class="note">Nothing was uncertain: every future is the same.</p>'
    rows = [
        {"input": u.get("key"), "field": u.get("path"), "law": _law(u)}
        for u in inputs
        if isinstance(u, dict)
    ]
    return plain_table(pd.DataFrame(rows))


def _law(entry: dict[str, Any]) -> str:
    skip = {"path", "key", "dist", "name"}
    shown = ", ".join(f"{k} {v}" for k, v in entry.items() if k not in skip)
    return f"{entry.get('dist', '')}: {shown}"


def _compare_sections(results: ResultsFolder, year: int | None) -> list[str]:
    monthly = results.table("comparison_monthly")
    if monthly is None:
        body = _missing("comparison_monthly (B - A month by month)")
    else:
        alt = "B - A of prices"
        prices = _drawn(results, charts.DIFFERENCE_FILES[1], alt) or _chart(
            charts.price_differences(monthly, results.scenarios), alt
        )
        body = _shortfall_moved(results, monthly) + prices
    return [_section("difference", "B - A over time", body)]


def _shortfall_moved(results: ResultsFolder, monthly: pd.DataFrame) -> str:
    """B - A of monthly shortfall as the folder's picture (or drawn now, for a folder from
    before `sim compare` drew it), or a line saying that B moved no group."""
    if not charts.moved_most(monthly, TOP_GROUPS):
        limit = f"{charts.MOVED_T:g} t"
        return f'<p class="note">B moves no buyer group\'s shortfall by more than {limit}.</p>'
    alt = "B - A of monthly shortfall"
    drawn = _drawn(results, charts.DIFFERENCE_FILES[0], alt)
    return drawn or _chart(
        charts.shortfall_differences(monthly, results.scenarios, TOP_GROUPS), alt
    )


def _drawn(results: ResultsFolder, name: str, alt: str) -> str:
    """The folder's picture ``name`` as a figure of the page, or "" if it has none."""
    path = results.path / name
    return _figure(charts.png_uri(path.read_bytes()), alt) if path.is_file() else ""


_SECTIONS = {"run": _run_sections, "sweep": _sweep_sections, "compare": _compare_sections}
_SECTION_NAMES = {
    "run": ("shortfall", "prices", "flows"),
    "sweep": ("shortfall", "prices", "inputs"),
    "compare": ("difference",),
}


def _tables(results: ResultsFolder) -> str:
    """The summary tables of the folder's kind, those it holds."""
    parts = []
    for spec in TABLES[results.kind]:
        table = results.table(spec.stem)
        parts.append(_missing(spec.stem) if table is None else table_html(spec, table, spec.stem))
    return _section("tables", "Summary tables", "\n".join(parts))


def _scenario_texts(results: ResultsFolder) -> str:
    """The scenario(s) as run, as the folder keeps them."""
    parts = []
    for (label, _), text in zip(_labelled(results), results.texts):
        shown = text or "(this folder was written before results folders kept their scenario)"
        parts.append(f'<h3>{html.escape(label)}</h3><pre class="user">{html.escape(shown)}</pre>')
    return _section("scenario", "Scenario as run (YAML)", "\n".join(parts))


def _manifest(results: ResultsFolder) -> str:
    text = json.dumps(results.manifest, indent=2, default=str)
    return _section("manifest", "Manifest", f"<pre>{html.escape(text)}</pre>")

"""What the command line prints: the tables and one-line summaries of each command's results.

Each function returns text (the command prints it); none reads or writes files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from sim.config.scenario import Scenario
    from sim.runs.backtest import Backtest
    from sim.runs.engine import RunResult
    from sim.runs.episode import Episode
    from sim.runs.fit import Fit
    from sim.runs.sweep import SweepResult
    from sim.world.rows import TargetRow

#: Rows of the largest shortfalls (or differences) a sweep or comparison prints.
TOP_ROWS = 15
SUMMARY_COLUMNS = [
    "region",
    "sector",
    "material",
    "shortfall_t",
    "share_short",
    "peak_month_t",
    "months_short",
    "first_short",
    "recovered",
]
#: How the shortfall summary names its columns when printed.
SUMMARY_HEADINGS = {"shortfall_t": "cumulative_t", "share_short": "of_demand"}
#: The labels of a buyer group, first in every printed table of groups.
GROUP_COLUMNS = ["region", "sector", "material"]
#: Columns printed in whole tonnes: a sweep's totals, and a comparison's.
TOTALS_TONNES = ("mean", "p05", "p50", "p95")
COMPARISON_TONNES = ("a_mean", "b_mean", "diff_mean", "diff_p05", "diff_p95")


def validated(path: object, scenario: Scenario) -> str:
    """The line ``sim validate`` prints for a valid scenario."""
    return (
        f"{path}: valid scenario '{scenario.name}' "
        f"({scenario.horizon.start} to {scenario.horizon.end}, {len(scenario.events)} events"
        + (f", {uncertain_inputs(scenario)}" if scenario.uncertain else "")
        + ")"
    )


def uncertain_inputs(scenario: Scenario, extra: int = 0) -> str:
    """``N uncertain inputs``: the distinct draws (fields that share a ``name`` are one
    input), and how many fields they set where that differs; ``extra`` more inputs (projects
    built or not)."""
    inputs = len({u.key for u in scenario.uncertain}) + extra
    fields = len(scenario.uncertain) + extra
    return f"{inputs} uncertain inputs" + (f" setting {fields} fields" if fields != inputs else "")


def run_header(result: RunResult, manifest: dict[str, Any]) -> str:
    """The first line ``sim run`` prints: the horizon, the time taken, the books' residual."""
    scenario = result.scenario
    return (
        f"scenario {scenario.name}: {scenario.horizon.start} to {scenario.horizon.end}, "
        f"{result.chain.steps} months, simulated in {result.wall_seconds:.2f} s, "
        f"mass-balance residual {manifest['mass_balance_residual']:.1e}"
    )


def shortfall_summary(summary: pd.DataFrame) -> str:
    """A run's shortfall by region x sector x material, largest first."""
    short = summary[summary["shortfall_t"] > 0.5].sort_values("shortfall_t", ascending=False)
    if short.empty:
        return "no shortfall: every region and sector was fully supplied"
    table = _summary_rows(short).to_string(index=False)
    return f"shortfall by region x sector (t of magnet, or t of element):\n{table}"


def _summary_rows(short: pd.DataFrame) -> pd.DataFrame:
    """The summary's rows as printed: whole tonnes, the peak month to 0.1 t, shares in %."""
    return short.assign(
        shortfall_t=short["shortfall_t"].round(0).astype(int),
        peak_month_t=short["peak_month_t"].round(1),
        share_short=(100 * short["share_short"]).round(1).astype(str) + "%",
    )[SUMMARY_COLUMNS].rename(columns=SUMMARY_HEADINGS)


def levers(result: RunResult, summary: pd.DataFrame) -> str:
    """The market the scenario set, timing of shortfalls, price peaks by tier, thrifting,
    floor payments, stockpiles, producers."""
    return "\n".join(
        [
            *_market(result),
            *_shortfall_timing(result, summary),
            *_price_peaks(result),
            *_thrifting(result),
            *_floor_payments(result),
            *_stockpiles(result),
            *_producers(result),
        ]
    )


def _shortfall_timing(result: RunResult, summary: pd.DataFrame) -> list[str]:
    """When the first group ran short (after the first event), and how many recovered."""
    from sim.runs.summary import first_event
    from sim.units import month_index

    short = summary.dropna(subset=["first_short"])
    if short.empty:
        return []
    start = first_event(result)
    first = short.sort_values("first_short").iloc[0]
    since = (
        ""
        if start is None
        else (
            f", {month_index(start, first['first_short']):.1f} months after the first event "
            f"({start})"
        )
    )
    recovered = short.dropna(subset=["recovered"])
    return [
        f"first shortfall: {first['first_short']} ({first['region']} "
        f"{first['sector']} {first['material']}){since}",
        f"recovered by the end: {len(recovered)} of {len(short)} region x sector "
        "x material groups that ran short",
    ]


def _price_peaks(result: RunResult) -> list[str]:
    """The eight largest price rises above 5%, by product and tier."""
    peaks = _large_peaks(result).head(8)
    if peaks.empty:
        return []
    return ["price peaks by tier (US$/kg):"] + [_peak(row) for row in peaks.itertuples()]


def _large_peaks(result: RunResult) -> pd.DataFrame:
    """The price peaks more than 5% above the first month's price, largest first."""
    from sim.runs.summary import price_peaks_table

    peaks = price_peaks_table(result)
    return peaks[peaks["peak_ratio"] > 1.05].sort_values("peak_ratio", ascending=False)


def _peak(row: Any) -> str:
    """One price peak: product, tier, first price -> peak price (ratio) in its month."""
    return (
        f"  {row.product:13s} {row.market:8s} {row.first_usd_per_kg:10,.1f} -> "
        f"{row.peak_usd_per_kg:10,.1f} ({row.peak_ratio:.1f}x) in "
        f"{row.peak_date}"
    )


def _market(result: RunResult) -> list[str]:
    """The market's parameters the scenario's ``market:`` block set, beside the world's own
    (none set: no line)."""
    from sim.world.loader import vintage_world

    written = result.scenario.market.values()
    if not written:
        return []
    own = vintage_world(result.scenario.world).parameters
    parts = [f"{name} {value:g} (world {own[name]:g})" for name, value in written.items()]
    return [f"market, from the scenario: {', '.join(parts)}"]


def _thrifting(result: RunResult) -> list[str]:
    """How much of NdFeB's Dy and Tb each tier's magnet makers had designed out by the end,
    and how much of its Dy they had moved onto Tb (or back), and from when (none: no
    line)."""
    from sim.model.levers.economics import TIERS

    levels = result.record.thrift
    if levels is None or not levels.any():
        return []
    lines = []
    for lever, text in enumerate(
        ("thrifting: magnet makers designed out of NdFeB's Dy and Tb", "Tb for Dy: makers moved")
    ):
        parts = []
        for k, tier in enumerate(TIERS):
            moved = np.flatnonzero(levels[:, k, lever] != 0)
            if moved.size:
                end = levels[-1, k, lever]
                what = (
                    ""
                    if lever == 0
                    else (" of its Dy onto Tb" if end >= 0 else " of its Tb onto Dy")
                )
                parts.append(
                    f"{tier} {100 * abs(end):.2g}%{what} by the end (from {result.dates[moved[0]]})"
                )
        if parts:
            lines.append(f"{text}: {'; '.join(parts)}")
    return lines


def _floor_payments(result: RunResult) -> list[str]:
    """What each price floor's payer paid its beneficiary over the horizon."""
    from sim.runs.summary import floor_payments_table

    paid = floor_payments_table(result)
    return [
        f"price floor '{floor}': {payer} paid {beneficiary} "
        f"US${group['usd'].sum() / 1e6:,.1f}M over the horizon"
        for (floor, payer, beneficiary), group in paid.groupby(["floor", "payer", "beneficiary"])
    ]


def _stockpiles(result: RunResult) -> list[str]:
    """Each stockpile's holding after the first month and at the end."""
    from sim.runs.summary import stockpiles_table

    piles = stockpiles_table(result)
    return [
        f"stockpile '{name}': {group['tonnes'].iloc[0]:,.1f} t after the first "
        f"month, {group['tonnes'].iloc[-1]:,.1f} t at the end"
        for name, group in piles.groupby("stockpile")
    ]


def _producers(result: RunResult) -> list[str]:
    """Producers that ran below full capacity: from when, how long, and at the end."""
    from sim.runs.summary import producers_table

    groups = producers_table(result).groupby("producer")
    lines = [_below_capacity(name, group) for name, group in groups]
    return [line for line in lines if line is not None]


def _below_capacity(name: object, group: pd.DataFrame) -> str | None:
    """A producer's first month below full capacity, months below, share at the end; or None."""
    low = group[group["capacity_share"] < 1.0]
    if low.empty:
        return None
    return (
        f"producer {name}: below full capacity from {low['date'].iloc[0]} "
        f"({len(low)} months; {group['capacity_share'].iloc[-1]:.0%} at the end)"
    )


def calibration(measures: dict[str, float], targets: dict[str, TargetRow]) -> list[str]:
    """One line a calibration measure: its value, and its target with bounds and source."""
    return [
        f"{key:28s} {value:14,.3f}   target: {_target(targets.get(key))}"
        for key, value in measures.items()
    ]


def _target(row: TargetRow | None) -> str:
    """A calibration target with its bounds, if any, and its source; empty if there is none."""
    if row is None:
        return ""
    bounds = f" [{row.low} to {row.high}]" if row.low else ""
    return f"{row.target}{bounds} ({row.source})"


def backtest(held: Backtest, scenario: Scenario, observed_file: object, observations: int) -> str:
    """A backtest's measures by series and key, and how often directions after events agree."""
    lines = [
        f"scenario {scenario.name} on {scenario.world}, against {observed_file} "
        f"({observations} observations):",
        held.summary.drop(columns=["unit"]).round(3).to_string(index=False),
    ]
    agree = held.directions["agree"].dropna()
    if len(agree):
        lines.append(f"direction after events: {int(agree.sum())} of {len(agree)} agree")
    from sim.runs.episode import KEYS, episodes

    found = episodes(held)
    if found:
        lines.append("the episode (issue 14: peak, its month, the fall after it):")
        lines += episode_lines(found)
    prices = held.compared.loc[held.compared["series"] == "price", "key"]
    others = tuple(sorted(set(prices) - set(KEYS)))
    more = [ep for ep in episodes(held, others) if ep.obs_multiple > 1.0]
    if more:
        lines.append("the other observed prices that rose from their first period:")
        lines += episode_lines(more, verdicts=False)
    return "\n".join(lines)


def episode_lines(found: list[Episode], verdicts: bool = True) -> list[str]:
    """The episode's measures, one key a line, with whether each holds as issue 14 asks
    (``verdicts``; without, the measures alone)."""
    out = []
    for ep in found:
        ok = {name: "ok" if held else "NOT MET" for name, held in ep.checks.items()}
        bound = {"multiple": " within 0.5-2x", "peak_month": " within 4", "fall": " above 50%"}
        join = {"multiple": "; ", "peak_month": ", ", "fall": "; "}
        say = {k: f"{join[k]}{ok[k]}{bound[k]}" if verdicts else "" for k in ok}
        out.append(
            f"  {ep.key}: peak {ep.sim_multiple:.1f}x its first observed period (observed "
            f"{ep.obs_multiple:.1f}x{say['multiple']}), in "
            f"{ep.sim_peak:%Y-%m} (observed {ep.obs_peak:%Y-%m}; lag {ep.lag_months:+.0f} "
            f"months{say['peak_month']}), fall 18 months after the peak "
            f"{_share(ep.sim_fall)} (observed {_share(ep.obs_fall)}{say['fall']})"
        )
    return out


def _share(value: float) -> str:
    """A share as a percentage, or 'n/a' when the run ends before it is measured."""
    return "n/a (the run ends first)" if not np.isfinite(value) else f"{value:.0%}"


def sweep_header(result: SweepResult, manifest: dict[str, Any]) -> str:
    """The first line ``sim sweep`` prints: futures, inputs, method, time, books' residual."""
    from sim.config.draws import completion_draws

    scenario = result.scenario
    built = len(completion_draws(scenario))
    projects = f", {built} of them whether a project is built" if built else ""
    return (
        f"sweep {scenario.name}: {result.samples:,} futures ({uncertain_inputs(scenario, built)}"
        f"{projects}, method {result.method}, seed {result.seed}) in "
        f"{result.wall_seconds:.1f} s"
        + (f", {result.resumed} of {result.batches} batches resumed" if result.resumed else "")
        + f"; mass-balance residual {manifest['mass_balance_residual']:.1e}"
    )


def sweep_totals(totals: pd.DataFrame, limit: int = TOP_ROWS) -> str:
    """A sweep's cumulative shortfall quantiles by group, largest mean first."""
    short = totals[totals["p95"] > 0.5].sort_values("mean", ascending=False).head(limit)
    if short.empty:
        return "no shortfall in any future"
    title = "cumulative shortfall over the horizon (t of magnet, or t of element), largest first"
    return _groups_table(title, short, TOTALS_TONNES, "probability_short")


def comparison_header(a: SweepResult, b: SweepResult, seed: int) -> str:
    """The first line ``sim compare`` prints: what is compared, and the inputs drawn alike."""
    shared = sorted({u.key for u in a.scenario.uncertain} & {u.key for u in b.scenario.uncertain})
    return (
        f"compare {b.scenario.name} against {a.scenario.name}: {a.samples:,} futures each, "
        f"seed {seed}; shared inputs (same draws): {', '.join(shared) or 'none'}"
    )


def comparison(table: pd.DataFrame, show: Sequence[tuple[str, str]] = ()) -> str:
    """The groups whose shortfall B moved against A, largest mean difference first; the
    groups ``show`` names (``(region, sector)``, either may be ``all``) in full; and how
    demand, deliveries and shortfall moved in total outside China and in it."""
    moved = table[(table["diff_p95"].abs() > 0.5) | (table["diff_p05"].abs() > 0.5)]
    moved = moved.reindex(moved["diff_mean"].abs().sort_values(ascending=False).index)
    parts = [_moved_groups(moved)]
    if show:
        parts.append(_shown_groups(table, show))
    parts.append(_balance(table))
    return "\n".join(parts)


def _moved_groups(moved: pd.DataFrame) -> str:
    """The largest `TOP_ROWS` of the groups B moved, and how many more there are."""
    if moved.empty:
        return "no difference in cumulative shortfall in any future"
    title = "cumulative shortfall, B minus A, paired future by future (t)"
    shown = _groups_table(title, moved.head(TOP_ROWS), COMPARISON_TONNES, "probability_b_lower")
    hidden = len(moved) - TOP_ROWS
    if hidden > 0:
        shown += f"\n... and {hidden} more groups B moved, smaller (all in comparison.csv)"
    return shown


def _shown_groups(table: pd.DataFrame, show: Sequence[tuple[str, str]]) -> str:
    """Every group of ``table`` that one of ``show``'s (region, sector) pairs names."""
    chosen = np.zeros(len(table), dtype=bool)
    for region, sector in show:
        in_region = (table["region"] == region) | (region == "all")
        in_sector = (table["sector"] == sector) | (sector == "all")
        chosen |= (in_region & in_sector).to_numpy()
    names = ", ".join(f"{region}:{sector}" for region, sector in show)
    title = f"the groups asked for ({names}), B minus A (t)"
    return _groups_table(title, table[chosen], COMPARISON_TONNES, "probability_b_lower")


def _balance(table: pd.DataFrame) -> str:
    """Mean B - A of demand, deliveries and shortfall by material, outside China and in it:
    demand buyers gave up for price or switched away is not counted short."""
    where = np.where(table["region"] == "CN", "CN", "ex-China")
    columns = {"diff_demand_mean": "demand", "diff_delivered_mean": "delivered"}
    total = table.groupby([where, table["material"]])[[*columns, "diff_mean"]].sum()
    total = total[(total.abs() > 0.5).any(axis=1)].round(0).astype(int)
    if total.empty:
        return "demand, deliveries and shortfall: no change in total"
    total = total.rename(columns={**columns, "diff_mean": "shortfall"})
    total.index.names = ["where", "material"]
    return (
        "in total, B minus A, mean (t; demand given up for price or switched away is not "
        f"short):\n{total.to_string()}"
    )


def _groups_table(title: str, table: pd.DataFrame, tonnes: tuple[str, ...], share: str) -> str:
    """``title`` over the buyer groups of ``table``: its ``tonnes`` columns in whole tonnes and
    its ``share`` column (0-1) in whole percent."""
    view = table[[*GROUP_COLUMNS, *tonnes, share]].copy()
    for column in tonnes:
        view[column] = view[column].round(0).astype(int)
    view[share] = _percent(view[share])
    return f"{title}:\n{view.to_string(index=False)}"


def sensitivity(table: pd.DataFrame) -> str:
    """Each uncertain input's swing of the outcome, with its indices."""
    indices = [column for column in ("S1", "ST", "mu_star", "sigma") if column in table]
    view = table[["input", "base", "at_p05", "at_p95", "swing", *indices]]
    return view.to_string(index=False, float_format=lambda v: f"{v:,.3g}")


def _percent(shares: pd.Series) -> pd.Series:
    """Shares (0-1) as whole percentages: ``0.25`` -> ``25%``."""
    return (100 * shares).round(0).astype(int).astype(str) + "%"


def fit_lines(fit: Fit) -> list[str]:
    """A fit's parameters (prior -> fitted) and errors, one a line."""
    lines = [
        f"  {name:<26} {fit.prior[name]:8.3f} -> {fit.fitted[name]:8.3f}" for name in fit.prior
    ]
    lines.append(
        f"  error {fit.error_before:.3f} -> {fit.error_after:.3f} (mean squared log error of the "
        f"prices over {fit.periods} observed periods, plus each price's peak multiple, month "
        f"and fall against the observed ones and the no-event run's own peaks), {fit.runs} runs"
    )
    lines += [f"    of which {name}: {value:.3f}" for name, value in fit.cases.items()]
    return lines

"""What ``sim run`` prints of a run's impact: one small table by period for the ex-China
roll-up (units not built of each product, the value of that output, what buyers paid over 2024
prices) and the policy costs; every region's numbers are in the files it names. Also what
``sim solve`` prints (the trials, the answer and its margin).

Each function returns text; none reads or writes files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from sim.runs.solve import Solve, Trial

#: The roll-up the console shows (the files have every region and roll-up).
SHOWN = "ex_china"


def impact_summary(tables: dict[str, pd.DataFrame], base_year: int = 2024) -> str:
    """The impact block: a row a product with units lost, the money rows and one a policy,
    a column a period; or one line when nothing was lost and no policy cost anything. Money
    paid is over the prices of the world's ``base_year`` (its base prices)."""
    rows = _unit_rows(tables["units_not_built.csv"])
    policy = tables.get("policy_costs.csv")
    if rows.empty and (policy is None or policy.empty):
        paid = tables["extra_cost.csv"]
        world = paid.loc[paid["region"] == "world", "extra_cost_usd"].sum()
        return (
            f"no units lost; buyers paid US${_short(world)} over {base_year} prices "
            "(extra_cost.csv)"
        )
    import pandas as pd

    money = [_money_rows(tables, base_year), *([] if policy is None else [_policy_rows(policy)])]
    table = pd.concat([rows, pd.concat(money).fillna(0.0).map(_short)]).fillna("0")
    capped = "; * capped in some region" if any(n.endswith("*") for n in rows.index) else ""
    files = "units_not_built.csv, extra_cost.csv, resilience.csv"
    title = f"impact, ex-China, by period ({files}{capped}):"
    return f"{title}\n{table.to_string()}{_gdp_line(tables.get('gdp.csv'))}"


def _gdp_line(gdp: pd.DataFrame | None) -> str:
    """US GDP lost with the output at risk, by period (a line; none without a loss)."""
    if gdp is None or gdp["gdp_lost_usd"].sum() < 0.5:
        return ""
    lost = gdp.groupby(["region", "period"])["gdp_lost_usd"].sum()
    parts = [
        f"{region} GDP lost (US$, Type I value added of the output at risk, gdp.csv): "
        + ", ".join(f"{period} {_short(v)}" for period, v in lost[region].items())
        for region in lost.index.get_level_values(0).unique()
    ]
    return "\n" + "\n".join(parts)


def _unit_rows(units: pd.DataFrame) -> pd.DataFrame:
    """Units not built of the shown roll-up and their share of the units planned, a row a
    product that lost any (``*``: capped in some region)."""
    shown = units[units["region"] == SHOWN]
    if shown.empty:
        return shown
    lost, planned = (
        shown.pivot_table(index=["product", "unit"], columns="period", values=v, aggfunc="sum")
        for v in ("units_not_built", "planned_units")
    )
    capped = shown.groupby(["product", "unit"])["capped_months"].sum().reindex(lost.index)
    keep = (lost.sum(axis=1) > 0.5).to_numpy()
    share = (lost / planned.where(planned > 0)).fillna(0.0)
    table = lost.map(_short) + share.map(lambda v: f" ({v:.0%})" if v >= 0.005 else "")
    table.index = [
        f"{product} ({unit}){'*' if c else ''}"
        for (product, unit), c in zip(lost.index, capped > 0)
    ]
    return table[keep]


def _money_rows(tables: dict[str, pd.DataFrame], base_year: int) -> pd.DataFrame:
    """Output at risk and extra paid over ``base_year`` prices (US$) of the shown roll-up by
    period."""
    import pandas as pd

    units, paid = tables["units_not_built.csv"], tables["extra_cost.csv"]
    at_risk = units[units["region"] == SHOWN].groupby("period")["output_at_risk_usd"].sum()
    extra = paid[paid["region"] == SHOWN].groupby("period")["extra_cost_usd"].sum()
    return pd.DataFrame(
        [at_risk, extra], index=["output at risk (US$)", f"paid over {base_year} prices (US$)"]
    )


def _policy_rows(policy: pd.DataFrame) -> pd.DataFrame:
    """What each policy cost its payer by period (US$)."""
    table = policy.pivot_table(
        index=["policy", "payer"], columns="period", values="usd", aggfunc="sum"
    )
    table.index = [f"{name}, paid by {payer} (US$)" for name, payer in table.index]
    return table


def _short(value: float) -> str:
    """A number in three figures: 0, 512, 3.3k, 2.50M, 1.2bn (negative with a sign)."""
    size = abs(value)
    for scale, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if size >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.0f}" if size >= 0.5 else "0"


def consistency_lines(table: pd.DataFrame) -> list[str]:
    """``sim calibrate``'s check of demand against units: a line a product, for the world,
    with the regions outside the product's band."""
    if table.empty:
        return []
    lines = ["magnet a unit implied by base-year demand over units planned (kg; sourced band):"]
    for product, rows in table.groupby("product", sort=False):
        world = rows[rows["region"] == "world"].iloc[0]
        outside = rows[(rows["region"] != "world") & ~rows["within"]]
        note = ", ".join(f"{r.region} {r.implied_kg_per_unit:.3g}" for r in outside.itertuples())
        verdict = "within" if world["within"] else "OUTSIDE"
        kind = "" if world["whole_sector"] else " (part of its sector: fits if above the low end)"
        lines.append(
            f"  {product:16s} world {world['implied_kg_per_unit']:9.3g} per {world['unit']:9s} "
            f"band {world['kg_low']:g} to {world['kg_high']:g}: {verdict}{kind}"
            + (f"; regions outside: {note}" if note else "")
        )
    return lines


def solve_lines(found: Solve, scenario: str) -> list[str]:
    """What ``sim solve`` prints: the question, the trials, the answer and its margin."""
    unit = found.lever.kind.unit
    share = f"in {found.probability:.0%} of {found.futures} futures"
    if found.futures == 1:
        share = "(one future: no uncertain input)"
    lines = [
        f"solve {scenario}: smallest {found.lever.path} ({found.lever.name}, {unit}) for "
        f"{found.target.label} {share}",
        "trials (excess: t short beyond the threshold in the future at that rank, 0 when the "
        "target holds; held: share of futures it holds in):",
        f"  {'value (' + unit + ')':>16s} {'excess_t':>12s} {'held':>6s}",
        *(_trial_line(t) for t in found.trials),
    ]
    return lines + _answer_lines(found, unit)


def _trial_line(trial: Trial) -> str:
    return f"  {trial.value:16,.2f} {trial.excess_t:12,.2f} {trial.share_held:6.0%}"


def _answer_lines(found: Solve, unit: str) -> list[str]:
    """The answer and the margin (the largest value that failed, and 5% less), or why
    there is none."""
    count = len(found.trials)
    took = f"({count} trial{'s' if count > 1 else ''}, {found.wall_seconds:.1f} s)"
    if found.answer is None:
        return [f"no answer {took}"]
    lines = [f"answer: {found.answer:,.2f} {unit} {took}"]
    failed = found.failed_below()
    if failed is None:
        return [*lines, "margin: the target holds at the lever's least value"]
    gap = (found.answer - failed) / found.answer
    lines.append(f"margin: {failed:,.2f} {unit} failed ({gap:.2%} less)")
    if found.check is not None:
        c = found.check
        lines[-1] += (
            f"; at {c.value:,.2f} {unit} (5% less) it fails by {c.excess_t:,.2f} t, "
            f"held in {c.share_held:.0%} of futures"
        )
    return lines


def comparison_impact(tables: dict[str, pd.DataFrame], base_year: int = 2024) -> str:
    """``sim compare``'s impact block: B - A of the shown roll-up, mean over the futures, a
    row a product whose units changed, then output at risk and paid over the prices of the
    world's ``base_year``."""
    import pandas as pd

    units = tables.get("impact_comparison.csv")
    rows = [] if units is None else _unit_diffs(units)
    if units is not None:
        rows.append(_diff(units, "output_at_risk_usd").rename("output at risk (US$)"))
    costs = tables["extra_cost_comparison.csv"]
    rows.append(_diff(costs, "extra_cost_usd").rename(f"paid over {base_year} prices (US$)"))
    table = pd.DataFrame(rows).fillna(0.0).map(_short)
    files = "impact_comparison.csv, extra_cost_comparison.csv"
    return (
        f"impact B - A, ex-China, mean over the futures by period ({files}):\n{table.to_string()}"
    )


def _diff(table: pd.DataFrame, metric: str) -> pd.Series:
    """The mean paired difference of one metric of the shown roll-up, summed by period."""
    shown = table[(table["region"] == SHOWN) & (table["metric"] == metric)]
    return shown.groupby("period")["diff_mean"].sum()


def _unit_diffs(units: pd.DataFrame) -> list[pd.Series]:
    """A row a product of the shown roll-up whose units not built changed (B - A)."""
    shown = units[(units["region"] == SHOWN) & (units["metric"] == "units_not_built")]
    table = shown.pivot_table(index=["product", "unit"], columns="period", values="diff_mean")
    keep = table.abs().sum(axis=1) > 0.5
    table = table[keep]
    table.index = [f"{product} ({unit})" for product, unit in table.index]
    return [row for _, row in table.iterrows()]

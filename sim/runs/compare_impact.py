"""What B changes against A in what people lose: units not built, output at risk, what
buyers paid over 2024 prices and what policies cost their payers, B - A future by future (the
two sweeps share their draws), by period x region (and roll-ups) x product or material: A's
and B's means, the paired difference's mean, P5, P50 and P95, and the share of futures where
B is lower or higher.
"""

from __future__ import annotations

import pandas as pd

from sim.runs.impact import policy_labels
from sim.runs.sweep import SweepResult
from sim.runs.sweep_costs import future_extra_cost, future_policy_costs, unique_policies
from sim.runs.sweep_impact import PerFuture, future_units, stats_frame
from sim.runs.sweep_tables import _stats
from sim.runs.windows import Window
from sim.world.world import World

APART = 0.5  # a future where B and A differ by less (a unit, a US$) counts as neither


def impact_comparisons(
    a: SweepResult, b: SweepResult, world: World, window: Window
) -> dict[str, pd.DataFrame]:
    """``impact_comparison.csv`` (units not built and output at risk, when the world has
    unit plans), ``extra_cost_comparison.csv`` and, when A or B has policies that cost money,
    ``policy_costs_comparison.csv`` (a policy only one of them has costs 0 in the other), by
    file name."""
    units = future_units(a, world, window), future_units(b, world, window)
    costs = future_extra_cost(a, world, window), future_extra_cost(b, world, window)
    tables = {"extra_cost_comparison.csv": compared(*costs)}
    if units[0] is not None and units[1] is not None:
        tables = {"impact_comparison.csv": compared(units[0], units[1]), **tables}
    policies = unique_policies(policy_labels(a.scenario), policy_labels(b.scenario))
    if len(policies):
        paid = (future_policy_costs(x, window, policies) for x in (a, b))
        tables["policy_costs_comparison.csv"] = compared(*paid)
    return tables


def compared(a: PerFuture, b: PerFuture) -> pd.DataFrame:
    """Every metric of A and B side by side, with their paired difference."""
    return pd.concat([_metric(a, b, metric) for metric in a.values], ignore_index=True)


def _metric(a: PerFuture, b: PerFuture, metric: str) -> pd.DataFrame:
    """One metric's rows: a_mean, b_mean, diff_mean, diff_p05/p50/p95, probabilities."""
    first, second = a.values[metric], b.values[metric]
    diff = second - first
    stats = {f"diff_{k}": v for k, v in _stats(diff).items()}
    frame = stats_frame(a, {"a_mean": first.mean(axis=0), "b_mean": second.mean(axis=0)}, metric)
    frame = frame.assign(**{k: v.ravel() for k, v in stats.items()})
    frame["probability_b_lower"] = (diff < -APART).mean(axis=0).ravel()
    frame["probability_b_higher"] = (diff > APART).mean(axis=0).ravel()
    return frame

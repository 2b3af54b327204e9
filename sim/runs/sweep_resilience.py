"""Resilience over a sweep's futures, by buyer group and roll-up: each future's depth (the
worst month's share of demand short), months short and cumulative shortfall (t), with mean,
P5, P50 and P95 over the futures, and the share of futures that ran short at all
(`sim.runs.resilience` gives these, with lag and recovery, for one run).

A month is short as in ``summary.csv``: shortfall above a millionth of demand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.runs import sweep_kernels as kernels
from sim.runs.sweep import SweepResult
from sim.runs.sweep_costs import buyer_groups
from sim.runs.sweep_tables import _stats

METRICS = ("depth_share", "months_short", "cumulative_t")
SHORT_SHARE, SHORT_T = 1e-6, 1e-9


def sweep_resilience_table(result: SweepResult) -> pd.DataFrame:
    """A row a buyer group (and roll-up) x metric: mean, P5, P50, P95 over the futures, and
    ``probability_short`` (the share of futures with any month short)."""
    groups, member = buyer_groups(result.buyers)
    demand = result.arrays["demand"]
    per = np.empty((len(METRICS), result.samples, len(groups)))
    kernels.resilience(
        result.arrays["shortfall"],
        demand[:1] if demand.strides[0] == 0 else demand,
        kernels.group_rows(member),
        SHORT_SHARE,
        SHORT_T,
        per,
    )
    short = (per[1] > 0).mean(axis=0)  # months short > 0
    frames = [
        groups.assign(metric=metric, **_stats(values), probability_short=short)
        for metric, values in zip(METRICS, per)
    ]
    return pd.concat(frames, ignore_index=True)

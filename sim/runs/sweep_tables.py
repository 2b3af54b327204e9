"""Tables of a sweep: monthly mean and percentiles over the futures, cumulative totals by
buyer, every sample's drawn inputs, and paired comparisons of two sweeps.

Statistics are taken in float64 a block of columns at a time, so memory stays bounded
whatever the number of samples; the blocks change no number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from sim.config.distributions import Uncertain
from sim.runs.engine import PRICE_PRODUCTS, TIERS
from sim.runs.sweep import BLOCK_NUMBERS, SweepResult
from sim.runs.tables import month_buyer_labels

QUANTILES = {"p05": 5.0, "p50": 50.0, "p95": 95.0}


def _column_blocks(samples: int, columns: int, chunk: int) -> list[slice]:
    """Blocks of at most ``chunk`` columns (fewer for many samples: about `BLOCK_NUMBERS` numbers
    a block), none of one column but a lone column (it would be summed in another order)."""
    width = max(2, min(chunk, BLOCK_NUMBERS // max(samples, 1)))
    bounds = list(range(0, columns, width)) + [columns]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        del bounds[-2]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]


def _stats(
    values: np.ndarray, chunk: int = 2048, transform: Callable[[slice], np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Mean and percentiles over the sample axis (axis 0), in float64, a block of columns at
    a time (memory stays near ``min(samples x chunk, BLOCK_NUMBERS)`` numbers; the blocks
    change no number). ``transform(cols)`` may supply the block instead of ``values``."""
    shape = values.shape[1:]
    flat = values.reshape(values.shape[0], -1)
    out = {name: np.empty(flat.shape[1]) for name in ("mean", *QUANTILES)}
    for cols in _column_blocks(flat.shape[0], flat.shape[1], chunk):
        block = np.asarray(transform(cols) if transform else flat[:, cols], dtype=np.float64)
        out["mean"][cols] = block.mean(axis=0)
        # A column whose samples all agree (no shortfall in any future, most of them) has
        # that value for every percentile; only the others are partitioned, along a
        # contiguous axis. The numbers are those of `np.percentile` on the whole block.
        low = block.min(axis=0)
        found = np.repeat(low[None], len(QUANTILES), axis=0)
        varies = np.flatnonzero(low != block.max(axis=0))
        if varies.size:
            found[:, varies] = _percentiles(np.ascontiguousarray(block[:, varies].T))
            found[:, varies[np.isnan(low[varies])]] = np.nan  # as np.percentile: NaN in, NaN out
        for name, row in zip(QUANTILES, found):
            out[name][cols] = row
    return {k: v.reshape(shape) for k, v in out.items()}


def _percentiles(rows: np.ndarray) -> np.ndarray:
    """``np.percentile(rows, QUANTILES, axis=1)`` (its default linear method, the same numbers)
    for ``rows[columns, samples]`` without NaN, partitioning ``rows`` in place at the order
    statistics the quantiles need alone (`np.percentile` copies and also finds each row's
    least and greatest, for its NaN check)."""
    n = rows.shape[1]
    virtual = (n - 1) * np.true_divide(list(QUANTILES.values()), 100)
    below = np.floor(virtual)
    above = below + 1
    below[virtual >= n - 1] = above[virtual >= n - 1] = -1  # the greatest: no neighbour above
    below, above = below.astype(np.intp), above.astype(np.intp)
    gamma = virtual - below
    rows.partition(np.unique(np.concatenate((below, above)) % n), axis=1)
    a, b = rows[:, below].T, rows[:, above].T
    diff = b - a
    out = a + diff * gamma[:, None]
    np.subtract(b, diff * (1 - gamma[:, None]), out=out, where=gamma[:, None] >= 0.5)
    return out


def summary_table(result: SweepResult) -> pd.DataFrame:
    """``date, region, sector, material, metric, mean, p05, p50, p95``: monthly shortfall
    (t) and shortfall share of demand by buyer, and prices by tier (region = tier)."""
    out = pd.concat([*_buyer_frames(result), _price_frame(result)], ignore_index=True)
    return out.sort_values(
        ["metric", "date", "region", "sector", "material"], kind="stable"
    ).reset_index(drop=True)


def _buyer_frames(result: SweepResult) -> list[pd.DataFrame]:
    """Statistics of monthly shortfall (t) and of its share of demand, a row a month x buyer."""
    short, demand = result.arrays["shortfall"], result.arrays["demand"]
    S = short.shape[0]
    flat_s, flat_d = short.reshape(S, -1), demand.reshape(S, -1)
    if flat_d.strides[0] == 0:  # one demand row stands for every sample (`Rows`)
        flat_d = flat_d[:1]

    def share(cols: slice) -> np.ndarray:
        return _share(flat_s[:, cols], flat_d[:, cols])

    return [
        pd.DataFrame(
            {
                **month_buyer_labels(result.dates, result.buyers),
                "metric": metric,
                **{k: v.ravel() for k, v in stats.items()},
            }
        )
        for metric, stats in (
            ("shortfall_t", _stats(short)),
            ("shortfall_share", _stats(short, transform=share)),
        )
    ]


def _price_frame(result: SweepResult) -> pd.DataFrame:
    """Statistics of monthly prices, a row a month x product x tier that has a price."""
    prices = result.arrays["prices"]
    T, P, K = prices.shape[1:]
    stats = _stats(prices)
    return pd.DataFrame(
        {
            "date": np.repeat(np.array(result.dates, dtype=object), P * K),
            "region": np.tile(np.array(TIERS, dtype=object), T * P),
            "sector": "",
            "material": np.tile(np.repeat(np.array(PRICE_PRODUCTS, dtype=object), K), T),
            "metric": "price_usd_per_kg",
            **{k: v.ravel() for k, v in stats.items()},
        }
    ).dropna(subset=["mean"])


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """``part / whole`` in float64, and 0 where ``whole`` is 0 (no demand: nothing short); the
    arrays broadcast, and float32 ones are widened in the division (no copies)."""
    out = np.zeros(np.broadcast_shapes(part.shape, whole.shape))
    np.divide(part, whole, out=out, where=whole > 0, dtype=np.float64)
    return out


def _sum_steps(values: np.ndarray, block: int = 1024) -> np.ndarray:
    """``values[S, T, ...]`` summed over steps in float64, a block of samples at a time (a
    sample's sum is the same whatever the block)."""
    out = np.empty((values.shape[0], *values.shape[2:]))
    for a in range(0, values.shape[0], block):
        out[a : a + block] = values[a : a + block].astype(np.float64).sum(axis=1)
    return out


def cumulative(result: SweepResult) -> np.ndarray:
    """Each sample's shortfall summed over the horizon, ``[S, B]``."""
    return _sum_steps(result.arrays["shortfall"])


def totals_table(result: SweepResult) -> pd.DataFrame:
    """Cumulative shortfall over the horizon by buyer: mean and percentiles, and the share
    of samples with any shortfall."""
    total = cumulative(result)
    demand = _sum_steps(result.arrays["demand"][:1])  # the first sample's is used
    stats = _stats(total)
    frame = result.buyers.copy()
    frame["metric"] = "cumulative_shortfall_t"
    for k, v in stats.items():
        frame[k] = v
    frame["share_of_demand_mean"] = _share(stats["mean"], demand[0])
    frame["probability_short"] = (total > 0.5).mean(axis=0)
    return frame.sort_values(["region", "sector", "material"]).reset_index(drop=True)


def parameters_table(result: SweepResult) -> pd.DataFrame:
    """One row a sample: its index, its seed and every drawn input (dates as dates)."""
    frame = pd.DataFrame(
        {"sample": np.arange(result.samples), "seed": result.seeds.astype(np.uint64)}
    )
    by_path = {u.path: u for u in result.scenario.uncertain}
    for path, values in result.draws.items():
        frame[path] = _as_written(by_path.get(path), values)
    return frame


def _as_written(uncertain: Uncertain | None, values: np.ndarray) -> Any:
    """A drawn input's values as a column: a date's as ISO dates, a number's as drawn."""
    if uncertain is not None and uncertain.dist.is_date:
        return [dt.date.fromordinal(int(v)).isoformat() for v in values]
    return values


def comparison_table(a: SweepResult, b: SweepResult) -> pd.DataFrame:
    """Cumulative shortfall by buyer in A and B and their difference future by future
    (B - A; the two sweeps share the draws of their shared inputs), with the mean change of
    demand (what buyers gave up for price or switched away, never counted short) and of
    deliveries."""
    if a.samples != b.samples:
        raise ValueError("comparison needs the same number of samples")
    ta, tb = cumulative(a), cumulative(b)
    diff = tb - ta
    frame = a.buyers.copy()
    frame["a_mean"], frame["b_mean"] = ta.mean(axis=0), tb.mean(axis=0)
    for k, v in _stats(diff).items():
        frame[f"diff_{k}"] = v
    frame["probability_b_lower"] = (diff < -0.5).mean(axis=0)
    frame["probability_b_higher"] = (diff > 0.5).mean(axis=0)
    demand_diff = _cumulative_demand(b) - _cumulative_demand(a)
    frame["diff_demand_mean"] = demand_diff
    frame["diff_delivered_mean"] = demand_diff - frame["diff_mean"]
    return frame.sort_values(["region", "sector", "material"]).reset_index(drop=True)


def _cumulative_demand(result: SweepResult) -> np.ndarray:
    """Each buyer's demand summed over the horizon, mean over the samples, ``[B]`` (one
    sample's when every sample's is the same array row)."""
    demand = result.arrays["demand"]
    return _sum_steps(demand[:1] if demand.strides[0] == 0 else demand).mean(axis=0)

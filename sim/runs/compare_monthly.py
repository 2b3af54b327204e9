"""What B changes against A month by month: each buyer group's monthly shortfall and each
price by tier, B - A future by future (the two sweeps share their draws), with A's and B's
means and the paired difference's mean, P5, P50 and P95 (``comparison_monthly.csv``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.runs.engine import PRICE_PRODUCTS, TIERS
from sim.runs.sweep import SweepResult
from sim.runs.sweep_tables import _stats
from sim.runs.tables import month_buyer_labels

COLUMNS = ["date", "region", "sector", "material", "metric", "a_mean", "b_mean"]


def monthly_comparison_table(a: SweepResult, b: SweepResult) -> pd.DataFrame:
    """``date, region, sector, material, metric, a_mean, b_mean, diff_mean, diff_p05,
    diff_p50, diff_p95``: metric ``shortfall_t`` by buyer group (t a month) and
    ``price_usd_per_kg`` by tier (region) and product (material)."""
    shortfall = _paired(a.arrays["shortfall"], b.arrays["shortfall"])
    buyers = pd.DataFrame({**month_buyer_labels(a.dates, a.buyers), "metric": "shortfall_t"})
    prices = _paired(a.arrays["prices"], b.arrays["prices"])
    frames = [buyers.assign(**shortfall), _price_labels(a).assign(**prices)]
    out = pd.concat(frames, ignore_index=True).dropna(subset=["a_mean"])
    return out.reset_index(drop=True)


def _paired(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """A's and B's means and the statistics of B - A over futures, flattened per cell."""
    diff = _stats(b.astype(np.float64) - a.astype(np.float64))
    means = {"a_mean": a.mean(axis=0, dtype=np.float64), "b_mean": b.mean(axis=0, dtype=np.float64)}
    named = {**means, **{f"diff_{k}": v for k, v in diff.items()}}
    return {k: v.ravel() for k, v in named.items()}


def _price_labels(result: SweepResult) -> pd.DataFrame:
    """A row a month x product x tier, in the order of the price array's cells."""
    steps, products, tiers = len(result.dates), len(PRICE_PRODUCTS), len(TIERS)
    return pd.DataFrame(
        {
            "date": np.repeat(np.array(result.dates, dtype=object), products * tiers),
            "region": np.tile(np.array(TIERS, dtype=object), steps * products),
            "sector": "",
            "material": np.tile(np.repeat(np.array(PRICE_PRODUCTS, dtype=object), tiers), steps),
            "metric": "price_usd_per_kg",
        }
    )

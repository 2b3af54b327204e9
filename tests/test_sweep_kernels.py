"""The sweep tables' compiled passes (`sim.runs.sweep_kernels`) against the numpy arithmetic
they replaced, on random arrays shaped as a sweep's (float32 months, one demand row or one a
sample, buyers in roll-ups, months outside every period, unpriced buyers and NaN prices)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.runs import sweep_kernels as kernels
from sim.runs.sweep_costs import buyer_groups, by_group

SHORT_SHARE, SHORT_T = 1e-6, 1e-9


def _buyers() -> pd.DataFrame:
    regions = ["US", "EU", "JP", "KR", "CN", "ROW"]
    keys = [("ev_traction", "NdFeB"), ("wind", "NdFeB"), ("other", "Dy")]
    return pd.DataFrame(
        [(r, s, m) for r in regions for s, m in keys], columns=["region", "sector", "material"]
    )


def _arrays(
    rng: np.random.Generator, samples: int, one_demand: bool
) -> tuple[np.ndarray, np.ndarray]:
    T, B = 14, len(_buyers())
    demand = rng.uniform(0.0, 50.0, (1 if one_demand else samples, T, B)).astype(np.float32)
    demand[:, 3, 2] = 0.0  # a month without demand
    short = (rng.uniform(0.0, 1.0, (samples, T, B)) * demand).astype(np.float32)
    short[rng.uniform(size=short.shape) < 0.5] = 0.0  # most months nothing short
    return short, demand


def test_group_sums_are_the_membership_product() -> None:
    rng = np.random.default_rng(1)
    _, member = buyer_groups(_buyers())
    values = rng.normal(size=(7, 3, member.shape[0]))
    np.testing.assert_allclose(by_group(values, member), values @ member, rtol=1e-13)
    # each buyer's own column is its value, exactly
    assert np.array_equal(by_group(values, member)[..., : member.shape[0]], values)


@pytest.mark.parametrize("one_demand", [True, False])
def test_resilience_is_the_numpy_arithmetic(one_demand: bool) -> None:
    rng = np.random.default_rng(2)
    short, demand = _arrays(rng, 9, one_demand)
    _, member = buyer_groups(_buyers())
    got = np.empty((3, short.shape[0], member.shape[1]))
    kernels.resilience(short, demand, kernels.group_rows(member), SHORT_SHARE, SHORT_T, got)
    s = short.astype(np.float64) @ member
    d = np.broadcast_to(demand.astype(np.float64) @ member, s.shape)
    share = np.where(d > 0, s / np.where(d > 0, d, 1.0), 0.0)
    months = (s > SHORT_SHARE * d + SHORT_T).sum(axis=1)
    np.testing.assert_allclose(got[0], share.max(axis=1), rtol=1e-12)
    assert np.array_equal(got[1], months)
    np.testing.assert_allclose(got[2], s.sum(axis=1), rtol=1e-12)
    assert (got[1] > 0).any() and (got[1] < short.shape[1]).any()


@pytest.mark.parametrize("one_demand", [True, False])
def test_paid_over_base_is_the_numpy_arithmetic(one_demand: bool) -> None:
    rng = np.random.default_rng(3)
    short, demand = _arrays(rng, 6, one_demand)
    S, T, B = short.shape
    prices = rng.uniform(10.0, 90.0, (S, T, 5, 2)).astype(np.float32)
    prices[:, :, 1] = np.nan  # a product without a price
    product = rng.integers(-1, 5, B)  # -1: a buyer of nothing priced
    tier = rng.integers(0, 2, B)
    base = rng.uniform(10.0, 90.0, (5, 2))
    per_kg = rng.uniform(1.0, 1.3, B)
    period_of = np.zeros((T, 3))
    period_of[np.arange(T - 2), np.arange(T - 2) // 4 % 3] = 1.0  # the last two in none
    cell = np.where(product >= 0, product * 2 + tier, -1)
    got = np.empty((S, 3, B))
    kernels.paid_over_base(
        (short, demand, prices.reshape(S, T, -1)),
        cell,
        base.reshape(-1)[np.maximum(cell, 0)],
        (1000.0, per_kg),
        np.array([np.flatnonzero(r)[0] if r.any() else -1 for r in period_of]),
        got,
    )
    priced = np.maximum(product, 0)
    change = prices[:, :, priced, tier].astype(np.float64) - base[priced, tier]
    change = np.where(product >= 0, np.nan_to_num(change), 0.0)
    bought = (demand.astype(np.float64) - short.astype(np.float64)) * 1000.0 * per_kg
    want = (bought * change).transpose(0, 2, 1) @ period_of
    np.testing.assert_allclose(got, want.transpose(0, 2, 1), rtol=1e-12)
    assert (got[:, :, product < 0] == 0.0).all() and (got != 0.0).any()


@pytest.mark.parametrize("samples", [1, 2, 3, 20, 1001])
def test_percentiles_are_numpys(samples: int) -> None:
    from sim.runs.sweep_tables import QUANTILES, _percentiles

    rng = np.random.default_rng(samples)
    rows = rng.exponential(size=(40, samples))
    rows[rows < 1.0] = 0.0  # ties, as months without shortfall
    rows[3] = 2.5  # a column whose samples agree
    want = np.percentile(rows, list(QUANTILES.values()), axis=1)
    assert np.array_equal(_percentiles(rows.copy()), want)


def test_sweep_statistics_keep_nan_columns_nan() -> None:
    from sim.runs.sweep_tables import _stats

    values = np.random.default_rng(4).normal(size=(50, 6))
    values[:, 2] = np.nan  # a product without a price
    values[7, 4] = np.nan
    got = _stats(values)
    for name, q in (("p05", 5.0), ("p50", 50.0), ("p95", 95.0)):
        assert np.array_equal(got[name], np.percentile(values, q, axis=0), equal_nan=True)

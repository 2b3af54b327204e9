"""What buyers paid over 2024 prices in every future of a sweep: each future's delivered kg
(demand less shortfall; oxide kg for element buyers) times the price in its buyers' tier less
the world's base price, by period x region (and roll-ups) x sector x material, with mean, P5,
P50 and P95 over the futures (`sim.runs.impact.extra_cost_table` is the same for one run);
and what each policy cost its payer in every future (`sim.runs.impact.policy_costs_table`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.model.levers.economics import base_table
from sim.runs import sweep_kernels as kernels
from sim.runs.impact import KG_PER_T, policy_labels, price_cells
from sim.runs.sweep import SweepResult
from sim.runs.sweep_impact import PerFuture, periods_of, stats_frame
from sim.runs.sweep_tables import _stats
from sim.runs.windows import ROLLUPS, Window
from sim.world.world import World

KEYS = ["period", "region", "sector", "material"]


def future_extra_cost(result: SweepResult, world: World, window: Window) -> PerFuture:
    """Extra cost (US$) of every future by period x buyer group (and roll-ups)."""
    labels, period_of = periods_of(result, window)
    groups, member = buyer_groups(result.buyers)
    base = base_table(world.prices_usd_per_kg)
    product, tier, per_kg = price_cells(result.buyers)
    prices = result.arrays["prices"]
    cell = np.where(product >= 0, product * prices.shape[3] + tier, -1)
    demand = result.arrays["demand"]
    cost = np.empty((result.samples, len(labels), len(result.buyers)))
    period = np.array([np.flatnonzero(row)[0] if row.any() else -1 for row in period_of])
    kernels.paid_over_base(
        (
            result.arrays["shortfall"],
            demand[:1] if demand.strides[0] == 0 else demand,
            prices.reshape(*prices.shape[:2], -1),
        ),
        cell,
        base.reshape(-1)[np.maximum(cell, 0)],
        (KG_PER_T, per_kg),
        period,
        cost,
    )  # [S, periods, buyers]
    return PerFuture(labels, groups, {"extra_cost_usd": by_group(cost, member)})


def by_group(values: np.ndarray, member: np.ndarray) -> np.ndarray:
    """``values[..., buyers]`` summed by `buyer_groups`' membership ``member[buyers,
    groups]``: ``[..., groups]``."""
    flat = np.ascontiguousarray(values.reshape(-1, values.shape[-1]))
    out = np.empty((flat.shape[0], member.shape[1]))
    kernels.group_sums(flat, *kernels.group_rows(member), out)
    return out.reshape(*values.shape[:-1], -1)


def buyer_groups(buyers: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Each buyer (region, sector, material), then each roll-up of a sector's and material's
    buyers; ``[buyers, groups]`` membership."""
    rows, columns = [buyers], [np.eye(len(buyers))]
    for name, regions in ROLLUPS.items():
        inside = buyers[buyers["region"].isin(regions)]
        keys = inside[["sector", "material"]].drop_duplicates().sort_values(["sector", "material"])
        rows.append(keys.assign(region=name))
        columns.append(_members(buyers, inside, keys))
    groups = pd.concat(rows, ignore_index=True)[["region", "sector", "material"]]
    return groups, np.concatenate(columns, axis=1)


def _members(buyers: pd.DataFrame, inside: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """``[buyers, keys]``: 1 where a buyer of ``inside`` has the key's sector and material."""
    chosen = buyers.index.isin(inside.index)[:, None]
    same = [
        buyers[c].to_numpy()[:, None] == keys[c].to_numpy()[None] for c in ("sector", "material")
    ]
    return (chosen & same[0] & same[1]).astype(float)


def sweep_extra_cost_table(result: SweepResult, world: World, window: Window) -> pd.DataFrame:
    """Per period x region (and roll-up) x sector x material: what buyers paid over 2024
    prices (US$), mean and percentiles over the futures."""
    found = future_extra_cost(result, world, window)
    return stats_frame(found, _stats(found.values["extra_cost_usd"]), "extra_cost_usd")


POLICY_KEYS = ["policy", "kind", "payer"]


def sweep_policy_costs_table(result: SweepResult, window: Window) -> pd.DataFrame:
    """Per period x policy: what it cost its payer (US$), mean and percentiles over the
    futures (no rows for a scenario without policies that cost money)."""
    found = future_policy_costs(result, window)
    return stats_frame(found, _stats(found.values["policy_usd"]), "policy_usd")


def future_policy_costs(
    result: SweepResult, window: Window, policies: pd.DataFrame | None = None
) -> PerFuture:
    """What each of ``policies`` (policy, kind, payer; default the scenario's) cost in every
    future by period; a policy the scenario does not have costs nothing."""
    labels, period_of = periods_of(result, window)
    own = policy_labels(result.scenario)
    paid = np.einsum("stn,tp->spn", result.arrays["policy_usd"].astype(np.float64), period_of)
    policies = unique_policies(own) if policies is None else policies
    values = np.zeros((result.samples, len(labels), len(policies)))
    own_keys = list(own[POLICY_KEYS].itertuples(index=False, name=None))
    for j, key in enumerate(policies.itertuples(index=False, name=None)):
        mine = np.array([k == key for k in own_keys], dtype=bool)
        values[:, :, j] = paid[:, :, mine].sum(axis=2)
    return PerFuture(labels, policies.reset_index(drop=True), {"policy_usd": values})


def unique_policies(*labels: pd.DataFrame) -> pd.DataFrame:
    """The distinct (policy, kind, payer) rows of ``labels``, in their first order."""
    return pd.concat(labels, ignore_index=True)[POLICY_KEYS].drop_duplicates(ignore_index=True)

"""Units not built and the output at risk over a sweep's futures: each future's units lost by
period x plan (and roll-ups, `future_units`), with mean, P5, P50 and P95 over the futures.

The arithmetic is `sim.runs.impact`'s, on every sample's monthly shortfall and demand at once
(a block of samples at a time, so memory stays bounded).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.runs.impact import KG_PER_T, plans_table
from sim.runs.sweep import SweepResult
from sim.runs.sweep_tables import _stats
from sim.runs.windows import ROLLUPS, Window, periods
from sim.world.impact_data import impact_data
from sim.world.world import World

BLOCK_SAMPLES = 256
KEYS = ["period", "region", "sector", "product", "unit", "metric"]


@dataclass(frozen=True)
class PerFuture:
    """Metrics of every future by period x group: the periods' labels, the groups' keys (a row
    a group), each metric's ``[S, periods, groups]`` values and, for units, the units planned
    ``[periods, groups]``."""

    labels: list[object]
    groups: pd.DataFrame
    values: dict[str, np.ndarray]
    planned: np.ndarray | None = None


def future_units(result: SweepResult, world: World, window: Window) -> PerFuture | None:
    """Units not built and output at risk (US$) of every future by period x plan (and
    roll-ups of a product's plans); ``None`` for a world without plans. Plans whose buyers
    the world does not have are left out, as a run's are (`sim.runs.impact.units_lost`)."""
    plans = plans_table(world, impact_data(result.scenario.world))
    if not plans.empty:
        buyers = pd.MultiIndex.from_frame(result.buyers[["region", "sector", "material"]])
        plans = plans[plans.set_index(["region", "sector", "material"]).index.isin(buyers)]
        plans = plans.reset_index(drop=True)
    if plans.empty:
        return None
    labels, period_of = periods_of(result, window)
    groups, member = _groups(plans)
    planned = _planned(result, world, plans)
    lost = np.concatenate(
        [_lost(result, plans, planned, block) @ period_of for block in blocks(result.samples)]
    ).transpose(0, 2, 1)  # [S, periods, plans]
    units = np.einsum("spq,qg->spg", lost, member)
    value = np.einsum("spq,qg->spg", lost * plans["usd_per_unit"].to_numpy(), member)
    metrics = {"units_not_built": units, "output_at_risk_usd": value}
    return PerFuture(labels, groups, metrics, period_of.T @ planned @ member)


def sweep_impact_table(result: SweepResult, world: World, window: Window) -> pd.DataFrame:
    """Per period x region (and roll-up) x product: units not built and output at risk
    (US$), mean and percentiles over the futures, beside the units planned."""
    found = future_units(result, world, window)
    if found is None:
        return pd.DataFrame(columns=[*KEYS, "planned", "mean", "p05", "p50", "p95"])
    assert found.planned is not None
    frames = [
        stats_frame(found, _stats(values), metric).assign(planned=found.planned.ravel())
        for metric, values in found.values.items()
    ]
    return pd.concat(frames, ignore_index=True)[[*KEYS, "planned", "mean", "p05", "p50", "p95"]]


def periods_of(result: SweepResult, window: Window) -> tuple[list[object], np.ndarray]:
    """The periods' labels and ``[T, periods]``: 1 where a month falls in a period."""
    label = periods(pd.Series(result.dates), window)
    names = list(dict.fromkeys(label.dropna()))
    return names, np.array([[v == n for n in names] for v in label], dtype=float)


def _groups(plans: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Each plan, then each roll-up of a product's plans; ``[plans, groups]`` membership."""
    rows, columns = [], []
    for q, plan in plans.iterrows():
        rows.append(plan[["region", "sector", "product", "unit"]].to_dict())
        columns.append(plans.index == q)
    for name, regions in ROLLUPS.items():
        for product, part in plans[plans["region"].isin(regions)].groupby("product", sort=True):
            first = part.iloc[0]
            rows.append({"region": name, "sector": first["sector"], "product": product,
                         "unit": first["unit"]})  # fmt: skip
            columns.append(plans.index.isin(part.index))
    return pd.DataFrame(rows), np.array(columns, dtype=float).T


def _planned(result: SweepResult, world: World, plans: pd.DataFrame) -> np.ndarray:
    """``[T, plans]`` units planned a month, grown from the middle of the base year."""
    years = np.array([d.year + (d.month - 0.5) / 12 for d in result.dates])
    since = years[:, None] - (world.base_year + 0.5)
    return plans["units"].to_numpy() * (1 + plans["growth_pa"].to_numpy()) ** since / 12


def blocks(samples: int) -> list[slice]:
    return [slice(a, min(a + BLOCK_SAMPLES, samples)) for a in range(0, samples, BLOCK_SAMPLES)]


def _lost(
    result: SweepResult, plans: pd.DataFrame, planned: np.ndarray, block: slice
) -> np.ndarray:
    """``[samples of block, plans, T]`` units not built a month (capped at those planned)."""
    b = _buyer_index(result, plans)
    short = result.arrays["shortfall"][block][:, :, b].astype(np.float64)
    demand = result.arrays["demand"]
    demand = (demand[:1] if demand.strides[0] == 0 else demand[block])[:, :, b].astype(float)
    kg = plans["kg_per_unit"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        part = np.where(demand > 0, planned * kg / (demand * KG_PER_T), 0.0)
    whole = plans["whole_sector"].to_numpy(dtype=bool)
    share = np.where(whole, _whole_share(planned * kg * whole, b), np.minimum(part, 1.0))
    lost = np.minimum(short * KG_PER_T * share / kg, planned)
    return lost.transpose(0, 2, 1)


def _whole_share(planned_kg: np.ndarray, buyer: np.ndarray) -> np.ndarray:
    """``[T, plans]`` each whole-sector plan's share of its buyers' planned magnet (kg a
    month, 0 off whole-sector plans): products that share a sector share its shortfall."""
    total = planned_kg @ (buyer[:, None] == buyer[None, :]).astype(float)
    return np.divide(planned_kg, total, out=np.ones_like(planned_kg), where=total > 0)


def _buyer_index(result: SweepResult, plans: pd.DataFrame) -> np.ndarray:
    """Each plan's buyer (region, sector, material) among the sweep's buyers."""
    index = {tuple(row): i for i, row in enumerate(result.buyers.itertuples(index=False))}
    return np.array([index[(p.region, p.sector, p.material)] for p in plans.itertuples()])


def stats_frame(found: PerFuture, stats: dict[str, np.ndarray], metric: str) -> pd.DataFrame:
    """A row a period x group of one metric's statistics (``[periods, groups]`` each)."""
    P, G = len(found.labels), len(found.groups)
    frame = found.groups.loc[np.tile(np.arange(G), P)].reset_index(drop=True)
    frame.insert(0, "period", np.repeat(np.array(found.labels, dtype=object), G))
    frame["metric"] = metric
    for name, values in stats.items():
        frame[name] = values.ravel()
    return frame

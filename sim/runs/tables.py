"""Tidy tables from a run: shortfall, flows, production, stocks, prices, summaries.

Every table is long (one measured value a row), sorted deterministically, and labelled with
dates, ids and countries, so it can be filtered and pivoted without knowing the engine.
Tonnes are of contained element, except rows whose material is a magnet (tonnes of magnet).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sim.runs.engine import PRICE_PRODUCTS, TIERS, RunResult
from sim.units import ELEMENTS, REO_TO_ELEMENT

EPS = 1e-9


def buyer_labels(result: RunResult) -> pd.DataFrame:
    """Region, sector and material of every buyer, in array order."""
    return pd.DataFrame(
        [(b.region, b.sector, b.material) for b in result.chain.buyers],
        columns=["region", "sector", "material"],
    )


def month_buyer_labels(dates: list, labels: pd.DataFrame) -> dict[str, np.ndarray]:
    """Date, region, sector and material of every row of a table with a row a month x buyer
    (months major, buyers in the order of ``labels``)."""
    return {
        "date": np.repeat(np.array(dates, dtype=object), len(labels)),
        **{c: np.tile(labels[c].to_numpy(), len(dates)) for c in ("region", "sector", "material")},
    }


def shortfall_table(result: RunResult, sample: int = 0) -> pd.DataFrame:
    """One row a month x region x sector x material: demand, delivered, shortfall."""
    rec = result.record
    frame = pd.DataFrame(
        {
            **month_buyer_labels(result.dates, buyer_labels(result)),
            "demand_t": rec.demand[sample].ravel(),
            "delivered_t": rec.delivered[sample].ravel(),
        }
    )
    frame["shortfall_t"] = (frame["demand_t"] - frame["delivered_t"]).clip(lower=0.0)
    return frame.sort_values(["date", "region", "sector", "material"], kind="stable").reset_index(
        drop=True
    )


def labels_at(values: Sequence[object], idx: np.ndarray) -> np.ndarray:
    """``values[i]`` for every ``i`` of ``idx``: the labels of a table's rows, taken in one
    step (an object array, so dates stay dates and names stay strings)."""
    labels = np.empty(len(values), dtype=object)
    labels[:] = list(values)
    return labels[idx]


def _long(array: np.ndarray, dates: list, sources: list[str], targets: list[str]) -> pd.DataFrame:
    """Rows for the nonzero cells of ``array[T, P, C, E]``."""
    t, p, c, e = np.nonzero(array > EPS)
    return pd.DataFrame(
        {
            "date": labels_at(dates, t),
            "source": labels_at(sources, p),
            "target": labels_at(targets, c),
            "element": labels_at(ELEMENTS, e),
            "tonnes": array[t, p, c, e],
        }
    )


def _buyer_names(result: RunResult, idx: np.ndarray) -> list[str]:
    return [f"{b.region}:{b.sector}:{b.material}" for b in (result.chain.buyers[i] for i in idx)]


def flows_table(result: RunResult) -> pd.DataFrame:
    """Every shipment of sample 0 (and recycled swarf), tonnes of contained element."""
    chain, rec, dates = result.chain, result.record, result.dates
    ids = {st: [f.id for f in chain.stage(st)] for st in chain.slices}
    country = {f.id: f.country for f in chain.facilities}
    country.update({n: n.split(":")[0] for n in _buyer_names(result, np.arange(len(chain.buyers)))})
    parts = []
    if "concentrate" in rec.flows:
        part = _long(rec.flows["concentrate"], dates, ids["mine"], ids["separation"])
        parts.append(part.assign(stage="mining", form="concentrate"))
    if "oxide" in rec.flows:
        targets = ids["metal"] + _buyer_names(result, chain.element_buyers)
        parts.append(
            _long(rec.flows["oxide"], dates, ids["separation"], targets).assign(
                stage="separation", form="oxide"
            )
        )
    if "metal" in rec.flows:
        parts.append(
            _long(rec.flows["metal"], dates, ids["metal"], ids["magnet"]).assign(
                stage="metal", form="metal"
            )
        )
    if "magnet" in rec.flows:
        content = rec.flows["magnet"][..., 0][..., None] * chain.recipe[None, :, None, :]
        part = _long(content, dates, ids["magnet"], _buyer_names(result, chain.magnet_buyers))
        form = {f.id: f.product for f in chain.stage("magnet")}
        parts.append(part.assign(stage="magnet", form=part["source"].map(form)))
    if rec.recycled is not None:
        seps = ids["separation"]
        to = [seps[i] if i >= 0 else "lost" for i in chain.swarf_to]
        rows = np.zeros((len(dates), len(ids["magnet"]), 1, len(ELEMENTS)))
        rows[:, :, 0, :] = rec.recycled
        part = _long(rows, dates, ids["magnet"], ["?"])
        part["target"] = part["source"].map(dict(zip(ids["magnet"], to)))
        parts.append(part.assign(stage="recycling", form="swarf"))
    frame = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(
            columns=["date", "source", "target", "element", "tonnes", "stage", "form"]
        )
    )
    frame["source_country"] = frame["source"].map(country)
    frame["target_country"] = frame["target"].map(country)
    cols = [
        "date",
        "stage",
        "source",
        "target",
        "source_country",
        "target_country",
        "form",
        "element",
        "tonnes",
    ]
    return frame[cols].sort_values(cols[:-1], kind="stable").reset_index(drop=True)


def _facility_table(result: RunResult, array: np.ndarray, value: str) -> pd.DataFrame:
    facilities = result.chain.facilities
    t, f, e = np.nonzero(array > EPS)
    return pd.DataFrame(
        {
            "date": labels_at(result.dates, t),
            "stage": labels_at([x.stage for x in facilities], f),
            "facility": labels_at([x.id for x in facilities], f),
            "country": labels_at([x.country for x in facilities], f),
            "element": labels_at(ELEMENTS, e),
            value: array[t, f, e],
        }
    )


def production_table(result: RunResult) -> pd.DataFrame:
    """Output of every facility (sample 0): mined, separated, metal, magnet content."""
    assert result.record.production is not None
    return _facility_table(result, result.record.production, "tonnes")


def stocks_table(result: RunResult) -> pd.DataFrame:
    """End-of-month stocks of sample 0 at facilities and buyers, tonnes of element."""
    rec, chain = result.record, result.chain
    assert rec.stocks is not None and rec.inventory is not None
    frame = _facility_table(result, rec.stocks, "tonnes")
    held = rec.inventory[:, :, None] * chain.content[None]
    t, b, e = np.nonzero(held > EPS)
    names = _buyer_names(result, np.arange(len(chain.buyers)))
    buyers = pd.DataFrame(
        {
            "date": labels_at(result.dates, t),
            "stage": "buyer",
            "facility": labels_at(names, b),
            "country": labels_at([x.region for x in chain.buyers], b),
            "element": labels_at(ELEMENTS, e),
            "tonnes": held[t, b, e],
        }
    )
    return (
        pd.concat([frame, buyers], ignore_index=True)
        .sort_values(["date", "stage", "facility", "element"], kind="stable")
        .reset_index(drop=True)
    )


def prices_table(result: RunResult, sample: int = 0) -> pd.DataFrame:
    """Monthly price by market tier and product, US$/kg."""
    prices = result.prices_usd_per_kg[sample].transpose(0, 2, 1)  # [T, K, P]: rows' order
    t, k, p = np.nonzero(np.isfinite(prices))
    return pd.DataFrame(
        {
            "date": labels_at(result.dates, t),
            "market": labels_at(TIERS, k),
            "product": labels_at(PRICE_PRODUCTS, p),
            "usd_per_kg": prices[t, k, p],
        }
    )


def summary_table(shortfall: pd.DataFrame) -> pd.DataFrame:
    """Per region x sector x material: cumulative and peak shortfall, months short, the first
    month short, the month after the last one short (``recovered``, if that is within the
    horizon) and the months from the first short month to recovery."""
    short = shortfall.assign(is_short=shortfall["shortfall_t"] > 1e-6 * shortfall["demand_t"] + EPS)
    grouped = short.groupby(["region", "sector", "material"], sort=True)
    first = short[short["is_short"]].groupby(["region", "sector", "material"])["date"].min()
    out = pd.DataFrame(
        {
            "demand_t": grouped["demand_t"].sum(),
            "shortfall_t": grouped["shortfall_t"].sum(),
            "peak_month_t": grouped["shortfall_t"].max(),
            "months_short": grouped["is_short"].sum().astype(int),
        }
    )
    out["share_short"] = np.divide(
        out["shortfall_t"], out["demand_t"], out=np.zeros(len(out)), where=out["demand_t"] > 0
    )
    out["first_short"] = first.reindex(out.index)
    last = short[short["is_short"]].groupby(["region", "sector", "material"])["date"].max()
    end = short["date"].max()
    after = {d: n for n, d in enumerate(sorted(short["date"].unique()))}
    dates = sorted(after)
    out["recovered"] = [
        dates[after[d] + 1] if pd.notna(d) and d < end else None for d in last.reindex(out.index)
    ]
    out["months_to_recovery"] = [
        after[r] - after[f] if r is not None else np.nan
        for f, r in zip(out["first_short"], out["recovered"])
    ]
    return out.reset_index()


def calibration(result: RunResult) -> dict[str, float]:
    """Calibration measures over the run's first 12 months (sample 0)."""
    chain, prod = result.chain, result.record.production
    assert prod is not None
    year = prod[:12]
    sl = chain.slices
    mine_reo = (year[:, sl["mine"]] / REO_TO_ELEMENT).sum()
    sep = year[:, sl["separation"]].sum(axis=(0, 2))
    mag = year[:, sl["magnet"]].sum(axis=(0, 2))
    is_cn = {st: np.array([f.country == "CN" for f in chain.stage(st)]) for st in sl}
    short = result.shortfall[0, :12]
    demand = result.record.demand[0, :12]
    return {
        "world_mine_t_reo": float(mine_reo),
        "china_share_mining": float(
            (year[:, sl["mine"]][:, is_cn["mine"]] / REO_TO_ELEMENT).sum() / mine_reo
        ),
        "china_share_separation": float(sep[is_cn["separation"]].sum() / sep.sum()),
        "china_share_magnets": float(mag[is_cn["magnet"]].sum() / mag.sum()),
        "first_year_shortfall_share": float(short.sum() / max(demand.sum(), EPS)),
        "first_year_magnet_t": float((result.record.delivered[0, :12][:, chain.is_magnet]).sum()),
    }

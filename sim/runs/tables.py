"""Tidy tables from a run: shortfall, flows, production, stocks, prices, summaries.

Every table is long (one measured value a row), sorted deterministically, and labelled with
dates, ids and countries, so it can be filtered and pivoted without knowing the engine.
Tonnes are of contained element, except rows whose material is a magnet (tonnes of magnet).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from sim.model.levers import thrifting
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


FLOW_KEYS = (
    "date",
    "stage",
    "source",
    "target",
    "source_country",
    "target_country",
    "form",
    "element",
)
SHIPPED = ("mining", "separation", "metal", "magnet", "recycling", "concentrate", "oxide", "swarf")


class _Names:
    """Every name the label columns of a table hold, sorted, so that names' codes sort as the
    names do and rows are sorted on integer codes; ``missing`` (past the last) is a missing
    label, sorted last as pandas sorts NaN."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted(set(names))
        self.index = {name: i for i, name in enumerate(self.names)}
        self.missing = len(self.names)

    def codes(self, names: Iterable[str]) -> np.ndarray:
        """The code of each of ``names``."""
        return np.array([self.index.get(n, self.missing) for n in names], dtype=np.intp)

    def column(self, codes: np.ndarray) -> pd.Index:
        """The names of ``codes``, a string column (NaN where missing)."""
        return pd.Index([*self.names, np.nan], dtype="str").take(codes)


def _buyer_names(result: RunResult, idx: np.ndarray) -> list[str]:
    return [f"{b.region}:{b.sector}:{b.material}" for b in (result.chain.buyers[i] for i in idx)]


class _FlowLabels:
    """The names in a run's flows table (facilities, buyers, countries, stages, forms and
    elements) and each one's country."""

    def __init__(self, result: RunResult) -> None:
        chain = result.chain
        self.ids = {st: [f.id for f in chain.stage(st)] for st in chain.slices}
        self.buyer = np.array(_buyer_names(result, np.arange(len(chain.buyers))), dtype=object)
        country = {f.id: f.country for f in chain.facilities}
        country.update({n: n.split(":")[0] for n in self.buyer})
        words = [*SHIPPED, *(f.product for f in chain.facilities), *ELEMENTS, "lost"]
        self.names = _Names([*country, *country.values(), *words])
        self.country = np.full(self.names.missing + 1, self.names.missing)
        self.country[self.names.codes(country)] = self.names.codes(country.values())
        self.element = self.names.codes(ELEMENTS)

    def of(self, stage: str) -> np.ndarray:
        """Codes of the facilities of ``stage``."""
        return self.names.codes(self.ids[stage])

    def buyers(self, idx: np.ndarray) -> np.ndarray:
        """Codes of the buyers ``idx``."""
        return self.names.codes(self.buyer[idx])

    def same(self, name: str, count: int) -> np.ndarray:
        """``count`` times the code of ``name``."""
        return np.full(count, self.names.index[name])


def _flow_rows(
    array: np.ndarray, sources: np.ndarray, targets: np.ndarray, stage: int, forms: np.ndarray
) -> dict[str, np.ndarray]:
    """Rows, as codes, for the nonzero cells of ``array[T, P, C, E]`` (a form a source;
    elements by their index)."""
    t, p, c, e = np.nonzero(array > EPS)
    return {
        "date": t,
        "stage": np.full(len(t), stage),
        "source": sources[p],
        "target": targets[c],
        "form": forms[p],
        "element": e,
        "tonnes": array[t, p, c, e],
    }


def _mining(result: RunResult, lab: _FlowLabels) -> dict[str, np.ndarray]:
    mines, stage = lab.of("mine"), lab.names.index["mining"]
    forms = lab.same("concentrate", len(mines))
    return _flow_rows(result.record.flows["concentrate"], mines, lab.of("separation"), stage, forms)


def _separation(result: RunResult, lab: _FlowLabels) -> dict[str, np.ndarray]:
    seps, stage = lab.of("separation"), lab.names.index["separation"]
    targets = np.concatenate([lab.of("metal"), lab.buyers(result.chain.element_buyers)])
    forms = lab.same("oxide", len(seps))
    return _flow_rows(result.record.flows["oxide"], seps, targets, stage, forms)


def _metal(result: RunResult, lab: _FlowLabels) -> dict[str, np.ndarray]:
    metals, stage = lab.of("metal"), lab.names.index["metal"]
    forms = lab.same("metal", len(metals))
    return _flow_rows(result.record.flows["metal"], metals, lab.of("magnet"), stage, forms)


def _magnet(result: RunResult, lab: _FlowLabels) -> dict[str, np.ndarray]:
    """Magnets shipped, as tonnes of each element they contain."""
    chain = result.chain
    recipe = chain.recipe[None]  # [1 or T, plants, E] at the levels magnets were made at
    if result.record.thrift is not None and result.record.thrift.any():
        recipe = thrifting.recipes(chain.thrift, chain.recipe, result.record.thrift)
    content = result.record.flows["magnet"][..., 0][..., None] * recipe[:, :, None, :]
    forms = lab.names.codes(f.product for f in chain.stage("magnet"))
    buyers = lab.buyers(chain.magnet_buyers)
    return _flow_rows(content, lab.of("magnet"), buyers, lab.names.index["magnet"], forms)


def _recycling(result: RunResult, lab: _FlowLabels) -> dict[str, np.ndarray]:
    """Swarf returned from magnet plants to separation plants (or lost)."""
    assert result.record.recycled is not None
    seps, magnets = lab.ids["separation"], lab.of("magnet")
    swarf_to = np.full(lab.names.missing + 1, lab.names.missing)
    swarf_to[magnets] = lab.names.codes(
        seps[i] if i >= 0 else "lost" for i in result.chain.swarf_to
    )
    recycled = result.record.recycled[:, :, None, :]
    forms, stage = lab.same("swarf", len(magnets)), lab.names.index["recycling"]
    rows = _flow_rows(recycled, magnets, np.zeros(1, np.intp), stage, forms)
    rows["target"] = swarf_to[rows["source"]]
    return rows


STAGE_ROWS = (
    ("concentrate", _mining),
    ("oxide", _separation),
    ("metal", _metal),
    ("magnet", _magnet),
)


def flows_table(result: RunResult) -> pd.DataFrame:
    """Every shipment of sample 0 (and recycled swarf), tonnes of contained element."""
    lab = _FlowLabels(result)
    parts = [rows(result, lab) for form, rows in STAGE_ROWS if form in result.record.flows]
    if result.record.recycled is not None:
        parts.append(_recycling(result, lab))
    if not parts:
        return pd.DataFrame(columns=[*FLOW_KEYS, "tonnes"])
    rows = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    rows["element"] = lab.element[rows["element"]]
    rows["source_country"] = lab.country[rows["source"]]
    rows["target_country"] = lab.country[rows["target"]]
    order = np.lexsort([rows[key] for key in reversed(FLOW_KEYS)])  # the last key sorts first
    return _flow_frame(result, lab.names, {key: rows[key][order] for key in rows})


def _flow_frame(result: RunResult, names: _Names, rows: dict[str, np.ndarray]) -> pd.DataFrame:
    """The flows table of rows given as codes, in their order."""
    labels = {key: names.column(rows[key]) for key in FLOW_KEYS[1:]}
    return pd.DataFrame(
        {"date": labels_at(result.dates, rows["date"]), **labels, "tonnes": rows["tonnes"]}
    )


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
    if rec.thrifted is not None:  # what thrifting changed in the magnets held
        held = held + np.einsum("tbl,lbe->tbe", rec.thrifted, chain.thrift.buyer_delta)
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
    mined = np.array([not f.secondary for f in chain.stage("mine")])  # ore, not scrap
    by_mine = (year[:, sl["mine"]][:, mined] / REO_TO_ELEMENT).sum(axis=(0, 2))
    mine_reo = by_mine.sum()
    sep = year[:, sl["separation"]].sum(axis=(0, 2))
    mag = year[:, sl["magnet"]].sum(axis=(0, 2))
    is_cn = {st: np.array([f.country == "CN" for f in chain.stage(st)]) for st in sl}
    short = result.shortfall[0, :12]
    demand = result.record.demand[0, :12]
    return {
        "world_mine_t_reo": float(mine_reo),
        "china_share_mining": float(by_mine[is_cn["mine"][mined]].sum() / mine_reo),
        "china_share_separation": float(sep[is_cn["separation"]].sum() / sep.sum()),
        "china_share_magnets": float(mag[is_cn["magnet"]].sum() / mag.sum()),
        "first_year_shortfall_share": float(short.sum() / max(demand.sum(), EPS)),
        "first_year_magnet_t": float((result.record.delivered[0, :12][:, chain.is_magnet]).sum()),
    }

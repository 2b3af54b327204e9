"""The run summary beyond shortfalls: price peaks by tier, price-floor payments, stockpiles
and producers (sample 0 of a run), and the first month of the run's first event.

Shortfall timing (first month short, recovery) is in `sim.runs.tables.summary_table`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sim.config.events import PriceFloor, Stockpile
from sim.runs.engine import PRICE_PRODUCTS, TIERS, RunResult


def price_peaks_table(result: RunResult, sample: int = 0) -> pd.DataFrame:
    """Per product and tier: the first month's price, the peak, its month and the ratio."""
    prices = result.prices_usd_per_kg[sample]
    rows = []
    for p, product in enumerate(PRICE_PRODUCTS):
        for k, tier in enumerate(TIERS):
            path = prices[:, p, k]
            if not np.isfinite(path).all():
                continue
            t = int(np.argmax(path))
            rows.append((product, tier, path[0], path[t], result.dates[t], path[t] / path[0]))
    return pd.DataFrame(
        rows,
        columns=[
            "product",
            "market",
            "first_usd_per_kg",
            "peak_usd_per_kg",
            "peak_date",
            "peak_ratio",
        ],
    )


def floor_payments_table(result: RunResult, sample: int = 0) -> pd.DataFrame:
    """Per price floor and calendar year: what the payer paid the beneficiary, US$."""
    paid = result.record.floor_usd
    floors = [ev for ev in result.scenario.events if isinstance(ev, PriceFloor)]
    rows = []
    if paid is not None:
        years = np.array([d.year for d in result.dates])
        for j, ev in enumerate(floors):
            for year in np.unique(years):
                rows.append(
                    (
                        ev.label or f"{ev.product} floor",
                        ev.payer,
                        ev.beneficiary,
                        int(year),
                        float(paid[sample, years == year, j].sum()),
                    )
                )
    return pd.DataFrame(rows, columns=["floor", "payer", "beneficiary", "year", "usd"])


def stockpiles_table(result: RunResult, sample: int = 0) -> pd.DataFrame:
    """Each stockpile's holding at the end of every month, t of its material."""
    held = result.record.stockpile_t
    piles = [ev for ev in result.scenario.events if isinstance(ev, Stockpile)]
    rows = (
        []
        if held is None
        else [
            (
                d,
                ev.label or f"{ev.region} {ev.material}",
                ev.region,
                ev.material,
                held[sample, t, j],
            )
            for j, ev in enumerate(piles)
            for t, d in enumerate(result.dates)
        ]
    )
    return pd.DataFrame(rows, columns=["date", "stockpile", "region", "material", "tonnes"])


def producers_table(result: RunResult, sample: int = 0) -> pd.DataFrame:
    """Each price-sensitive producer's share of capacity run, every month."""
    level = result.record.producer_level
    producers = result.chain.economics.producers
    rows = (
        []
        if level is None
        else [
            (d, prod.id, level[sample, t, j])
            for j, prod in enumerate(producers)
            for t, d in enumerate(result.dates)
        ]
    )
    return pd.DataFrame(rows, columns=["date", "producer", "capacity_share"])


def first_event(result: RunResult) -> dt.date | None:
    """Start of the scenario's earliest event, if any."""
    starts = [ev.start for ev in result.scenario.events]
    return min(starts) if starts else None

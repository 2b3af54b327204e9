"""Holding a run against observed series: what a key measures, and how well the run matches.

An observed statistic is a row ``(period, series, key, value)``. The *series* says what kind of
quantity it is and the *key* which one:

- ``flow``: ``ORIGIN>DEST:FORMS[:ELEMENT]``, e.g. ``CN>JP:oxide``, ``CN>*:oxide+metal``,
  ``CN>*:magnet``; t REO, or t of magnet for magnet forms.
- ``price``: ``TIER:PRODUCT``, e.g. ``ex_china:Dy_oxide``; US$/kg.
- ``shortfall``: ``REGION:SECTOR[:MATERIAL]``, e.g. ``US:ev_traction`` (magnets when no
  material is named); t of magnet, or t of element.
- ``production``: ``PLACE:STAGE``, e.g. ``CN:mine``, ``*:magnet``; t REO, or t of magnet.

Places are ISO-2 countries, demand regions (US, EU, JP, KR, CN, ROW) or ``*`` (anywhere). A flow
counts when it leaves ORIGIN for DEST (``CN>*`` is China's exports; ``CN>CN`` its domestic
trade). Periods are a calendar year (totals, or the mean for prices) or a month.

The measures (`sim.runs.measures`) are pure functions of arrays: the direction of change after a
date, the lag between peaks and by cross-correlation, the peak-to-base ratio, and two errors
(MAPE and RMSE over the mean observed level) on the periods both series cover.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.errors import InputError
from sim.runs.engine import PRICE_PRODUCTS, TIERS, RunResult
from sim.runs.measures import (
    WINDOW_MONTHS,
    direction,
    fall_after_peak,
    mape,
    nrmse,
    over_period,
    peak_lag,
    peak_to_base,
    xcorr_lag,
)
from sim.runs.tables import flows_table, prices_table, production_table, shortfall_table
from sim.units import (
    ELEMENT_ALIASES,
    ELEMENTS,
    FORM_ALIASES,
    MAGNETS,
    REO_TO_ELEMENT,
    SECTORS,
    month_index,
)

SERIES: tuple[str, ...] = ("flow", "price", "shortfall", "production")
STAGES: tuple[str, ...] = ("mine", "separation", "metal", "magnet")
PLACE = r"(\*|[A-Z]{2,3})"
UNITS = {"price": "usd_per_kg", "shortfall": "t", "flow": "t_reo", "production": "t_reo"}


# -- keys ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Key:
    """A parsed key: the places it names and what it selects."""

    series: str
    places: tuple[str, ...]
    what: tuple[str, ...]
    element: str | None = None

    @property
    def unit(self) -> str:
        """Unit of the key's values."""
        magnets = set(self.what) <= set(MAGNETS) and self.series in ("flow", "production")
        if self.series == "production" and self.what == ("magnet",):
            magnets = True
        return "t_magnet" if magnets else UNITS[self.series]


def parse_key(series: str, key: str) -> Key:
    """The `Key` a series and key text name.

    Raises:
        ValueError: naming what is wrong and what was expected.
    """
    if series not in SERIES:
        raise ValueError(f"unknown series; expected one of {list(SERIES)}")
    parser = {
        "flow": _flow_key,
        "price": _price_key,
        "shortfall": _shortfall_key,
        "production": _production_key,
    }[series]
    return parser(key.strip())


def _flow_key(key: str) -> Key:
    m = re.fullmatch(PLACE + ">" + PLACE + r":([A-Za-z+]+)(?::([A-Za-z]+))?", key)
    if not m:
        raise ValueError("a flow key is ORIGIN>DEST:FORMS[:ELEMENT], e.g. CN>JP:oxide")
    forms: list[str] = []
    for name in m.group(3).split("+"):
        if name not in FORM_ALIASES:
            raise ValueError(f"unknown form '{name}'; expected one of {sorted(FORM_ALIASES)}")
        forms += [f for f in FORM_ALIASES[name] if f not in forms]
    if set(forms) & set(MAGNETS) and not set(forms) <= set(MAGNETS):
        raise ValueError("magnets (t of magnet) cannot be summed with other forms (t REO)")
    element = m.group(4)
    if element is not None and element not in ELEMENT_ALIASES:
        raise ValueError(f"unknown element '{element}'; expected one of {list(ELEMENTS)}")
    return Key(
        "flow",
        (m.group(1), m.group(2)),
        tuple(forms),
        None if element is None else ELEMENT_ALIASES[element],
    )


def _price_key(key: str) -> Key:
    tier, _, product = key.partition(":")
    tier = tier.lower().replace("-", "_")
    if tier not in TIERS or product not in PRICE_PRODUCTS:
        raise ValueError(
            f"a price key is TIER:PRODUCT with TIER one of {list(TIERS)} and "
            f"PRODUCT one of {list(PRICE_PRODUCTS)}"
        )
    return Key("price", (tier,), (product,))


def _shortfall_key(key: str) -> Key:
    m = re.fullmatch(PLACE + r":([a-z_*]+)(?::([A-Za-z*]+))?", key)
    sectors = (*SECTORS, "*")
    materials = (*MAGNETS, *ELEMENTS, "*")
    if not m or m.group(2) not in sectors or (m.group(3) or "*") not in materials:
        raise ValueError(
            f"a shortfall key is REGION:SECTOR[:MATERIAL], SECTOR one of "
            f"{list(sectors)}, MATERIAL one of {list(materials)}"
        )
    material = m.group(3)
    what = MAGNETS if material is None else (material,)
    return Key("shortfall", (m.group(1), m.group(2)), tuple(what))


def _production_key(key: str) -> Key:
    m = re.fullmatch(PLACE + r":([a-z]+)", key)
    if not m or m.group(2) not in STAGES:
        raise ValueError(f"a production key is PLACE:STAGE, STAGE one of {list(STAGES)}")
    return Key("production", (m.group(1),), (m.group(2),))


# -- simulated monthly series -------------------------------------------------------------------
class Tables:
    """The run's tidy tables, built once and looked up by key."""

    def __init__(self, result: RunResult) -> None:
        self.result = result
        self.dates = pd.DatetimeIndex(pd.to_datetime(result.dates))
        world = result.chain.world
        self.region = {**{r: r for r in world.countries.values()}, **world.countries}
        self.reo = dict(zip(ELEMENTS, REO_TO_ELEMENT))
        self.magnet_content = {m: float(world.recipes[m].sum()) for m in MAGNETS}
        self.flows = flows_table(result)
        self.prices = prices_table(result)
        self.shortfall = shortfall_table(result)
        self.production = production_table(result)

    def within(self, codes: pd.Series, place: str) -> pd.Series:
        """Whether each country or region code lies in ``place``."""
        if place == "*":
            return pd.Series(True, index=codes.index)
        return (codes == place) | (codes.map(self.region) == place)

    def monthly(self, frame: pd.DataFrame, value: pd.Series, how: str = "sum") -> pd.Series:
        """One value a month of the run (0 for a quantity without rows, NaN for a price)."""
        grouped = value.groupby(pd.to_datetime(frame["date"]))
        out = grouped.sum() if how == "sum" else grouped.mean()
        return out.reindex(self.dates, fill_value=0.0 if how == "sum" else np.nan)

    def to_reo(self, frame: pd.DataFrame) -> pd.Series:
        """Element tonnes as tonnes of oxide, or magnet content as tonnes of magnet."""
        # as floats: a map of no rows keeps the labels' dtype (text, under pandas 3)
        magnet = frame["form"].map(self.magnet_content).astype(float) if "form" in frame else None
        reo = frame["tonnes"] / frame["element"].map(self.reo).astype(float)
        if magnet is None:
            return reo
        return reo.where(magnet.isna(), frame["tonnes"] / magnet)


def simulated(tables: Tables, key: Key) -> pd.Series:
    """The run's monthly series for a key, in the key's unit."""
    series = {"price": _price, "shortfall": _shortfall, "production": _production, "flow": _flow}
    return series[key.series](tables, key)


def _price(tables: Tables, key: Key) -> pd.Series:
    """The monthly mean price of a product in a tier, US$/kg."""
    p = tables.prices
    rows = p[(p["market"] == key.places[0]) & (p["product"] == key.what[0])]
    return tables.monthly(rows, rows["usd_per_kg"], how="mean")


def _shortfall(tables: Tables, key: Key) -> pd.Series:
    """The monthly shortfall of a region's buyers of the materials (of one sector, or all)."""
    s = tables.shortfall
    rows = s[tables.within(s["region"], key.places[0]) & s["material"].isin(key.what)]
    if key.places[1] != "*":
        rows = rows[rows["sector"] == key.places[1]]
    return tables.monthly(rows, rows["shortfall_t"])


def _production(tables: Tables, key: Key) -> pd.Series:
    """The monthly output of a stage in a place, t REO (or t of magnet for magnet plants)."""
    p = tables.production
    rows = p[tables.within(p["country"], key.places[0]) & (p["stage"] == key.what[0])]
    product = {f.id: f.product for f in tables.result.chain.facilities}
    rows = rows.assign(form=rows["facility"].map(product).where(rows["stage"] == "magnet"))
    return tables.monthly(rows, tables.to_reo(rows))


def _flow(tables: Tables, key: Key) -> pd.Series:
    """The monthly flow of the forms (and element) from one place to another, t REO or t of
    magnet."""
    f = tables.flows
    rows = _leaving(tables, *key.places) & f["form"].isin(key.what)
    if key.element is not None:
        rows &= f["element"] == key.element
    return tables.monthly(f[rows], tables.to_reo(f[rows]))


def _leaving(tables: Tables, origin: str, dest: str) -> pd.Series:
    """Which flows leave ``origin`` for ``dest`` ('*' excludes nothing; ``CN>CN`` is domestic)."""
    src, dst = tables.flows["source_country"], tables.flows["target_country"]
    rows = tables.within(src, origin) & tables.within(dst, dest)
    if origin != dest and origin != "*":
        rows &= ~tables.within(dst, origin)
    if origin != dest and dest != "*":
        rows &= ~tables.within(src, dest)
    return rows


# -- the comparison ---------------------------------------------------------------------------
@dataclass
class Backtest:
    """A run held against observed series: every table `sim backtest` writes."""

    summary: pd.DataFrame
    directions: pd.DataFrame
    compared: pd.DataFrame
    simulated: pd.DataFrame
    events: list[tuple[str, dt.date]]


def _months(origin: dt.date, days: pd.Series) -> np.ndarray:
    return np.array([month_index(origin, d) for d in days], dtype=float)


def _per_period(monthly: pd.Series, starts: np.ndarray, ends: np.ndarray, how: str) -> np.ndarray:
    """The monthly series summed (or averaged) over each period ``[start, end)`` in months;
    NaN for a period the run does not cover."""
    values = monthly.to_numpy(dtype=float)
    return np.array([over_period(values, a, b, how) for a, b in zip(starts, ends)], dtype=float)


@dataclass(frozen=True)
class _Clock:
    """Where things sit in time, in months from the run's origin."""

    origin: dt.date
    events: list[tuple[str, dt.date]]
    event_t: list[float]
    months: int
    window: float

    @property
    def base_end(self) -> float:
        """End of the base period: the first event (else the first 12 months)."""
        return self.event_t[0] if self.event_t else 12.0

    @property
    def sim_t(self) -> np.ndarray:
        """Middle of every month of the run."""
        return np.arange(self.months) + 0.5


def compare(result: RunResult, observed: pd.DataFrame, window: float = WINDOW_MONTHS) -> Backtest:
    """Hold ``result`` against ``observed`` (columns ``start, end, series, key, value``, one
    row a period; ``start`` and ``end`` are dates, ``end`` exclusive)."""
    tables = Tables(result)
    _check_keys(tables, observed)
    clock = _clock(result, len(tables.dates), window)
    parts = [
        _hold(tables, clock, str(name), str(text), rows)
        for (name, text), rows in observed.groupby(["series", "key"], sort=True)
    ]
    return Backtest(
        pd.DataFrame([p[0] for p in parts]),
        pd.DataFrame([d for p in parts for d in p[1]], columns=DIRECTION_COLUMNS),
        pd.concat([p[2] for p in parts], ignore_index=True),
        pd.concat([p[3] for p in parts], ignore_index=True),
        clock.events,
    )


def _clock(result: RunResult, months: int, window: float) -> _Clock:
    """The run's origin and events (by date, with their months) and the directions' window."""
    origin = result.chain.origin
    events = sorted(
        ((ev.label or ev.kind, ev.start) for ev in result.scenario.events), key=lambda e: e[1]
    )
    return _Clock(origin, events, [month_index(origin, d) for _, d in events], months, window)


def _check_keys(tables: Tables, observed: pd.DataFrame) -> None:
    """Each production or shortfall key names some facility or buyer of the run: else there
    is nothing to compare (an `InputError` at the key's first line; the file is the frame's
    ``attrs["file"]``, if it says)."""
    for (name, text), rows in observed.groupby(["series", "key"], sort=True):
        missing = _names_nothing(tables, parse_key(str(name), str(text)))
        if missing:
            raise InputError(
                f"{missing}, so nothing to compare",
                file=observed.attrs.get("file"),
                line=int(rows["line"].min()) if "line" in rows else None,
                path="key",
                value=text,
                has_value=True,
            )


def _names_nothing(tables: Tables, key: Key) -> str | None:
    """Why a production or shortfall key selects no facility or buyer of the run, if so."""
    chain, place = tables.result.chain, key.places[0]
    if key.series == "production":
        codes = [f.country for f in chain.facilities if f.stage == key.what[0]]
        found = f"no {key.what[0]} facility in {place}"
    elif key.series == "shortfall":
        sector = key.places[1]
        codes = [
            b.region for b in chain.buyers if b.material in key.what and sector in ("*", b.sector)
        ]
        found = f"no buyer of {'/'.join(key.what)} in {place}" + (
            f" in sector {sector}" if sector != "*" else ""
        )
    else:
        return None
    if tables.within(pd.Series(codes, dtype=object), place).any():
        return None
    return f"the run has {found}"


@dataclass(frozen=True)
class _Held:
    """One observed series and key, held against the run's series for it."""

    name: str
    text: str
    key: Key
    values: np.ndarray  # the run's monthly series
    starts: np.ndarray  # each observed period's start and end, in months from the origin
    ends: np.ndarray
    observed: np.ndarray
    simulated: np.ndarray  # the run's value over each observed period

    @property
    def obs_t(self) -> np.ndarray:
        """Middle of each observed period, in months from the origin."""
        return (self.starts + self.ends) / 2


def _hold(
    tables: Tables, clock: _Clock, name: str, text: str, rows: pd.DataFrame
) -> tuple[dict[str, object], list[dict[str, object]], pd.DataFrame, pd.DataFrame]:
    """One series and key: its summary row, its directions, its compared periods and its
    simulated monthly series."""
    key = parse_key(name, text)
    monthly = simulated(tables, key)
    starts, ends = _months(clock.origin, rows["start"]), _months(clock.origin, rows["end"])
    held = _Held(
        name,
        text,
        key,
        monthly.to_numpy(dtype=float),
        starts,
        ends,
        rows["value"].to_numpy(dtype=float),
        _per_period(monthly, starts, ends, "mean" if name == "price" else "sum"),
    )
    return (
        _summary_row(held, clock),
        _directions(held, clock),
        _compared(held, rows),
        _simulated_series(held, tables),
    )


def _summary_row(held: _Held, clock: _Clock) -> dict[str, object]:
    """Errors, peak-to-base ratios and lags of one series and key."""
    obs_t, obs, sim, values = held.obs_t, held.observed, held.simulated, held.values
    return {
        "series": held.name,
        "key": held.text,
        "unit": held.key.unit,
        "periods": len(obs),
        "compared": int(np.isfinite(sim).sum()),
        "mape": mape(sim, obs),
        "nrmse": nrmse(sim, obs),
        "sim_peak_to_base": peak_to_base(clock.sim_t, values, clock.base_end),
        "obs_peak_to_base": peak_to_base(obs_t, obs, clock.base_end),
        "peak_lag_months": (
            peak_lag(clock.sim_t, values, obs_t, obs)
            if (obs_t >= clock.base_end).any()
            else float("nan")
        ),
        "xcorr_lag_months": _xcorr(values, held.starts, held.ends, obs),
        "sim_fall_18m": fall_after_peak(clock.sim_t, values),
        "obs_fall_18m": fall_after_peak(obs_t, obs),
    }


def _directions(held: _Held, clock: _Clock) -> list[dict[str, object]]:
    """The direction of change across each event, simulated and observed."""
    directions = []
    for (label, day), t in zip(clock.events, clock.event_t):
        sim_dir = direction(clock.sim_t, held.values, t, clock.window)
        obs_dir = direction(held.obs_t, held.observed, t, clock.window)
        directions.append(
            {
                "series": held.name,
                "key": held.text,
                "event": label,
                "date": day,
                "window_months": clock.window,
                "simulated": sim_dir,
                "observed": obs_dir,
                "agree": (sim_dir == obs_dir) if np.isfinite(obs_dir) else None,
            }
        )
    return directions


def _compared(held: _Held, rows: pd.DataFrame) -> pd.DataFrame:
    """Each observed period beside the run's value over it."""
    return pd.DataFrame(
        {
            "series": held.name,
            "key": held.text,
            "start": rows["start"],
            "end": rows["end"],
            "simulated": held.simulated,
            "observed": held.observed,
        }
    )


def _simulated_series(held: _Held, tables: Tables) -> pd.DataFrame:
    """The run's monthly series for the key."""
    return pd.DataFrame(
        {
            "date": tables.dates.date,
            "series": held.name,
            "key": held.text,
            "unit": held.key.unit,
            "simulated": held.values,
        }
    )


DIRECTION_COLUMNS = [
    "series",
    "key",
    "event",
    "date",
    "window_months",
    "simulated",
    "observed",
    "agree",
]


def _xcorr(values: np.ndarray, starts: np.ndarray, ends: np.ndarray, obs: np.ndarray) -> float:
    """Cross-correlation lag for monthly observations placed on the run's months."""
    if not len(obs) or not np.allclose(ends - starts, 1.0):
        return float("nan")
    return xcorr_lag(values, _on_months(len(values), starts, obs))


def _on_months(months: int, starts: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Monthly observations placed on the run's ``months`` (NaN where there is none)."""
    aligned = np.full(months, np.nan)
    idx = np.round(starts).astype(int)
    inside = (idx >= 0) & (idx < months)
    aligned[idx[inside]] = obs[inside]
    return aligned

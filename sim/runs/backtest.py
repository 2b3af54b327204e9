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

The measures are pure functions of arrays, testable on synthetic series: the direction of change
after a date, the lag between peaks and by cross-correlation, the peak-to-base ratio, and two
errors (MAPE and RMSE over the mean observed level) on the periods both series cover.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.runs.engine import PRICE_PRODUCTS, TIERS, RunResult
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
WINDOW_MONTHS = 12
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
        magnet = frame["form"].map(self.magnet_content) if "form" in frame else None
        reo = frame["tonnes"] / frame["element"].map(self.reo)
        if magnet is None:
            return reo
        return reo.where(magnet.isna(), frame["tonnes"] / magnet)


def simulated(tables: Tables, key: Key) -> pd.Series:
    """The run's monthly series for a key, in the key's unit."""
    if key.series == "price":
        p = tables.prices
        rows = p[(p["market"] == key.places[0]) & (p["product"] == key.what[0])]
        return tables.monthly(rows, rows["usd_per_kg"], how="mean")
    if key.series == "shortfall":
        s = tables.shortfall
        rows = s[tables.within(s["region"], key.places[0]) & s["material"].isin(key.what)]
        if key.places[1] != "*":
            rows = rows[rows["sector"] == key.places[1]]
        return tables.monthly(rows, rows["shortfall_t"])
    if key.series == "production":
        p = tables.production
        rows = p[tables.within(p["country"], key.places[0]) & (p["stage"] == key.what[0])]
        product = {f.id: f.product for f in tables.result.chain.facilities}
        rows = rows.assign(form=rows["facility"].map(product).where(rows["stage"] == "magnet"))
        return tables.monthly(rows, tables.to_reo(rows))
    return _flow(tables, key)


def _flow(tables: Tables, key: Key) -> pd.Series:
    f = tables.flows
    origin, dest = key.places
    src, dst = f["source_country"], f["target_country"]
    rows = tables.within(src, origin) & tables.within(dst, dest) & f["form"].isin(key.what)
    if origin != dest:  # leaving ORIGIN for DEST; '*' excludes nothing
        if origin != "*":
            rows &= ~tables.within(dst, origin)
        if dest != "*":
            rows &= ~tables.within(src, dest)
    if key.element is not None:
        rows &= f["element"] == key.element
    return tables.monthly(f[rows], tables.to_reo(f[rows]))


# -- measures -----------------------------------------------------------------------------------
def direction(
    times: np.ndarray,
    values: np.ndarray,
    when: float,
    window: float = WINDOW_MONTHS,
    tolerance: float = 0.02,
) -> float:
    """Sign of the change in the mean level across ``when``: +1, -1, 0 (within ``tolerance``
    of the level before), or NaN when either side of the window has no point.

    Args:
        times: when each value was measured, in months (any origin).
        values: the values.
        when: the date of the event, in the same months.
        window: months looked at on each side.
        tolerance: a relative change this small counts as no change.
    """
    before = values[(times >= when - window) & (times < when)]
    after = values[(times >= when) & (times < when + window)]
    if not len(before) or not len(after):
        return float("nan")
    change = float(after.mean() - before.mean())
    if abs(change) <= tolerance * abs(float(before.mean())) + 1e-12:
        return 0.0
    return float(np.sign(change))


def peak_to_base(times: np.ndarray, values: np.ndarray, base_end: float) -> float:
    """Highest value from ``base_end`` on over the mean before it (NaN if either is missing
    or the base is zero)."""
    base = values[times < base_end]
    later = values[times >= base_end]
    if not len(base) or not len(later) or abs(float(base.mean())) < 1e-12:
        return float("nan")
    return float(later.max() / base.mean())


def peak_lag(
    sim_times: np.ndarray, sim: np.ndarray, obs_times: np.ndarray, obs: np.ndarray
) -> float:
    """Months from the observed peak to the simulated one (positive: the model peaks late);
    NaN when either series is empty or flat."""
    if not len(sim) or not len(obs) or np.ptp(sim) == 0 or np.ptp(obs) == 0:
        return float("nan")
    return float(sim_times[int(np.argmax(sim))] - obs_times[int(np.argmax(obs))])


def xcorr_lag(
    sim: np.ndarray, obs: np.ndarray, max_lag: int = WINDOW_MONTHS, min_overlap: int = 6
) -> float:
    """The shift ``k`` (steps) that best correlates ``sim[t + k]`` with ``obs[t]`` on equally
    spaced, aligned series: positive when the model trails the observation. NaN when no shift
    leaves ``min_overlap`` points with variation on both sides."""
    best, best_k = -np.inf, float("nan")
    for k in range(-max_lag, max_lag + 1):
        a = sim[k:] if k >= 0 else sim[:k]
        b = obs[: len(obs) - k] if k >= 0 else obs[-k:]
        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < min_overlap or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
            continue
        r = float(np.corrcoef(a[ok], b[ok])[0, 1])
        if r > best + 1e-12 or (abs(r - best) <= 1e-12 and abs(k) < abs(best_k)):
            best, best_k = r, float(k)
    return best_k


def mape(sim: np.ndarray, obs: np.ndarray) -> float:
    """Mean absolute percentage error over the points where the observation is not zero."""
    ok = np.isfinite(sim) & np.isfinite(obs) & (obs != 0)
    return float(np.mean(np.abs(sim[ok] - obs[ok]) / np.abs(obs[ok]))) if ok.any() else np.nan


def nrmse(sim: np.ndarray, obs: np.ndarray) -> float:
    """Root-mean-square error over the mean absolute observed level."""
    ok = np.isfinite(sim) & np.isfinite(obs)
    if not ok.any() or np.mean(np.abs(obs[ok])) == 0:
        return float("nan")
    return float(np.sqrt(np.mean((sim[ok] - obs[ok]) ** 2)) / np.mean(np.abs(obs[ok])))


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
    out = np.full(len(starts), np.nan)
    for i, (a, b) in enumerate(zip(starts, ends)):
        lo, hi = int(round(a)), int(round(b))
        if lo >= 0 and hi <= len(values) and hi > lo:
            part = values[lo:hi]
            out[i] = part.sum() if how == "sum" else np.nanmean(part)
    return out


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
    origin = result.chain.origin
    events = sorted(
        ((ev.label or ev.kind, ev.start) for ev in result.scenario.events), key=lambda e: e[1]
    )
    clock = _Clock(
        origin, events, [month_index(origin, d) for _, d in events], len(tables.dates), window
    )
    parts = [
        _hold(tables, clock, str(name), str(text), rows)
        for (name, text), rows in observed.groupby(["series", "key"], sort=True)
    ]
    return Backtest(
        pd.DataFrame([p[0] for p in parts]),
        pd.DataFrame([d for p in parts for d in p[1]], columns=DIRECTION_COLUMNS),
        pd.concat([p[2] for p in parts], ignore_index=True),
        pd.concat([p[3] for p in parts], ignore_index=True),
        events,
    )


def _hold(
    tables: Tables, clock: _Clock, name: str, text: str, rows: pd.DataFrame
) -> tuple[dict[str, object], list[dict[str, object]], pd.DataFrame, pd.DataFrame]:
    """One series and key: its summary row, its directions, its compared periods and its
    simulated monthly series."""
    key = parse_key(name, text)
    monthly = simulated(tables, key)
    values = monthly.to_numpy(dtype=float)
    starts, ends = _months(clock.origin, rows["start"]), _months(clock.origin, rows["end"])
    obs_t, obs = (starts + ends) / 2, rows["value"].to_numpy(dtype=float)
    sim = _per_period(monthly, starts, ends, "mean" if name == "price" else "sum")
    summary = {
        "series": name,
        "key": text,
        "unit": key.unit,
        "periods": len(rows),
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
        "xcorr_lag_months": _xcorr(values, starts, ends, obs),
    }
    directions = []
    for (label, day), t in zip(clock.events, clock.event_t):
        sim_dir = direction(clock.sim_t, values, t, clock.window)
        obs_dir = direction(obs_t, obs, t, clock.window)
        directions.append(
            {
                "series": name,
                "key": text,
                "event": label,
                "date": day,
                "window_months": clock.window,
                "simulated": sim_dir,
                "observed": obs_dir,
                "agree": (sim_dir == obs_dir) if np.isfinite(obs_dir) else None,
            }
        )
    compared = pd.DataFrame(
        {
            "series": name,
            "key": text,
            "start": rows["start"],
            "end": rows["end"],
            "simulated": sim,
            "observed": obs,
        }
    )
    series = pd.DataFrame(
        {
            "date": tables.dates.date,
            "series": name,
            "key": text,
            "unit": key.unit,
            "simulated": values,
        }
    )
    return summary, directions, compared, series


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
    aligned = np.full(len(values), np.nan)
    idx = np.round(starts).astype(int)
    inside = (idx >= 0) & (idx < len(values))
    aligned[idx[inside]] = obs[inside]
    return xcorr_lag(values, aligned)

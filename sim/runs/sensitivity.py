"""Which uncertain inputs drive an outcome: Sobol' indices or Morris screening (SALib), and
one-at-a-time swings for a tornado chart.

An outcome is one number a future: cumulative shortfall (t) or mean shortfall share of a
region x sector (optionally one material), or the mean price of a product in a market tier,
over the horizon or a window. SALib designs over the unit cube of the inputs' probabilities,
so any distribution works: each column is mapped through its input's inverse distribution.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from sim.config import draws as sampling
from sim.config.scenario import Scenario
from sim.errors import bad_value
from sim.runs.engine import PRICE_PRODUCTS, TIERS
from sim.runs.sweep import MAX_SAMPLES, SweepResult, sweep
from sim.world.world import World

SWING = (0.05, 0.95)


@dataclass(frozen=True)
class Output:
    """A named outcome: ``kind`` shortfall_t | shortfall_share | price."""

    kind: str
    place: str
    what: str
    material: str | None
    first: dt.date | None
    last: dt.date | None
    label: str

    def describe(self) -> str:
        """The outcome in words, with its unit: ``EU ev_traction NdFeB: shortfall over
        2025-01..2030-12 (t)``."""
        window = "the horizon" if self.first is None else f"{self.first:%Y-%m}..{self.last:%Y-%m}"
        who = " ".join(x for x in (self.place, self.what, self.material) if x)
        words = {
            "shortfall_t": ("shortfall over", "t"),
            "shortfall_share": ("share of demand short over", "0-1"),
            "price": ("mean price over", "US$/kg"),
        }
        text, unit = words[self.kind]
        return f"{who}: {text} {window} ({unit})"


def _month(text: str, spec: str) -> dt.date:
    try:
        year, month = (int(x) for x in text.split("-")[:2])
        return dt.date(year, month, 1)
    except ValueError:
        raise bad_value("window months must be YYYY-MM..YYYY-MM", "--output", spec) from None


def parse_output(spec: str, scenario: Scenario) -> Output:
    """``KIND:PLACE:WHAT[:MATERIAL][@YYYY-MM..YYYY-MM]``."""
    body, _, window = spec.partition("@")
    parts = body.split(":")
    kinds = ("shortfall_t", "shortfall_share", "price")
    if len(parts) not in (3, 4) or parts[0] not in kinds:
        raise bad_value(
            "expected KIND:PLACE:WHAT[:MATERIAL][@YYYY-MM..YYYY-MM] with KIND one of "
            f"{list(kinds)}, e.g. shortfall_t:US:defence or price:ex_china:Dy_oxide",
            "--output",
            spec,
        )
    kind, place, what = parts[:3]
    if kind == "price" and (place not in TIERS or what not in PRICE_PRODUCTS):
        raise bad_value(
            f"a price outcome is price:TIER:PRODUCT with TIER in {list(TIERS)} "
            f"and PRODUCT in {list(PRICE_PRODUCTS)}",
            "--output",
            spec,
        )
    first = last = None
    if window:
        lo, sep, hi = window.partition("..")
        if not sep:
            raise bad_value("window must be @YYYY-MM..YYYY-MM", "--output", spec)
        first, last = _month(lo, spec), _month(hi, spec)
        _check_window(first, last, scenario, spec)
    if not scenario.uncertain:
        raise bad_value(
            "the scenario has no uncertain input (write a field as {dist: ...})", "--output", spec
        )
    return Output(kind, place, what, parts[3] if len(parts) == 4 else None, first, last, spec)


def _check_window(first: dt.date, last: dt.date, scenario: Scenario, spec: str) -> None:
    """A window runs forwards and holds at least one month of the horizon (else every
    sample's outcome is empty, and every index 0 or NaN)."""
    start, end = scenario.horizon.start, scenario.horizon.end
    if last < first:
        raise bad_value("the window ends before it starts", "--output", spec)
    if last < dt.date(start.year, start.month, 1) or first > end:
        raise bad_value(f"the window is outside the horizon ({start} to {end})", "--output", spec)


def evaluate(output: Output, result: SweepResult) -> np.ndarray:
    """The outcome in each sample."""
    dates = np.array(result.dates)
    keep = np.ones(len(dates), dtype=bool)
    if output.first is not None:
        keep &= dates >= output.first
    if output.last is not None:
        keep &= dates <= output.last
    if output.kind == "price":
        prices = result.arrays["prices"][:, keep]
        p, t = PRICE_PRODUCTS.index(output.what), TIERS.index(output.place)
        return prices[:, :, p, t].astype(np.float64).mean(axis=1)
    b = result.buyers
    sel = (b["region"] == output.place) & (b["sector"] == output.what)
    if output.material is not None:
        sel &= b["material"] == output.material
    if not sel.any():
        raise bad_value(
            "no buyer matches this region, sector and material", "--output", output.label
        )
    idx = np.flatnonzero(sel.to_numpy())
    short = result.arrays["shortfall"][:, keep][:, :, idx].astype(np.float64).sum(axis=(1, 2))
    if output.kind == "shortfall_t":
        return short
    demand = result.arrays["demand"][:, keep][:, :, idx].astype(np.float64).sum(axis=(1, 2))
    return np.where(demand > 0, short / np.where(demand > 0, demand, 1.0), 0.0)


def _run(
    world: World, scenario: Scenario, units: np.ndarray, seed: int, workers: int
) -> SweepResult:
    draws = sampling.from_units(scenario, units, seed)
    return sweep(world, scenario, len(units), seed=seed, workers=workers, draws=draws)


def design_runs(n: int, inputs: int, analysis: str) -> int:
    """The futures an analysis of ``inputs`` uncertain inputs runs for ``n`` base samples:
    the one-at-a-time swings (``2 x inputs + 1``) and SALib's design (Sobol' without second
    order ``n x (inputs + 2)``, Morris ``n x (inputs + 1)``)."""
    return 2 * inputs + 1 + n * (inputs + (2 if analysis == "sobol" else 1))


def check_design(n: int, inputs: int) -> None:
    """Refuse fewer than 2 base samples, or a design of more than `MAX_SAMPLES` runs (SALib
    would allocate it before the sweep could refuse it)."""
    if n < 2:
        raise bad_value("must be at least 2", "-n", n)
    runs = n * (inputs + 2)  # Sobol' without second order; Morris needs n x (inputs + 1)
    if runs > MAX_SAMPLES:
        raise bad_value(
            f"the design would need {runs:,} runs, over the {MAX_SAMPLES:,} a sweep allows",
            "-n",
            n,
        )


def analyse(
    world: World,
    scenario: Scenario,
    output: Output,
    n: int,
    *,
    seed: int = 0,
    analysis: Literal["sobol", "morris"] = "sobol",
    workers: int = 1,
) -> pd.DataFrame:
    """One row an input: the outcome at its P5 and P95 (others at median), the swing, and
    Sobol' first and total-order indices (or Morris mu* and sigma) with confidence."""
    keys = sampling.input_keys(scenario)
    d = len(keys)
    check_design(n, d)
    swings = np.full((2 * d + 1, d), 0.5)
    for j in range(d):
        swings[1 + 2 * j, j], swings[2 + 2 * j, j] = SWING
    one_at_a_time = evaluate(output, _run(world, scenario, swings, seed, workers))
    table = pd.DataFrame(
        {
            "input": keys,
            "paths": [", ".join(u.path for u in scenario.uncertain if u.key == k) for k in keys],
            "base": one_at_a_time[0],
            "at_p05": one_at_a_time[1::2],
            "at_p95": one_at_a_time[2::2],
        }
    )
    table["swing"] = (table["at_p95"] - table["at_p05"]).abs()
    problem = {"num_vars": d, "names": keys, "bounds": [[sampling.EPS, 1 - sampling.EPS]] * d}
    if analysis == "sobol":
        from SALib.analyze import sobol as sobol_analyze
        from SALib.sample import sobol as sobol_sample

        units = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
        y = evaluate(output, _run(world, scenario, units, seed, workers))
        found = sobol_analyze.analyze(problem, y, calc_second_order=False, seed=seed)
        for col in ("S1", "S1_conf", "ST", "ST_conf"):
            table[col] = found[col]
    else:
        from SALib.analyze import morris as morris_analyze
        from SALib.sample import morris as morris_sample

        units = morris_sample.sample(problem, n, num_levels=4, seed=seed)
        y = evaluate(output, _run(world, scenario, units, seed, workers))
        found = morris_analyze.analyze(problem, units, y, num_levels=4, seed=seed)
        for col in ("mu_star", "mu_star_conf", "sigma"):
            table[col] = found[col]
    table["runs"] = len(units) + len(swings)
    return table.sort_values("swing", ascending=False).reset_index(drop=True)

"""``sim calibrate --fit``: the market's behavioural parameters fitted on history
(`sim.runs.fit`), with the parameters, price keys and budget the command line names."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sim.errors import bad_value
from sim.io import console
from sim.runs import fit as fitting


def fit_command(scenario_path: Path, observed_path: Path, args: argparse.Namespace) -> int:
    """``sim calibrate --fit``: fit, then print each parameter and the errors."""
    from sim.io.observed import read_observed
    from sim.io.scenario_files import load_scenario
    from sim.world.loader import vintage_world

    names = None
    if args.params is not None:
        names = tuple(n.strip() for n in args.params.split(",") if n.strip())
        unknown = [n for n in names if n not in fitting.BOUNDS]
        if unknown or not names:
            expected = f"comma-separated names from {', '.join(fitting.BOUNDS)}"
            raise bad_value(expected, "--params", args.params)
    keys = fitting.KEYS if args.keys is None else _keys(args.keys.split(","), "--keys", args.keys)
    start = _start(args.start, names or fitting.FITTED) if args.start is not None else None
    for flag, value in (("--runs", args.runs), ("--workers", args.workers)):
        if value < 1:
            raise bad_value("a whole number, at least 1", flag, value)
    also = tuple(_case(items) for items in args.also or [])
    scenario = load_scenario(scenario_path)
    world, observed = vintage_world(scenario.world), read_observed(observed_path)
    result = fitting.fit(
        world, scenario, observed, names, args.runs, keys, start, also, args.workers
    )
    print(f"fit on {scenario.name} ({scenario.world}) against {observed_path}:")
    for extra, items in zip(also, args.also or []):
        print(f"  and on {extra.scenario.name} ({extra.scenario.world}) against {items[1]}")
    for line in console.fit_lines(result):
        print(line)
    return 0


def _keys(items: list[str], flag: str, given: object) -> tuple[str, ...]:
    """Price keys named on the command line, each ``TIER:PRODUCT``."""
    keys = tuple(k.strip() for k in items if k.strip())
    if not keys or not all(_price_key(k) for k in keys):
        expected = "TIER:PRODUCT price keys, such as china:NdPr_oxide"
        raise bad_value(expected, flag, given)
    return keys


def _case(items: list[str]) -> fitting.Case:
    """``--also SCENARIO OBSERVED [KEY ...]``: one more history for the fit."""
    from sim.io.observed import read_observed
    from sim.io.scenario_files import load_scenario
    from sim.world.loader import vintage_world

    if len(items) < 2:
        raise bad_value("SCENARIO OBSERVED [TIER:PRODUCT ...]", "--also", " ".join(items))
    keys = _keys(items[2:], "--also", " ".join(items[2:])) if items[2:] else fitting.KEYS
    scenario = load_scenario(Path(items[0]))
    world, observed = vintage_world(scenario.world), read_observed(Path(items[1]))
    return fitting.case(world, scenario, observed, keys, keys)


def _price_key(key: str) -> bool:
    """Whether ``key`` names a price the model has, ``TIER:PRODUCT``."""
    from sim.model.levers.economics import PRICE_PRODUCTS, TIERS

    tier, _, product = key.partition(":")
    return tier in TIERS and product in PRICE_PRODUCTS


def _start(text: str, names: tuple[str, ...]) -> dict[str, float]:
    """``--start``'s ``NAME=VALUE`` pairs, each name one of the fitted ``names``."""
    expected = f"comma-separated NAME=VALUE, each NAME one of {', '.join(names)}"
    start: dict[str, float] = {}
    for pair in (p.strip() for p in text.split(",") if p.strip()):
        name, _, value = pair.partition("=")
        try:
            start[name.strip()] = float(value)
        except ValueError:
            raise bad_value(expected, "--start", text) from None
        if name.strip() not in names or not np.isfinite(start[name.strip()]):
            raise bad_value(expected, "--start", text)
    if not start:
        raise bad_value(expected, "--start", text)
    return start

"""One run: a batch of samples of one scenario through one SimPy environment.

`run` builds the `Chain` and its initial `State`, starts the event switches and the stage
actors, runs the clock from the warm-up to the horizon's end, checks the mass balance and
returns a `RunResult` holding arrays (tidy tables are built from it by `sim.runs.tables`).
Steps every sample shares run once, with one sample; that history is kept in a `HistoryCache`
the run owns, or one a sweep hands all its batches in a process.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import simpy

from sim.config.draw_checks import check_draws
from sim.config.draws import check_seed
from sim.config.scenario import Scenario
from sim.errors import InputError, bad_value
from sim.market import MarketCache
from sim.model.chain import Chain
from sim.model.clock import processes
from sim.model.ledger import TOLERANCE, Ledger
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.model.levers.thrifting import LEVERS
from sim.model.orders import path_at
from sim.model.state import State
from sim.runs.finite import check_finite, priced
from sim.runs.history import shared_until
from sim.units import ELEMENTS, month_index, month_start
from sim.world.world import World

WARMUP_MONTHS = 12
REPEATED = ("stockpile_t", "floor_usd", "producer_level")  # `Record`'s series of every sample


@dataclass
class Record:
    """What a run keeps: shortfall and prices for every sample, details for sample 0."""

    chain: Chain
    detail: bool
    compact: bool = False  # keep shortfall and demand only, in float32 (for sweeps)
    fills: np.ndarray = field(init=False)
    prices: np.ndarray = field(init=False)  # [S, T, P, K] US$/kg, under the caps
    production: np.ndarray | None = None
    stocks: np.ndarray | None = None
    inventory: np.ndarray | None = None
    thrifted: np.ndarray | None = None  # [T, B, L] buyers' thrifted tonnes (sample 0)
    thrift: np.ndarray | None = None  # [T, K, L] each tier's levels magnets are made at
    flows: dict[str, np.ndarray] = field(default_factory=dict)
    recycled: np.ndarray | None = None
    stockpile_t: np.ndarray | None = None  # [S, T, stockpiles] holding after each step's rule
    floor_usd: np.ndarray | None = None  # [S, T, floors] price-floor payments
    producer_level: np.ndarray | None = None  # [S, T, producers] share of capacity run

    def __post_init__(self) -> None:
        c = self.chain
        S, T, B, F = c.samples, c.steps, len(c.buyers), len(c.facilities)
        # Kept step-major, ``[T, S, B]``, so that each step writes one contiguous block.
        # Compact records keep each step's shortfall instead of deliveries, both in float32:
        # the same numbers a sweep would get by subtracting and rounding after the run.
        kept = np.float32 if self.compact else np.float64
        # Demand is one row for every sample until some step's differs between them (demand
        # response): ``[T, 1, B]``, then ``[T, S, B]``.
        self._demand = np.zeros((T, 1, B), dtype=kept)
        self._delivered = np.zeros((T, S, B), dtype=kept)
        self.fills = np.ones((S, T, len(PRICE_PRODUCTS), len(TIERS)))
        self.prices = np.zeros((S, T, len(PRICE_PRODUCTS), len(TIERS)))
        if self.detail:
            self.production = np.zeros((T, F, len(ELEMENTS)))
            self.stocks = np.zeros((T, F, len(ELEMENTS)))
            self.inventory = np.zeros((T, B))
            self.thrifted = np.zeros((T, B, len(LEVERS)))
            self.thrift = np.zeros((T, len(TIERS), len(LEVERS)))
            self.recycled = np.zeros((T, len(c.stage("magnet")), len(ELEMENTS)))

    @property
    def demand(self) -> np.ndarray:
        """``[S, T, B]`` what buyers wanted to use each step (a view; a read-only broadcast of
        one row while every sample's demand is the same)."""
        T, _, B = self._demand.shape
        return np.broadcast_to(self._demand, (T, self.chain.samples, B)).transpose(1, 0, 2)

    @property
    def delivered(self) -> np.ndarray:
        """``[S, T, B]`` what buyers used each step (a view)."""
        if self.compact:
            raise AttributeError("a compact record keeps shortfalls, not deliveries")
        return self._delivered.transpose(1, 0, 2)

    @property
    def shortfall(self) -> np.ndarray:
        """``[S, T, B]`` demand not delivered each step (a view of a compact record)."""
        if not self.compact:
            return np.maximum(self.demand - self.delivered, 0.0)
        return self._delivered.transpose(1, 0, 2)

    def market(self, chain: Chain, step: int, name: str, x: np.ndarray) -> None:
        if not self.detail or step < 0:
            return
        if name not in self.flows:
            self.flows[name] = np.zeros((chain.steps, *x.shape[1:]))
        self.flows[name][step] = x[0]

    def produced(self, chain: Chain, step: int, stage: str, out: np.ndarray) -> None:
        if self.production is not None and step >= 0:
            self.production[step, chain.slices[stage]] = out[0]

    def swarf(self, chain: Chain, step: int, recovered: np.ndarray) -> None:
        if self.recycled is not None and step >= 0:
            self.recycled[step] = recovered[0]

    def _series(self, name: str, step: int, values: np.ndarray, start: float) -> None:
        """Store ``values[S, n]`` at ``step`` in the ``[S, T, n]`` array ``name``."""
        if step < 0:
            return
        if getattr(self, name) is None:
            shape = (values.shape[0], self.chain.steps, values.shape[1])
            setattr(self, name, np.full(shape, start))
        getattr(self, name)[:, step] = values

    def stockpiled(self, step: int, held: np.ndarray) -> None:
        self._series("stockpile_t", step, held, 0.0)

    def paid(self, step: int, usd: np.ndarray) -> None:
        self._series("floor_usd", step, usd, 0.0)

    def producing(self, step: int, levels: np.ndarray) -> None:
        self._series("producer_level", step, levels, 1.0)

    def fill(self, step: int, product: int | np.ndarray, tier: int, value: np.ndarray) -> None:
        if step >= 0:
            self.fills[:, step, product, tier] = value

    def priced(self, step: int, prices: np.ndarray) -> None:
        if step >= 0:
            self.prices[:, step] = prices

    def consumed(
        self, chain: Chain, state: State, step: int, demand: np.ndarray, got: np.ndarray
    ) -> None:
        if step < 0:
            return
        if self._demand.shape[1] == 1 and demand.shape[0] > 1 and demand.strides[0] != 0:
            self._demand = np.repeat(self._demand, demand.shape[0], axis=1)  # rows differ now
        self._demand[step] = demand[:1] if self._demand.shape[1] == 1 else demand
        if self.compact:
            short = demand - got
            self._delivered[step] = np.maximum(short, 0.0, out=short)
        else:
            self._delivered[step] = got
        if self.stocks is not None and self.inventory is not None:
            sl = chain.slices
            self.stocks[step, sl["mine"]] = state.mine_stock[0]
            self.stocks[step, sl["separation"]] = state.sep_in[0] + state.sep_out[0]
            self.stocks[step, sl["metal"]] = state.metal_in[0]
            self.stocks[step, sl["magnet"]] = state.mag_in[0]
            self.inventory[step] = state.inventory[0]
            assert self.thrifted is not None and self.thrift is not None
            self.thrifted[step] = state.thrifted[0]
            self.thrift[step] = state.thrift_levels[0]

    def arrays(self) -> dict[str, np.ndarray | None]:
        """Every array the record keeps, by name (for checks over all of them)."""
        details = ("production", "stocks", "inventory", "thrifted", "thrift", "recycled")
        kept = ("fills", *details, *REPEATED)
        out = {"demand": self._demand, "delivered": self._delivered}
        out.update({name: getattr(self, name) for name in kept})
        return {**out, **{f"flows.{name}": x for name, x in self.flows.items()}}

    def repeat(self, chain: Chain) -> Record:
        """This one-sample record for ``chain``'s samples, which all had its history."""
        out = Record(chain, self.detail, self.compact)
        out._demand = self._demand.copy()
        self._copy_details(out)
        self._repeat_rows(out, chain.samples)
        return out

    def _copy_details(self, out: Record) -> None:
        """Give ``out`` a copy of the details kept for sample 0 (flows, production, ...)."""
        out.flows = {name: x.copy() for name, x in self.flows.items()}
        for name in ("production", "stocks", "inventory", "thrifted", "thrift", "recycled"):
            kept = getattr(self, name)
            setattr(out, name, None if kept is None else kept.copy())

    def _repeat_rows(self, out: Record, samples: int) -> None:
        """Give ``out`` this record's one sample's rows repeated for ``samples``: deliveries
        (step-major), fills and the `REPEATED` series."""
        out._delivered = np.repeat(self._delivered, samples, axis=1)
        out.fills = np.repeat(self.fills, samples, axis=0)
        out.prices = np.repeat(self.prices, samples, axis=0)
        for name in REPEATED:
            kept = getattr(self, name)
            setattr(out, name, None if kept is None else np.repeat(kept, samples, axis=0))


@dataclass
class RunResult:
    """Arrays of one run and what is needed to label them."""

    scenario: Scenario
    chain: Chain
    state: State  # at the end of the run
    record: Record
    seed: int
    residual: float
    wall_seconds: float
    prices_usd_per_kg: np.ndarray
    shared_steps: int = 0  # steps, warm-up included, run once for every sample

    @cached_property
    def dates(self) -> list[dt.date]:
        """First day of each reported step (computed once: tables label rows with it)."""
        return [month_start(self.chain.origin, t) for t in range(self.chain.steps)]

    @property
    def demand_path(self) -> np.ndarray:
        """``[1 or S, T, B]`` what buyers would use before they answer price: their trend,
        as `demand_growth` events change it."""
        chain = self.chain
        if chain.demand_changes:
            return np.stack([path_at(chain, t) for t in range(chain.steps)], axis=1)
        return chain.demand_path[chain.warmup : chain.warmup + chain.steps][None]

    @property
    def unmet(self) -> np.ndarray:
        """``[S, T, B]`` need not met, in the buyer's unit: the demand path before buyers
        answered price (what they gave up for price and what they were short of)."""
        return np.maximum(self.demand_path - self.record.delivered, 0.0)

    @property
    def shortfall(self) -> np.ndarray:
        """``[S, T, B]`` demand not met, in the buyer's unit."""
        if self.record.compact:
            return self.record.shortfall
        return self.record.demand - self.record.delivered


MEMORY_LIMIT_BYTES = 4 * 1024**3


def horizon_months(scenario: Scenario) -> int:
    """The months a run records: from the horizon's first month to its end's, both included."""
    origin = dt.date(scenario.horizon.start.year, scenario.horizon.start.month, 1)
    return int(month_index(origin, scenario.horizon.end)) + 1


def estimate_bytes(world: World, scenario: Scenario, samples: int, detail: bool) -> int:
    """Rough peak memory of a run: the recorded arrays dominate (8 bytes a number)."""
    steps = horizon_months(scenario)
    facs, buyers, elements = len(world.facilities) + len(scenario.events), len(world.buyers), 8
    per_sample = steps * (2 * buyers + 2 * len(PRICE_PRODUCTS)) + 4 * facs * elements
    detailed = steps * (2 * facs * elements + buyers + facs * (facs + buyers) * elements)
    return 8 * (samples * per_sample + (detailed if detail else 0))


#: What one future costs a month of horizon on one worker of this kind of machine (a 2-core
#: box: 10,000 ten-year futures took about 46 s on one worker in the issue-14 benchmarks,
#: 35 us a sample-month; rounded up).
SECONDS_PER_SAMPLE_MONTH = 40e-6
#: Longest sweep the command line starts without ``--force``.
TIME_LIMIT_SECONDS = 3600.0


def estimate_seconds(scenario: Scenario, samples: int, workers: int) -> float:
    """Rough wall time of ``samples`` futures of ``scenario`` on ``workers`` workers."""
    months = horizon_months(scenario) + WARMUP_MONTHS
    return samples * months * SECONDS_PER_SAMPLE_MONTH / max(workers, 1)


def check_time(scenario: Scenario, samples: int, workers: int, force: bool) -> None:
    """Refuse (unless ``force``) work estimated to take longer than `TIME_LIMIT_SECONDS`."""
    seconds = estimate_seconds(scenario, samples, workers)
    if seconds > TIME_LIMIT_SECONDS and not force:
        raise bad_value(
            f"{samples:,} futures of {scenario.name} would take about {seconds / 3600:.1f} h "
            f"on {workers} worker(s) (an estimate: {SECONDS_PER_SAMPLE_MONTH * 1e6:.0f} us a "
            "future-month on one worker); pass --force to run them anyway, or draw fewer",
            "-n",
            samples,
        )


def run(
    world: World,
    scenario: Scenario,
    *,
    samples: int = 1,
    seed: int = 0,
    detail: bool = True,
    warmup: int = WARMUP_MONTHS,
    tolerance: float = TOLERANCE,
    draws: Mapping[str, np.ndarray] | None = None,
    compact: bool = False,
    fork_prefix: bool = True,
    histories: HistoryCache | None = None,
) -> RunResult:
    """Simulate ``samples`` futures of ``scenario`` on ``world`` and check their mass balance.

    ``draws`` maps a scenario field path (``events[3].start``) to one value a sample (dates as
    day ordinals); every sample uses the scenario's own value for fields not drawn. A
    ``compact`` run records only shortfall and demand, in float32 (`Record`), for sweeps.
    Steps before any sample can differ run once, with one sample (`sim.runs.history`), unless
    ``fork_prefix`` is false; the numbers are the same either way. That shared history is
    looked up in, or added to, ``histories``: a sweep passes its own cache to every batch so
    that they share it; by default the run makes a cache of its own.

    Raises:
        MassBalanceError: if any sample's books do not balance within ``tolerance``.
        NonFiniteError: if a number the run recorded is NaN or infinite.
        InputError: if the run would need more memory than `MEMORY_LIMIT_BYTES`.
    """
    _check_request(world, scenario, samples, seed, detail, draws)
    began = time.perf_counter()
    if histories is None:
        histories = HistoryCache()
    chain = Chain(world, scenario, samples, warmup, draws, histories.markets)
    state, ledger, record, start = _start(
        chain, world, scenario, detail, compact, draws, fork_prefix, histories
    )
    _simulate(chain, state, ledger, record, start, chain.steps)
    residual = ledger.check(state.holdings(chain), tolerance)
    prices, seconds = record.prices, time.perf_counter() - began
    priced_only = priced(prices, chain.economics.base_prices)
    check_finite({**record.arrays(), "prices": priced_only}, f"run of {scenario.name}")
    return RunResult(
        scenario, chain, state, record, seed, residual, seconds, prices, start + warmup
    )


def _check_request(
    world: World,
    scenario: Scenario,
    samples: int,
    seed: int,
    detail: bool,
    draws: Mapping[str, np.ndarray] | None,
) -> None:
    """Refuse a bad seed, draws that are not values the scenario would accept
    (`sim.config.draw_checks`), and a run too big for memory, before it starts."""
    check_seed(seed)
    check_count(samples, "samples")
    if draws:
        check_draws(scenario, draws, samples)
    need = estimate_bytes(world, scenario, samples, detail)
    if need > MEMORY_LIMIT_BYTES:
        raise InputError(
            f"this run would need about {need / 1024**3:.1f} GiB, over the "
            f"{MEMORY_LIMIT_BYTES / 1024**3:.0f} GiB limit; shorten the horizon or use fewer "
            "samples",
            path="horizon",
        )


def check_count(value: object, path: str, least: int = 1) -> int:
    """``value`` if it is a whole number of at least ``least``, else an `InputError` at
    ``path`` (an option or argument: samples, --workers, --batch-size)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
        raise bad_value(f"must be a whole number of at least {least}", path, value)
    return int(value)


def _start(
    chain: Chain,
    world: World,
    scenario: Scenario,
    detail: bool,
    compact: bool,
    draws: Mapping[str, np.ndarray] | None,
    fork_prefix: bool,
    histories: HistoryCache,
) -> tuple[State, Ledger, Record, int]:
    """The state, books and record a run starts from, and its first step: the warm-up's, or
    the step after the history every sample shares (repeated into the full batch)."""
    samples, start = chain.samples, -chain.warmup
    fork = shared_until(scenario, draws, chain.origin) if samples > 1 and fork_prefix else -1e9
    if not start + 1 < fork < chain.steps:
        return State.initial(chain), Ledger(samples), Record(chain, detail, compact), start
    assert draws is not None  # the samples' first steps are one history
    state, ledger, record = _history(
        world, scenario, chain.warmup, detail, compact, draws, start, int(fork), histories
    )
    return state.repeat(samples), ledger.repeat(samples), record.repeat(chain), int(fork)


HISTORIES_KEPT = 4  # shared histories a `HistoryCache` keeps (a sweep's batches share one)
History = tuple[State, Ledger, Record]  # one sample's end of the steps every sample shares


class HistoryCache:
    """The shared histories (`sim.runs.history`) one run or one sweep has simulated, so that
    batches of a sweep run the steps their samples share once. The steps do not depend on
    the draws, only on the world, the scenario and where they start and stop: the last
    `HISTORIES_KEPT` are kept, keyed by those (world and scenario, frozen, compared by
    identity and held so that their identities stay theirs).

    Owned by whoever makes it: `run` makes a fresh one unless given one, a sweep makes one
    for its batches in this process and each pool or Dask worker one for its own batches
    (`sim.runs.executors`); two runs never see each other's histories unless handed the
    same cache. It also holds the `MarketCache` their chains build markets in (``markets``),
    so a sweep's batches build markets of the same routes once."""

    def __init__(self, kept: int = HISTORIES_KEPT) -> None:
        self.kept = kept
        # Markets of the same routes, built once for the prefix's chain and every batch's.
        self.markets = MarketCache()
        self._held: list[tuple[tuple[Any, ...], History]] = []

    def __len__(self) -> int:
        return len(self._held)

    def find(self, key: tuple[Any, ...]) -> History | None:
        """The history kept under ``key``, or ``None``."""
        for held, found in self._held:
            if all(
                a is b if isinstance(a, (World, Scenario)) else a == b for a, b in zip(held, key)
            ):
                return found
        return None

    def keep(self, key: tuple[Any, ...], found: History) -> None:
        """Keep ``found`` under ``key``, dropping the oldest beyond `kept`."""
        self._held.append((key, found))
        del self._held[: -self.kept]


def _history(
    world: World,
    scenario: Scenario,
    warmup: int,
    detail: bool,
    compact: bool,
    draws: Mapping[str, np.ndarray],
    start: int,
    stop: int,
    histories: HistoryCache,
) -> History:
    """The state, books and record of one sample (the first of ``draws``) after steps
    ``start``-``stop``, which every sample shares (`sim.runs.history`); not to be changed
    (`State.repeat` and the others copy). The steps do not depend on the draws, so batches of
    one sweep share them through ``histories``."""
    key = (world, scenario, warmup, detail, compact, start, stop)
    found = histories.find(key)
    if found is None:
        first = {k: v[:1] for k, v in draws.items()}
        small = Chain(world, scenario, 1, warmup, first, histories.markets)
        found = (State.initial(small), Ledger(1), Record(small, detail, compact))
        _simulate(small, *found, start, stop)
        histories.keep(key, found)
    return found


def _simulate(
    chain: Chain, state: State, ledger: Ledger, record: Record, start: int, stop: int
) -> None:
    """Run the chain's processes from step ``start`` up to (not including) ``stop``."""
    env = simpy.Environment(initial_time=start)
    running = processes(env, chain, state, ledger, record)
    for process in running:
        env.process(process)
    env.run(until=stop)
    # The environment and its processes refer to each other; closing the processes lets the
    # chain, ledger and record go as soon as the caller drops them, without waiting for the
    # cycle collector (whose full pass costs a sweep worker ~50 ms a batch).
    for process in running:
        process.close()

"""Monte Carlo sweeps: many futures of one scenario, in batches along the sample axis.

A sweep draws every uncertain input for all its samples up front (`sim.config.draws`), cuts the
samples into fixed-size batches and runs each batch through the engine as one simulation with
a sample axis. Batches go to an executor: this process, a local process pool
(`sim.runs.executors`), or a Dask distributed cluster (`sim.runs.dask_executor`). Each
finished batch is saved in a store folder (`sim.runs.store`), so a sweep that is interrupted
resumes where it stopped. Results are merged in batch order; a sample's numbers depend only on
its draws (the engine is exact per sample whatever the batch), so one seed gives the same
numbers whatever runs it and however often it was resumed. Its tables are
`sim.runs.sweep_tables`.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.config import draws as sampling
from sim.config.draws import Method
from sim.config.scenario import Scenario
from sim.errors import MassBalanceError, bad_value
from sim.model.ledger import TOLERANCE
from sim.model.levers.economics import base_table
from sim.runs.engine import (
    PRICE_PRODUCTS,
    TIERS,
    HistoryCache,
    check_count,
    estimate_bytes,
    horizon_months,
    run,
)
from sim.runs.executors import BatchFn, BatchWorker, Job, local_map
from sim.runs.finite import check_finite, priced
from sim.runs.impact import policy_labels, policy_usd
from sim.runs.store import ARRAYS, BadBatch, BatchStore, sweep_identity
from sim.units import month_start
from sim.world.world import World

BATCH_SIZE = 500
MAX_SAMPLES = 1_000_000
MAX_WORKERS = 256  # a pool forks all its processes at once: 10**6 would exhaust the machine
MEMORY_LIMIT_BYTES = 4 * 1024**3
BLOCK_NUMBERS = 2**22  # float64 numbers in one block of a table's statistics (32 MB)


def default_batch(samples: int, workers: int) -> int:
    """Batch size: up to `BATCH_SIZE`, small enough to give each worker two batches. It does
    not change any number (a sample's results do not depend on its batch), only speed and the
    identity of a sweep's store (resume with the same command)."""
    return max(1, min(BATCH_SIZE, -(-samples // (2 * max(workers, 1)))))


def run_batch(
    world: World,
    scenario: Scenario,
    draws: Mapping[str, np.ndarray],
    count: int,
    histories: HistoryCache | None = None,
) -> dict[str, np.ndarray]:
    """One batch of ``count`` samples through the engine: shortfall and demand ``[S, T, B]``,
    prices ``[S, T, product, tier]`` (float32), each sample's mass-balance residual and what
    each policy cost ``[S, T, policies]`` (`sim.runs.impact.policy_usd`).

    Without draws every sample is the same future: it is run once, and each array has one
    row for the whole batch; so has demand whenever every sample's is the same. The steps
    every sample shares are looked up in, or added to, ``histories`` (the batch worker's:
    `sim.runs.executors`; by default, the batch's own)."""
    result = run(
        world,
        scenario,
        samples=count if draws else 1,
        detail=False,
        draws=draws or None,
        compact=True,
        histories=histories,
    )
    rec = result.record
    # one row when every sample's demand is the same (no demand response)
    demand = rec.demand[:1].copy() if rec.demand.strides[0] == 0 else rec.demand.copy()
    out = {
        # a view of the record's step-major array: the copy sample by sample is the merge's
        # (in the parent process for a pool: `sim.runs.executors`)
        "shortfall": rec.shortfall,
        "demand": demand,
        "prices": result.prices_usd_per_kg.astype(np.float32),
        "residual": np.full(rec.demand.shape[0], result.residual),
        "policy_usd": policy_usd(scenario, rec, result.prices_usd_per_kg),
    }
    del result, rec  # the run closes its processes, so this frees its arrays (no cycles)
    return out  # a part of one row stands for every sample of the batch (`Rows`)


class Rows:
    """Samples' rows of one result array, merged from batches in any order; kept as one row
    (a broadcast view when read) while every sample's row is the same, as a sweep's demand is
    without demand response: 0.5 GB less for 10,000 futures of 10 years."""

    def __init__(self, samples: int) -> None:
        self.samples = samples
        self.row: np.ndarray | None = None
        self.spans: list[tuple[int, int]] = []  # placed while one row stood for all
        self.full: np.ndarray | None = None

    def put(self, a: int, b: int, part: np.ndarray) -> None:
        """Samples ``a:b``'s rows: ``part[b - a, ...]``, or ``part[1, ...]`` for all of them."""
        if self.full is None and part.shape[0] == 1 and self._is_the_row(part[0]):
            self.spans.append((a, b))
            return
        full = self.full if self.full is not None else self._expand(part)
        full[a:b] = part

    def _is_the_row(self, row: np.ndarray) -> bool:
        """Whether ``row`` is the one row standing for all (the first one put becomes it)."""
        if self.row is None:
            self.row = row.copy()
        return bool(np.array_equal(self.row, row))

    def _expand(self, part: np.ndarray) -> np.ndarray:
        """Every sample's rows, from now on: the spans placed so far hold the one row."""
        self.full = np.empty((self.samples, *part.shape[1:]), dtype=part.dtype)
        for lo, hi in self.spans:
            self.full[lo:hi] = self.row
        return self.full

    def value(self) -> np.ndarray:
        if self.full is not None:
            return self.full
        assert self.row is not None, "no batch was merged"
        return np.broadcast_to(self.row, (self.samples, *self.row.shape))


@dataclass
class SweepResult:
    """Every sample's paths, its draws and what labels them."""

    scenario: Scenario
    seed: int
    method: str
    draws: dict[str, np.ndarray]
    seeds: np.ndarray
    arrays: dict[str, np.ndarray]
    dates: list[dt.date]
    buyers: pd.DataFrame
    batches: int
    resumed: int
    wall_seconds: float

    @property
    def samples(self) -> int:
        return len(self.seeds)


def check_comparable(a: Scenario, b: Scenario, one_world: bool = False) -> None:
    """Refuse to pair the futures of two scenarios on different worlds (unless both are run
    on ``one_world`` the caller gives) or horizons: the difference would be the worlds' or
    the extra months', not B's effect."""
    if not one_world and a.world != b.world:
        raise bad_value(
            f"A ({a.name}) runs on world {a.world} and B on {b.world}; a paired comparison "
            "needs one world",
            "B",
            b.name,
        )
    if a.horizon != b.horizon:
        when = [f"{s.horizon.start} to {s.horizon.end}" for s in (a, b)]
        raise bad_value(
            f"A ({a.name}) runs {when[0]} and B {when[1]}; a paired comparison needs one "
            "horizon (the extra months would count as B's effect)",
            "B",
            b.name,
        )


def check_size(
    world: World, scenario: Scenario, samples: int, batch_size: int, workers: int
) -> None:
    """Refuse a sweep whose results or batches would not fit in memory, before it starts."""
    if not 1 <= samples <= MAX_SAMPLES:
        raise bad_value(
            f"the number of samples must be between 1 and {MAX_SAMPLES:,}", "-n", samples
        )
    steps = horizon_months(scenario)
    per_sample = 4 * steps * (2 * len(world.buyers) + 2 * len(PRICE_PRODUCTS) * len(TIERS))
    kept = samples * per_sample + 8 * 4 * min(samples * 2048, BLOCK_NUMBERS)  # merged; summary
    batches = min(workers, -(-samples // batch_size)) * estimate_bytes(
        world, scenario, min(batch_size, samples), detail=False
    )
    need = kept + batches
    if need > MEMORY_LIMIT_BYTES:
        raise bad_value(
            f"this sweep would need about {need / 1024**3:.1f} GiB, over the "
            f"{MEMORY_LIMIT_BYTES / 1024**3:.0f} GiB limit; use fewer samples or a shorter "
            "horizon",
            "-n",
            samples,
        )


#: A Dask scheduler's address: ``HOST:PORT``, optionally after a protocol (``tcp://``).
SCHEDULER = re.compile(r"((tcp|tls|ws|wss|ucx)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}")


def _check_options(
    samples: int,
    seed: int,
    method: str,
    workers: int,
    scheduler: str | None,
    batch_size: int | None,
) -> None:
    """Refuse a bad number of samples, seed, method, number of workers, scheduler or batch
    size (the Python API calls `sweep` directly: it gets the command line's messages)."""
    check_count(samples, "-n")
    sampling.check_seed(seed)
    if method not in sampling.METHODS:
        raise bad_value(f"expected one of {list(sampling.METHODS)}", "--method", method)
    check_count(workers, "--workers")
    if workers > MAX_WORKERS:
        raise bad_value(f"must be at most {MAX_WORKERS}", "--workers", workers)
    check_scheduler(scheduler)
    if batch_size is not None:
        check_count(batch_size, "--batch-size")


def check_scheduler(scheduler: str | None) -> None:
    """Refuse a ``--scheduler`` that is neither 'local' nor an address, before any work."""
    if scheduler is None or scheduler == "local" or SCHEDULER.fullmatch(scheduler):
        return
    raise bad_value(
        "expected 'local' or a Dask scheduler's address, such as tcp://HOST:PORT",
        "--scheduler",
        scheduler,
    )


def _batches(samples: int, batch_size: int) -> list[tuple[int, int]]:
    return [(a, min(a + batch_size, samples)) for a in range(0, samples, batch_size)]


def _check_batch(
    index: int, first: int, arrays: Mapping[str, np.ndarray], base_usd_per_kg: np.ndarray
) -> None:
    """Refuse a batch (run now or resumed from a store) holding a non-finite number (but the
    NaN prices of products without a base price), or whose books do not balance."""
    kept = {k: arrays[k] for k in ARRAYS}
    check_finite({**kept, "prices": priced(kept["prices"], base_usd_per_kg)}, f"batch {index}")
    _check_balance(index, first, arrays["residual"])


def _check_balance(index: int, first: int, residual: np.ndarray) -> None:
    """Refuse a batch whose books do not balance, naming its worst sample."""
    worst = int(np.argmax(residual))
    if residual[worst] > TOLERANCE:
        raise MassBalanceError(
            f"batch {index}: mass balance broken in sample {first + worst}: residual "
            f"{residual[worst]:.3g} of throughput (tolerance {TOLERANCE:g})"
        )


class Merge:
    """A sweep's batches merged into every sample's rows as they come (then dropped, so the
    merged arrays are the only full-size copy held), and the batches still to run."""

    def __init__(
        self,
        samples: int,
        batch_size: int,
        progress: Callable[[int], None] | None,
        base_usd_per_kg: np.ndarray,
        shapes: Mapping[str, tuple[int, ...]] | None = None,
    ) -> None:
        self.spans = _batches(samples, batch_size)
        self.shapes = shapes  # each array's shape after the sample axis, if known
        self.base_usd_per_kg = base_usd_per_kg  # [P, K], NaN where the world has no price
        self.rows = {k: Rows(samples) for k in ARRAYS}
        self.progress = progress
        self.done: set[int] = set()

    def keep(self, index: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Merge batch ``index``'s arrays."""
        a, b = self.spans[index]
        _check_batch(index, a, arrays, self.base_usd_per_kg)
        for k in ARRAYS:
            self.rows[k].put(a, b, arrays[k])
        self.done.add(index)
        if self.progress:
            self.progress(b - a)

    def _check_shapes(self, arrays: Mapping[str, np.ndarray]) -> None:
        """`BadBatch` unless each array has this sweep's shape after its sample axis."""
        wrong = [k for k, shape in (self.shapes or {}).items() if arrays[k].shape[1:] != shape]
        if wrong:
            raise BadBatch(f"its {', '.join(wrong)} are not this sweep's shape")

    def resume(self, store: BatchStore, notice: Callable[[str], None]) -> int:
        """Merge the batches ``store`` holds and trusts; how many. A batch file it does not
        trust is run again, with a one-line ``notice`` saying why."""
        resumed = 0
        for i in (i for i in range(len(self.spans)) if store.has(i)):
            try:
                arrays = store.load(i, self.spans[i])
                self._check_shapes(arrays)
            except BadBatch as exc:
                notice(f"{store.path(i)}: not resumed, {exc}; running batch {i} again")
                continue
            self.keep(i, arrays)
            resumed += 1
        return resumed

    def jobs(self, draws: Mapping[str, np.ndarray]) -> list[Job]:
        """The batches not merged yet: index, draws and sample count of each."""
        return [
            (i, {k: v[a:b] for k, v in draws.items()}, b - a)
            for i, (a, b) in enumerate(self.spans)
            if i not in self.done
        ]

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: v.value() for k, v in self.rows.items()}


def sweep(
    world: World,
    scenario: Scenario,
    samples: int,
    *,
    seed: int = 0,
    method: Method = "random",
    workers: int = 1,
    scheduler: str | None = None,
    batch_size: int | None = None,
    store: Path | None = None,
    progress: Callable[[int], None] | None = None,
    batch_fn: BatchFn = run_batch,
    draws: dict[str, np.ndarray] | None = None,
    notice: Callable[[str], None] | None = None,
) -> SweepResult:
    """Run ``samples`` futures of ``scenario`` in batches; resume from ``store`` if given.

    ``draws`` replaces the drawn inputs (a design made elsewhere, e.g. by SALib). Each
    process that runs batches keeps the histories they share (`sim.runs.executors`). A
    stored batch that cannot be trusted is run again, and ``notice`` (default: a warning)
    is told why, in one line."""
    _check_options(samples, seed, method, workers, scheduler, batch_size)
    batch_size = batch_size or default_batch(samples, workers)
    check_size(world, scenario, samples, batch_size, workers)
    began = time.perf_counter()
    if draws is None:
        draws = sampling.draw(scenario, samples, seed, method)
    shapes = batch_shapes(world, scenario)
    merge = Merge(samples, batch_size, progress, base_table(world.prices_usd_per_kg), shapes)
    saved = None
    if store is not None:
        saved = BatchStore(store, sweep_identity(world, scenario, seed, method, batch_size, draws))
    resumed = merge.resume(saved, notice or _warn) if saved is not None else 0
    worker = BatchWorker(batch_fn, world, scenario)
    for index, arrays in _finished(worker, merge.jobs(draws), workers, scheduler):
        if saved is not None:
            saved.save(index, merge.spans[index], arrays)
        merge.keep(index, arrays)
        del arrays
    arrays = merge.arrays()
    return SweepResult(
        scenario=scenario,
        seed=seed,
        method=method,
        draws=draws,
        seeds=sampling.sample_seeds(seed, samples),
        arrays=arrays,
        dates=_dates(scenario, arrays["shortfall"].shape[1]),
        buyers=buyer_labels(world),
        batches=len(merge.spans),
        resumed=resumed,
        wall_seconds=time.perf_counter() - began,
    )


def _warn(text: str) -> None:
    warnings.warn(text, UserWarning, stacklevel=3)


def _finished(
    worker: BatchWorker, jobs: list[Job], workers: int, scheduler: str | None
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Run the jobs on the executor asked for; yield (index, arrays) as each batch ends."""
    if not jobs:
        return iter(())
    if scheduler is None:
        return local_map(worker, jobs, workers)
    from sim.runs.dask_executor import dask_map

    return dask_map(worker, jobs, workers, scheduler)


def _dates(scenario: Scenario, steps: int) -> list[dt.date]:
    """First day of each of a sweep's ``steps`` months."""
    origin = dt.date(scenario.horizon.start.year, scenario.horizon.start.month, 1)
    return [month_start(origin, t) for t in range(steps)]


def batch_shapes(world: World, scenario: Scenario) -> dict[str, tuple[int, ...]]:
    """The shape after the sample axis of each array a batch of ``scenario`` holds."""
    months, buyers = horizon_months(scenario), len(world.buyers)
    return {
        "shortfall": (months, buyers),
        "demand": (months, buyers),
        "prices": (months, len(PRICE_PRODUCTS), len(TIERS)),
        "residual": (),
        "policy_usd": (months, len(policy_labels(scenario))),
    }


def buyer_labels(world: World) -> pd.DataFrame:
    """Region, sector and material of every buyer of ``world``, in array order."""
    return pd.DataFrame(
        [(b.region, b.sector, b.material) for b in world.buyers],
        columns=["region", "sector", "material"],
    )

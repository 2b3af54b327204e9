"""Monte Carlo sweeps: many futures of one scenario, in batches along the sample axis.

A sweep draws every uncertain input for all its samples up front (`sim.config.draws`), cuts the
samples into fixed-size batches and runs each batch through the engine as one simulation with
a sample axis. Batches go to an executor: this process, a local process pool, or a Dask
distributed cluster. Each finished batch is saved in a store folder, so a sweep that is
interrupted resumes where it stopped. Results are merged in batch order; a sample's numbers
depend only on its draws (the engine is exact per sample whatever the batch), so one seed
gives the same numbers whatever runs it and however often it was resumed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.config import draws as sampling
from sim.config.draws import Method
from sim.config.scenario import Scenario
from sim.errors import InputError
from sim.runs.engine import PRICE_PRODUCTS, TIERS, estimate_bytes, run
from sim.units import month_start
from sim.version import __version__
from sim.world.world import World

BATCH_SIZE = 500
MAX_SAMPLES = 1_000_000
MEMORY_LIMIT_BYTES = 4 * 1024**3
QUANTILES = {"p05": 5.0, "p50": 50.0, "p95": 95.0}
ARRAYS = ("shortfall", "demand", "prices", "residual")


def default_batch(samples: int, workers: int) -> int:
    """Batch size: up to `BATCH_SIZE`, small enough to give each worker two batches. It does
    not change any number (a sample's results do not depend on its batch), only speed and the
    identity of a sweep's store (resume with the same command)."""
    return max(1, min(BATCH_SIZE, -(-samples // (2 * max(workers, 1)))))


def run_batch(
    world: World, scenario: Scenario, draws: Mapping[str, np.ndarray], count: int
) -> dict[str, np.ndarray]:
    """One batch of ``count`` samples through the engine: shortfall and demand ``[S, T, B]``,
    prices ``[S, T, product, tier]`` (float32) and each sample's mass-balance residual.

    Without draws every sample is the same future: it is run once, and each array has one
    row for the whole batch; so has demand whenever every sample's is the same."""
    result = run(
        world,
        scenario,
        samples=count if draws else 1,
        detail=False,
        draws=draws or None,
        compact=True,
    )
    rec = result.record
    # one row when every sample's demand is the same (no demand response)
    demand = rec.demand[:1].copy() if rec.demand.strides[0] == 0 else rec.demand.copy()
    out = {
        # a view of the record's step-major array: the copy sample by sample is the merge's
        # (in the parent process for a pool: `_from_worker`)
        "shortfall": rec.shortfall,
        "demand": demand,
        "prices": result.prices_usd_per_kg.astype(np.float32),
        "residual": np.full(rec.demand.shape[0], result.residual),
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
        if self.full is None and part.shape[0] == 1:
            if self.row is None:
                self.row = part[0].copy()
            if np.array_equal(self.row, part[0]):
                self.spans.append((a, b))
                return
        if self.full is None:
            self.full = np.empty((self.samples, *part.shape[1:]), dtype=part.dtype)
            for lo, hi in self.spans:
                self.full[lo:hi] = self.row
        self.full[a:b] = part

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


def sweep_key(
    scenario_hash: str, data_hash: str, samples: int, seed: int, method: str, batch_size: int
) -> str:
    """Identity of a sweep's batches: the same key means the stored batches can be reused."""
    text = json.dumps([scenario_hash, data_hash, samples, seed, method, batch_size, __version__])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class BatchStore:
    """Finished batches of one sweep, one ``.npz`` file each, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, index: int) -> Path:
        return self.folder / f"batch-{index:06d}.npz"

    def has(self, index: int) -> bool:
        return self.path(index).is_file()

    def save(self, index: int, arrays: Mapping[str, np.ndarray]) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".batch-", suffix=".npz", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **dict(arrays))  # type: ignore[arg-type]
            os.replace(tmp, self.path(index))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, index: int) -> dict[str, np.ndarray]:
        with np.load(self.path(index)) as data:
            return {k: data[k] for k in ARRAYS}


def check_size(
    world: World, scenario: Scenario, samples: int, batch_size: int, workers: int
) -> None:
    """Refuse a sweep whose results or batches would not fit in memory, before it starts."""
    if not 1 <= samples <= MAX_SAMPLES:
        raise InputError(
            f"the number of samples must be between 1 and {MAX_SAMPLES:,}",
            path="-n",
            value=samples,
            has_value=True,
        )
    from sim.units import month_index

    origin = dt.date(scenario.horizon.start.year, scenario.horizon.start.month, 1)
    steps = int(month_index(origin, scenario.horizon.end)) + 1
    per_sample = 4 * steps * (2 * len(world.buyers) + 2 * len(PRICE_PRODUCTS) * len(TIERS))
    kept = samples * per_sample + 8 * 4 * min(samples * 2048, BLOCK_NUMBERS)  # merged; summary
    batches = min(workers, -(-samples // batch_size)) * estimate_bytes(
        world, scenario, min(batch_size, samples), detail=False
    )
    need = kept + batches
    if need > MEMORY_LIMIT_BYTES:
        raise InputError(
            f"this sweep would need about {need / 1024**3:.1f} GiB, over the "
            f"{MEMORY_LIMIT_BYTES / 1024**3:.0f} GiB limit; use fewer samples or a shorter "
            "horizon",
            path="-n",
            value=samples,
            has_value=True,
        )


def _batches(samples: int, batch_size: int) -> list[tuple[int, int]]:
    return [(a, min(a + batch_size, samples)) for a in range(0, samples, batch_size)]


Job = tuple[int, dict[str, np.ndarray], int]
BatchFn = Callable[[World, Scenario, Mapping[str, np.ndarray], int], dict[str, np.ndarray]]


def _executor_map(
    fn: BatchFn,
    jobs: list[Job],
    world: World,
    scenario: Scenario,
    workers: int,
    scheduler: str | None,
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Run ``fn(world, scenario, draws, count)`` for each job; yield (index, result) as
    each ends, in whatever order they end."""
    if not jobs:
        return
    if scheduler is not None:
        yield from _dask_map(fn, jobs, world, scenario, workers, scheduler)
        return
    if workers <= 1:
        for index, draws, count in jobs:
            yield index, fn(world, scenario, draws, count)
        return
    # The world and scenario go to each worker once, when it starts, not with every batch.
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_worker_setup, initargs=(fn, world, scenario)
    ) as pool:
        futures = {pool.submit(_worker_batch, draws, count): index for index, draws, count in jobs}
        try:
            for future in as_completed(futures):
                # Dropped as it is yielded: a finished future holds its batch's arrays.
                yield futures.pop(future), _from_worker(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise


_WORKER: dict[str, object] = {}


def _worker_setup(fn: BatchFn, world: World, scenario: Scenario) -> None:
    """Keep a pool worker's batch function, world and scenario for all its batches."""
    _WORKER.update(fn=fn, world=world, scenario=scenario)


def _worker_batch(draws: Mapping[str, np.ndarray], count: int) -> dict[str, object]:
    fn: BatchFn = _WORKER["fn"]  # type: ignore[assignment]
    arrays = fn(_WORKER["world"], _WORKER["scenario"], draws, count)  # type: ignore[arg-type]
    return {k: _StepMajor(v) if _StepMajor.fits(v) else v for k, v in arrays.items()}


class _StepMajor:
    """A ``[S, T, ...]`` view of step-major memory, sent between processes as that memory:
    pickling the view would copy it sample by sample in the worker; the parent reads it as
    the view again (`_from_worker`) and its merge makes the one copy."""

    def __init__(self, view: np.ndarray) -> None:
        self.memory = np.swapaxes(view, 0, 1)

    @staticmethod
    def fits(a: np.ndarray) -> bool:
        return a.ndim >= 2 and not a.flags.c_contiguous and np.swapaxes(a, 0, 1).flags.c_contiguous


def _from_worker(arrays: Mapping[str, object]) -> dict[str, np.ndarray]:
    return {
        k: np.swapaxes(v.memory, 0, 1) if isinstance(v, _StepMajor) else v  # type: ignore[misc]
        for k, v in arrays.items()
    }


def _dask_map(
    fn: BatchFn, jobs: list[Job], world: World, scenario: Scenario, workers: int, scheduler: str
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    from dask.distributed import Client, LocalCluster
    from dask.distributed import as_completed as dask_completed

    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(
            n_workers=max(workers, 1), threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise InputError(
                f"cannot reach the Dask scheduler: {exc}",
                path="--scheduler",
                value=scheduler,
                has_value=True,
            ) from None
    try:
        world_f, scenario_f = client.scatter([world, scenario], broadcast=True)
        futures = [
            client.submit(fn, world_f, scenario_f, draws, count, pure=False)
            for _, draws, count in jobs
        ]
        index_of = {f.key: index for f, (index, _, _) in zip(futures, jobs)}
        for future in dask_completed(futures):
            yield index_of[future.key], future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


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
) -> SweepResult:
    """Run ``samples`` futures of ``scenario`` in batches; resume from ``store`` if given.

    ``draws`` replaces the drawn inputs (a design made elsewhere, e.g. by SALib)."""
    import time

    batch_size = batch_size or default_batch(samples, workers)
    check_size(world, scenario, samples, batch_size, workers)
    began = time.perf_counter()
    if draws is None:
        draws = sampling.draw(scenario, samples, seed, method)
    spans = _batches(samples, batch_size)
    saved = BatchStore(store) if store is not None else None
    # Batches are copied into the merged arrays as they come and then dropped, so that the
    # merged arrays are the only full-size copy held.
    merged = {k: Rows(samples) for k in ARRAYS}

    def keep(index: int, arrays: Mapping[str, np.ndarray]) -> None:
        a, b = spans[index]
        for k in ARRAYS:
            merged[k].put(a, b, arrays[k])
        if progress:
            progress(b - a)

    done: set[int] = set()
    resumed = 0
    if saved is not None:
        for i in range(len(spans)):
            if saved.has(i):
                keep(i, saved.load(i))
                done.add(i)
                resumed += 1
    jobs = [
        (i, {k: v[a:b] for k, v in draws.items()}, b - a)
        for i, (a, b) in enumerate(spans)
        if i not in done
    ]
    for index, arrays in _executor_map(batch_fn, jobs, world, scenario, workers, scheduler):
        if saved is not None:
            saved.save(index, arrays)
        keep(index, arrays)
        del arrays
    arrays = {k: v.value() for k, v in merged.items()}
    origin = dt.date(scenario.horizon.start.year, scenario.horizon.start.month, 1)
    steps = arrays["shortfall"].shape[1]
    buyers = pd.DataFrame(
        [(b.region, b.sector, b.material) for b in world.buyers],
        columns=["region", "sector", "material"],
    )
    return SweepResult(
        scenario=scenario,
        seed=seed,
        method=method,
        draws=draws,
        seeds=sampling.sample_seeds(seed, samples),
        arrays=arrays,
        dates=[month_start(origin, t) for t in range(steps)],
        buyers=buyers,
        batches=len(spans),
        resumed=resumed,
        wall_seconds=time.perf_counter() - began,
    )


# -- tables ---------------------------------------------------------------------------------
BLOCK_NUMBERS = 2**22  # float64 numbers in one block of `_stats` (32 MB)


def _column_blocks(samples: int, columns: int, chunk: int) -> list[slice]:
    """Blocks of at most ``chunk`` columns, fewer for many samples (a block holds about
    `BLOCK_NUMBERS` numbers), none of one column but a lone column (a one-column block
    would be summed in another order)."""
    width = max(2, min(chunk, BLOCK_NUMBERS // max(samples, 1)))
    bounds = list(range(0, columns, width)) + [columns]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        del bounds[-2]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]


def _stats(
    values: np.ndarray, chunk: int = 2048, transform: Callable[[slice], np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Mean and percentiles over the sample axis (axis 0), in float64, a block of columns at
    a time (memory stays near ``min(samples x chunk, BLOCK_NUMBERS)`` numbers; the blocks
    change no number). ``transform(cols)`` may supply the block instead of ``values``."""
    shape = values.shape[1:]
    flat = values.reshape(values.shape[0], -1)
    out = {name: np.empty(flat.shape[1]) for name in ("mean", *QUANTILES)}
    for cols in _column_blocks(flat.shape[0], flat.shape[1], chunk):
        block = (transform(cols) if transform is not None else flat[:, cols]).astype(np.float64)
        out["mean"][cols] = block.mean(axis=0)
        # A column whose samples all agree (no shortfall in any future, most of them) has
        # that value for every percentile; only the others are partitioned, along a
        # contiguous axis. The numbers are those of `np.percentile` on the whole block.
        low = block.min(axis=0)
        found = np.repeat(low[None], len(QUANTILES), axis=0)
        varies = np.flatnonzero(low != block.max(axis=0))
        if varies.size:
            found[:, varies] = np.percentile(
                np.ascontiguousarray(block[:, varies].T), list(QUANTILES.values()), axis=1
            )
        for name, row in zip(QUANTILES, found):
            out[name][cols] = row
    return {k: v.reshape(shape) for k, v in out.items()}


def summary_table(result: SweepResult) -> pd.DataFrame:
    """``date, region, sector, material, metric, mean, p05, p50, p95``: monthly shortfall
    (t) and shortfall share of demand by buyer, and prices by tier (region = tier)."""
    short, demand = result.arrays["shortfall"], result.arrays["demand"]
    S, T, B = short.shape
    flat_s, flat_d = short.reshape(S, -1), demand.reshape(S, -1)
    if flat_d.strides[0] == 0:  # one demand row stands for every sample (`Rows`)
        flat_d = flat_d[:1]

    def share(cols: slice) -> np.ndarray:
        s, d = flat_s[:, cols].astype(np.float64), flat_d[:, cols].astype(np.float64)
        return np.where(d > 0, s / np.where(d > 0, d, 1.0), 0.0)

    labels = result.buyers
    frames = []
    for metric, stats in (
        ("shortfall_t", _stats(short)),
        ("shortfall_share", _stats(short, transform=share)),
    ):
        frames.append(
            pd.DataFrame(
                {
                    "date": np.repeat(np.array(result.dates, dtype=object), B),
                    "region": np.tile(labels["region"].to_numpy(), T),
                    "sector": np.tile(labels["sector"].to_numpy(), T),
                    "material": np.tile(labels["material"].to_numpy(), T),
                    "metric": metric,
                    **{k: v.ravel() for k, v in stats.items()},
                }
            )
        )
    prices = result.arrays["prices"]
    P, K = prices.shape[2:]
    stats = _stats(prices)
    frames.append(
        pd.DataFrame(
            {
                "date": np.repeat(np.array(result.dates, dtype=object), P * K),
                "region": np.tile(np.array(TIERS, dtype=object), T * P),
                "sector": "",
                "material": np.tile(np.repeat(np.array(PRICE_PRODUCTS, dtype=object), K), T),
                "metric": "price_usd_per_kg",
                **{k: v.ravel() for k, v in stats.items()},
            }
        ).dropna(subset=["mean"])
    )
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(
        ["metric", "date", "region", "sector", "material"], kind="stable"
    ).reset_index(drop=True)


def _sum_steps(values: np.ndarray, block: int = 1024) -> np.ndarray:
    """``values[S, T, ...]`` summed over steps in float64, a block of samples at a time (a
    sample's sum is the same whatever the block)."""
    out = np.empty((values.shape[0], *values.shape[2:]))
    for a in range(0, values.shape[0], block):
        out[a : a + block] = values[a : a + block].astype(np.float64).sum(axis=1)
    return out


def cumulative(result: SweepResult) -> np.ndarray:
    """Each sample's shortfall summed over the horizon, ``[S, B]``."""
    return _sum_steps(result.arrays["shortfall"])


def totals_table(result: SweepResult) -> pd.DataFrame:
    """Cumulative shortfall over the horizon by buyer: mean and percentiles, and the share
    of samples with any shortfall."""
    total = cumulative(result)
    demand = _sum_steps(result.arrays["demand"][:1])  # the first sample's is used
    stats = _stats(total)
    frame = result.buyers.copy()
    frame["metric"] = "cumulative_shortfall_t"
    for k, v in stats.items():
        frame[k] = v
    frame["share_of_demand_mean"] = np.where(
        demand[0] > 0, stats["mean"] / np.where(demand[0] > 0, demand[0], 1.0), 0.0
    )
    frame["probability_short"] = (total > 0.5).mean(axis=0)
    return frame.sort_values(["region", "sector", "material"]).reset_index(drop=True)


def parameters_table(result: SweepResult) -> pd.DataFrame:
    """One row a sample: its index, its seed and every drawn input (dates as dates)."""
    frame = pd.DataFrame(
        {"sample": np.arange(result.samples), "seed": result.seeds.astype(np.uint64)}
    )
    by_path = {u.path: u for u in result.scenario.uncertain}
    for path, values in result.draws.items():
        u = by_path.get(path)
        if u is not None and u.dist.is_date:
            frame[path] = [dt.date.fromordinal(int(v)).isoformat() for v in values]
        else:
            frame[path] = values
    return frame


def comparison_table(a: SweepResult, b: SweepResult) -> pd.DataFrame:
    """Cumulative shortfall by buyer in A and B and their difference future by future
    (B - A; the two sweeps share the draws of their shared inputs)."""
    if a.samples != b.samples:
        raise ValueError("comparison needs the same number of samples")
    ta, tb = cumulative(a), cumulative(b)
    diff = tb - ta
    frame = a.buyers.copy()
    frame["a_mean"], frame["b_mean"] = ta.mean(axis=0), tb.mean(axis=0)
    for name, stats in (("diff", _stats(diff)),):
        for k, v in stats.items():
            frame[f"{name}_{k}"] = v
    frame["probability_b_lower"] = (diff < -0.5).mean(axis=0)
    frame["probability_b_higher"] = (diff > 0.5).mean(axis=0)
    return frame.sort_values(["region", "sector", "material"]).reset_index(drop=True)

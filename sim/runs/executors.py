"""Where a sweep's batches run: in this process or in a local process pool (a Dask cluster is
`sim.runs.dask_executor`); results are yielded as batches end, in any order.

Every process that runs batches holds one `BatchWorker`: the batch function, the sweep's world
and scenario, and a `HistoryCache` of its own, kept for all the batches it runs, so that they
simulate the steps every sample shares once (`sim.runs.engine.HistoryCache`). The sweep makes
the worker of this process; a pool process gets a copy when it starts (its cache starts empty)
and keeps it until the pool, which lives as long as the sweep, shuts down.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np

from sim.config.scenario import Scenario
from sim.runs.engine import HistoryCache
from sim.world.world import World

Job = tuple[int, dict[str, np.ndarray], int]  # a batch's index, its draws and its sample count
BatchFn = Callable[
    [World, Scenario, Mapping[str, np.ndarray], int, HistoryCache], dict[str, np.ndarray]
]


@dataclass
class BatchWorker:
    """Runs batches of one sweep in one process: ``fn(world, scenario, draws, count,
    histories)``, with this process's own shared histories."""

    fn: BatchFn
    world: World
    scenario: Scenario
    histories: HistoryCache = field(default_factory=HistoryCache)

    def __call__(self, draws: Mapping[str, np.ndarray], count: int) -> dict[str, np.ndarray]:
        return self.fn(self.world, self.scenario, draws, count, self.histories)


def local_map(
    worker: BatchWorker, jobs: list[Job], workers: int
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Run each job by ``worker`` in this process, or on a pool of ``workers`` processes;
    yield (index, result) as each ends, in whatever order they end."""
    if workers <= 1:
        for index, draws, count in jobs:
            yield index, worker(draws, count)
    else:
        yield from _pool_map(worker, jobs, workers)


def _pool_map(
    worker: BatchWorker, jobs: list[Job], workers: int
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """The jobs on a pool of ``workers`` processes. The batch worker (world, scenario and an
    empty cache) goes to each process once, when it starts, not with every batch."""
    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), initializer=_pool_setup, initargs=(worker,)
    ) as pool:
        futures = {pool.submit(_pool_batch, draws, count): index for index, draws, count in jobs}
        try:
            for future in as_completed(futures):
                # Dropped as it is yielded: a finished future holds its batch's arrays.
                yield futures.pop(future), _from_worker(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise


# The batch worker of a pool process, set once by `_pool_setup` when the process starts and
# kept, with its cache, for the process's life: one sweep's pool. The parent never sets it.
_POOL_PROCESS_WORKER: list[BatchWorker] = []


def _pool_setup(worker: BatchWorker) -> None:
    _POOL_PROCESS_WORKER[:] = [worker]
    watch_parent()


PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h): the signal this process gets when its
# parent ends


def watch_parent(every_seconds: float = 0.5) -> None:
    """End this process when its parent (the sweep's process) ends, however it ends: a pool
    process orphaned by a killed sweep would otherwise run on, holding its memory, for
    nobody. On Linux the kernel kills it at once (even inside a compiled kernel); elsewhere,
    and as a second guard, a daemon thread sees the parent change and exits."""
    parent = os.getppid()
    _die_with_parent()
    thread = threading.Thread(
        target=_poll_parent, args=(parent, every_seconds), name="watch-parent", daemon=True
    )
    thread.start()


def _die_with_parent() -> None:
    """Ask Linux to send SIGKILL to this process when its parent ends (prctl)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _poll_parent(parent: int, every_seconds: float) -> None:
    """Return only by ending the process, once its parent is no longer ``parent`` (an orphan
    is adopted by init or a subreaper, so its parent's id changes)."""
    while os.getppid() == parent:
        time.sleep(every_seconds)
    os._exit(1)


def _pool_batch(draws: Mapping[str, np.ndarray], count: int) -> dict[str, object]:
    arrays = _POOL_PROCESS_WORKER[0](draws, count)
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

"""A sweep's batches on a Dask cluster: a local one, or a running scheduler's. Imported only
when a sweep names a scheduler (Dask is slow to import).

The sweep's `BatchWorker` (world, scenario and an empty `HistoryCache`) reaches every Dask
worker once, as a worker plugin registered under a name of the sweep's own; each worker keeps
its copy, and so its shared histories, for all the batches it runs, and the plugin is removed
when the sweep ends.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping

import dask
import numpy as np
from dask.distributed import Client, LocalCluster, WorkerPlugin, get_worker
from dask.distributed import as_completed as dask_completed

from sim.errors import bad_value
from sim.runs.executors import BatchWorker, Job


class SweepPlugin(WorkerPlugin):
    """Carries one sweep's batch worker to each Dask worker."""

    def __init__(self, worker: BatchWorker) -> None:
        self.worker = worker


def _dask_batch(plugin: str, draws: Mapping[str, np.ndarray], count: int) -> dict[str, np.ndarray]:
    """One batch on a Dask worker, by the batch worker its sweep's plugin brought."""
    found: SweepPlugin = get_worker().plugins[plugin]  # type: ignore[assignment]
    return found.worker(draws, count)


def dask_map(
    worker: BatchWorker, jobs: list[Job], workers: int, scheduler: str
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """The jobs on a local cluster of ``workers`` processes (``scheduler`` "local") or on the
    cluster of the scheduler at ``scheduler``; yield (index, result) as each ends."""
    client, cluster, scratch = _connect(scheduler, workers)
    plugin = f"sim-sweep-{uuid.uuid4().hex}"
    try:
        client.register_plugin(SweepPlugin(worker), name=plugin)
        futures = [
            client.submit(_dask_batch, plugin, draws, count, pure=False) for _, draws, count in jobs
        ]
        index_of = {f.key: index for f, (index, _, _) in zip(futures, jobs)}
        for future in dask_completed(futures):
            yield index_of[future.key], future.result()
    finally:
        with contextlib.suppress(Exception):  # a lost connection must not hide the first error
            client.unregister_worker_plugin(plugin)
        client.close()
        if cluster is not None:
            cluster.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _connect(scheduler: str, workers: int) -> tuple[Client, LocalCluster | None, str | None]:
    """A client of a new local cluster, or of the scheduler at an address. A local cluster
    opens no dashboard and keeps its workers' scratch space in a folder of its own, removed
    when it closes (Dask's default, ``$TMPDIR/dask-scratch-space``, stays behind).

    ``dashboard_address=None`` turns the dashboard off but the scheduler still serves its
    plain HTTP routes on port 8787 (dask/distributed#8136, #7207), so they are put on a free
    loopback port instead: nothing listens on 8787 or beyond this machine."""
    if scheduler == "local":
        scratch = tempfile.mkdtemp(prefix="sim-dask-")
        try:
            with dask.config.set({"temporary-directory": scratch}):
                cluster = LocalCluster(
                    n_workers=max(workers, 1),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    local_directory=scratch,
                )
            return Client(cluster), cluster, scratch
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    try:
        return Client(scheduler, timeout="10s"), None, None
    except (OSError, ValueError, TypeError) as exc:  # unreachable, or not an address
        raise bad_value(
            f"cannot reach the Dask scheduler: {exc}", "--scheduler", scheduler
        ) from None

"""The store of a sweep's finished batches: one ``.npz`` file a batch, written atomically, so
that an interrupted sweep resumes where it stopped; and the key that says when stored batches
may be reused."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from sim.version import __version__

ARRAYS = ("shortfall", "demand", "prices", "residual")  # what a batch holds (`run_batch`)


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

"""The store of a sweep's finished batches: one ``.npz`` file a batch, written atomically, so
that an interrupted sweep resumes where it stopped; and the key that says when stored batches
may be reused.

A batch file records what it is: its index and sample range, the identity of the sweep that
wrote it (a hash of the world, the scenario, the seed, the method, the draws and the batch
size) and a checksum of its arrays. A file that cannot be read, is truncated, holds arrays of
the wrong shape or another sweep's batch (copied over, or left by an older version) is not
trusted: `BatchStore.load` raises `BadBatch` saying why, and the sweep runs that batch again.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sim.version import __version__

#: A store's folder name: ``.sweep-KEY`` beside default folders, ``.NAME.sweep-KEY`` beside
#: ``--out NAME`` (`sim.io.report.sweep_store`).
STORE_NAME = re.compile(r"\.(?:.+\.)?sweep-[0-9a-f]{16}")
ARRAYS = (
    "shortfall",
    "demand",
    "prices",
    "residual",
    "policy_usd",
)  # what a batch holds (`run_batch`)
META = "__batch__"  # the name of a batch file's record of itself (JSON text)


class BadBatch(Exception):
    """A stored batch that cannot be trusted; the message says why. Caught by the sweep,
    which runs the batch again: never seen by a user as an error."""


def sweep_key(
    scenario_hash: str, data_hash: str, samples: int, seed: int, method: str, batch_size: int
) -> str:
    """Identity of a sweep's batches: the same key means the stored batches can be reused."""
    text = json.dumps([scenario_hash, data_hash, samples, seed, method, batch_size, __version__])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def sweep_identity(
    world: object, scenario: Any, seed: int, method: str, batch_size: int, draws: Mapping[str, Any]
) -> str:
    """What a batch's numbers depend on, hashed: the world, the scenario, the seed, the
    method, the batch size (which decides the sample ranges), the draws and the version."""
    digest = hashlib.sha256(pickle.dumps(world))
    digest.update(scenario.model_dump_json().encode())
    digest.update(json.dumps([seed, method, batch_size, __version__]).encode())
    for name in sorted(draws):
        digest.update(name.encode() + np.ascontiguousarray(draws[name], dtype=float).tobytes())
    return digest.hexdigest()


def checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over every array's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


class BatchStore:
    """Finished batches of one sweep (of ``identity``), one ``.npz`` file each, written
    atomically and checked when read."""

    def __init__(self, folder: Path, identity: str = "") -> None:
        self.folder, self.identity = folder, identity
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, index: int) -> Path:
        return self.folder / f"batch-{index:06d}.npz"

    def has(self, index: int) -> bool:
        return self.path(index).is_file()

    def save(self, index: int, span: tuple[int, int], arrays: Mapping[str, np.ndarray]) -> None:
        """Write batch ``index`` (samples ``span[0]`` to ``span[1] - 1``) with its record."""
        record = self._record(index, span)
        record["checksum"] = checksum(arrays)
        _write_npz(self.path(index), {**arrays, META: np.array(json.dumps(record))})

    def load(self, index: int, span: tuple[int, int]) -> dict[str, np.ndarray]:
        """Batch ``index``'s arrays, if its file is whole and is this sweep's batch of
        samples ``span``; else `BadBatch`."""
        stored = _read_npz(self.path(index))
        self._check(stored, index, span)
        return {k: stored[k] for k in ARRAYS}

    def _record(self, index: int, span: tuple[int, int]) -> dict[str, Any]:
        return {"index": index, "first": span[0], "last": span[1], "sweep": self.identity}

    def _check(self, stored: dict[str, np.ndarray], index: int, span: tuple[int, int]) -> None:
        """Raise `BadBatch` unless ``stored`` is whole and this sweep's batch ``index``."""
        record = _own_record(stored)
        self._check_identity(record, index, span)
        if record.get("checksum") != checksum(stored):
            raise BadBatch("its checksum does not match its contents")
        _check_rows(stored, span)

    def _check_identity(self, record: dict[str, Any], index: int, span: tuple[int, int]) -> None:
        """Raise `BadBatch` unless ``record`` says its file is this sweep's batch ``index``."""
        expected = self._record(index, span)
        if {k: record.get(k) for k in expected} != expected:
            raise BadBatch("it is another sweep's or another batch's")


def _write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Save ``arrays`` to ``path`` atomically: into a temporary file beside it, renamed."""
    fd, tmp = tempfile.mkstemp(prefix=".batch-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file; `BadBatch` if it cannot be read whole."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise BadBatch(f"unreadable ({type(exc).__name__})") from None


def _own_record(stored: dict[str, np.ndarray]) -> dict[str, Any]:
    """The record a batch file keeps of itself, taken out of ``stored``; `BadBatch` if none."""
    try:
        record = json.loads(str(stored.pop(META)))
    except (KeyError, ValueError):
        record = None
    if not isinstance(record, dict):
        raise BadBatch("it does not say which batch it is")
    return record


def _check_rows(stored: dict[str, np.ndarray], span: tuple[int, int]) -> None:
    """`BadBatch` unless each of `ARRAYS` is there, with one row standing for all the
    samples of ``span`` or one row a sample."""
    rows = ((1,), (span[1] - span[0],))
    if any(k not in stored or stored[k].shape[:1] not in rows for k in ARRAYS):
        raise BadBatch("its arrays are not a batch's")


def find_stores(root: Path) -> list[Path]:
    """The sweep stores under ``root`` (or ``root`` itself), sorted; links are not followed.

    A sweep removes its store when it completes, so each one found was left by a sweep that
    was interrupted or failed (or is running now)."""
    if STORE_NAME.fullmatch(root.name) and _is_folder(root):
        return [root]
    found = []
    for folder, subfolders, _ in os.walk(root):
        kept = [name for name in subfolders if STORE_NAME.fullmatch(name)]
        found += [Path(folder) / name for name in kept if _is_folder(Path(folder) / name)]
        subfolders[:] = [name for name in subfolders if name not in kept]
    return sorted(found)


def _is_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def store_size(store: Path) -> tuple[int, float]:
    """Bytes in ``store``'s files, and seconds since the newest of them (or the folder)
    changed."""
    files = [p for p in store.iterdir() if p.is_file() and not p.is_symlink()]
    changed = max([store.stat().st_mtime, *(p.stat().st_mtime for p in files)])
    return sum(p.stat().st_size for p in files), time.time() - changed


def remove_store(store: Path) -> None:
    """Delete a store found by `find_stores`."""
    if not (STORE_NAME.fullmatch(store.name) and _is_folder(store)):
        raise ValueError(f"{store} is not a sweep store")
    shutil.rmtree(store)

"""``sim clean`` (issue 18): lists the resume stores interrupted sweeps left, and with
``--delete`` removes those idle for ten minutes; nothing else is touched."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sim.io.cli import main

OLD, RECENT = ".sweep-0123456789abcdef", ".out.sweep-fedcba9876543210"


def tree(root: Path) -> dict[str, Path]:
    """Results with an old store, a recent one, a folder that only looks like one, and a
    link to a store elsewhere (never followed)."""
    paths = {
        "old": root / "baseline" / OLD,
        "recent": root / "runs" / RECENT,
        "other": root / "runs" / ".sweep-notakey",
        "outside": root.parent / "outside" / OLD,
    }
    for path in paths.values():
        path.mkdir(parents=True)
        (path / "batch-000000.npz").write_bytes(b"x" * 1000)
    (root / "linked").symlink_to(paths["outside"].parent)
    hours_ago = time.time() - 7200
    for path in (paths["old"], paths["old"] / "batch-000000.npz"):
        os.utime(path, (hours_ago, hours_ago))
    return paths


def test_clean_lists_stores_and_removes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = tree(tmp_path / "results")
    assert main(["clean", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert str(paths["old"]) in out and str(paths["recent"]) in out
    assert "notakey" not in out and "outside" not in out
    assert "found 0.0 MB" in out
    assert all(p.exists() for p in paths.values())


def test_clean_delete_removes_idle_stores_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = tree(tmp_path / "results")
    assert main(["clean", str(tmp_path / "results"), "--delete"]) == 0
    out = capsys.readouterr().out
    assert not paths["old"].exists()
    assert paths["recent"].exists() and "kept (a sweep may be using it)" in out
    assert paths["other"].exists() and paths["outside"].exists()


def test_an_interrupted_sweeps_store_is_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.io.report import sweep_store

    store = sweep_store(tmp_path / "results" / "s" / "x-sweep", "0" * 16, True)
    store.mkdir(parents=True)
    assert main(["clean", str(tmp_path / "results")]) == 0
    assert str(store) in capsys.readouterr().out

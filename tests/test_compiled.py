"""The first run of a copy of sim: one-sample commands run the kernels uncompiled (the same
numbers) while a background process compiles them, once (`sim.io.compiled`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sim.io import compiled
from sim.io.cli import main

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "sim"
SCENARIO = """\
name: first
horizon: {start: 2024-01-01, end: 2025-12-31}
events:
  - {kind: export_control, exporter: CN, destinations: all, elements: [Dy, Tb],
     forms: [oxide, metal, magnet], mode: licence, approval_rate: 0.4, start: 2024-07-01}
"""


def test_the_kernel_modules_are_every_module_with_a_kernel() -> None:
    # the fingerprint covers every file numba compiles from: a change there starts afresh
    with_kernels = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if re.search(r"^@njit", path.read_text(), re.MULTILINE)
    }
    assert with_kernels == set(compiled.KERNEL_MODULES)


def _choose(cache: Path, argv: list[str]) -> list[str]:
    """What `compiled.uncompiled` returns for ``argv`` in a fresh process, and the
    ``NUMBA_DISABLE_JIT`` it leaves, with numba's cache in ``cache``."""
    code = (
        "import os, sys, json; from sim.io.compiled import uncompiled; "
        "print(json.dumps([uncompiled(sys.argv[1:]), os.environ.get('NUMBA_DISABLE_JIT')]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"}
    env["NUMBA_CACHE_DIR"] = str(cache)
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def _warming(cache: Path) -> Path:
    """A warm-up under way (its lock file), so that no test starts a real one."""
    cache.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    code = "from sim.io.compiled import fingerprint; print(fingerprint())"
    digest = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    lock = cache / f"warming-{digest}"
    lock.touch()
    return lock


def test_a_first_run_goes_uncompiled_and_a_later_one_compiled(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    lock = _warming(cache)
    assert _choose(cache, ["run", "x.yaml"]) == [True, "1"]
    assert _choose(cache, ["sweep", "x.yaml", "-n", "9"]) == [False, None]  # sweeps compile
    assert _choose(cache, ["--quiet", "validate", "x.yaml"]) == [False, None]
    (cache / lock.name.replace("warming-", "ready-")).touch()  # the warm-up's mark
    assert _choose(cache, ["run", "x.yaml"]) == [False, None]


def test_the_uncompiled_kernels_give_the_same_numbers(tmp_path: Path) -> None:
    scenario = tmp_path / "first.yaml"
    scenario.write_text(SCENARIO)
    compiled_out, python_out = tmp_path / "compiled", tmp_path / "python"
    assert main(["run", str(scenario), "--out", str(compiled_out), "--format", "csv"]) == 0
    cache = tmp_path / "cache"
    _warming(cache)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"}
    env |= {"NUMBA_CACHE_DIR": str(cache), "MPLBACKEND": "Agg"}
    argv = ["run", str(scenario), "--out", str(python_out), "--format", "csv"]
    done = subprocess.run(
        [sys.executable, "-m", "sim", *argv], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "ran its kernels uncompiled" in done.stderr and "already under way" in done.stderr
    for name in ("shortfall.csv", "prices.csv", "flows.csv", "stocks.csv", "production.csv"):
        assert (python_out / name).read_bytes() == (compiled_out / name).read_bytes(), name


def test_the_warm_up_compiles_and_leaves_its_mark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))  # the mark's folder (numba's is set)
    assert not compiled.mark().exists()
    compiled.warm()
    assert compiled.mark().exists()


def test_a_cache_folder_that_cannot_be_written_is_said_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocked / "numba"))
    note = compiled.compile_later()
    assert "cannot be compiled for later runs" in note


def test_the_warm_up_compiles_the_copy_that_ran_not_one_in_the_users_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # run from a clone's root after `pip install .`, the warm-up compiled (and marked) the
    # clone's `sim/`, so the installed copy's runs never found their mark
    decoy = tmp_path / "clone"
    (decoy / "sim").mkdir(parents=True)
    (decoy / "sim" / "__init__.py").write_text("")
    monkeypatch.chdir(decoy)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    started: list[dict] = []
    popen = subprocess.Popen
    monkeypatch.setattr(
        compiled.subprocess, "Popen", lambda argv, **kw: started.append({"argv": argv, **kw})
    )
    compiled.start_warming()
    monkeypatch.setattr(compiled.subprocess, "Popen", popen)  # (the same module's)
    (launch,) = started
    assert launch["argv"][1:3] == ["-m", "sim.io.compiled"]
    found = subprocess.run(
        [sys.executable, "-c", "import sim; print(sim.__file__)"],
        cwd=launch.get("cwd"),
        env=launch["env"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found).resolve() == PACKAGE.resolve() / "__init__.py"

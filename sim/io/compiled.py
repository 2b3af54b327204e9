"""The compiled kernels (the markets', and a sweep's tables'): a first run that does not wait
for them to compile.

The kernels (numba, ``cache=True``) take ~45 s to compile on a 2-core machine, once per
installed copy of the package; later runs load them from numba's cache in the user's cache
folder (`sim.__init__`) in well under a second. A one-sample command (``sim run``, ``sim
backtest``) run from the command line before that cache is ready runs the same kernels as
plain Python instead (numba's ``NUMBA_DISABLE_JIT``: the same code, the same numbers to the
last bit, a few seconds for a run), and, once it has succeeded, starts one background process
that compiles them (`warm`) for the runs after it. Many-sample commands (sweeps) and the
Python API always compile: there the compiled loops pay for themselves at once.

The cache is ready when `warm` has left its mark (`mark`): a file named by a digest of what
the compiled code depends on (the kernels' source files and where they are installed, numba's
and Python's versions, the machine), so a new version or another copy starts afresh.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

#: The modules that hold compiled kernels (``@njit``), from the package's folder
#: (`tests/test_compiled.py` checks that no other module has one).
KERNEL_MODULES = (
    "market/allocation_kernels.py",
    "market/buying_kernels.py",
    "market/cap_kernels.py",
    "market/grouping_kernels.py",
    "market/net_kernels.py",
    "market/round_kernels.py",
    "market/shipping_kernels.py",
    "market/tier_kernels.py",
    "market/use_kernels.py",
    "model/kernels.py",
    "runs/sweep_kernels.py",
)
#: Commands that run one sample: uncompiled kernels finish them sooner than compiling would.
ONE_SAMPLE = ("run", "backtest")
#: A warm-up started longer ago than this has died: another may start.
STALE_S = 15 * 60
PACKAGE = Path(__file__).resolve().parent.parent


def cache_folder() -> Path:
    """Numba's cache folder (``NUMBA_CACHE_DIR``, set by `sim.__init__`)."""
    return Path(os.environ["NUMBA_CACHE_DIR"])


def fingerprint() -> str:
    """A digest of what the compiled kernels depend on."""
    from importlib import metadata

    digest = hashlib.sha256()
    for part in (
        str(PACKAGE),
        metadata.version("numba"),
        sys.version,
        platform.machine(),
    ):
        digest.update(part.encode() + b"\0")
    for module in KERNEL_MODULES:
        digest.update((PACKAGE / module).read_bytes())
    return digest.hexdigest()[:16]


def mark() -> Path:
    """The file whose presence says the kernels of this copy are compiled and cached."""
    return cache_folder() / f"ready-{fingerprint()}"


def uncompiled(argv: Sequence[str]) -> bool:
    """Before the command line runs ``argv``: whether it is a one-sample command and the
    kernels are not compiled yet, in which case they are set to run uncompiled. Call before
    numba is imported (numba reads ``NUMBA_DISABLE_JIT`` once); a user's own
    ``NUMBA_DISABLE_JIT`` stands."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in ONE_SAMPLE or "NUMBA_DISABLE_JIT" in os.environ or "numba" in sys.modules:
        return False
    if mark().exists():
        return False
    os.environ["NUMBA_DISABLE_JIT"] = "1"
    return True


def compile_later() -> str:
    """After a command that ran the kernels uncompiled: start compiling them in the
    background (not before, so as not to slow that command); the note to print."""
    try:
        log = start_warming()
    except OSError as exc:  # a cache folder that cannot be written: runs stay uncompiled
        return f"note: the kernels ran uncompiled and cannot be compiled for later runs ({exc})"
    where = f"; log: {log}" if log is not None else ", already under way"
    return (
        "note: this first run of this copy of sim ran its kernels uncompiled (a few seconds "
        f"slower); they are compiling in the background for later runs (~1 min{where})"
    )


def start_warming() -> Path | None:
    """Start `warm` in a process of its own, unless one started less than `STALE_S` ago;
    its log file, or ``None`` if one is under way."""
    folder = cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / f"warming-{fingerprint()}"
    if not claim(lock, STALE_S):
        return None
    log = folder / f"warming-{fingerprint()}.log"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"}
    launch("sim.io.compiled", str(lock), log, env)
    return log


def claim(lock: Path, stale_s: float) -> bool:
    """Create the file ``lock``, unless one created less than ``stale_s`` seconds ago is
    there (a process started by another command is under way); whether it was created."""
    try:
        if time.time() - lock.stat().st_mtime < stale_s:
            return False
        lock.unlink()
    except FileNotFoundError:
        pass
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:  # another command created it just now
        return False
    return True


def launch(module: str, argument: str, log: Path, env: dict[str, str] | None = None) -> None:
    """Start ``python -m MODULE ARGUMENT`` of this copy of sim in a session of its own (it
    outlives the command and its Ctrl-C), its output to ``log``."""
    with open(log, "w") as out:
        subprocess.Popen(
            [sys.executable, "-m", module, argument],
            # from the folder this copy of sim is in, which ``-m`` searches first: the same
            # copy, whatever folder the user is in (a clone's own ``sim/`` beside an
            # installed copy would otherwise be run instead)
            cwd=PACKAGE.parent,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


#: What `warm` runs to compile every kernel with the types runs and sweeps call them with: a
#: run under two export controls (a licence, its approvals uncertain, and a ban), and a
#: small sweep of it with the tables that use kernels.
WARM_SCENARIO = """
name: warm-up
horizon: {start: 2024-01-01, end: 2025-06-30}
events:
  - kind: export_control
    exporter: CN
    destinations: all
    elements: [Tb, Dy]
    forms: [oxide, metal, magnet]
    mode: licence
    approval_rate: {dist: uniform, low: 0.25, high: 0.6}
    start: 2024-06-01
  - kind: export_control
    exporter: CN
    destinations: [US]
    forms: [magnet]
    mode: ban
    start: 2024-09-01
"""


def warm() -> None:
    """Compile and cache every kernel (a run and a small sweep), then leave the mark."""
    from sim.io.scenario_files import load_scenario
    from sim.runs.engine import run
    from sim.runs.sweep import sweep
    from sim.runs.sweep_costs import sweep_extra_cost_table
    from sim.runs.sweep_resilience import sweep_resilience_table
    from sim.runs.windows import BY_YEAR
    from sim.world.loader import vintage_world

    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "warm-up.yaml"
        path.write_text(WARM_SCENARIO)
        scenario = load_scenario(path)
        world = vintage_world(scenario.world)
        run(world, scenario)
        swept = sweep(world, scenario, 3, seed=0)
        sweep_resilience_table(swept)  # the tables' kernels too
        sweep_extra_cost_table(swept, world, BY_YEAR)
    done = mark()
    done.write_text(f"compiled in {time.perf_counter() - began:.0f} s\n")
    print(f"kernels compiled and cached: {done}")


if __name__ == "__main__":  # started by `start_warming`, with its lock file's path
    if hasattr(os, "nice"):  # POSIX: the user's own commands first
        os.nice(10)
    try:
        if Path(sys.argv[1]).name != f"warming-{fingerprint()}":
            sys.exit(f"not the copy of sim that asked for it: {PACKAGE}")
        warm()
    finally:
        Path(sys.argv[1]).unlink(missing_ok=True)

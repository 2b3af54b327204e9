"""A chart drawn in a second process while the command writes its tables.

Drawing a run's chart costs ~0.7 s (matplotlib's import, then Agg's drawing and the PNG),
as much as building and writing its tables, and both hold the interpreter. `ChartProcess`
starts a Python process at once, which imports `sim.io.plotting` while the command loads
and simulates, then waits on its standard input for one drawing: the name of a
`sim.io.plotting` function (or ``module.function``) and its arguments, pickled. The command
sends it as soon as the chart's data is ready and writes its tables meanwhile;
`ChartProcess.finish` waits for the picture (before the results folder is renamed into place)
and passes on the warnings it raised.

Where `sim.io.plotting` is loaded already (a command run by a warm server, `sim.io.server`),
there is nothing to import: the second process is a fork of the command, made when the
drawing is sent, which draws from the data it shares and sends back its warnings.

The second process only saves time, never output: if it cannot start, dies or fails, the
chart is drawn in the command's own process, where a real error is raised as any other.
`in_process` draws at once, for the Python API and the tests.
"""

from __future__ import annotations

import argparse
import functools
import os
import pickle
import signal
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
PLOTTING = "sim.io.plotting"
#: The second process's program: this copy of the package (not one in the working folder),
#: then `serve`.
SERVE = """import sys
sys.path[:] = [p for p in sys.path if p not in ("", ".")]
if {root!r} not in sys.path:
    sys.path.insert(0, {root!r})
from sim.io.chart_process import serve
sys.exit(serve({modules!r}))
"""


class Charts(Protocol):
    """Where a command's chart is drawn."""

    def draw(self, name: str, *args: Any) -> None:
        """Draw with the function ``name`` (`drawing`) and ``args``."""

    def finish(self) -> None:
        """Return once what `draw` was given is written."""


class InProcess:
    """Charts drawn at once, in this process."""

    def draw(self, name: str, *args: Any) -> None:
        drawing(name)(*args)

    def finish(self) -> None:
        pass


in_process = InProcess()


def drawing(name: str) -> Callable[..., None]:
    """The function that draws: ``name`` in `sim.io.plotting`, or ``module.function``."""
    import importlib

    module, _, function = name.rpartition(".")
    found: Callable[..., None] = getattr(importlib.import_module(module or PLOTTING), function)
    return found


class ChartProcess:
    """Charts drawn in a second process (a context manager that stops it on leaving), which
    imports ``modules`` beside plotting while it waits: those the drawing's arguments need
    to be unpickled (a `sim.runs.backtest.Backtest`'s)."""

    def __init__(self, modules: tuple[str, ...] = (), forks: bool | None = None) -> None:
        """``forks``: draw in a fork of this process (default: where `sim.io.plotting` is
        loaded already and processes can fork) rather than in a new one."""
        self._job: tuple[str, tuple[Any, ...]] | None = None
        program = SERVE.format(root=str(PACKAGE_ROOT), modules=list(modules))
        self._process: subprocess.Popen[bytes] | None = None
        self._fork: tuple[int, int] | None = None  # a fork's pid and its pipe's reading end
        if forks is None:
            forks = PLOTTING in sys.modules and hasattr(os, "fork")
        self._forks = forks
        if self._forks or getattr(sys, "frozen", False) or not sys.executable:
            return  # loaded: a fork draws; or a bundled or embedded app
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", program],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # a failure is redone here, error and all
            )
        except OSError:
            self._process = None

    def __enter__(self) -> ChartProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def draw(self, name: str, *args: Any) -> None:
        """Send the drawing to the second process (or draw it here if that one is gone)."""
        self._job = (name, args)
        if self._forks:
            self._fork = _forked(name, args)
            if self._fork is None:
                self._here()
            return
        if self._process is None or self._process.stdin is None:
            self._here()
            return
        try:
            pickle.dump(self._job, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._process.stdin.close()
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            self._here()  # it died, or an argument will not pickle

    def finish(self) -> None:
        """Wait for the drawing; its warnings are raised here; drawn here if it failed."""
        if self._job is not None and self._fork is not None:
            pid, reading = self._fork
            self._fork = None
            with os.fdopen(reading, "rb") as pipe:
                out = pipe.read()
            if os.waitpid(pid, 0)[1] != 0:
                self._here()
                return
        elif self._job is None or self._process is None or self._process.stdout is None:
            return
        else:
            out = self._process.stdout.read()  # its standard error is dropped: nothing to read
            if self._process.wait() != 0:
                self._here()
                return
        self._job = None
        try:
            raised = pickle.loads(out)
        except Exception:  # noqa: BLE001 (the picture is written; only its warnings are lost)
            raised = []
        for category, message in raised:
            warnings.warn(message, category, stacklevel=2)

    def stop(self) -> None:
        """Stop the second process if it still runs (the command ended or failed)."""
        if self._fork is not None:
            pid, reading = self._fork
            self._fork = None
            os.close(reading)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def _here(self) -> None:
        """Draw the job in this process, the second one being gone."""
        assert self._job is not None
        self.stop()
        self._process = None
        in_process.draw(self._job[0], *self._job[1])
        self._job = None


def _forked(name: str, args: tuple[Any, ...]) -> tuple[int, int] | None:
    """A fork of this process that draws with ``name`` and ``args`` and writes the warnings
    it raised to a pipe, pickled: its pid and the pipe's reading end (``None`` if there can
    be no fork). It exits with status 1 if the drawing fails."""
    try:
        reading, writing = os.pipe()
        with warnings.catch_warnings():  # Python 3.12 warns of forks beside BLAS's threads
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except OSError:
        return None
    if pid != 0:
        os.close(writing)
        return pid, reading
    status = 1
    try:
        os.close(reading)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            drawing(name)(*args)
        with os.fdopen(writing, "wb") as out:
            out.write(pickle.dumps([(w.category, str(w.message)) for w in caught]))
        status = 0
    finally:
        os._exit(status)  # neither this process's tests nor its buffers: only the picture


Command = Callable[[argparse.Namespace], int]


def charted(*modules: str) -> Callable[[Callable[[argparse.Namespace, Charts], int]], Command]:
    """A command of the command line that draws its charts in a `ChartProcess` (importing
    ``modules`` as it waits), started as the command starts and stopped when it ends."""

    def wrap(command: Callable[[argparse.Namespace, Charts], int]) -> Command:
        @functools.wraps(command)
        def charting(args: argparse.Namespace) -> int:
            with ChartProcess(modules) as charts:
                return command(args, charts)

        return charting

    return wrap


def serve(modules: list[str] | tuple[str, ...] = ()) -> int:
    """The second process: import plotting and ``modules``, then draw the one job read from
    standard input and write the warnings it raised to standard output, pickled. Exits
    quietly if its command ended without sending one."""
    import importlib

    for module in (PLOTTING, *modules):
        importlib.import_module(module)

    try:
        name, args = pickle.load(sys.stdin.buffer)
    except EOFError:
        return 0
    out, sys.stdout = sys.stdout.buffer, sys.stderr  # what a library prints spoils nothing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drawing(name)(*args)
    out.write(pickle.dumps([(w.category, str(w.message)) for w in caught]))
    return 0

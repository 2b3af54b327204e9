"""A warm server for the one-sample commands: a later ``sim run`` in about a second.

A later ``sim run`` of the baseline in a new process spends ~1.5 s before its first table:
importing numpy, pandas, pydantic, numba and matplotlib, numba loading its registries and
the cached kernels, building the default world. None of it depends on the command. So after
a one-sample command (`SERVED`) succeeds with compiled kernels, the command line starts a
**server** in the background, one per copy of sim and environment (`fingerprint`): it loads
all that once (a small scenario run loads every kernel), then waits on a Unix socket in the
user's cache folder. The next such command connects and sends its arguments, working folder,
environment and standard streams (the file descriptors themselves, ``SCM_RIGHTS``); the
server forks a process that runs the command exactly as the command line would, writing
straight to the user's terminal or pipe, and sends back its pid (Ctrl-C and ``kill`` are
passed on to it) and its exit status. Nothing a command does stays in the server: each runs
in a fresh fork of the warm state, so its results are the same to the last bit as in a
process of its own (`tests/test_server.py`).

The server stops after `IDLE_S` seconds without a command (``SIM_SERVER_IDLE``) or on
``sim server stop``; ``SIM_SERVER=0`` turns it off. A changed file of the package, another
Python or library install, or another ``NUMBA_*``, ``PYTHON*``, ``MPL*``, ``OMP_*``... setting
gives another fingerprint, so a command never runs on stale code: it runs in its own process
and starts a server of its own. Linux only (``fork``, ``SCM_RIGHTS``, ``SO_PEERCRED``); the
folder is the user's alone (0700) and the server answers only its own user. Whenever no
server answers, or one fails before the command starts, the command runs in its own process.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
import struct
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.errors import EXIT_INTERRUPTED, NOTHING_WRITTEN

#: Commands a server runs (the one-sample ones, `sim.io.compiled.ONE_SAMPLE`).
SERVED = ("run", "backtest")
#: Seconds a server waits for a command before it stops.
IDLE_S = 10 * 60
#: A start under way longer ago than this has failed: another may start.
STARTING_S = 120
PACKAGE = Path(__file__).resolve().parent.parent
#: Settings read when the libraries load: another value needs another server.
ENV_PREFIXES = ("NUMBA_", "PYTHON", "MPL", "OMP_", "OPENBLAS_", "MKL_", "XDG_CACHE_HOME")
#: The protocol: a number (a length, a pid, an exit status), and what a client asks.
INT = struct.Struct("!i")
RUN, PING, STOP = b"R", b"P", b"Q"


def enabled() -> bool:
    """Whether servers may be used here: Linux, a Python that can pass file descriptors, not
    a bundled app, and not turned off (``SIM_SERVER=0``)."""
    off = os.environ.get("SIM_SERVER", "1").strip().lower() in ("0", "off", "no", "false")
    return (
        sys.platform.startswith("linux")
        and hasattr(socket, "send_fds")
        and not getattr(sys, "frozen", False)
        and bool(sys.executable)
        and not off
    )


def served(argv: Sequence[str]) -> bool:
    """Whether ``argv`` is a command a server runs, and servers may be used."""
    command = next((a for a in argv if not a.startswith("-")), None)
    return command in SERVED and enabled()


def fingerprint() -> str:
    """A digest of what a server's loaded state depends on: this copy of the package (each
    file's size and time), the Python that runs it, the folders its libraries are installed
    in (a folder's time changes when a library is added, removed or upgraded), and the
    environment's settings that libraries read as they load (`ENV_PREFIXES`)."""
    import hashlib

    parts = [str(PACKAGE), sys.executable, sys.version]
    parts += [f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)]
    for entry in sys.path:
        if entry.endswith(("site-packages", "dist-packages")) and os.path.isdir(entry):
            parts.append(f"{entry}:{os.stat(entry).st_mtime_ns}")
    for folder, subfolders, files in os.walk(PACKAGE):
        subfolders[:] = sorted(s for s in subfolders if s != "__pycache__")
        for name in sorted(files):
            found = os.stat(os.path.join(folder, name))
            parts.append(f"{folder}/{name}:{found.st_size}:{found.st_mtime_ns}")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def folder() -> Path | None:
    """The user's folder of servers' sockets (created 0700), or ``None`` if it is not the
    user's alone."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    found = Path(cache) / "sim" / "servers"
    try:
        found.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = found.stat()
    except OSError:
        return None
    if status.st_uid != os.getuid() or status.st_mode & 0o077:
        return None
    return found


def socket_path(name: str | None = None) -> Path | None:
    """The socket of the server named ``name`` (default: this copy's `fingerprint`), or
    ``None`` where there can be none."""
    where = folder()
    if where is None:
        return None
    path = where / f"{name or fingerprint()}.sock"
    return path if len(str(path)) < 100 else None  # a Unix socket's path is short


# --- the command's side -------------------------------------------------------------------


def forward(argv: Sequence[str]) -> int | None:
    """Run the command ``argv`` in this copy's server: its exit status, or ``None`` if no
    server answers or one fails before the command starts (run it here then)."""
    if not served(argv):
        return None
    path = socket_path()
    if path is None:
        return None
    try:
        connection = _connect(path)
    except OSError:
        return None
    with connection:
        try:
            payload = pickle.dumps(_request(argv), protocol=pickle.HIGHEST_PROTOCOL)
            socket.send_fds(connection, [RUN + INT.pack(len(payload))], [0, 1, 2])
            connection.sendall(payload)
            pid = _read_int(connection)
        except (OSError, EOFError):
            return None  # nothing ran
        except KeyboardInterrupt:  # before the command's pid came: closing the connection
            return _interrupted()  # stops it (the server's SIGIO watch) before it writes
        return _wait(connection, pid)


def _interrupted() -> int:
    """Say so as the command run here would have; its status."""
    print(NOTHING_WRITTEN, file=sys.stderr)
    return EXIT_INTERRUPTED


def _connect(path: Path, timeout: float | None = None) -> socket.socket:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.settimeout(timeout)
        connection.connect(str(path))
    except OSError:
        connection.close()
        raise
    return connection


def _request(argv: Sequence[str]) -> dict[str, Any]:
    """What the forked process needs to stand in for this one."""
    umask = os.umask(0o022)
    os.umask(umask)
    streams = [
        (s.encoding, s.errors, s.line_buffering) if s is not None else None
        for s in (sys.stdin, sys.stdout, sys.stderr)
    ]
    return {
        "argv": list(argv),
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "umask": umask,
        "streams": streams,
    }


def _wait(connection: socket.socket, pid: int) -> int:
    """The command's exit status, Ctrl-C and SIGTERM passed on to its process meanwhile."""

    def pass_on(signum: int, frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    previous = {
        s: signal.signal(s, pass_on)
        for s in (signal.SIGINT, signal.SIGTERM)
        if signal.getsignal(s) != signal.SIG_IGN  # ignored here: ignored as it would be
    }
    try:
        return _read_int(connection)
    except (OSError, EOFError):
        print("error: the command's process in the sim server ended unexpectedly", file=sys.stderr)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _read_int(connection: socket.socket) -> int:
    (value,) = INT.unpack(exactly(connection, INT.size))
    return int(value)


def exactly(connection: socket.socket, size: int) -> bytes:
    """``size`` bytes read from ``connection`` (EOFError if it closes first)."""
    data = b""
    while len(data) < size:
        more = connection.recv(size - len(data))
        if not more:
            raise EOFError("connection closed")
        data += more
    return data


# --- starting, asking and stopping a server -------------------------------------------------


def start_later(argv: Sequence[str]) -> None:
    """After a command run in its own process succeeded: start this copy's server in the
    background if it is a served command, the kernels are compiled (else the background
    compile is under way, `sim.io.compiled`) and none runs or is starting."""
    from sim.io import compiled

    if served(argv) and compiled.mark().exists():
        start()


def start() -> Path | None:
    """Start this copy's server in a process of its own unless one runs or is starting;
    its log file (``None`` if none was started)."""
    from sim.io import compiled

    name = fingerprint()
    path = socket_path(name)
    if path is None or ask(PING, path) is not None:
        return None
    if not compiled.claim(path.with_suffix(".starting"), STARTING_S):
        return None
    log = path.with_suffix(".log")
    compiled.launch("sim.io.serving", name, log)
    return log


def ask(question: bytes, path: Path | None = None) -> dict[str, Any] | None:
    """Ask this copy's server (``PING``: how it is; ``STOP``: stop); its answer, or
    ``None`` if none answers."""
    path = path or socket_path()
    if path is None:
        return None
    try:
        with _connect(path, timeout=5.0) as connection:
            connection.sendall(question)
            answer: dict[str, Any] = pickle.loads(exactly(connection, _read_int(connection)))
            return answer
    except (OSError, EOFError, pickle.UnpicklingError):
        return None


def control(action: str, wait_s: float = 60.0) -> str:
    """``sim server ACTION`` (status, start, stop): what to print."""
    if not enabled():
        return "servers are off here (Linux only; SIM_SERVER=0 turns them off)"
    if action == "stop":
        answer = ask(STOP)
        return "stopped the server" if answer else "no server runs for this copy of sim"
    if action == "start":
        start()
        until = time.monotonic() + wait_s
        while ask(PING) is None and time.monotonic() < until:
            time.sleep(0.1)
    answer = ask(PING)
    if answer is None:
        return "no server runs for this copy of sim"
    up = time.time() - answer["started"]
    return (
        f"a server runs for this copy of sim: pid {answer['pid']}, up {up:.0f} s, stops "
        f"after {answer['idle_s']:.0f} s without a command ({answer['socket']})"
    )

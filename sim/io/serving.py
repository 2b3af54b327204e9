"""The warm server itself (`sim.io.server` says why and how commands reach it): it loads what
commands use, listens on its socket, and runs each command in a fork of itself that stands in
for the command's own process. Started by `sim.io.server.start` as ``python -m
sim.io.serving NAME``.
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
from pathlib import Path
from typing import Any, NoReturn

from sim.io.server import IDLE_S, INT, PING, RUN, STOP, exactly, socket_path

_CREDENTIALS = struct.Struct("3i")  # pid, uid, gid (SO_PEERCRED)
_done = False  # the command ended: the client's hang-up no longer stops it


def serve(name: str) -> int:
    """The server: load, listen at ``name``'s socket, fork a process for each command, and
    stop after ``SIM_SERVER_IDLE`` (default `IDLE_S`) seconds without one."""
    path = socket_path(name)
    if path is None:
        return 1
    lock = path.with_suffix(".starting")
    try:
        idle_s = float(os.environ.get("SIM_SERVER_IDLE", IDLE_S))
        _load()
        listener = _listen(path)
    finally:
        lock.unlink(missing_ok=True)
    began = time.time()
    print(f"serving at {path} (pid {os.getpid()})", flush=True)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # commands' processes reap themselves
    signal.signal(signal.SIGTERM, _stop)  # ``kill``: its socket is removed on the way out
    listener.settimeout(min(idle_s, 5.0))
    inode, last = path.stat().st_ino, time.monotonic()
    try:
        while _ours(path, inode) and time.monotonic() - last < idle_s:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                info = {"pid": os.getpid(), "started": began, "idle_s": idle_s}
                answered = _answer(connection, listener, info | {"socket": str(path)})
            if answered == STOP:
                break
            if answered == RUN:  # a question (status) does not keep it up
                last = time.monotonic()
    finally:
        if _ours(path, inode):
            path.unlink()
            path.with_suffix(".log").unlink(missing_ok=True)  # kept if it failed to start
    return 0


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _load() -> None:
    """Load what commands use: a run of a small scenario under two controls (every kernel,
    the default world, the tables' writers), the backtest, and a drawing (matplotlib and
    its fonts); then freeze the loaded objects, so that forks share their pages."""
    import gc
    import io
    import tempfile

    from sim.io import cli, compiled

    with tempfile.TemporaryDirectory() as scratch, contextlib.redirect_stdout(io.StringIO()):
        scenario = Path(scratch) / "warm-up.yaml"
        scenario.write_text(compiled.WARM_SCENARIO)
        if cli.main(["run", str(scenario), "--out", str(Path(scratch) / "out")]) != 0:
            raise RuntimeError("the warm-up run failed")
        from matplotlib.figure import Figure

        import sim.io.plotting  # noqa: F401 (its charts are drawn in forks of the server)
        import sim.runs.backtest  # noqa: F401

        figure = Figure()
        figure.add_subplot().plot([0, 1], label="warm-up")
        figure.legend()
        figure.savefig(io.BytesIO(), format="png")
    gc.collect()
    gc.freeze()


def _listen(path: Path) -> socket.socket:
    """A socket listening at ``path``, put in place at once (a command finds it whole)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    temporary = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    listener.bind(str(temporary))
    listener.listen(64)
    os.replace(temporary, path)
    return listener


def _ours(path: Path, inode: int) -> bool:
    """Whether ``path`` is still this server's socket (a newer server may replace it)."""
    try:
        return path.stat().st_ino == inode
    except FileNotFoundError:
        return False


def _answer(connection: socket.socket, listener: socket.socket, info: dict[str, Any]) -> bytes:
    """Answer one connection: a command (forked), a question or a stop; which it was."""
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
    client, uid, _ = _CREDENTIALS.unpack(credentials)
    if uid != os.getuid():
        return b""
    connection.settimeout(5.0)
    try:
        message, fds, _, _ = socket.recv_fds(connection, 1 + INT.size, 3)
    except OSError:
        return b""
    try:
        if message[:1] in (PING, STOP):
            answer = pickle.dumps(info)
            connection.sendall(INT.pack(len(answer)) + answer)
        elif message[:1] == RUN and len(fds) == 3:
            child = os.fork()
            if child == 0:
                listener.close()
                _command(connection, message[1:], fds)
            print(f"{time.strftime('%H:%M:%S')} pid {client}: command in pid {child}", flush=True)
        else:
            return b""
    finally:
        for fd in fds:
            os.close(fd)
    return message[:1]


def _command(connection: socket.socket, header: bytes, fds: list[int]) -> NoReturn:
    """The forked process: stand in for the client (its streams, folder, environment) and
    run its command; send its pid first, its exit status last."""
    global _done
    import traceback

    status = 1
    try:
        for signum in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        # Ctrl-C as in a process of its own, whatever the server was started with (the
        # client passes it on only if it does not ignore it itself)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        connection.settimeout(None)
        if len(header) < INT.size:
            header += exactly(connection, INT.size - len(header))
        request = pickle.loads(exactly(connection, INT.unpack(header[: INT.size])[0]))
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        _adopt(request)
        connection.sendall(INT.pack(os.getpid()))
        _watch(connection)
        from sim.io.cli import main

        status = main(request["argv"])
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 (shown as the command line would show it)
        traceback.print_exc()
    finally:
        _done = True
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        with contextlib.suppress(OSError):
            connection.sendall(INT.pack(status))
        os._exit(status)


def _adopt(request: dict[str, Any]) -> None:
    """Take the client's working folder, environment, umask, arguments and streams."""
    import io

    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(request["umask"])
    sys.argv = ["sim", *request["argv"]]
    for fd, (name, stream) in enumerate(zip(("stdin", "stdout", "stderr"), request["streams"])):
        if stream is None:
            continue
        encoding, errors, line_buffering = stream
        raw = io.FileIO(fd, "r" if fd == 0 else "w", closefd=False)
        buffered = io.BufferedReader(raw) if fd == 0 else io.BufferedWriter(raw)
        text = io.TextIOWrapper(
            buffered,
            encoding=encoding,
            errors=errors,
            line_buffering=line_buffering,
            write_through=fd == 2,
        )
        setattr(sys, name, text)


def _watch(connection: socket.socket) -> None:
    """Stop the command, as Ctrl-C does (what it half wrote is removed), if its client goes
    away (killed, or its terminal closed) before it ends: the socket signals (``SIGIO``)
    when the client's end closes."""
    import fcntl

    def gone(signum: int = 0, frame: object = None) -> None:
        try:
            if connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                return
        except BlockingIOError:
            return  # nothing to read: still there
        except OSError:
            pass
        if not _done:
            raise KeyboardInterrupt("the command's client went away")

    signal.signal(signal.SIGIO, gone)
    fd = connection.fileno()
    fcntl.fcntl(fd, fcntl.F_SETOWN, os.getpid())
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_ASYNC)
    gone()  # gone before it was watched


if __name__ == "__main__":  # started by `sim.io.server.start`, with the server's name
    sys.exit(serve(sys.argv[1]))

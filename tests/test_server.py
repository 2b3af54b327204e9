"""The warm server (`sim.io.server`, issue 17): a command it runs writes, prints and exits as
the same command in a process of its own does, in the user's folder, environment and umask;
Ctrl-C and a killed client stop it and leave nothing half written; with no server answering
the command runs in its own process; a server stops when idle; a changed package or setting
is another server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.io import server
from tests.terminal import like_a_terminal

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

ROOT = Path(__file__).resolve().parent.parent
SMALL = """name: small
horizon: {start: 2024-01-01, end: 2025-06-30}
events:
  - {kind: outage, facility: mt_weld, start: 2024-03-01, end: 2024-09-01}
"""
TIMING = ("wall_seconds", "created_utc")


def _env(cache: Path, **more: str) -> dict[str, str]:
    """A client's environment: servers on, in their own cache folder, numba's cache the
    suite's (compiled kernels)."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"}
    return env | {"SIM_SERVER": "1", "XDG_CACHE_HOME": str(cache), **more}


def _sim(env: dict[str, str], *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def _wait_for(condition: object, seconds: float) -> bool:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


class Served:
    """A server of the suite's copy of sim in a cache folder of its own, and its log."""

    def __init__(self, cache: Path, **env: str) -> None:
        self.env = _env(cache, **env)
        self.folder = cache / "sim" / "servers"

    def start(self) -> None:
        # started ignoring Ctrl-C, as from a background job: its commands still answer it
        subprocess.run(
            [sys.executable, "-m", "sim", "server", "start"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # noqa: PLW1509
        )
        # the first start in a fresh CI environment may compile kernels: up to minutes
        assert _wait_for(self.running, 600), self.log()

    def running(self) -> bool:
        return "a server runs" in _sim(self.env, "server", "status").stdout

    def log(self) -> str:
        return "".join(p.read_text() for p in self.folder.glob("*.log"))

    def forked(self, client: int) -> int | None:
        """The pid of the process the server forked for the client ``client``."""
        for line in self.log().splitlines():
            if f"pid {client}: command in pid " in line:
                return int(line.rsplit(" ", 1)[1])
        return None


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    running = Served(tmp_path_factory.mktemp("cache"), SIM_SERVER_IDLE="300")
    running.start()
    yield running
    assert "stopped" in _sim(running.env, "server", "stop").stdout
    assert _wait_for(lambda: not list(running.folder.iterdir()), 10)


def _client(served: Served, *args: str, cwd: Path = ROOT) -> subprocess.Popen[str]:
    """A command as from a terminal (Ctrl-C not ignored, whatever the suite's own is)."""
    return subprocess.Popen(
        [sys.executable, "-m", "sim", *args],
        cwd=cwd,
        env=served.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=like_a_terminal,  # noqa: PLW1509
    )


def _lines(out: str) -> list[str]:
    """Printed lines, but those that say how long it took and where it wrote."""
    return [
        line
        for line in out.splitlines()
        if "simulated in" not in line and not line.startswith("wrote")
    ]


def test_a_served_run_writes_and_prints_what_a_run_of_its_own_does(
    served: Served, tmp_path: Path
) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL)
    client = _client(served, "run", str(scenario), "--out", str(tmp_path / "served"))
    out, err = client.communicate(timeout=120)
    assert client.returncode == 0, err
    assert served.forked(client.pid) is not None  # the server ran it
    alone = _sim(
        served.env | {"SIM_SERVER": "0"}, "run", str(scenario), "--out", str(tmp_path / "alone")
    )
    assert alone.returncode == 0, alone.stderr
    assert _lines(out) == _lines(alone.stdout) and err == alone.stderr
    names = sorted(p.name for p in (tmp_path / "alone").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "served").iterdir())
    assert "shortfall.png" in names
    for name in names:
        a, b = (tmp_path / where / name for where in ("alone", "served"))
        if name == "manifest.json":
            assert _untimed(a) == _untimed(b)
        else:
            assert a.read_bytes() == b.read_bytes(), name


def _untimed(manifest: Path) -> dict[str, object]:
    return {k: v for k, v in json.loads(manifest.read_text()).items() if k not in TIMING}


def test_a_served_command_reports_errors_as_one_of_its_own(served: Served, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nhorizon: {start: 01/03/2026, end: 2027-01-01}\n")
    client = _client(served, "run", str(bad))
    _, err = client.communicate(timeout=120)
    assert served.forked(client.pid) is not None
    alone = _sim(served.env | {"SIM_SERVER": "0"}, "run", str(bad))
    assert (client.returncode, err) == (alone.returncode, alone.stderr)
    assert client.returncode == 2 and "YYYY-MM-DD" in err


def test_a_served_command_runs_in_the_users_folder_with_the_users_umask(
    served: Served, tmp_path: Path
) -> None:
    (tmp_path / "small.yaml").write_text(SMALL)
    client = subprocess.Popen(
        [sys.executable, "-m", "sim", "run", "small.yaml", "--out", "here", "--tables", "none"],
        cwd=tmp_path,
        env=served.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.umask(0o077),  # noqa: PLW1509 (one call, before exec)
    )
    _, err = client.communicate(timeout=120)
    assert client.returncode == 0, err
    assert served.forked(client.pid) is not None
    written = tmp_path / "here" / "summary.csv"
    assert written.stat().st_mode & 0o777 == 0o600


def _started(served: Served, client: subprocess.Popen[str]) -> int:
    """The pid of the client's command in the server, once it runs."""
    assert _wait_for(lambda: served.forked(client.pid) is not None, 60), served.log()
    forked = served.forked(client.pid)
    assert forked is not None
    return forked


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # ended, not yet reaped


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_a_served_command_stopped_or_orphaned_stops_and_writes_nothing(
    served: Served, tmp_path: Path, how: signal.Signals
) -> None:
    long = tmp_path / "long.yaml"  # ~4 s served: well under way when the signal comes
    long.write_text("name: long\nhorizon: {start: 2024-01-01, end: 2064-12-31}\nevents: []\n")
    out = tmp_path / "out"
    client = _client(served, "run", str(long), "--out", str(out))
    forked = _started(served, client)
    time.sleep(0.3)  # under way
    client.send_signal(how)
    _, err = client.communicate(timeout=60)
    assert _wait_for(lambda: _gone(forked), 30)
    if how == signal.SIGINT:  # Ctrl-C is passed on: the command says what it kept
        assert client.returncode == 130 and "interrupted" in err, (client.returncode, err)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name not in ("out", "long.yaml")]


def test_with_no_server_answering_the_command_runs_in_its_own_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_SERVER", "1")
    path = tmp_path / "s.sock"
    monkeypatch.setattr(server, "socket_path", lambda name=None: path)
    assert server.forward(["run", "x.yaml"]) is None  # no socket at all
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    assert server.forward(["run", "x.yaml"]) is None  # a socket nobody listens at
    listener.listen(1)

    def hang_up() -> None:  # a server that fails before the command starts
        connection, _ = listener.accept()
        connection.close()

    threading.Thread(target=hang_up, daemon=True).start()
    assert server.forward(["run", "x.yaml"]) is None
    listener.close()


def test_a_server_stops_when_idle(tmp_path: Path) -> None:
    idle = Served(tmp_path, SIM_SERVER_IDLE="1")
    idle.start()
    assert _wait_for(lambda: not idle.running(), 30)
    assert not list(idle.folder.iterdir())  # its socket and its log removed


def test_a_server_stopped_by_sigterm_removes_its_socket(tmp_path: Path) -> None:
    killed = Served(tmp_path, SIM_SERVER_IDLE="300")
    killed.start()
    status = _sim(killed.env, "server", "status").stdout
    pid = int(status.split("pid ", 1)[1].split(",", 1)[0])
    os.kill(pid, signal.SIGTERM)
    assert _wait_for(lambda: not list(killed.folder.iterdir()), 30), killed.log()


def test_only_one_sample_commands_are_served_and_servers_can_be_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIM_SERVER", "1")
    assert server.served(["run", "a.yaml"]) and server.served(["backtest", "a.yaml"])
    assert not server.served(["sweep", "a.yaml", "-n", "3"]) and not server.served(["--help"])
    monkeypatch.setenv("SIM_SERVER", "0")
    assert not server.served(["run", "a.yaml"])


def test_a_changed_package_file_or_library_setting_is_another_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "sim"
    (package / "__pycache__").mkdir(parents=True)
    (package / "engine.py").write_text("one = 1\n")
    monkeypatch.setattr(server, "PACKAGE", package)
    first = server.fingerprint()
    (package / "__pycache__" / "engine.pyc").write_bytes(b"compiled")
    monkeypatch.setenv("SIM_SERVER_IDLE", "5")
    assert server.fingerprint() == first  # bytecode and the server's own settings: the same
    (package / "engine.py").write_text("one = 2\n")
    os.utime(package / "engine.py", ns=(1, 1))
    changed = server.fingerprint()
    assert changed != first
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    assert server.fingerprint() != changed


def test_ctrl_c_before_the_command_started_is_an_interruption(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Ctrl-C in the instant between sending the command and the server's answer with its pid
    # printed the client's traceback; the command (if the server had forked it) stops as the
    # connection closes.
    ours, theirs = socket.socketpair()
    monkeypatch.setattr(server, "served", lambda argv: True)
    monkeypatch.setattr(server, "socket_path", lambda: tmp_path / "x.sock")
    monkeypatch.setattr(server, "_connect", lambda path: ours)

    def interrupted(connection: socket.socket) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(server, "_read_int", interrupted)
    with theirs:
        assert server.forward(["run", "scenarios/baseline.yaml"]) == 130
        assert ours.fileno() == -1  # closed: the server's fork sees its client gone
    assert capsys.readouterr().err == "interrupted; nothing was written\n"

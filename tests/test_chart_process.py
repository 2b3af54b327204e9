"""`sim run` draws its chart in a second process while it writes its tables (issue 17): the
picture is the one drawn in-process, byte for byte; the second process's warnings reach the
command; a second process that cannot start or that fails costs time, never the picture; a
command that fails leaves no process behind. Where plotting is loaded already (a command a
warm server runs, `sim.io.server`), the second process is a fork of the command: the same
picture, its warnings passed on, a failure redone here."""

from __future__ import annotations

import io
import pickle
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from sim.io import chart_process, plotting
from sim.io.chart_process import ChartProcess, in_process
from tests.worlds import scenario

PNG = b"\x89PNG\r\n\x1a\n"


def _shortfall() -> pd.DataFrame:
    """A small shortfall table: the US short of NdFeB for wind for six months."""
    dates = pd.date_range("2025-01-01", periods=12, freq="MS")
    rows = [
        (d.date(), region, "wind", "NdFeB", 10.0 * i if region == "US" and i < 6 else 0.0)
        for i, d in enumerate(dates)
        for region in ("US", "EU")
    ]
    return pd.DataFrame(rows, columns=["date", "region", "sector", "material", "shortfall_t"])


def _chart(path: Path) -> tuple[str, pd.DataFrame, object, Path]:
    outage = {"kind": "outage", "facility": "mt_weld", "start": "2025-03-01", "end": "2025-06-01"}
    return "plot_shortfall", _shortfall(), scenario([outage], end="2025-12-31"), path


@pytest.mark.parametrize("forks", [False, True], ids=["new process", "fork"])
def test_the_second_process_draws_the_picture_drawn_in_process(tmp_path: Path, forks: bool) -> None:
    name, *args = _chart(tmp_path / "here.png")
    in_process.draw(name, *args)
    with ChartProcess(forks=forks) as charts:
        charts.draw(name, args[0], args[1], tmp_path / "there.png")
        charts.finish()
    there = (tmp_path / "there.png").read_bytes()
    assert there[:8] == PNG
    assert there == (tmp_path / "here.png").read_bytes()


@pytest.mark.parametrize("why", ["no python there", "a bundled app", "an embedded python"])
def test_a_second_process_that_cannot_start_leaves_the_drawing_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    if why == "a bundled app":  # its executable runs the app, not Python's -c
        monkeypatch.setattr(sys, "frozen", True, raising=False)
    elif why == "an embedded python":  # no executable to start
        monkeypatch.setattr(sys, "executable", "")
    else:
        monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    name, *args = _chart(tmp_path / "s.png")
    with ChartProcess(forks=False) as charts:
        assert charts._process is None
        charts.draw(name, *args)
        charts.finish()
    assert (tmp_path / "s.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize("forks", [False, True], ids=["new process", "fork"])
def test_a_failed_drawing_is_redone_here_where_its_error_is_raised(
    tmp_path: Path, forks: bool
) -> None:
    with ChartProcess(forks=forks) as charts:
        charts.draw("no_such_chart", tmp_path / "s.png")
        with pytest.raises(AttributeError, match="no_such_chart"):
            charts.finish()
    assert not (tmp_path / "s.png").exists()


def test_a_command_that_fails_before_drawing_stops_the_second_process() -> None:
    with pytest.raises(RuntimeError), ChartProcess(forks=False) as charts:
        process = charts._process
        assert process is not None and process.poll() is None
        raise RuntimeError("the scenario was bad")
    assert process.poll() is not None


def test_the_second_process_passes_its_warnings_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def warns(path: Path) -> None:
        warnings.warn(f"odd chart at {path}", UserWarning, stacklevel=1)

    monkeypatch.setattr(plotting, "warns", warns, raising=False)
    out = io.BytesIO()
    job = io.BytesIO(pickle.dumps(("warns", (Path("x.png"),))))
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=job))
    monkeypatch.setattr(sys, "stdout", SimpleNamespace(buffer=out))
    assert chart_process.serve() == 0
    sent = pickle.loads(out.getvalue())
    assert sent == [(UserWarning, "odd chart at x.png")]

    class Done:
        stdout = io.BytesIO(out.getvalue())

        def wait(self) -> int:
            return 0

        def poll(self) -> int:
            return 0

    charts = ChartProcess.__new__(ChartProcess)
    charts._job, charts._process, charts._fork = ("warns", ()), Done(), None
    with pytest.warns(UserWarning, match="odd chart at x.png"):
        charts.finish()


def test_a_command_ended_without_a_drawing_ends_the_second_process_quietly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(b"")))
    assert chart_process.serve() == 0


def test_the_second_process_imports_what_the_drawing_needs_while_it_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "sim.runs.backtest", raising=False)
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(b"")))
    assert chart_process.serve(("sim.runs.backtest",)) == 0
    assert "sim.runs.backtest" in sys.modules


def test_a_drawing_whose_arguments_will_not_pickle_is_drawn_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def sketch(path: Path, content: object) -> None:
        path.write_bytes(content())  # type: ignore[operator]

    monkeypatch.setattr(plotting, "sketch", sketch, raising=False)
    with ChartProcess(forks=False) as charts:
        charts.draw("sketch", tmp_path / "s.bin", lambda: b"drawn here")
        charts.finish()
    assert (tmp_path / "s.bin").read_bytes() == b"drawn here"


def test_what_a_drawing_prints_does_not_spoil_what_the_second_process_sends(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def noisy() -> None:
        print("a library's chatter")
        warnings.warn("and a warning", UserWarning, stacklevel=1)

    monkeypatch.setattr(plotting, "noisy", noisy, raising=False)
    out = io.BytesIO()
    monkeypatch.setattr(
        sys, "stdin", SimpleNamespace(buffer=io.BytesIO(pickle.dumps(("noisy", ()))))
    )
    monkeypatch.setattr(sys, "stdout", SimpleNamespace(buffer=out))
    assert chart_process.serve() == 0
    assert pickle.loads(out.getvalue()) == [(UserWarning, "and a warning")]


def test_where_plotting_is_loaded_a_fork_draws(tmp_path: Path) -> None:
    assert "sim.io.plotting" in sys.modules  # imported above, as a warm server has it
    name, *args = _chart(tmp_path / "s.png")
    with ChartProcess() as charts:
        assert charts._process is None  # no new process started
        charts.draw(name, *args)
        assert charts._fork is not None
        charts.finish()
    assert (tmp_path / "s.png").read_bytes()[:8] == PNG


def test_the_fork_passes_its_warnings_on_and_prints_nothing_it_should_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def warns(path: Path) -> None:
        warnings.warn(f"odd chart at {path}", UserWarning, stacklevel=1)
        path.write_bytes(b"drawn")

    monkeypatch.setattr(plotting, "warns", warns, raising=False)
    with ChartProcess(forks=True) as charts:
        charts.draw("warns", tmp_path / "w.png")
        with pytest.warns(UserWarning, match="odd chart at"):
            charts.finish()
    assert (tmp_path / "w.png").read_bytes() == b"drawn"


def test_a_command_that_fails_after_sending_its_drawing_stops_the_fork(tmp_path: Path) -> None:
    import os

    def slow(path: Path) -> None:
        import time

        time.sleep(60)

    plotting.slow = slow  # type: ignore[attr-defined]
    try:
        with pytest.raises(RuntimeError), ChartProcess(forks=True) as charts:
            charts.draw("slow", tmp_path / "s.png")
            assert charts._fork is not None
            pid = charts._fork[0]
            raise RuntimeError("the tables could not be written")
    finally:
        del plotting.slow  # type: ignore[attr-defined]
    with pytest.raises(ChildProcessError):  # reaped: gone
        os.waitpid(pid, os.WNOHANG)

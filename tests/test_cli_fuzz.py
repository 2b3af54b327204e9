"""The command line under attack (issue 18): Hypothesis draws argument lists and input files
(valid and broken scenarios, devices, a FIFO, huge and far-future dates, empty files, binary
junk, a broken resume store) and every command must end with status 0, 2 or 3, print an error
as one line and never a traceback.

The default run tries a few dozen cases in this process (`sim.io.cli.main`); the long mode,
``python -m pytest -m fuzz tests/test_cli_fuzz.py --hypothesis-show-statistics``, tries
many more (``SIM_FUZZ_EXAMPLES``, default 600). A device that never ends (/dev/zero) is tried
in a child process with bounded memory, so that a missing guard cannot eat this one's.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim.io.cli import main
from sim.io.scenario_validation import MAX_REPORTED

ROOT = Path(__file__).parent.parent
SHIPPED = ROOT / "scenarios"  # long horizons: only `validate` and `calibrate` are given them
LONG = int(os.environ.get("SIM_FUZZ_EXAMPLES", "600"))
STATUSES = {0, 2, 3}
SECONDS = 120  # a single command that takes longer is taken as hung

HORIZON = "horizon: {start: 2024-01-01, end: 2024-01-31}\n"
QUOTA = (
    "events:\n  - {kind: export_control, exporter: CN, destinations: [US], forms: [magnet],\n"
    "     mode: quota, share: {dist: uniform, low: 0.0, high: 0.8}, start: 2024-01-15}\n"
)
SCENARIOS = {
    "ok.yaml": "name: ok\n" + HORIZON,
    "uncertain.yaml": "name: uncertain\n" + HORIZON + QUOTA,
    "world2009.yaml": "name: w2009\nworld: default@2009\n"
    "horizon: {start: 2009-01-01, end: 2009-02-28}\n",
    "extends.yaml": "extends: uncertain.yaml\nname: child\n",
    "far-future.yaml": "name: far\nhorizon: {start: 9990-01-01, end: 9990-02-28}\n",
    "calendar-end.yaml": "name: end\n" + HORIZON + "events:\n"
    "  - {kind: outage, facility: mountain_pass, share: 0.5, start: 9999-12-31}\n",
    "long-horizon.yaml": "name: long\nhorizon: {start: 2024-01-01, end: 9999-12-31}\n",
    "huge-year.yaml": "name: huge\nhorizon: {start: 2024-01-01, end: 99999-01-01}\n",
    "huge-sd.yaml": "name: sd\n" + HORIZON + "events:\n"
    "  - {kind: outage, facility: mountain_pass, share: 0.5,\n"
    "     start: {dist: normal, mean: 2024-01-10, sd_days: 1.0e+300}}\n",
    "stockpile.yaml": "name: pile\n" + HORIZON + "events:\n"
    "  - {kind: stockpile, region: US, material: NdFeB, sectors: [defence], initial_t: 5,\n"
    "     max_release_t_per_month: 1, start: 2024-01-10}\n",
    "huge-number.yaml": "name: big\n" + HORIZON + "events:\n"
    "  - {kind: new_capacity, facility: mountain_pass, nameplate_tpa: 1.0e+300,"
    " start: 2024-01-10}\n",
    "broken.yaml": "name: [unclosed\n  horizon: {\n",
    "empty.yaml": "",
    "comment.yaml": "# nothing\n",
    "number.yaml": "42\n",
    "list.yaml": "- name: x\n",
    "tag.yaml": "!!python/object/apply:os.system ['echo pwned']\n",
    "nested.yaml": "[" * 5000 + "]" * 5000 + "\n",
    "aliases.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "name: *i\n",
    "cycle.yaml": "extends: cycle.yaml\nname: c\n",
    "extends-device.yaml": "extends: /dev/null\nname: d\n",
    "extends-up.yaml": "extends: ../../../../../../etc/passwd\nname: d\n",
    "nul.yaml": "name: a\x00b\n" + HORIZON,
    "tabs.yaml": "name:\tx\n\thorizon: 1\n",
}
OBSERVED = {
    "obs.csv": "date,series,key,value\n2024-01,price,china:NdPr_oxide,60\n",
    "obs-header.csv": "date,series,key,value\n",
    "obs-end.csv": "date,series,key,value\n9999-12,price,china:NdPr_oxide,60\n",
    "obs-huge.csv": "date,series,key,value\n2024-01,price,china:NdPr_oxide,1e999\n",
    "obs-nan.csv": "date,series,key,value\n2024-01,price,china:NdPr_oxide,nan\n",
    "obs-bad.csv": 'date,series\n"unclosed,\n',
    "obs-key.csv": "date,series,key,value\n2024-01,production,nowhere:mine,1\n",
}
BINARY = bytes(range(256)) * 8


class Inputs(dict[str, Path]):
    """The input files by name (shown by name only in a failing example)."""

    def __repr__(self) -> str:
        return "inputs"


def build_inputs(root: Path) -> dict[str, Path]:
    """The files the fuzz draws from, written under ``root``; with a FIFO, a folder, a
    missing file, /dev/null and the shipped scenarios and observed series."""
    for name, text in {**SCENARIOS, **OBSERVED}.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / "binary.yaml").write_bytes(BINARY)
    (root / "utf16.yaml").write_bytes(SCENARIOS["ok.yaml"].encode("utf-16"))
    (root / "large.yaml").write_bytes(b"# " + b"x" * 3_000_000 + b"\n")
    (root / "obs-binary.csv").write_bytes(BINARY)
    os.mkfifo(root / "fifo")
    (root / "folder").mkdir()
    (root / "dangling").symlink_to(root / "nowhere")
    paths = Inputs({p.name: p for p in root.iterdir()})
    paths.update({"missing": root / "missing.yaml", "devnull": Path("/dev/null")})
    paths.update({p.name: p for p in (ROOT / "scenarios").glob("*.yaml")})
    paths["episode.csv"] = ROOT / "scenarios/observed/china-2010-episode.csv"
    return paths


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The input files, and this module run from an empty folder (default results land
    there, and the default fit inputs are missing)."""
    root = tmp_path_factory.mktemp("fuzz-inputs")
    paths = build_inputs(root)
    work = tmp_path_factory.mktemp("fuzz-cwd")
    before = Path.cwd()
    os.chdir(work)
    try:
        yield paths
    finally:
        os.chdir(before)


# -- what the fuzz draws ----------------------------------------------------------------------
NUMBERS = ["0", "1", "2", "3", "-1", "-2", "18446744073709551616", "9" * 40, "1e3", "x", "", "nan"]
FEW = ["1", "2", "3"]  # sample counts that run quickly
METRICS = [
    "shortfall_t:US:defence",
    "price:ex_china:Dy_oxide@2024-01..2024-01",
    "shortfall_share:EU:ev_traction:NdFeB@2030-01..2024-01",
    "shortfall_t:US:defence@9999-01..9999-12",
    "shortfall_t:Nowhere:defence",
    "@",
    "",
    "x" * 5000,
]
TARGETS = [
    "no_shortfall region=US",
    "no_shortfall region=world sector=defence until=2024-01-31",
    "no_shortfall region=US until=9999-01-01",
    "no_shortfall region=US from=x",
    "no_shortfall",
    "",
]
OUTS = ["fresh", "fresh", "fresh", "exists", "file", "under-file", "devnull", "dangling", ""]
junk_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)


def scenario_names(inputs: dict[str, Path], valid: bool = False) -> st.SearchStrategy[str]:
    """A scenario argument: one of the files (the valid ones more often), or junk."""
    quick = ["ok.yaml", "uncertain.yaml", "world2009.yaml", "extends.yaml", "stockpile.yaml"]
    names = sorted(n for n in inputs if not n.endswith(".csv") and inputs[n].parent != SHIPPED)
    if valid:
        return st.sampled_from(quick)
    return st.one_of(st.sampled_from(quick), st.sampled_from(names), junk_text)


def option_values(name: str, inputs: dict[str, Path]) -> st.SearchStrategy[str]:
    """What the fuzz gives an option called ``name``."""
    if name in ("-n", "--samples", "--batch-size"):
        return st.sampled_from(FEW * 3 + NUMBERS)
    if name == "--workers":
        return st.sampled_from(["1"] * 8 + ["2", "0", "-1", "1000000", "x"])
    if name == "--seed":
        return st.sampled_from(NUMBERS + ["18446744073709551615", "-5"])
    if name == "--output":
        return st.sampled_from(METRICS)
    if name == "--observed":
        return st.sampled_from(sorted(n for n in inputs if n.endswith(".csv")) + ["fifo", "folder"])
    if name in ("--out", "--results"):
        return st.sampled_from(OUTS)
    if name == "--world":
        return st.sampled_from(["default", "default@2009", "default@1900", "nope", ""])
    if name == "--scheduler":
        return st.sampled_from(["not a url", "tcp://", "ftp://x:1", "::", "host:99999x"])
    if name == "--method":
        return st.sampled_from(["random", "lhs", "sobol", "bogus"])
    if name == "--lever":
        return st.sampled_from(["events[0].initial_t", "events[0].start", "events[9].x", ""])
    if name == "--target":
        return st.sampled_from(TARGETS)
    if name == "--probability":
        return st.sampled_from(["0.5", "1", "0", "1.5", "nan", "x"])
    if name == "--analysis":
        return st.sampled_from(["sobol", "morris", "bogus"])
    return junk_text


OPTIONS = {
    "validate": ["--help"],
    "run": ["--out", "--seed", "--results"],
    "sweep": [
        "-n",
        "--seed",
        "--workers",
        "--method",
        "--batch-size",
        "--out",
        "--results",
        "--keep-samples",
        "--scheduler",
    ],
    "compare": ["-n", "--seed", "--workers", "--method", "--out", "--results"],
    "sensitivity": ["--output", "-n", "--analysis", "--seed", "--workers", "--out"],
    "solve": ["--lever", "--target", "--probability", "-n", "--seed", "--workers", "--out"],
    "backtest": ["--observed", "--out", "--seed", "--results"],
    "calibrate": ["--world", "--observed", "--fit"],
    "clean": ["--delete"],
    "bogus": ["--out"],
}
FLAGS = {"--keep-samples", "--fit", "--help"}
REQUIRED = {
    "sweep": ["-n"],
    "compare": ["-n"],
    "sensitivity": ["--output"],
    "solve": ["--lever", "--target"],
}


@st.composite
def command_lines(draw: st.DrawFn, inputs: dict[str, Path]) -> list[str]:
    """An argument list: a command, its positionals and some of its options, sometimes with
    a stray token; file names are still names (see `resolve`)."""
    command = draw(st.sampled_from(sorted(OPTIONS)))
    argv = [command, *positionals(draw, command, inputs)]
    chosen = draw(st.lists(st.sampled_from(OPTIONS[command]), unique=True, max_size=4))
    required = [o for o in REQUIRED.get(command, []) if draw(st.integers(0, 9)) > 0]
    for option in dict.fromkeys(required + chosen):
        argv.append(option)
        if option not in FLAGS:
            argv.append(draw(option_values(option, inputs)))
    if draw(st.integers(0, 9)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), draw(junk_text))
    return argv


def positionals(draw: st.DrawFn, command: str, inputs: dict[str, Path]) -> list[str]:
    """The positional arguments of ``command``: scenario names, mostly quick valid ones."""
    shipped = st.sampled_from(sorted(p.name for p in SHIPPED.glob("*.yaml")))
    if command == "calibrate":
        return draw(st.lists(st.one_of(scenario_names(inputs), shipped), max_size=1))
    if command == "validate":
        return [draw(st.one_of(scenario_names(inputs), shipped))]
    if command == "clean":
        return draw(st.lists(st.sampled_from(["folder", "fifo", "devnull", "missing", "."])))
    count = 2 if command == "compare" else 1
    valid = draw(st.integers(0, 2)) > 0
    return [draw(scenario_names(inputs, valid)) for _ in range(count)]


@st.composite
def stores(draw: st.DrawFn) -> str | None:
    """How to spoil the resume store of a sweep before it starts (or not)."""
    kinds = ["junk", "truncated", "empty", "folder", "file", "fifo", "symlink", "foreign"]
    return draw(st.one_of(st.none(), st.none(), st.sampled_from(kinds)))


# -- running one case -------------------------------------------------------------------------
def resolve(argv: list[str], inputs: dict[str, Path], scratch: Path) -> list[str]:
    """``argv`` with input names replaced by their paths and output names by places in
    ``scratch`` (fresh, existing, a file, under a file, a device, a dangling link)."""
    outs = {
        "fresh": scratch / "out",
        "exists": scratch,
        "file": inputs["ok.yaml"],
        "under-file": inputs["ok.yaml"] / "out",
        "devnull": Path("/dev/null"),
        "dangling": inputs["dangling"],
    }
    resolved = []
    for previous, token in zip(["", *argv], argv, strict=False):
        if previous in ("--out", "--results") and token in outs:
            resolved.append(str(outs[token]))
        else:
            resolved.append(str(inputs[token]) if token in inputs else token)
    return resolved


def spoil_store(argv: list[str], how: str) -> None:
    """Spoil the resume store the sweep of ``argv`` will look for, if it can be found."""
    from sim.io.cli import _parser
    from sim.io.commands import _batch_size
    from sim.io.report import data_hash, default_folder, scenario_hash, sweep_store
    from sim.io.scenario_files import load_scenario
    from sim.runs.store import sweep_key

    try:
        args = _parser().parse_args(argv)
        scenario = load_scenario(args.scenario)
        key = sweep_key(
            scenario_hash(scenario), data_hash(), args.n, args.seed, args.method, _batch_size(args)
        )
    except BaseException:  # noqa: BLE001 - no store to spoil: the command will say why
        return
    target = args.out or default_folder(args.results, scenario)
    with contextlib.suppress(OSError):  # --out under a file, a device: nothing to spoil
        write_spoilt(sweep_store(target, key, args.out is None), how)


def write_spoilt(store: Path, how: str) -> None:
    """A store at ``store`` spoilt as ``how`` says."""
    if how == "file":
        store.write_bytes(BINARY)
        return
    store.mkdir(parents=True, exist_ok=True)
    batch = store / "batch-000000.npz"
    if how == "junk":
        batch.write_bytes(BINARY)
    elif how == "truncated":
        batch.write_bytes(b"PK\x03\x04" + BINARY[:100])
    elif how == "empty":
        batch.write_bytes(b"")
    elif how == "folder":
        batch.mkdir()
    elif how == "fifo":
        os.mkfifo(batch)
    elif how == "symlink":
        batch.symlink_to("/dev/zero")
    else:
        write_foreign(batch)


def write_foreign(batch: Path) -> None:
    """A well-formed batch file of another sweep."""
    import numpy as np

    from sim.runs.store import BatchStore

    arrays = {k: np.zeros((1, 1, 1)) for k in ("shortfall", "demand", "prices", "residual")}
    BatchStore(batch.parent, "another sweep").save(0, (0, 1), arrays)


class Hung(Exception):
    """A command ran past `SECONDS`."""


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise `Hung` in this thread after ``seconds`` (a FIFO opened for reading would wait
    for ever for a writer)."""

    def hung(signum: int, frame: object) -> None:
        raise Hung(f"no answer in {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` in this process: its status, stdout and stderr. An exception escaping
    it is turned into its traceback on stderr (and fails the checks)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            with time_limit(SECONDS):
                status = main(argv)
        except BaseException:  # noqa: BLE001 - anything escaping is what the fuzz looks for
            import traceback

            traceback.print_exc()
            status = -1
    return status, out.getvalue(), err.getvalue()


def check_outcome(argv: list[str], status: int, out: str, err: str) -> None:
    """Status 0, 2 or 3 (or 1: a solve with no answer); no traceback; on failure ``error:``
    lines (one a problem: a file's problems are reported at once), beside only ``notice:``
    and ``warning:`` lines."""
    shown = f"argv={argv}\nstatus={status}\nstderr:\n{err[-3000:]}"
    assert "Traceback" not in out + err, shown
    assert status in STATUSES | ({1} if argv[:1] == ["solve"] else set()), shown
    lines = err.splitlines()
    errors = [line for line in lines if not line.startswith(("notice: ", "warning: "))]
    if status == 0:
        assert errors == [], shown
    else:
        assert errors and all(line.startswith("error: ") for line in errors), shown
        assert len(errors) <= MAX_REPORTED, shown


def one_case(inputs: dict[str, Path], argv: list[str], store: str | None) -> None:
    """Run one drawn case in a scratch folder of its own, and check what it did."""
    scratch = Path(tempfile.mkdtemp(prefix="case-", dir=Path.cwd()))
    try:
        resolved = resolve(argv, inputs, scratch)
        if store is not None and argv[0] == "sweep":
            spoil_store(resolved, store)
        status, out, err = run_cli(resolved)
        event(f"{argv[0]}: status {status}")
        check_outcome(resolved, status, out, err)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_no_command_line_gives_a_traceback(inputs: dict[str, Path], data: st.DataObject) -> None:
    one_case(inputs, data.draw(command_lines(inputs)), data.draw(stores()))


@pytest.mark.fuzz
@settings(FUZZ, max_examples=LONG)
@given(data=st.data())
def test_no_command_line_gives_a_traceback_long(
    inputs: dict[str, Path], data: st.DataObject
) -> None:
    one_case(inputs, data.draw(command_lines(inputs)), data.draw(stores()))


# -- devices, in a child process ----------------------------------------------------------------
BOUNDED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
from sim.io.cli import main
from sim.io.scenario_validation import MAX_REPORTED
sys.exit(main(sys.argv[1:]))
"""
OK = str(ROOT / "scenarios/baseline.yaml")
DEVICE_CASES = {
    "scenario": ["validate", "/dev/zero"],
    "observed": ["backtest", OK, "--observed", "/dev/zero"],
    "fit observed": ["calibrate", "--fit", "--observed", "/dev/zero"],
    "calibrate": ["calibrate", "/dev/urandom"],
    "extends": ["validate", "{tmp}/extends-zero.yaml"],
}


@pytest.mark.parametrize("argv", DEVICE_CASES.values(), ids=list(DEVICE_CASES))
def test_an_endless_device_is_refused_in_one_line(argv: list[str], tmp_path: Path) -> None:
    (tmp_path / "extends-zero.yaml").write_text("extends: /dev/zero\nname: z\n")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    done = subprocess.run(
        [sys.executable, "-c", BOUNDED, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    check_outcome(argv, done.returncode, done.stdout, done.stderr)
    assert done.returncode == 2


def test_too_many_workers_are_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SCENARIOS["uncertain.yaml"])
    out = tmp_path / "out"
    argv = ["sweep", str(tmp_path / "s.yaml"), "-n", "2", "--workers", "257", "--out", str(out)]
    status, stdout, err = run_cli(argv)
    check_outcome(argv, status, stdout, err)
    assert status == 2 and "--workers: must be at most 256 (got 257)" in err
    assert not out.exists() and not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("n", ["18446744073709551616", "1000000"])
def test_a_sensitivity_design_too_large_is_refused(n: str, tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SCENARIOS["uncertain.yaml"])
    out = tmp_path / "out"
    argv = ["sensitivity", str(tmp_path / "s.yaml"), "-n", n, "--output", METRICS[0]]
    status, stdout, err = run_cli([*argv, "--out", str(out), "--workers", "1"])
    check_outcome(argv, status, stdout, err)
    assert status == 2 and "-n: the design would need" in err and not out.exists()


@pytest.mark.parametrize("name", ["\r", "a\nb", "\x1b[31mred", "x\u2028y"])
@pytest.mark.parametrize("command", ["validate", "calibrate"])
def test_a_file_name_with_line_breaks_is_shown_on_one_line(name: str, command: str) -> None:
    status, out, err = run_cli([command, name])
    check_outcome([command, name], status, out, err)
    assert status == 2 and "\x1b" not in err

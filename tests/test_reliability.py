"""Trust under attack (issue 18): checks that a NaN cannot pass, inputs refused at their line
rather than run into nonsense, and one-line errors (never a traceback) for hostile input.

Each test here failed on the tree before its fix."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.errors import InputError, MassBalanceError
from sim.io.cli import main
from sim.io.scenario_files import load_scenario
from sim.model.ledger import Ledger
from sim.runs import engine
from sim.runs.store import BatchStore
from sim.runs.sweep import sweep
from sim.units import ELEMENTS
from sim.world.loader import default_world
from tests.worlds import one_chain

SHORT = """\
name: short
horizon:
  start: 2024-01-01
  end: 2024-06-30
"""
QUOTA = """name: q
horizon: {start: 2024-01-01, end: 2024-12-31}
events:
  - {kind: export_control, exporter: CN, destinations: [US], forms: [magnet], mode: quota,
     share: {dist: uniform, low: 0.0, high: 0.8}, start: 2024-03-01}
"""


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The error the command printed, checked to be one line and no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- 1. non-finite numbers fail ---------------------------------------------------------------
def test_a_nan_residual_breaks_the_mass_balance() -> None:
    ledger = Ledger(2)
    ledger.open(np.zeros((2, len(ELEMENTS))))
    holdings = np.zeros((2, len(ELEMENTS)))
    holdings[1, 3] = np.nan
    with pytest.raises(MassBalanceError, match="sample 1"):
        ledger.check(holdings)


def test_a_run_recording_a_nan_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    world = one_chain()
    scenario = load_scenario_text(SHORT, world)
    real = engine.Record.priced

    def poisoned(self, step, prices):  # noqa: ANN001, ANN202
        real(self, step, prices)
        if step == 2:
            self.prices[0, 2, magnet, 1] = np.inf

    magnet = engine.PRICE_PRODUCTS.index("NdFeB_magnet")
    monkeypatch.setattr(engine.Record, "priced", poisoned)
    with pytest.raises(MassBalanceError, match=rf"prices .*\[0, 2, {magnet}, 1\]"):
        engine.run(world, scenario)


def load_scenario_text(text: str, world, tmp: Path | None = None):  # noqa: ANN001, ANN201
    import tempfile

    folder = Path(tempfile.mkdtemp()) if tmp is None else tmp
    return load_scenario(write(folder, text), world)


def test_a_tonnage_that_would_overflow_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        SHORT + "events:\n  - kind: new_capacity\n    facility: mountain_pass\n"
        "    nameplate_tpa: 1.0e+308\n    start: 2024-03-01\n",
    )
    assert main(["validate", str(path)]) == 2
    assert f"{path}:8: events[0].nameplate_tpa: " in one_line_error(capsys)


def test_a_manifest_never_holds_nan(tmp_path: Path) -> None:
    from sim.io import report

    with pytest.raises(MassBalanceError, match=r"runs\[1\]\.residual"):
        report._write_manifest(tmp_path, {"runs": [{"residual": 0.0}, {"residual": math.nan}]})
    assert not (tmp_path / "manifest.json").exists()


def test_a_resumed_batch_holding_nan_fails(tmp_path: Path) -> None:
    world = one_chain()
    scenario = load_scenario_text(QUOTA, world, tmp_path)
    store = tmp_path / "store"
    sweep(world, scenario, 4, batch_size=2, store=store)
    batch = store / "batch-000001.npz"
    with np.load(batch) as data:
        arrays = {k: data[k] for k in data.files}
    record = json.loads(str(arrays.pop("__batch__")))
    arrays["shortfall"][0, 3, 0] = np.nan
    # written as the sweep would, with a true record and checksum: only the NaN is wrong
    BatchStore(store, record["sweep"]).save(1, (record["first"], record["last"]), arrays)
    with pytest.raises(MassBalanceError, match="batch 1: shortfall"):
        sweep(world, scenario, 4, batch_size=2, store=store)


# -- 2. empty scopes are refused --------------------------------------------------------------
EMPTY_SCOPES = {
    "destinations": "{kind: export_control, exporter: CN, mode: ban, destinations: []}",
    "sectors": "{kind: export_control, exporter: CN, mode: ban, sectors: []}",
    "materials": "{kind: substitution, max_share: 0.5, materials: []}",
    "regions": "{kind: substitution, max_share: 0.5, regions: []}",
    "stockpile sectors": "{kind: stockpile, region: US, material: NdFeB, initial_t: 10, "
    "max_release_t_per_month: 1, sectors: []}",
    "offtake sectors": "{kind: offtake, facility: mp_10x, share: 0.5, region: US, sectors: []}",
}


@pytest.mark.parametrize("event", EMPTY_SCOPES.values(), ids=list(EMPTY_SCOPES))
def test_an_empty_scope_is_refused_at_its_line(
    event: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    field = event.rpartition(", ")[2].partition(":")[0]
    path = write(tmp_path, SHORT + f"events:\n  - {event[:-1]}, start: 2024-03-01}}\n")
    assert main(["validate", str(path)]) == 2
    err = one_line_error(capsys)
    assert f"{path}:6: events[0].{field}: must be 'all' or a non-empty list" in err
    assert err.rstrip().endswith("(got [])")


# -- 3. draws that mean what they say ---------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "near"),
    [
        ({"dist": "normal", "mean": -50, "sd": 1, "bounds": [0.1, 0.9]}, 0.1),
        ({"dist": "normal", "mean": 50, "sd": 1, "bounds": [0.1, 0.9]}, 0.9),
        ({"dist": "lognormal", "median": 1, "sigma": 0.1, "bounds": [100, 200]}, 100),
        ({"dist": "beta", "a": 1, "b": 5000, "bounds": [0.5, 1.0]}, 0.5),
    ],
)
def test_a_truncated_law_far_in_a_tail_draws_near_the_nearer_bound(spec: dict, near: float) -> None:
    from sim.config import draws
    from sim.config.distributions import Distribution

    law = Distribution.model_validate(spec)
    x = draws.ppf(law, np.linspace(1e-6, 1 - 1e-6, 1001))
    lo, hi = spec["bounds"]
    assert (x >= lo).all() and (x <= hi).all()
    assert np.abs(np.median(x) - near) < 0.05 * (hi - lo), np.median(x)
    assert np.abs(draws.central(law) - near) < 0.05 * (hi - lo)


@pytest.mark.parametrize(
    "share",
    [
        "{dist: choice, values: [0.2, 0.3], bounds: [0.5, 0.9]}",
        "{dist: uniform, low: 0.1, high: 0.3, bounds: [0.5, 0.9]}",
        "{dist: lognormal, median: 0.5, sigma: 0.3, bounds: [-1.0, 0.0]}",
    ],
)
def test_bounds_that_exclude_every_value_are_refused(
    share: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        SHORT + "events:\n  - {kind: export_control, exporter: CN, mode: quota, "
        f"start: 2024-03-01,\n     share: {share}}}\n",
    )
    assert main(["validate", str(path)]) == 2
    err = one_line_error(capsys)
    assert f"{path}:7: events[0].share: bounds " in err and "exclude every value" in err


# -- 4. seeds -----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [2**64, -1, 2**64 + 5])
def test_a_seed_out_of_the_generators_range_is_refused(seed: int, tmp_path: Path) -> None:
    from sim.errors import InputError

    world = one_chain()
    scenario = load_scenario_text(QUOTA, world, tmp_path)
    with pytest.raises(InputError, match=r"--seed: a seed must be a whole number from 0 to"):
        sweep(world, scenario, 2, seed=seed)
    with pytest.raises(InputError, match=r"--seed: "):
        engine.run(world, scenario, seed=seed)


def test_the_largest_seed_is_not_seed_0(tmp_path: Path) -> None:
    from sim.config import draws

    scenario = load_scenario_text(QUOTA, one_chain(), tmp_path)
    for method in ("random", "lhs", "sobol"):
        top = draws.draw(scenario, 4, 2**64 - 1, method)["events[0].share"]
        assert not np.array_equal(top, draws.draw(scenario, 4, 0, method)["events[0].share"])


def test_the_command_line_refuses_a_seed_that_would_alias(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, QUOTA)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "-n", "2", "--seed", str(2**64), "--out", str(out)]) == 2
    assert "--seed: a seed must be a whole number" in one_line_error(capsys)
    assert not out.exists()


# -- 5. strict types ----------------------------------------------------------------------------
CONTROL = "  - {kind: export_control, exporter: CN, mode: quota, start: 2024-03-01, share: 0.5"


@pytest.mark.parametrize(
    ("extra", "field", "problem"),
    [
        (", share: yes}", "share", "must be a number, not yes/no"),
        (", end: 1735689600}", "end", "must be a date, written YYYY-MM-DD, not a number"),
        (", end: 2025.5}", "end", "must be a date"),
        (
            "}\n  - {kind: outage, facility: mountain_pass, start: 2024-02-01, end: 2024-05-01, "
            "share: off}",
            "share",
            "must be a number, not yes/no",
        ),
    ],
)
def test_truth_values_for_numbers_and_numbers_for_dates_are_refused(
    extra: str, field: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    control = CONTROL.replace(", share: 0.5", "") if "share: yes" in extra else CONTROL
    path = write(tmp_path, SHORT + "events:\n" + control + extra + "\n")
    assert main(["validate", str(path)]) == 2
    err = one_line_error(capsys)
    assert f".{field}: {problem}" in err


def test_a_horizon_given_as_numbers_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "name: t\nhorizon: {start: 1704067200, end: 2024-12-31}\n")
    assert main(["validate", str(path)]) == 2
    assert f"{path}:2: horizon.start: must be a date" in one_line_error(capsys)


# -- 6. one-line errors, not tracebacks ---------------------------------------------------------
def test_a_backtest_key_that_names_nothing_in_the_run_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write(tmp_path, SHORT)
    observed = write(tmp_path, "date,series,key,value\n2024,production,KR:mine,100\n", "o.csv")
    out = tmp_path / "out"
    assert main(["backtest", str(scenario), "--observed", str(observed), "--out", str(out)]) == 2
    err = one_line_error(capsys)
    assert f"{observed}:2: key: the run has no mine facility in KR" in err
    assert not out.exists()


def test_a_backtest_key_without_flows_is_a_series_of_zeros(tmp_path: Path) -> None:
    from sim.io.observed import read_observed
    from sim.runs.backtest import compare

    world = one_chain()
    result = engine.run(world, load_scenario_text(SHORT, world, tmp_path))
    observed = read_observed(
        write(tmp_path, "date,series,key,value\n2024-03,flow,US>CN:concentrate,5\n", "o.csv")
    )
    held = compare(result, observed)
    assert len(held.simulated) == 6 and (held.simulated["simulated"] == 0).all()


@pytest.mark.parametrize(
    ("start", "problem"),
    [
        ("9999-12-31", "must be a date from 1900 to 2200"),
        ("{dist: normal, mean: 2024-06-01, sd: 1.0e+300}", "draws reach beyond dates"),
        ("{dist: normal, mean: 2024-06-01, sd: 1.0e+6}", "draws reach beyond dates"),
        ("{dist: normal, mean: 2024-06-01, sd: 30000}", "lowest draw is refused here"),
    ],
)
def test_dates_beyond_the_calendar_are_refused_at_their_line(
    start: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        SHORT + f"events:\n  - {{kind: export_control, exporter: CN, mode: ban,\n"
        f"     start: {start}}}\n",
    )
    assert main(["validate", str(path)]) == 2
    err = one_line_error(capsys)
    assert f"{path}:7: events[0].start: " in err and problem in err


def test_a_scheduler_that_is_not_an_address_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, out = write(tmp_path, QUOTA), tmp_path / "out"
    argv = ["sweep", str(path), "-n", "2", "--scheduler", "not a url", "--out", str(out)]
    assert main(argv) == 2
    assert "--scheduler: expected 'local' or a Dask scheduler's address" in one_line_error(capsys)
    assert not out.exists() and not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("date", ["9999-12", "9999"])
def test_an_observed_date_at_the_calendars_end_is_refused(date: str, tmp_path: Path) -> None:
    from sim.errors import InputError
    from sim.io.observed import read_observed

    path = write(tmp_path, f"date,series,key,value\n{date},production,CN:mine,1\n", "o.csv")
    with pytest.raises(InputError, match=rf"{path}:2: date: not a date"):
        read_observed(path)


READ = """
import resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
from sim.errors import InputError
from sim.io.input_text import read_text
try:
    read_text(Path(sys.argv[1]), 1000)
except InputError as exc:
    print(exc)
"""


@pytest.mark.parametrize("kind", ["device", "fifo", "folder"])
def test_only_regular_files_are_read(kind: str, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    path = {"device": Path("/dev/zero"), "fifo": tmp_path / "fifo", "folder": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    # in a child process, with its memory bounded: a device read whole would fill it, and a
    # FIFO with no writer would wait for ever
    done = subprocess.run(
        [sys.executable, "-c", READ, str(path)],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == f"{path}: not a regular file (a folder, device or pipe)"


def test_a_large_observed_file_is_not_read_whole(tmp_path: Path) -> None:
    from sim.errors import InputError
    from sim.io.input_text import read_text

    path = write(tmp_path, "x" * 5000, "big.csv")
    with pytest.raises(InputError, match="larger than 1000 bytes"):
        read_text(path, 1000)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"samples": 0}, "-n: must be a whole number of at least 1 (got 0)"),
        ({"samples": 2, "batch_size": -2}, "--batch-size: must be a whole number of at least 1"),
        ({"samples": 2, "method": "bogus"}, "--method: expected one of ['random', 'lhs', 'sobol']"),
        ({"samples": 2, "workers": 0}, "--workers: must be a whole number of at least 1"),
    ],
)
def test_the_python_api_checks_its_arguments(options: dict, problem: str, tmp_path: Path) -> None:
    import sim
    from sim.errors import InputError

    path = write(tmp_path, QUOTA)
    with pytest.raises(InputError) as caught:
        sim.sweep(path, world=one_chain(), **options)
    assert str(caught.value) == problem or str(caught.value).startswith(problem)


def test_a_run_of_no_samples_is_refused(tmp_path: Path) -> None:
    from sim.errors import InputError

    world = one_chain()
    with pytest.raises(InputError, match=r"samples: must be a whole number of at least 1"):
        engine.run(world, load_scenario_text(SHORT, world, tmp_path), samples=0)


def test_compare_refuses_scenarios_on_different_worlds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(__file__).parent.parent / "scenarios"
    a, b = root / "china-2010-quotas.yaml", root / "baseline.yaml"
    out = tmp_path / "out"
    assert main(["compare", str(a), str(b), "-n", "2", "--out", str(out)]) == 2
    err = one_line_error(capsys)
    assert "runs on world default@2009 and B on default; a paired comparison needs one world" in err
    assert not out.exists()


def test_compare_refuses_scenarios_of_different_horizons(tmp_path: Path) -> None:
    import sim
    from sim.errors import InputError

    a = write(tmp_path, QUOTA, "a.yaml")
    b = write(tmp_path, QUOTA.replace("name: q", "name: r").replace("2024-12-31", "2025-06-30"))
    with pytest.raises(InputError, match="a paired comparison needs one horizon"):
        sim.compare(a, b, 2, world=one_chain())


# -- 7. warnings, long values and hints ---------------------------------------------------------
WARN_THEN = """
import sys, warnings
from sim.errors import InputError
from sim.io import cli, commands

def validate(args):
    warnings.warn("overflow encountered in multiply", RuntimeWarning)
    warnings.warn("a library's note", UserWarning)
    if sys.argv[1] == "fail":
        raise InputError("bad value", file="s.yaml", line=3)
    return 0

commands.validate = validate
sys.exit(cli.main(["validate", "s.yaml"]))
"""


@pytest.mark.parametrize("outcome", ["fail", "succeed"])
def test_warnings_do_not_break_the_one_line_error(outcome: str) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", WARN_THEN, outcome],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if outcome == "fail":
        assert done.returncode == 2
        assert done.stderr == "error: s.yaml:3: bad value\n"
    else:
        assert done.returncode == 0
        assert done.stderr.splitlines() == [
            "warning: RuntimeWarning: overflow encountered in multiply",
            "warning: UserWarning: a library's note",
        ]


@pytest.mark.parametrize(
    "text",
    [
        "name: " + "x" * 5000 + "\nhorizon: {start: 2024-01-01, end: 2024-12-31}\n",
        SHORT + "events:\n  - {kind: export_control, exporter: CN, mode: ban, "
        "start: 2024-03-01,\n     elements: [" + ", ".join(f"Zz{i}" for i in range(2000)) + "]}\n",
    ],
    ids=["name", "elements"],
)
def test_a_long_bad_value_is_echoed_as_a_short_excerpt(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, text)
    assert main(["validate", str(path)]) == 2
    err = one_line_error(capsys)
    assert len(err) < len(str(path)) + 400, len(err)
    assert "..." in err


def test_a_date_in_an_error_is_written_as_a_date() -> None:
    import datetime as dt

    from sim.errors import InputError

    found = InputError("too late", value=dt.date(9999, 12, 31), has_value=True)
    assert str(found) == "too late (got 9999-12-31)"


def test_did_you_mean_never_suggests_the_name_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, SHORT + "events:\n" + CONTROL + ", full_price_ratio: 3}\n")
    assert main(["validate", str(path)]) == 2
    err = one_line_error(capsys)
    assert "did you mean 'full_price_ratio'" not in err
    assert "'full_price_ratio' is a field of substitution events, not of this one" in err


# -- 8. extends: reaches only scenario files ----------------------------------------------------
@pytest.mark.parametrize("parent", ["notes.txt", "link.yaml", "zero.yaml", "folder.yaml"])
def test_extends_reaches_only_yaml_regular_files(
    parent: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, SHORT, "notes.txt")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "notes.txt")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "folder.yaml").mkdir()
    child = write(tmp_path, f"extends: {parent}\nname: child\n", "child.yaml")
    assert main(["validate", str(child)]) == 2
    err = one_line_error(capsys)
    assert f"{child}:1: extends: parent scenario {tmp_path / parent} " in err
    yaml = parent in ("notes.txt", "link.yaml")
    assert ("is not a .yaml or .yml file" if yaml else "is not a regular file") in err


def test_a_deep_extends_chain_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, SHORT, "s0.yaml")
    for i in range(1, 60):
        write(tmp_path, f"extends: s{i - 1}.yaml\nname: s{i}\n", f"s{i}.yaml")
    assert main(["validate", str(tmp_path / "s19.yaml")]) == 0
    capsys.readouterr()
    assert main(["validate", str(tmp_path / "s59.yaml")]) == 2
    err = one_line_error(capsys)
    assert f":1: extends: the extends: chain from {tmp_path / 's59.yaml'} is more than 20" in err


# -- the resume store verifies itself -----------------------------------------------------------
def _spoil_truncated(batch: Path, store: Path) -> None:
    batch.write_bytes(batch.read_bytes()[:100])


def _spoil_empty(batch: Path, store: Path) -> None:
    batch.write_bytes(b"")


def _spoil_swapped(batch: Path, store: Path) -> None:
    batch.write_bytes((store / "batch-000000.npz").read_bytes())


def _spoil_edited(batch: Path, store: Path) -> None:
    with np.load(batch) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["shortfall"] = arrays["shortfall"] + 1.0
    np.savez(batch, **arrays)


def _spoil_old(batch: Path, store: Path) -> None:
    with np.load(batch) as data:
        arrays = {k: data[k] for k in data.files if k != "__batch__"}
    np.savez(batch, **arrays)


SPOILS = {
    "truncated": (_spoil_truncated, "unreadable"),
    "empty": (_spoil_empty, "unreadable"),
    "swapped": (_spoil_swapped, "another sweep's or another batch's"),
    "edited": (_spoil_edited, "checksum does not match"),
    "unrecorded": (_spoil_old, "does not say which batch it is"),
}


@pytest.mark.parametrize("spoil", SPOILS, ids=list(SPOILS))
def test_a_bad_batch_file_is_run_again_with_a_notice(spoil: str, tmp_path: Path) -> None:
    from sim.runs.sweep_tables import summary_table

    world = one_chain()
    scenario = load_scenario_text(QUOTA, world, tmp_path)
    fresh = sweep(world, scenario, 6, seed=3, batch_size=2)
    store = tmp_path / "store"
    sweep(world, scenario, 6, seed=3, batch_size=2, store=store)
    action, reason = SPOILS[spoil]
    action(store / "batch-000001.npz", store)
    notices: list[str] = []
    again = sweep(world, scenario, 6, seed=3, batch_size=2, store=store, notice=notices.append)
    assert again.resumed == 2
    assert len(notices) == 1 and "batch-000001.npz: not resumed" in notices[0]
    assert reason in notices[0] and "running batch 1 again" in notices[0]
    pd.testing.assert_frame_equal(summary_table(again), summary_table(fresh), check_exact=True)
    # the batch run again was saved whole: a third run resumes every batch
    third = sweep(world, scenario, 6, seed=3, batch_size=2, store=store, notice=notices.append)
    assert third.resumed == 3 and len(notices) == 1


def test_another_sweeps_batch_is_not_trusted(tmp_path: Path) -> None:
    world = one_chain()
    scenario = load_scenario_text(QUOTA, world, tmp_path)
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    sweep(world, scenario, 4, seed=1, batch_size=2, store=mine)
    sweep(world, scenario, 4, seed=2, batch_size=2, store=theirs)
    (mine / "batch-000000.npz").write_bytes((theirs / "batch-000000.npz").read_bytes())
    notices: list[str] = []
    again = sweep(world, scenario, 4, seed=1, batch_size=2, store=mine, notice=notices.append)
    alone = sweep(world, scenario, 4, seed=1, batch_size=2)
    assert again.resumed == 1 and "another sweep's" in notices[0]
    assert np.array_equal(again.arrays["shortfall"], alone.arrays["shortfall"])


def test_an_output_target_that_cannot_be_made_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import time

    from sim.io.cli import main

    scenario = Path(__file__).parent.parent / "scenarios" / "baseline.yaml"
    dangling = tmp_path / "link"
    dangling.symlink_to(tmp_path / "nowhere")
    a_file = tmp_path / "file"
    a_file.write_text("")
    for target in (dangling, a_file / "out"):
        began = time.perf_counter()
        assert main(["run", str(scenario), "--out", str(target)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: --out:"), err
        assert ".partial" not in err[0]
        assert time.perf_counter() - began < 5.0  # refused before the run, not after
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_result_folders_get_the_users_normal_permissions(tmp_path: Path, umask: int) -> None:
    # written in a hidden temporary folder (mkdtemp: 0700) and renamed into place: the folder
    # must end up as a mkdir under the user's umask would have made it
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SHORT)
    was = os.umask(umask)
    try:
        assert main(["run", str(scenario), "--out", str(tmp_path / "out")]) == 0
        (tmp_path / "plain").mkdir()
    finally:
        os.umask(was)
    mode = (tmp_path / "out").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain").stat().st_mode & 0o777 == 0o777 & ~umask


@pytest.mark.parametrize(
    ("key", "values", "expected"),
    [
        ("events[0].share", [5.0, 0.2], "a drawn value is refused: Input should be less than"),
        ("events[0].share", [float("nan"), 0.2], "draws must be finite numbers"),
        ("events[0].shares", [0.1, 0.2], "no such number or date in the scenario"),
        ("events[7].share", [0.1, 0.2], "no such number or date in the scenario"),
        ("events[0].share", [0.1], "must hold one value a sample (2)"),
        ("events[0].start", [0.5, 0.5], "a drawn date must be a day ordinal"),
    ],
)
def test_injected_draws_are_checked_like_the_file(key: str, values: list, expected: str) -> None:  # type: ignore[type-arg]
    # draws given to run() from outside are refused where the scenario's schema would refuse
    # the value in its file (an approval rate of 5.0 used to run)
    world = default_world()
    scenario = load_scenario_text(QUOTA, world)
    with pytest.raises(InputError) as info:
        engine.run(world, scenario, samples=2, draws={key: np.array(values)})
    assert str(info.value).startswith(f"{key}: {expected}"), str(info.value)


def test_injected_draws_within_the_schema_run() -> None:
    world = default_world()
    scenario = load_scenario_text(QUOTA, world)
    day = float(dt.date(2024, 5, 1).toordinal())
    draws = {"events[0].share": np.array([0.1, 0.7]), "events[0].start": np.array([day, day])}
    result = engine.run(world, scenario, samples=2, draws=draws)
    assert result.shortfall[0].sum() >= result.shortfall[1].sum()


def test_a_local_dask_cluster_leaves_no_scratch_folder(tmp_path: Path) -> None:
    # Dask's default scratch space ($TMPDIR/dask-scratch-space) stayed behind every sweep
    # run with --scheduler local
    scenario = tmp_path / "q.yaml"
    scenario.write_text(QUOTA)
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch_root), "MPLBACKEND": "Agg"}
    argv = ["sweep", str(scenario), "-n", "8", "--workers", "1", "--scheduler", "local"]
    done = subprocess.run(
        [sys.executable, "-m", "sim", *argv, "--out", str(tmp_path / "out")],
        cwd=Path(__file__).parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "manifest.json").is_file()
    assert sorted(p.name for p in scratch_root.iterdir()) == []


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("2040-01..2041-01", "the window is outside the horizon (2024-01-01 to 2024-12-31)"),
        ("2024-09..2024-03", "the window ends before it starts"),
    ],
)
def test_sensitivity_refuses_a_window_with_no_month_of_the_horizon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], window: str, expected: str
) -> None:
    # a window outside the horizon gave all-zero (or NaN) indices and exit 0
    scenario = tmp_path / "q.yaml"
    scenario.write_text(QUOTA)
    output = f"shortfall_t:US:ev_traction:NdFeB@{window}"
    argv = [
        "sensitivity",
        str(scenario),
        "--output",
        output,
        "-n",
        "4",
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(argv) == 2
    assert f"--output: {expected}" in one_line_error(capsys)
    assert not (tmp_path / "o").exists()


def test_a_sweep_estimated_past_the_time_limit_needs_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing bounded a command's time: a sweep estimated past the limit is refused before
    # any work, and runs with --force
    monkeypatch.setattr(engine, "TIME_LIMIT_SECONDS", 1e-3)
    scenario = tmp_path / "q.yaml"
    scenario.write_text(QUOTA)
    argv = ["sweep", str(scenario), "-n", "4", "--workers", "1"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 2
    err = one_line_error(capsys)
    assert "-n: 4 futures of q would take about" in err and "pass --force" in err
    assert not (tmp_path / "a").exists()
    assert main([*argv, "--force", "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "manifest.json").is_file()


@pytest.mark.parametrize(
    ("command", "futures"),
    [
        # one input: 2 x 1 + 1 swings and 4 x (1 + 2) Sobol' runs
        (["sensitivity", "--output", "shortfall_t:US:ev_traction", "-n", "4"], 15),
        # 20 typical trials of 3 futures each
        (
            ["solve", "--lever", "events[1].initial_t", "-n", "3", "--target",
             "no_shortfall region=US sector=defence"],
            60,
        ),
    ],
)  # fmt: skip
def test_sensitivity_and_solve_estimated_past_the_time_limit_need_force(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    futures: int,
) -> None:
    monkeypatch.setattr(engine, "TIME_LIMIT_SECONDS", 1e-3)
    scenario = tmp_path / "q.yaml"
    pile = (
        "\n  - {kind: stockpile, region: US, material: NdFeB, initial_t: 10,"
        " max_release_t_per_month: 5, release_threshold: 0, start: 2024-03-01}\n"
    )
    scenario.write_text(QUOTA.rstrip("\n") + pile)
    argv = [command[0], str(scenario), *command[1:], "--out", str(tmp_path / "a")]
    assert main(argv) == 2
    err = one_line_error(capsys)
    assert f"{futures} futures of q would take about" in err and "pass --force" in err
    assert not (tmp_path / "a").exists()

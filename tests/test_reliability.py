"""Trust under attack (issue 18): checks that a NaN cannot pass, inputs refused at their line
rather than run into nonsense, and one-line errors (never a traceback) for hostile input.

Each test here failed on the tree before its fix."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sim.errors import MassBalanceError
from sim.io.cli import main
from sim.io.scenario_files import load_scenario
from sim.model.ledger import Ledger
from sim.runs import engine
from sim.runs.sweep import sweep
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
    ledger.open(np.zeros((2, 8)))
    holdings = np.zeros((2, 8))
    holdings[1, 3] = np.nan
    with pytest.raises(MassBalanceError, match="sample 1"):
        ledger.check(holdings)


def test_a_run_recording_a_nan_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    world = one_chain()
    scenario = load_scenario_text(SHORT, world)
    real = engine._prices

    def poisoned(chain, record):  # noqa: ANN001, ANN202
        prices = real(chain, record)
        prices[0, 2, magnet, 1] = np.inf
        return prices

    magnet = engine.PRICE_PRODUCTS.index("NdFeB_magnet")
    monkeypatch.setattr(engine, "_prices", poisoned)
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
    arrays["shortfall"][0, 3, 0] = np.nan
    np.savez(batch, **arrays)
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

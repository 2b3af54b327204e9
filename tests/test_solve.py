"""`sim solve` (issue 16): the smallest stockpile that keeps US defence whole through 2030 under
the full US embargo, checked by plain runs at the answer and 5% below it; more stockpile never
adds to the shortfall (what the search assumes); a share of uncertain futures; no answer when
more does not help; and bad levers and targets as one-line errors with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.config.scenario import Scenario
from sim.errors import InputError
from sim.io.cli import main
from sim.io.scenario_files import load_scenario
from sim.runs.engine import run
from sim.runs.solve import Futures, Solve, excess_t, solve
from sim.runs.solve_inputs import parse_lever, parse_target
from sim.runs.sweep import sweep
from sim.runs.tables import shortfall_table, summary_table
from sim.world.loader import default_world
from tests.test_scenario_library import SCENARIOS

STOCKPILE = SCENARIOS / "full-embargo-us-defence-stockpile.yaml"
LEVER = "events[2].initial_t"
DEFENCE = "no_shortfall region=US sector=defence material=NdFeB until=2030-12-31"


def scenario() -> Scenario:
    return load_scenario(STOCKPILE, default_world())


def with_stockpile(base: Scenario, initial_t: float) -> Scenario:
    """``base`` with its stockpile (event 2) holding ``initial_t`` at the start."""
    events = list(base.events)
    events[2] = events[2].model_copy(update={"initial_t": initial_t})
    return base.model_copy(update={"events": events})


def defence_months_short(base: Scenario, initial_t: float) -> int:
    """Months US defence NdFeB is short through 2030 in a plain run (as summary.csv says)."""
    result = run(default_world(), with_stockpile(base, initial_t))
    summary = summary_table(shortfall_table(result))
    row = summary[
        (summary["region"] == "US")
        & (summary["sector"] == "defence")
        & (summary["material"] == "NdFeB")
    ]
    return int(row["months_short"].sum())


def solved(base: Scenario, target: str = DEFENCE, n: int = 1, p: float = 0.95) -> Solve:
    world = default_world()
    lever, goal = parse_lever(LEVER, base), parse_target(target, base, world)
    return solve(world, base, lever, goal, p, Futures(n))


def test_solve_finds_the_defence_stockpile_that_keeps_us_defence_whole_through_2030() -> None:
    base = scenario()
    found = solved(base)
    assert found.answer is not None and found.futures == 1
    failed = found.failed_below()
    assert failed is not None and 0 < found.answer - failed <= 1e-3 * found.answer + 1e-2
    assert 900 < found.answer < 1100  # ~1,016 t: the defence gap through 2030
    assert defence_months_short(base, found.answer) == 0
    assert defence_months_short(base, 0.95 * found.answer) > 0
    assert found.check is not None and found.check.excess_t > 0 and not found.check.holds


def test_more_stockpile_never_adds_to_the_shortfall() -> None:
    """What the search assumes of a lever (`LEVERS`): the excess falls as it grows."""
    base, world = scenario(), default_world()
    sizes = np.array([0.0, 1.0, 250.0, 900.0, 1015.0, 1020.0, 3000.0])
    target = parse_target(DEFENCE, base, world)
    result = sweep(world, base, len(sizes), draws={LEVER: sizes})
    excess = excess_t(result, target)
    assert np.all(np.diff(excess) <= 1e-6) and excess[0] > 900 and excess[-1] == 0


def test_without_the_foreign_content_rule_no_stockpile_is_needed(tmp_path: Path) -> None:
    """The plain embargo leaves US defence whole (served first, supplied from plants
    abroad): the answer is the lever's least, in one trial."""
    path = tmp_path / "plain.yaml"
    text = STOCKPILE.read_text().replace("foreign_content_threshold: 0.001", "")
    path.write_text(
        text.replace("extends: full-embargo-us.yaml", f"extends: {SCENARIOS}/full-embargo-us.yaml")
    )
    found = solved(load_scenario(path, default_world()))
    assert found.answer == 0.0 and len(found.trials) == 1 and found.check is None


def uncertain(tmp_path: Path) -> Scenario:
    """The stockpile scenario to 2027 with the rule's start uncertain (2025-01 to 2026-06)."""
    text = STOCKPILE.read_text().replace("end: 2030-12-31", "end: 2027-12-31")
    start = "foreign_content_threshold: 0.001\n    start: 2025-04-04"
    drawn = start.replace("2025-04-04", "{dist: uniform, low: 2025-01-01, high: 2026-06-30}")
    text = text.replace(start, drawn).replace(
        "extends: full-embargo-us.yaml", f"extends: {SCENARIOS}/full-embargo-us.yaml"
    )
    (tmp_path / "u.yaml").write_text(text)
    return load_scenario(tmp_path / "u.yaml", default_world())


def test_a_share_of_uncertain_futures_is_met_on_common_draws(tmp_path: Path) -> None:
    """With 8 futures and p = 0.75 the answer holds in at least 6 of them, the largest value
    that failed in fewer; a smaller share needs no more stockpile than a larger one."""
    base = uncertain(tmp_path)
    target = "no_shortfall region=US sector=defence material=NdFeB"
    most, some = solved(base, target, n=8, p=0.75), solved(base, target, n=8, p=0.25)
    assert most.futures == 8 and most.answer is not None and some.answer is not None
    table = most.trials_table().set_index(LEVER)
    assert table.loc[most.answer, "share_held"] >= 0.75
    assert table.loc[most.failed_below(), "share_held"] < 0.75
    assert some.answer < most.answer


def test_no_answer_when_more_does_not_help(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """With the US SmCo makers down too, US defence's SmCo is short, and an NdFeB stockpile
    cannot help it: exit 1."""
    out = tmp_path / "out"
    smco_down = tmp_path / "smco-down.yaml"
    text = STOCKPILE.read_text().replace(
        "extends: full-embargo-us.yaml", f"extends: {SCENARIOS}/full-embargo-us.yaml"
    )
    smco_down.write_text(
        text + "  - {kind: outage, facility: us_smco, start: 2025-04-04, end: 2031-01-01}\n"
    )
    target = "no_shortfall region=US sector=defence until=2026-12-31"
    assert (
        main(["solve", str(smco_down), "--lever", LEVER, "--target", target, "--out", str(out)])
        == 1
    )
    printed = capsys.readouterr()
    assert "no answer" in printed.out and "\n" not in printed.err.strip()
    assert printed.err.startswith(f"error: no size of {LEVER} meets the target: ")
    assert "more does not help" in printed.err
    assert json.loads((out / "manifest.json").read_text())["answer"] is None


def test_sim_solve_prints_the_answer_trials_and_margin(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    target = "no_shortfall region=US sector=defence material=NdFeB until=2026-12-31"
    assert (
        main(["solve", str(STOCKPILE), "--lever", LEVER, "--target", target, "--out", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert f"answer: {manifest['answer']:,.2f} t" in printed and "margin:" in printed
    trials = (out / "trials.csv").read_text().splitlines()
    assert trials[0] == f"{LEVER},excess_t,share_held,holds,check" and len(trials) >= 4


@pytest.mark.parametrize(
    ("option", "text", "message"),
    [
        ("--lever", "events[9].initial_t", "not a lever"),
        ("--lever", "events[0].start", "not a lever"),
        ("--lever", "initial_t", "expected events[N].FIELD"),
        ("--target", "shortfall region=US", "expected 'no_shortfall"),
        ("--target", "no_shortfall sector=defence", "no region"),
        ("--target", "no_shortfall region=XX", "unknown region"),
        ("--target", "no_shortfall region=US sector=defense", "unknown sector"),
        ("--target", "no_shortfall region=US colour=red", "key 'colour'"),
        ("--target", "no_shortfall region=US region=EU", "key 'region'"),
        ("--target", "no_shortfall region=US until=2031-12-31", "within the horizon"),
        ("--target", "no_shortfall region=US until=2030-12", "YYYY-MM-DD"),
        ("--target", "no_shortfall region=US sector=defence material=Y", "no buyers"),
    ],
)
def test_a_bad_lever_or_target_is_one_line_and_exit_2(
    option: str, text: str, message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = {"--lever": LEVER, "--target": DEFENCE, option: text}
    argv = ["solve", str(STOCKPILE), *(x for kv in args.items() for x in kv)]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {option}: ") and message in err and "\n" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("option", "value"), [("--probability", "0"), ("--probability", "1.5"), ("-n", "0")]
)
def test_a_bad_probability_or_count_is_refused(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["solve", str(STOCKPILE), "--lever", LEVER, "--target", DEFENCE, option, value]) == 2
    )
    assert capsys.readouterr().err.startswith(f"error: {option}: ")


def test_a_lever_is_parsed_with_its_event_and_value() -> None:
    lever = parse_lever(" events[2].initial_t ", scenario())
    assert (lever.path, lever.name, lever.current, lever.kind.unit) == (
        LEVER,
        "US defence NdFeB stockpile",
        500.0,
        "t",
    )
    with pytest.raises(InputError, match="this scenario has none"):
        parse_lever(LEVER, load_scenario(SCENARIOS / "baseline.yaml", default_world()))

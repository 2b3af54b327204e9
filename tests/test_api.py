"""The public Python API (`sim.api`, re-exported by `sim`): each function gives what the layers
below it give, its results are DataFrames, its help is complete, ``import sim`` stays light,
and the README's example runs and prints what the README shows."""

from __future__ import annotations

import inspect
import pydoc
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.config.scenario import Scenario
from sim.errors import InputError
from sim.io.observed import read_observed
from sim.io.scenario_files import load_scenario as load_from_file
from sim.runs import backtest as backtests
from sim.runs import engine, sweep_tables, tables
from sim.runs import sweep as sweeps
from sim.runs.impact import impact_tables
from sim.runs.sweep_costs import sweep_extra_cost_table
from sim.runs.sweep_impact import sweep_impact_table
from sim.runs.sweep_resilience import sweep_resilience_table
from sim.runs.windows import BY_YEAR
from sim.world.loader import vintage_world
from tests.test_sweep import SCENARIO
from tests.worlds import one_chain

ROOT = Path(__file__).parent.parent
BASELINE = ROOT / "scenarios" / "baseline.yaml"
BAN = ROOT / "scenarios" / "china-magnet-ban-us.yaml"
API = ("load_scenario", "load_world", "run", "sweep", "compare", "backtest")


def _readme_block(language: str, after: str) -> str:
    """The first ``language`` code block of the README's section titled ``after``."""
    section = (ROOT / "README.md").read_text().split(f"## {after}\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert found is not None, f"no {language} block under '## {after}'"
    return found.group(1)


def test_the_readme_example_runs_and_prints_what_the_readme_shows(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(_readme_block("python", "Python API"), "README.md", "exec"), {})
    printed = capsys.readouterr().out.strip().splitlines()
    shown = _readme_block("console", "Python API").strip().splitlines()
    assert [line.split() for line in printed] == [line.split() for line in shown]


def test_help_shows_every_function_with_its_arguments_and_an_example() -> None:
    text = pydoc.render_doc(sim, renderer=pydoc.plaintext)
    for name in API:
        assert f"{name}(" in text, name
        doc = inspect.getdoc(getattr(sim, name)) or ""
        for part in ("Args:", "Returns:", "Raises:", "Example:"):
            assert part in doc, f"{name} lacks {part}"
    assert set(API) | {"Result", "Sweep"} <= set(sim.__all__)


def test_import_sim_loads_no_heavy_module() -> None:
    code = "import sim, sys; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for heavy in ("numpy", "pandas", "dask", "distributed", "matplotlib", "numba", "pydantic"):
        assert f"'{heavy}'" not in loaded, heavy


def test_load_scenario_and_load_world() -> None:
    scenario = sim.load_scenario(BAN)
    assert isinstance(scenario, Scenario)
    assert scenario == load_from_file(BAN)
    assert sim.load_scenario(str(BAN), "default") == scenario
    assert sim.load_world() is vintage_world("default")
    assert sim.load_world("default@2009").base_year == 2009
    world = one_chain()
    assert sim.load_world(world) is world
    with pytest.raises(InputError, match="unknown world"):
        sim.load_world("nowhere")
    with pytest.raises(InputError, match="no such file"):
        sim.load_scenario(ROOT / "scenarios" / "missing.yaml")


def test_run_gives_the_engine_run_and_its_tables(tmp_path: Path) -> None:
    scenario = load_from_file(BAN)
    result = sim.run(BAN, seed=3)
    alone = engine.run(vintage_world(scenario.world), scenario, seed=3)
    assert sim.run(scenario).raw.scenario == result.scenario == scenario
    assert result.raw.seed == 3 and result.residual == alone.residual
    for name, build in (
        ("shortfall", tables.shortfall_table),
        ("prices", tables.prices_table),
        ("flows", tables.flows_table),
        ("stocks", tables.stocks_table),
        ("production", tables.production_table),
    ):
        frame = getattr(result, name)
        assert isinstance(frame, pd.DataFrame) and getattr(result, name) is frame  # kept
        pd.testing.assert_frame_equal(frame, build(alone), check_exact=True)
    pd.testing.assert_frame_equal(
        result.summary, tables.summary_table(tables.shortfall_table(alone)), check_exact=True
    )
    impact = impact_tables(alone, tables.shortfall_table(alone), BY_YEAR)
    for name in ("units_not_built", "extra_cost", "resilience"):
        pd.testing.assert_frame_equal(getattr(result, name), impact[f"{name}.csv"])
    written = result.write(tmp_path / "out")
    assert (written / "shortfall.parquet").is_file() and (written / "manifest.json").is_file()
    with pytest.raises(InputError, match="already exists"):
        result.write(written)


def _uncertain(tmp_path: Path, name: str, extra: str = "") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SCENARIO.format(name=name, extra=extra))
    return path


def test_sweep_and_compare_give_the_sweeps_tables(tmp_path: Path) -> None:
    world = one_chain(cover_weeks=4.0)
    a_path = _uncertain(tmp_path, "a")
    ban = (
        "  - kind: export_control\n    exporter: CN\n    destinations: [US]\n    mode: ban\n"
        "    start: 2024-06-01\n    end: 2025-06-30\n"
    )
    b_path = _uncertain(tmp_path, "b", ban)
    found = sim.sweep(a_path, 12, seed=4, world=world, batch_size=5)
    a = load_from_file(a_path, world)
    alone = sweeps.sweep(world, a, 12, seed=4)
    assert found.samples == 12 and found.scenario == a
    for name, build in (
        ("summary", sweep_tables.summary_table),
        ("totals", sweep_tables.totals_table),
        ("parameters", sweep_tables.parameters_table),
        ("units_not_built", lambda r: sweep_impact_table(r, world, BY_YEAR)),
        ("extra_cost", lambda r: sweep_extra_cost_table(r, world, BY_YEAR)),
        ("resilience", sweep_resilience_table),
    ):
        pd.testing.assert_frame_equal(getattr(found, name), build(alone), check_exact=True)
    assert (found.extra_cost["mean"] != 0.0).any()  # the test world's prices move
    written = found.write(tmp_path / "swept")
    assert (written / "summary.csv").is_file() and (written / "manifest.json").is_file()
    resilience = pd.read_csv(written / "resilience.csv")
    assert len(resilience) == len(found.resilience)
    with pytest.raises(InputError, match="already exists"):
        found.write(written)
    compared = sim.compare(a_path, b_path, 12, seed=4, world=world)
    b = sweeps.sweep(world, load_from_file(b_path, world), 12, seed=4)
    pd.testing.assert_frame_equal(
        compared, sweep_tables.comparison_table(alone, b), check_exact=True
    )
    assert (compared["diff_mean"] >= -1e-3).all() and (compared["diff_mean"] > 1.0).any()


def test_backtest_gives_the_backtest_of_the_engine_run() -> None:
    scenario_path = ROOT / "scenarios" / "china-2010-quotas.yaml"
    observed = ROOT / "scenarios" / "observed" / "china-2010-quotas-pre-event.csv"
    found = sim.backtest(scenario_path, observed)
    scenario = load_from_file(scenario_path)
    expected = backtests.compare(
        engine.run(vintage_world(scenario.world), scenario), read_observed(observed)
    )
    for name in ("summary", "directions", "compared", "simulated"):
        pd.testing.assert_frame_equal(getattr(found, name), getattr(expected, name))
    with pytest.raises(InputError):
        sim.backtest(scenario_path, ROOT / "README.md")

"""`sim compare` prints the groups B moved most and says how many more it did not show, the
groups the user names in full, and how demand, deliveries and shortfall moved in total."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.io import console
from sim.io.cli import main


def _table(groups: int) -> pd.DataFrame:
    rows = [
        {
            "region": "US",
            "sector": f"s{i}",
            "material": "NdFeB",
            **{c: float(i + 1) for c in console.COMPARISON_TONNES},
            "diff_p05": float(i + 1),
            "diff_p95": float(i + 1),
            "diff_mean": float(i + 1),
            "probability_b_lower": 0.0,
            "diff_demand_mean": -2.0 * (i + 1),
            "diff_delivered_mean": -3.0 * (i + 1),
        }
        for i in range(groups)
    ]
    return pd.DataFrame(rows)


def test_the_rows_it_hides_are_counted() -> None:
    text = console.comparison(_table(console.TOP_ROWS + 4))
    assert "\n... and 4 more groups B moved, smaller (all in comparison.csv)\n" in text
    assert "s0 " not in text and f"s{console.TOP_ROWS + 3}" in text  # largest first


def test_nothing_is_said_hidden_when_all_rows_show() -> None:
    assert "more groups" not in console.comparison(_table(3))


def test_the_groups_asked_for_are_shown_whatever_moved() -> None:
    table = _table(console.TOP_ROWS + 4)
    table.loc[0, ["diff_p05", "diff_p95", "diff_mean"]] = 0.0  # s0 did not move
    table.loc[1, "region"] = "EU"
    text = console.comparison(table, [("US", "s0"), ("EU", "all")])
    asked = text.split("the groups asked for (US:s0, EU:all)")[1].split("in total")[0]
    rows = [line.split()[:2] for line in asked.splitlines()[2:] if line.strip()]
    assert rows == [["US", "s0"], ["EU", "s1"]]


def test_the_totals_split_shortfall_from_demand_given_up() -> None:
    table = _table(3)  # diff_mean 1+2+3, demand -2-4-6, delivered -3-6-9, all US
    table.loc[2, "region"] = "CN"
    total = console.comparison(table).split("in total, B minus A")[1].splitlines()
    ex_china = next(line for line in total if line.startswith("ex-China"))
    china = next(line for line in total if line.startswith("CN"))
    assert ex_china.split()[1:] == ["NdFeB", "-6", "-9", "3"]
    assert china.split()[1:] == ["NdFeB", "-6", "-9", "3"]


def test_a_bad_group_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["compare", "a.yaml", "b.yaml", "-n", "2", "--out", str(tmp_path / "o")]
    assert main([*argv, "--show", "US:defense"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --show:") and "'US:defense'" in err and "defence" in err
    assert not (tmp_path / "o").exists()

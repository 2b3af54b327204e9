"""`sim compare` prints the groups B moved most and says how many more it did not show."""

from __future__ import annotations

import pandas as pd

from sim.io import console


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
        }
        for i in range(groups)
    ]
    return pd.DataFrame(rows)


def test_the_rows_it_hides_are_counted() -> None:
    text = console.comparison(_table(console.TOP_ROWS + 4))
    assert text.splitlines()[-1] == (
        "... and 4 more groups B moved, smaller (all in comparison.csv)"
    )
    assert "s0 " not in text and f"s{console.TOP_ROWS + 3}" in text  # largest first


def test_nothing_is_said_hidden_when_all_rows_show() -> None:
    assert "more groups" not in console.comparison(_table(3))

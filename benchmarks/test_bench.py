"""Speed targets, outside the default test run: ``python -m pytest -m benchmark benchmarks/``."""

import pytest

from benchmarks.bench_run import measure


@pytest.mark.benchmark
def test_ten_year_monthly_run_of_the_default_world_under_one_second() -> None:
    assert measure(5)["median_s"] < 1.0

"""Speed targets, outside the default test run: ``python -m pytest -m benchmark benchmarks/``."""

import pytest

from benchmarks.bench_run import measure


@pytest.mark.benchmark
def test_ten_year_monthly_run_of_the_default_world_under_one_second() -> None:
    assert measure(5)["median_s"] < 1.0


@pytest.mark.benchmark
def test_sweep_of_ten_thousand_samples_meets_its_targets() -> None:
    from benchmarks.bench_sweep import measure as sweep_measure

    found = sweep_measure(10_000, 3, 20)
    assert found["sweep_2_workers_s"] <= 10.0
    assert found["throughput_vs_one_at_a_time_2_workers"] >= 50.0
    assert found["speedup_2_vs_1"] >= 1.6
    assert found["parent_peak_mb"] + 2 * found["largest_worker_peak_mb"] <= 2048

"""Speed targets, outside the default test run: ``python -m pytest -m benchmark benchmarks/``."""

import pytest

from benchmarks.bench_run import measure


@pytest.mark.benchmark
def test_ten_year_monthly_run_of_the_default_world_within_three_tenths_of_a_second() -> None:
    assert measure(5)["median_s"] <= 0.3  # issue 14's target


@pytest.mark.benchmark
def test_sweep_of_ten_thousand_samples_meets_its_targets() -> None:
    from benchmarks.bench_sweep import measure as sweep_measure

    found = sweep_measure(10_000, 3, 20)
    assert found["sweep_2_workers_s"] <= 10.0
    assert found["throughput_vs_one_at_a_time_2_workers"] >= 50.0
    assert found["speedup_2_vs_1"] >= 1.6
    assert found["parent_peak_mb"] + 2 * found["largest_worker_peak_mb"] <= 2048


@pytest.mark.benchmark
def test_a_batch_of_1000_costs_far_less_a_sample_than_one_at_a_time() -> None:
    from benchmarks.bench_batch import measure as measure_batch

    row = measure_batch([1000], 3)[1000]
    print(
        f"S=1000: {row['per_sample_step_us']:.1f} us a sample-step, "
        f"{row['speedup_vs_single']:.1f}x one-at-a-time"
    )
    assert row["speedup_vs_single"] >= 10.0


@pytest.mark.benchmark
def test_sim_run_of_the_baseline_end_to_end_in_at_most_one_and_a_half_seconds() -> None:
    from benchmarks.bench_cli import measure as measure_cli

    found = measure_cli(5)
    print(f"sim run baseline: median {found['median_s']:.3f} s")
    assert found["median_s"] <= 1.5


@pytest.mark.benchmark
def test_the_first_sim_run_of_a_new_copy_in_at_most_ten_seconds() -> None:
    from benchmarks.bench_cli import first_runs

    found = first_runs(5)
    print(f"first sim run baseline: median {found['median_s']:.3f} s")
    assert found["median_s"] <= 10.0

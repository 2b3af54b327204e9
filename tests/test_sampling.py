"""Draws of uncertain inputs: their laws, reproducibility, common random numbers, and the
loader's checks on distributions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sim.config import draws as sampling
from sim.config.distributions import Distribution
from sim.errors import InputError
from sim.io.scenario_files import load_scenario

N = 4000


def _u(n: int = N) -> np.ndarray:
    return sampling.uniforms(sampling.sample_seeds(7, n), "x")


def test_uniforms_are_uniform_and_depend_on_seed_index_and_key() -> None:
    u = _u()
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert ((u > 0) & (u < 1)).all()
    assert not np.array_equal(u, sampling.uniforms(sampling.sample_seeds(8, N), "x"))
    assert not np.array_equal(u, sampling.uniforms(sampling.sample_seeds(7, N), "y"))
    # a sample's draw does not depend on which other samples are drawn with it
    tail = sampling.uniforms(sampling.sample_seeds(7, 10, first=N - 10), "x")
    assert np.array_equal(tail, u[-10:])


@pytest.mark.parametrize(
    ("spec", "law"),
    [
        ({"dist": "uniform", "low": 2, "high": 5}, stats.uniform(2, 3)),
        ({"dist": "triangular", "low": 0, "mode": 1, "high": 4}, stats.triang(0.25, 0, 4)),
        ({"dist": "normal", "mean": 10, "sd": 2}, stats.norm(10, 2)),
        ({"dist": "lognormal", "median": 3, "sigma": 0.5}, stats.lognorm(0.5, scale=3)),
        ({"dist": "beta", "a": 2, "b": 5, "low": 0, "high": 1}, stats.beta(2, 5)),
    ],
)
def test_continuous_draws_follow_their_law(spec: dict, law: stats.rv_continuous) -> None:
    x = sampling.ppf(Distribution.model_validate(spec), _u())
    assert stats.kstest(x, law.cdf).pvalue > 1e-3


def test_choice_follows_weights_and_bounds_truncate() -> None:
    d = Distribution.model_validate({"dist": "choice", "values": [1, 2, 3], "weights": [1, 0, 3]})
    x = sampling.ppf(d, _u())
    assert set(np.unique(x)) == {1.0, 3.0}
    assert abs((x == 3).mean() - 0.75) < 0.03
    bounded = Distribution.model_validate(
        {"dist": "normal", "mean": 0, "sd": 1, "bounds": [-0.5, 2]}
    )
    y = sampling.ppf(bounded, _u())
    assert y.min() >= -0.5 and y.max() <= 2
    assert stats.kstest(y, stats.truncnorm(-0.5, 2).cdf).pvalue > 1e-3


def test_date_draws_are_whole_days_within_range() -> None:
    d = Distribution.model_validate(
        {"dist": "uniform", "low": dt.date(2027, 1, 1), "high": dt.date(2028, 6, 30)}
    )
    x = sampling.ppf(d, _u())
    assert np.array_equal(x, np.rint(x))
    assert x.min() >= dt.date(2027, 1, 1).toordinal()
    assert x.max() <= dt.date(2028, 6, 30).toordinal()
    assert sampling.central(d) == dt.date(2027, 10, 1)


def test_lhs_puts_one_draw_in_each_stratum() -> None:
    units = sampling._unit_draws(["a", "b"], 3, 100, "lhs")
    for col in units.T:
        assert sorted(np.floor(col * 100).astype(int)) == list(range(100))


def _write(tmp: Path, name: str, body: str) -> Path:
    path = tmp / name
    path.write_text(body)
    return path


HEAD = "horizon: {start: 2024-01-01, end: 2026-12-31}\nevents:\n"
CONTROL = (
    "  - kind: export_control\n    exporter: CN\n    mode: quota\n"
    "    share: {share}\n    start: {start}\n"
)


def test_scenarios_sharing_an_input_name_share_its_draws(tmp_path: Path) -> None:
    a = _write(
        tmp_path,
        "a.yaml",
        "name: a\n"
        + HEAD
        + CONTROL.format(share="{dist: uniform, low: 0.1, high: 0.9, name: q}", start="2025-01-01"),
    )
    b = _write(
        tmp_path,
        "b.yaml",
        "name: b\n"
        + HEAD
        + CONTROL.format(
            share="0.5", start="{dist: uniform, low: 2024-06-01, high: 2025-06-01, name: t}"
        )
        + CONTROL.format(share="{dist: uniform, low: 0.1, high: 0.9, name: q}", start="2025-01-01"),
    )
    da = sampling.draw(load_scenario(a), 50, 11)
    db = sampling.draw(load_scenario(b), 50, 11)
    assert np.array_equal(da["events[0].share"], db["events[1].share"])
    assert not np.array_equal(db["events[0].start"], db["events[1].share"])


def test_a_run_uses_the_median_and_the_inputs_are_listed(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "c.yaml",
        "name: c\n"
        + HEAD
        + CONTROL.format(
            share="{dist: triangular, low: 0.2, mode: 0.3, high: 0.9}", start="2025-01-01"
        ),
    )
    sc = load_scenario(path)
    assert sc.uncertain[0].path == "events[0].share" and sc.uncertain[0].line == 7
    law = stats.triang((0.3 - 0.2) / 0.7, 0.2, 0.7)
    assert sc.events[0].share == pytest.approx(law.median())


@pytest.mark.parametrize(
    ("share", "start", "expect"),
    [
        ("{dist: normal, mean: 0.5, sd: 0.3}", "2025-01-01", "lowest draw is refused"),
        ("{dist: uniform, low: 0.1}", "2025-01-01", "needs high"),
        ("{dist: uniform, low: 0.5, high: 0.1}", "2025-01-01", "low < high"),
        ("{dist: uniform, low: 0.1, high: 0.3, sd: 1}", "2025-01-01", "not sd"),
        ("{dist: poisson, low: 0.1, high: 0.3}", "2025-01-01", "dist"),
        ("{dist: uniform, low: 2025-01-01, high: 2025-02-01}", "2025-01-01", "number"),
        ("0.5", "{dist: uniform, low: 0.1, high: 0.3}", "date"),
        ("{dist: choice, values: [0.2, 0.4], weights: [1]}", "2025-01-01", "weights"),
    ],
)
def test_bad_distributions_are_refused_with_their_line(
    tmp_path: Path, share: str, start: str, expect: str
) -> None:
    path = _write(
        tmp_path, "bad.yaml", "name: bad\n" + HEAD + CONTROL.format(share=share, start=start)
    )
    with pytest.raises(InputError) as err:
        load_scenario(path)
    text = str(err.value)
    assert f"{path}:" in text and "events[0]." in text and expect in text


def test_distributions_outside_events_are_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "h.yaml",
        "name: h\nhorizon: {start: {dist: uniform, low: "
        "2024-01-01, high: 2024-03-01}, end: 2026-01-01}\n",
    )
    with pytest.raises(InputError, match="horizon.start: only the numbers and dates of events"):
        load_scenario(path)
    path = _write(tmp_path, "r.yaml", "name: r\nuncertain: []\n" + HEAD)
    with pytest.raises(InputError, match="reserved"):
        load_scenario(path)

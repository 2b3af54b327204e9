"""The market's behaviour as a scenario's input (`sim.config.market`): a ``market:`` block sets
the behavioural parameters over the world's, and a sweep draws those written as
distributions, one value a sample, through the same rules."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.config import draws as sampling
from sim.config.market import BOUNDS, LIMITS, Market, bounded
from sim.config.scenario import Scenario
from sim.errors import InputError
from sim.io.cli import main
from sim.io.observed import read_observed
from sim.io.scenario_files import load_scenario
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.runs import fit as fitting
from sim.runs.engine import run
from sim.world.loader import vintage_world

ROOT = Path(__file__).resolve().parents[1]
LICENSING = ROOT / "scenarios" / "china-2025-april-licensing.yaml"
DY, ABROAD = PRICE_PRODUCTS.index("Dy_oxide"), TIERS.index("ex_china")
# every parameter of the block, each a distribution inside its bounds
DRAWN = {
    "price_cover_sensitivity": {"dist": "uniform", "low": 0.9, "high": 2.5},
    "price_adjustment_months": {"dist": "uniform", "low": 1, "high": 6},
    "stocking_sensitivity": {"dist": "uniform", "low": 0.5, "high": 4},
    "holding_sensitivity": {"dist": "uniform", "low": 0, "high": 2},
    "expectation_months": {"dist": "uniform", "low": 6, "high": 14},
    "stocking_months": {"dist": "uniform", "low": 2, "high": 10},
    "price_foresight_months": {"dist": "uniform", "low": 0, "high": 9},
    "thrift_adoption_months": {"dist": "uniform", "low": 12, "high": 30},
    "thrift_trigger_price_ratio": {"dist": "uniform", "low": 1.05, "high": 1.3},
    "buyer_cover_scale": {"dist": "uniform", "low": 0.5, "high": 3},
    "metal_qualification_months": {"dist": "uniform", "low": 0, "high": 24},
}


def scenario(market: dict[str, Any], end: str = "2025-12-31") -> Scenario:
    """The April 2025 licensing to ``end`` with this ``market`` block, read as a file is."""
    data = {
        "extends": str(LICENSING),
        "name": "market-inputs",
        "horizon": {"start": "2024-01-01", "end": end},
        "market": market,
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "market.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return load_scenario(path)


def test_the_block_lists_every_parameter_a_fit_searches() -> None:
    assert set(Market.model_fields) == set(LIMITS) == set(DRAWN)
    # buyers' normal cover is a world's input a scenario may question, not a behaviour fitted
    assert set(LIMITS) - set(BOUNDS) == {"buyer_cover_scale", "metal_qualification_months"}
    assert all(LIMITS[name] == bounds for name, bounds in BOUNDS.items())


def test_buyers_hold_the_cover_a_scenario_sets_and_more_of_it_never_raises_a_shortfall() -> None:
    """``buyer_cover_scale`` multiplies every buyer's normal cover: the stock it starts with
    and orders up to. Under the April 2025 licensing more stock downstream never leaves
    buyers abroad shorter, and the depth turns on it (one batch, a scale a sample)."""
    world = vintage_world("default")
    plain = scenario({}, end="2026-12-31")
    scales = np.array([0.5, 1.0, 1.5, 2.0])
    batch = run(world, plain, samples=4, draws={"market.buyer_cover_scale": scales})
    alone = run(world, plain, detail=False)
    abroad = np.array([b.region != "CN" for b in alone.chain.buyers])
    assert np.array_equal(batch.shortfall[1], alone.shortfall[0])  # 1 is the world's weeks
    start = batch.chain.demand_path[0] * batch.chain.cover  # [S, B] stock held at the start
    assert np.allclose(start, scales[:, None] * start[1], rtol=1e-12)
    short = batch.shortfall[:, :, abroad].sum(axis=(1, 2))
    assert short[1] > 1000.0 and np.all(np.diff(short) <= 1e-6), short
    assert short[-1] < 0.5 * short[1]


def test_a_market_block_runs_as_a_world_with_those_parameters() -> None:
    values = {"price_cover_sensitivity": 2.5, "price_adjustment_months": 1.5}
    world = vintage_world("default")
    written = run(world, scenario(values), detail=False)
    by_world = run(
        dataclasses.replace(world, parameters=bounded(world.parameters, values)),
        scenario({}),
        detail=False,
    )
    plain = run(world, scenario({}), detail=False)
    assert np.array_equal(written.prices_usd_per_kg, by_world.prices_usd_per_kg, equal_nan=True)
    assert np.array_equal(written.shortfall, by_world.shortfall)
    # the block acts: a steeper, faster price answers the licence more
    assert (
        written.prices_usd_per_kg[0][:, DY, ABROAD].max()
        > plain.prices_usd_per_kg[0][:, DY, ABROAD].max()
    )


def test_drawn_market_parameters_act_per_sample() -> None:
    """Each sample of a batch is its own one-sample run bit for bit, and the run of the
    values written as numbers to within rounding: the per-sample arrays reach every rule."""
    uncertain = scenario(DRAWN)
    assert {u.path for u in uncertain.uncertain} == {f"market.{n}" for n in DRAWN}
    world = vintage_world("default")
    draws = sampling.draw(uncertain, 3, seed=5)
    batch = run(world, uncertain, samples=3, draws=draws, detail=False)
    peaks = []
    for i in range(3):
        alone = run(world, uncertain, samples=1, draws={k: v[i : i + 1] for k, v in draws.items()})
        assert np.array_equal(
            batch.prices_usd_per_kg[i], alone.prices_usd_per_kg[0], equal_nan=True
        )
        assert np.array_equal(batch.shortfall[i], alone.shortfall[0])
        fixed = scenario({k.removeprefix("market."): float(v[i]) for k, v in draws.items()})
        written = run(world, fixed, detail=False)
        assert np.allclose(
            written.prices_usd_per_kg[0], batch.prices_usd_per_kg[i], rtol=1e-9, equal_nan=True
        )
        assert np.allclose(written.shortfall[0], batch.shortfall[i], rtol=1e-9, atol=1e-9)
        peaks.append(batch.prices_usd_per_kg[i][:, DY, ABROAD].max())
    assert len({round(p, 6) for p in peaks}) == 3  # the samples' markets differ


def test_bad_market_blocks_exit_2_at_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    head = "name: bad\nhorizon: {start: 2024-01-01, end: 2026-12-31}\nmarket:\n"
    for body, expected in (
        ("  price_sensitivity: 2\n", "did you mean 'price_cover_sensitivity'"),
        ("  price_cover_sensitivity: 9\n", "less than or equal to 5"),
        ("  stocking_months: yes\n", "not yes/no"),
        ("  expectation_months: {dist: normal, mean: 2, sd: 3}\n", "narrow it or add bounds"),
    ):
        path.write_text(head + body, encoding="utf-8")
        assert main(["validate", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"{path}:4: market." in err and expected in err and "Traceback" not in err
    path.write_text(head.replace("market:\n", "market: {dist: uniform, low: 1, high: 2}\n"))
    assert main(["validate", str(path)]) == 2
    assert ":3: market: only the numbers" in capsys.readouterr().err


def test_injected_market_draws_are_checked() -> None:
    world, plain = vintage_world("default"), scenario({})
    with pytest.raises(InputError, match="less than or equal to 5"):
        run(world, plain, draws={"market.price_cover_sensitivity": np.array([9.0])})
    with pytest.raises(InputError, match="no such market parameter"):
        run(world, plain, draws={"market.price_floor": np.array([1.0])})


def test_a_fit_refuses_a_block_that_sets_what_it_searches() -> None:
    observed = read_observed(ROOT / "scenarios" / "observed" / "china-2010-episode.csv")
    blocked = scenario({"price_cover_sensitivity": 2.0})
    with pytest.raises(InputError, match="market.price_cover_sensitivity"):
        fitting.fit(vintage_world("default"), blocked, observed, max_runs=3)


def test_the_shipped_scenario_draws_whole_fitted_sets() -> None:
    """Each future of `china-2025-licensing-market-uncertain.yaml` takes one set for all nine
    parameters (one name ties their draws): the 2020 world's fit or today's values."""
    uncertain = load_scenario(ROOT / "scenarios" / "china-2025-licensing-market-uncertain.yaml")
    sets = {
        "2020": vintage_world("default@2020").parameters,
        "today": vintage_world("default").parameters,
    }
    draws = sampling.draw(uncertain, 64, seed=3)
    seen = set()
    for i in range(64):
        drawn = {n: float(draws[f"market.{n}"][i]) for n in BOUNDS}
        match = [k for k, p in sets.items() if all(abs(p[n] - v) < 1e-9 for n, v in drawn.items())]
        assert len(match) == 1, drawn
        seen.add(match[0])
    assert seen == set(sets)


def test_fields_that_share_a_name_count_as_one_input(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "scenarios" / "china-2025-licensing-market-uncertain.yaml"
    assert main(["validate", str(path)]) == 0
    # approval rate, review delay, 10X's start and ramp, and the market's set (nine fields)
    assert "5 uncertain inputs setting 13 fields" in capsys.readouterr().out


def market_sets() -> list[dict[str, float]]:
    """The whole sets `china-2025-licensing-market-uncertain.yaml` draws from."""
    shipped = load_scenario(ROOT / "scenarios" / "china-2025-licensing-market-uncertain.yaml")
    values = {u.path.removeprefix("market."): u.dist.values for u in shipped.uncertain}
    count = len(values["price_cover_sensitivity"])
    return [{k: float(v[i]) for k, v in values.items() if k in BOUNDS} for i in range(count)]


@pytest.mark.parametrize("index", range(len(market_sets())))
def test_each_drawn_market_keeps_the_baseline_calm_and_a_loss_a_loss(index: int) -> None:
    """Each market the shipped scenario may draw meets the issue's tests of a market: with no
    event nobody is short and prices move little; under April's licensing, Lynas Malaysia
    shut for a year raises what buyers abroad go without."""
    world, market = vintage_world("default"), market_sets()[index]

    def with_market(name: str) -> Scenario:
        plain = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
        return plain.model_copy(update={"market": Market(**market)})

    base = run(world, with_market("baseline"))
    years = np.array([d.year for d in base.dates])
    for year in set(years):
        demand = base.record.demand[0][years == year].sum(axis=0)
        short = base.shortfall[0][years == year].sum(axis=0)
        assert (short <= 0.02 * demand + 1e-9).all(), year
    prices = base.prices_usd_per_kg[0][:, [DY, PRICE_PRODUCTS.index("NdPr_oxide")], ABROAD]
    assert (prices.max(axis=0) / prices[0] < 2.0).all()
    licensing = run(world, with_market("china-2025-april-licensing"))
    lost = run(world, with_market("lynas-malaysia-licence-loss"))
    abroad = np.array([b.region != "CN" and b.material == "NdFeB" for b in lost.chain.buyers])
    assert lost.unmet[0][:, abroad].sum() > licensing.unmet[0][:, abroad].sum()


def test_a_run_says_which_market_parameters_its_scenario_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "market.yaml"
    path.write_text(
        f"extends: {LICENSING}\nname: market-set\n"
        "horizon: {start: 2024-01-01, end: 2025-12-31}\n"
        "market: {price_cover_sensitivity: 2.5, price_adjustment_months: 1.5}\n",
        encoding="utf-8",
    )
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert (
        "market, from the scenario: price_cover_sensitivity 2.5 (world 1.5), "
        "price_adjustment_months 1.5 (world 3)" in out
    )


@settings(max_examples=4, deadline=None)
@given(
    share=st.floats(0.2, 0.9),
    month=st.integers(1, 12),
    reach=st.sampled_from(
        [
            (["Dy", "Tb"], ["oxide", "metal", "magnet"]),
            (["Dy", "Tb", "Sm", "Y", "Gd"], ["magnet"]),
            ("all", ["oxide", "metal"]),
        ]
    ),
)
def test_more_buyer_cover_never_raises_the_shortfall_under_a_quota(
    share: float, month: int, reach: tuple[Any, list[str]]
) -> None:
    """Whatever China's quota (share, start and reach), buyers holding more of their demand in
    normal times are never shorter: one batch of 0.75, 1, 1.5 and 2 times the world's weeks."""
    elements, forms = reach
    control = {
        "kind": "export_control",
        "exporter": "CN",
        "elements": elements,
        "forms": forms,
        "mode": "quota",
        "share": share,
        "start": f"2025-{month:02d}-01",
    }
    quota = Scenario.model_validate(
        {"name": "q", "horizon": {"start": "2024-01-01", "end": "2027-12-31"}, "events": [control]}
    )
    scales = np.array([0.75, 1.0, 1.5, 2.0])
    batch = run(
        vintage_world("default"),
        quota,
        samples=4,
        draws={"market.buyer_cover_scale": scales},
        detail=False,
    )
    short = batch.shortfall.sum(axis=(1, 2))
    assert np.all(np.diff(short) <= 1e-9 * short.max() + 1e-6), short

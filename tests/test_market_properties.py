"""The market an expert would trust (issue 14), on the default world: the baseline does not run
dry, prices move with the balance, the tiers are one market when no control binds, a supply
loss never helps, a tighter control never lowers a shortfall, and new projects separate what
their own mines send."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.io.scenario_files import load_scenario
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.model.levers.prices import OXIDES
from sim.runs.engine import RunResult, run
from sim.units import ELEMENT_INDEX, ELEMENTS, REO_TO_ELEMENT
from sim.world.loader import default_world
from tests.worlds import scenario

ROOT = Path(__file__).parent.parent
SHORT = 0.02  # the largest share of a year's demand a buyer group may miss with no event
PROPERTY = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return default_world()


@pytest.fixture(scope="module")
def baseline(world) -> RunResult:  # type: ignore[no-untyped-def]
    return run(world, load_scenario(ROOT / "scenarios" / "baseline.yaml", world))


def _yearly(res: RunResult, values: np.ndarray) -> np.ndarray:
    """``values[T, ...]`` summed by calendar year: ``[years, ...]``."""
    years = np.array([d.year for d in res.dates])
    return np.stack([values[years == y].sum(axis=0) for y in np.unique(years)])


def test_the_baseline_does_not_run_dry(baseline: RunResult) -> None:
    short = _yearly(baseline, baseline.shortfall[0])
    demand = _yearly(baseline, baseline.record.demand[0])
    share = np.divide(short, demand, out=np.zeros_like(short), where=demand > 0)
    assert baseline.dates[-1] >= dt.date(2035, 12, 1)
    assert share.max() <= SHORT, np.unravel_index(share.argmax(), share.shape)


def test_baseline_prices_move_with_the_balance(baseline: RunResult) -> None:
    prices = baseline.prices_usd_per_kg[0]
    for product in ("NdPr_oxide", "Dy_oxide"):
        path = prices[:, PRICE_PRODUCTS.index(product), TIERS.index("ex_china")]
        low = int(path.argmin())  # 2024-25: stocks build, cheaper (NdPr: $56 -> $49 in 2024)
        assert path[low:].max() > 1.1 * path[low]  # then demand outgrows supply: dearer
        assert path.max() < 3.0 * path[0]  # until supply answers: no runaway
        assert path.min() >= 0.7 * path[0] - 1e-9  # never below producers' cash cost


def _tiers_within_spread(res: RunResult) -> None:
    """With no control in force the two tiers are one market: their prices differ by no
    more than their anchors do (freight, quality), whatever the balance."""
    base = res.chain.economics.base_prices  # [P, K]
    prices = res.prices_usd_per_kg[:, :, :, :]
    log_gap = np.log(prices[..., 1] / prices[..., 0])  # [S, T, P]
    anchors = np.log(base[:, 1] / base[:, 0])  # [P]
    for p in range(len(PRICE_PRODUCTS)):
        parts = [anchors[p]] if p < OXIDES else [anchors[p], *anchors[:OXIDES]]
        low, high = min(parts), max(parts)
        gap = log_gap[:, :, p]
        ok = np.isnan(gap) | ((gap >= low - 1e-9) & (gap <= high + 1e-9))
        assert ok.all(), PRICE_PRODUCTS[p]


def test_with_no_control_the_tiers_differ_by_the_spread_only(baseline: RunResult) -> None:
    _tiers_within_spread(baseline)


FACILITIES = [
    "china",
    "china_separation",
    "china_metal",
    "china_ndfeb",
    "myanmar",
    "mt_weld",
    "lynas_malaysia",
    "mountain_pass",
    "japan_ndfeb",
    "japan_metal",
]
MAJOR = 0.05  # an element is one a mine or separation plant makes if 5% of its ore or more


def _makes(world, facility: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The price products an outage at ``facility`` may not make cheaper: the oxides of the
    elements its ore is rich in (an outage may cheapen a complement: less NdPr, less call for
    Dy), and magnets for a magnet plant. Metal has no price of its own: a metal outage leaves
    oxide unconverted, so oxides get cheaper, and so may magnets, whose price passes oxides'
    through (a limit of the model, see docs/design.md)."""
    fac = world.facility(facility)
    if fac.stage == "magnet":
        return [f"{fac.product}_magnet"]
    if fac.stage == "metal":
        return []
    mines = [fac] if fac.stage == "mine" else [world.facility(m) for m in fac.feeds_from]
    rich = {e for m in mines for e, share in zip(ELEMENTS, world.ores[m.ore]) if share >= MAJOR}
    return [f"{e}_oxide" for e in ELEMENTS if e in rich]


@PROPERTY
@given(
    facility=st.sampled_from(FACILITIES),
    start=st.integers(14, 30),
    months=st.integers(2, 12),
    share=st.sampled_from([0.3, 1.0]),
)
def test_an_outage_never_helps(world, facility: str, start: int, months: int, share: float) -> None:  # type: ignore[no-untyped-def]
    begin = dt.date(2024 + start // 12, start % 12 + 1, 1)
    end = dt.date(2024 + (start + months) // 12, (start + months) % 12 + 1, 1)
    outage = {"kind": "outage", "facility": facility, "share": share}
    outage |= {"start": begin.isoformat(), "end": end.isoformat()}
    horizon = {"start": "2024-01-01", "end": "2027-12-31"}
    before = run(world, scenario([], **horizon), detail=False)
    after = run(world, scenario([outage], **horizon), detail=False)
    _tiers_within_spread(after)  # still one market: an outage is not a control
    assert after.shortfall.sum() >= before.shortfall.sum() - 1e-6 * before.record.demand.sum()
    window = slice(start, start + months)
    for p, name in enumerate(PRICE_PRODUCTS):
        if name not in _makes(world, facility):
            continue
        was, now = before.prices_usd_per_kg[0, window, p], after.prices_usd_per_kg[0, window, p]
        # beyond transients of 1% while plans and stocks re-settle: a magnet plant's outage
        # taken up by China's spare capacity leaves NdPr unused for a month (0.1-0.2%
        # cheaper), and in the last months of a 12-month outage of Japan's NdFeB plants the
        # answers it set off (China's plants and quota up, with their lags) overshoot: magnets
        # 0.57% cheaper at worst over starts 14-30, 2-12 months, shares 0.3 and 1 (a scan of
        # 900 outages on 2026-12-03), while the mean over the outage stays >= 0.9994
        assert (now >= was * (1 - 1e-2)).all(), (name, facility)
        assert (now.mean(axis=0) >= was.mean(axis=0) * (1 - 2e-3)).all(), (name, facility)


@PROPERTY
@given(rates=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=2, unique=True))
def test_a_tighter_licence_never_lowers_a_shortfall(world, rates: list[float]) -> None:  # type: ignore[no-untyped-def]
    loose, tight = max(rates), min(rates)
    licence = {
        "kind": "export_control",
        "exporter": "CN",
        "elements": ["Dy", "Tb"],
        "forms": ["oxide", "metal", "magnet"],
        "mode": "licence",
        "approval_rate": 0.5,
        "review_delay_days": 45,
        "start": "2025-04-04",
    }
    res = run(
        world,
        scenario([licence], start="2024-01-01", end="2027-12-31"),
        samples=2,
        detail=False,
        draws={"events[0].approval_rate": np.array([loose, tight])},
    )
    total = res.shortfall.sum(axis=(1, 2))
    assert total[1] >= total[0] - 1e-6 * res.record.demand.sum()


def test_shutting_lynas_malaysia_under_the_april_licensing_is_a_loss(world) -> None:  # type: ignore[no-untyped-def]
    # approvals held at 40%: on the documented path nothing is withheld by March 2026
    licensing = load_scenario(ROOT / "scenarios" / "china-2025-april-licensing-held.yaml", world)
    site = [
        {"kind": "outage", "facility": f, "start": "2026-03-01", "end": "2027-03-01"}
        for f in ("lynas_malaysia", "lynas_malaysia_hre", "lynas_malaysia_hre2")
    ]
    events = [e.model_dump(mode="json", exclude_none=True, by_alias=True) for e in licensing.events]
    start, end = licensing.horizon.start.isoformat(), licensing.horizon.end.isoformat()
    before = run(world, licensing)
    after = run(world, scenario(events + site, start=start, end=end))
    abroad = np.array([b.region != "CN" for b in world.buyers])
    assert after.shortfall[0][:, abroad].sum() > before.shortfall[0][:, abroad].sum() + 100.0
    window = slice(26, 38)  # March 2026 to February 2027
    dy, ex = PRICE_PRODUCTS.index("Dy_oxide"), TIERS.index("ex_china")
    now, was = (
        after.prices_usd_per_kg[0, window, dy, ex],
        before.prices_usd_per_kg[0, window, dy, ex],
    )
    assert (now >= was).all() and now.max() > was.max()


@pytest.mark.parametrize(("plant", "plan_ndpr_oxide_t"), [("arafura_nolans", 4440.0)])
def test_new_projects_separate_their_own_ore_at_their_planned_rate(  # type: ignore[no-untyped-def]
    baseline: RunResult, plant: str, plan_ndpr_oxide_t: float
) -> None:
    production = baseline.record.production
    assert production is not None
    i, ndpr = baseline.chain.index[plant], ELEMENT_INDEX["NdPr"]
    yearly = _yearly(baseline, production[:, i, ndpr]) / REO_TO_ELEMENT[ndpr]
    assert yearly[-1] >= 0.8 * plan_ndpr_oxide_t  # at its plan once ramped up (2035)


def test_eneabba_separates_from_its_own_feed(baseline: RunResult) -> None:
    production = baseline.record.production
    assert production is not None
    i = baseline.chain.index["iluka_eneabba"]
    yearly = _yearly(baseline, production[:, i].sum(axis=1))
    assert yearly[-1] >= 0.8 * 17500 * 0.8  # most of its 17,500 t REO feed, in element tonnes


def test_a_control_does_not_cut_the_exporter_off_the_ore_only_it_can_crack(world) -> None:  # type: ignore[no-untyped-def]
    # A full US embargo closes sales into China of what it covers, but Myanmar's clays have no
    # other plant to go to: they keep feeding China's separation.
    embargo = load_scenario(ROOT / "scenarios" / "full-embargo-us.yaml", world)
    res = run(world, embargo)
    ore = res.record.flows["concentrate"]  # [T, mines, separation plants, E]
    chain = res.chain
    mine = chain.index["myanmar"] - chain.slices["mine"].start
    plant = chain.index["china_separation"] - chain.slices["separation"].start
    assert ore[30:, mine, plant].sum(axis=-1).min() > 0


@pytest.fixture(scope="module")
def embargo(world) -> RunResult:  # type: ignore[no-untyped-def]
    return run(world, load_scenario(ROOT / "scenarios" / "full-embargo-us.yaml", world))


def test_under_a_control_china_is_never_long_the_dear_market(embargo: RunResult) -> None:
    # China's embargo on the US closed every sale into China while it held, so China lost the
    # oxide it imports (Lynas's, MP's) and its NdPr rose to 2.55x the ex-China price (Dy
    # 1.43x, magnets 1.27x): sellers abroad would have sold into it. Routes back open where
    # China's market is the dear one, so the tiers stay within a step's price adjustment.
    prices = embargo.prices_usd_per_kg[0]
    china, abroad = prices[..., TIERS.index("china")], prices[..., TIERS.index("ex_china")]
    for product in ("NdPr_oxide", "Dy_oxide", "NdFeB_magnet"):
        p = PRICE_PRODUCTS.index(product)
        assert (china[:, p] / abroad[:, p]).max() < 1.1, product


def test_oxide_made_abroad_is_sold_into_china_when_it_is_the_dear_market(
    embargo: RunResult,
) -> None:
    chain = embargo.chain
    oxide = embargo.record.flows["oxide"]  # [T, separation plants, customers, E]
    abroad = [f.country != "CN" for f in chain.stage("separation")]
    china = [f.country == "CN" for f in chain.stage("metal")]
    into = oxide[:, abroad][:, :, : len(china)][:, :, china].sum(axis=(1, 2))
    start = embargo.dates.index(dt.date(2025, 5, 1))  # the month after the embargo began
    # before it China is a net seller of NdPr oxide (two-way trade is netted out), so all but
    # none comes in (0.04 t in one month since makers choose Tb for Dy, which takes NdPr);
    # while it holds China's market turns dear now and then, and oxide made abroad goes in
    # then (routes always closed: none; ~300 t a month on average with them open)
    assert into[:start, ELEMENT_INDEX["NdPr"]].max() < 1.0
    assert into[start:, ELEMENT_INDEX["NdPr"]].mean() > 100.0


def test_routes_back_close_only_where_china_is_the_cheap_market(world) -> None:  # type: ignore[no-untyped-def]
    """A control's routes back into China are a scope a price product: all withheld while the
    control is on, except for the products China's market is the dear one for; its reach
    keeps its level whatever the prices; and the price tiers are one market where China is
    dear."""
    from sim.model import controls
    from sim.model.chain import Chain
    from sim.model.levers import prices

    embargo = load_scenario(ROOT / "scenarios" / "full-embargo-us.yaml", world)
    chain = Chain(world, embargo, 2, 12)
    (control,) = chain.controls
    products = [b.product for b in control.back]
    assert PRICE_PRODUCTS.index("NdPr_oxide") in products
    assert PRICE_PRODUCTS.index("NdFeB_magnet") in products
    level = np.array([0.0, 1.0])  # off in sample 0, a ban in sample 1
    dear = np.zeros((2, len(PRICE_PRODUCTS)), dtype=bool)
    dear[1, PRICE_PRODUCTS.index("NdPr_oxide")] = True
    shares, on = (
        scoped["oxide"]
        for scoped in controls.withheld_shares(
            chain.controls, [level], [level > 0], chain.trade, dear
        )
    )
    assert shares is not None and on is not None
    back = 1 + products.index(PRICE_PRODUCTS.index("NdPr_oxide"))
    dy = 1 + products.index(PRICE_PRODUCTS.index("Dy_oxide"))
    np.testing.assert_array_equal(shares[:, 0], level)  # the reach
    np.testing.assert_array_equal(shares[:, back], [0.0, 0.0])  # NdPr: dear at home, open
    np.testing.assert_array_equal(shares[:, dy], [0.0, 1.0])  # Dy: closed while on
    np.testing.assert_array_equal(on[:, [0, back, dy]], [[0, 0, 0], [1, 0, 1]])
    rules = chain.price_rules
    blended = prices.withheld(rules, [level], 2, dear)
    assert blended[1, PRICE_PRODUCTS.index("NdPr_oxide")] == 0.0
    assert blended[1, PRICE_PRODUCTS.index("Dy_oxide")] > 0.0


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32))
def test_with_no_control_the_tiers_stay_one_market_whatever_the_behaviour(world, seed: int) -> None:  # type: ignore[no-untyped-def]
    """The tiers are one market by construction, not by the fitted values: four futures of
    the market's nine behavioural parameters drawn over the whole range a fit searches, in
    one batch (one value a sample), keep them within the spread and the books balanced."""
    from sim.config.draws import draw
    from sim.config.market import BOUNDS
    from sim.config.scenario import Scenario

    plain = scenario([], "2024-01-01", "2026-12-31")
    laws = {n: {"dist": "uniform", "low": lo, "high": hi} for n, (lo, hi) in BOUNDS.items()}
    keyed = [{"path": f"market.{n}", "key": f"market.{n}", "dist": law} for n, law in laws.items()]
    uncertain = Scenario.model_validate({**plain.model_dump(), "uncertain": keyed})
    draws = draw(uncertain, 4, seed)
    futures = run(world, plain, samples=4, draws=draws, detail=False)
    prices = np.nan_to_num(futures.prices_usd_per_kg)
    assert not np.allclose(prices[0], prices[1])  # each future its own market
    _tiers_within_spread(futures)


def test_the_baseline_restocks_the_holders_of_ndpr(baseline: RunResult) -> None:
    """With no event the NdPr market fills its holders' stocks, not only their use: every
    metal plant ends each month holding at least 0.75 months of its next month's NdPr output,
    and the non-magnet buyers of NdPr at least 60% of their normal weeks of cover. Before China's
    magnet scrap beyond this world's own swarf was fed in (`mines.csv` china_magnet_scrap),
    the oxide market filled about 46% of NdPr's need a month and Japan's metal plant fell to
    0.22 months (docs/design.md, Known limits)."""
    rec, chain = baseline.record, baseline.chain
    assert rec.stocks is not None and rec.production is not None and rec.inventory is not None
    ndpr = ELEMENT_INDEX["NdPr"]
    metal = chain.slices["metal"]
    held = rec.stocks[:-1, metal, ndpr]  # [T-1, plants] at each month's end
    made = rec.production[1:, metal, ndpr]  # the next month's output
    big = made.mean(axis=0) > 1.0  # plants that make NdPr metal at all (t a month)
    assert big.sum() >= 3
    months = held[:, big] / np.maximum(made[:, big], 1e-9)
    assert months.min() >= 0.75, (months.min(axis=0), np.argmin(months, axis=0))

    other = [i for i, b in enumerate(chain.buyers) if b.material == "NdPr" and b.sector == "other"]
    assert len(other) >= 5
    weeks = np.array([chain.buyers[i].cover_weeks for i in other])
    cover = rec.inventory[:, other] / rec.demand[0][:, other] * 52.0 / 12.0  # weeks held
    assert (cover / weeks).min() >= 0.6, (cover / weeks).min(axis=0)  # 0.63; 0.23 before

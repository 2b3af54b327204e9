"""The scenario library: each file says what it represents, and the headline behaviour of the
policy scenarios holds (timing of shortfalls, tiers of prices, the floor, the lapse)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.io.scenario_files import load_scenario
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.runs.engine import RunResult, run
from sim.world.loader import default_world

SCENARIOS = Path(__file__).parent.parent / "scenarios"
LIBRARY = [
    "china-2025-april-licensing",
    "china-2025-april-licensing-held",
    "china-2025-october-expansion",
    "china-2025-october-expansion-lapse",
    "china-2025-october-expansion-reinstated-licences",
    "us-dod-mp-price-floor",
    "us-dod-mp-price-floor-slump",
    "us-dod-mp-price-floor-slump-no-floor",
    "new-capacity-ex-china",
    "us-australia-framework",
    "full-embargo-us",
    "lynas-malaysia-licence-loss",
    "myanmar-heavy-feed-disruption",
    "myanmar-heavy-feed-disruption-uncertain",
    "china-2025-april-forecast",
    "full-embargo-us-defence-stockpile",
    "us-defence-origin-rule-2027",
    "g7-price-floors",
]
_cache: dict[str, RunResult] = {}


def result(name: str) -> RunResult:
    if name not in _cache:
        world = default_world()
        _cache[name] = run(world, load_scenario(SCENARIOS / f"{name}.yaml", world))
    return _cache[name]


def month(res: RunResult, day: str) -> int:
    return res.dates.index(dt.date.fromisoformat(day))


@pytest.mark.parametrize("name", LIBRARY)
def test_each_file_opens_with_what_it_represents_and_its_sources(name: str) -> None:
    lines = (SCENARIOS / f"{name}.yaml").read_text(encoding="utf-8").splitlines()
    comment = [line for line in lines[:25] if line.startswith("#")]
    assert lines[0].startswith("# ") and len(comment) >= 3, name
    assert any(ch.isdigit() for ch in " ".join(comment)), name  # dated, sourced


def test_april_2025_ex_china_magnet_users_run_short_once_cover_is_used_and_recover() -> None:
    res = result("china-2025-april-licensing")
    chain, short = res.chain, res.shortfall[0]
    april = month(res, "2025-04-01")
    ndfeb = np.array([b.material == "NdFeB" for b in chain.buyers])
    abroad = np.array([b.region != "CN" for b in chain.buyers]) & ndfeb
    assert short[:april].sum() < 1e-6
    ran_short = [b for b in np.flatnonzero(abroad) if (short[:, b] > 1e-6).any()]
    first = [int(np.argmax(short[:, b] > 1e-6)) for b in ran_short]
    assert min(first) == month(res, "2025-05-01")  # 3 weeks' cover + 5 weeks' shipping
    assert max(first) <= month(res, "2025-07-01")
    ev = {chain.buyers[b].region for b in ran_short if chain.buyers[b].sector == "ev_traction"}
    assert ev == {"US", "EU", "JP", "KR", "ROW"}
    assert all(chain.buyers[b].sector != "defence" for b in ran_short)
    # approvals at 100% from July 2025 let through the normal flow, not the stocks the review
    # emptied: the shortfall eases (buyers refill as the cap grows with demand and from
    # magnets made outside China) and nobody is short a year on
    july = month(res, "2025-07-01")
    by_month = short[:, abroad].sum(axis=1)
    assert by_month[july + 6 : july + 9].sum() < 0.5 * by_month[july : july + 3].sum()
    assert short[month(res, "2026-07-01") :].sum() < 0.1  # crumbs of rounding, in tonnes
    china = np.array([b.region == "CN" for b in chain.buyers]) & ndfeb
    assert short[april:, china].sum() < 1e-6


def _tiers(name: str) -> tuple[RunResult, np.ndarray, int, int, int, int]:
    res = result(name)
    magnet, dy = PRICE_PRODUCTS.index("NdFeB_magnet"), PRICE_PRODUCTS.index("Dy_oxide")
    china, ex_china = TIERS.index("china"), TIERS.index("ex_china")
    return res, res.prices_usd_per_kg[0], magnet, dy, china, ex_china


def test_april_2025_held_china_and_ex_china_prices_diverge() -> None:
    res, prices, magnet, dy, china, ex_china = _tiers("china-2025-april-licensing-held")
    before = slice(0, month(res, "2025-04-01"))
    after = slice(month(res, "2025-06-01"), month(res, "2026-06-01"))
    assert (prices[before, magnet, ex_china] / prices[before, magnet, china] < 1.4).all()
    # one market before; two after: ex-China magnets and Dy dear, China's cheap (glut at home)
    assert (prices[after, magnet, ex_china] / prices[after, magnet, china] > 2.0).all()
    assert (prices[after, dy, ex_china] > 1.5 * prices[after, dy, china]).all()
    assert (prices[after, dy, china] < prices[before, dy, china].min()).all()


def test_april_2025_prices_part_then_meet_again_as_licences_ease() -> None:
    res, prices, magnet, dy, china, ex_china = _tiers("china-2025-april-licensing")
    ratio = prices[:, magnet, ex_china] / prices[:, magnet, china]
    spring = slice(month(res, "2025-05-01"), month(res, "2025-08-01"))
    assert ratio[spring].max() > 1.7  # parted while licences were few
    assert (ratio[month(res, "2026-01-01") :] < 1.4).all()  # one market again


def _measures(res: RunResult) -> list[float]:
    """The levels at the end of the October measures (the controls after April's own, less
    the general licences' routes)."""
    levels = zip(res.chain.controls, res.state.control_levels)
    return [float(level[0]) for c, level in levels if c.parent is None][1:]


def test_october_lapse_switches_the_measures_on_only_after_the_suspension_ends() -> None:
    kept, lapsed = (
        result("china-2025-october-expansion"),
        result("china-2025-october-expansion-lapse"),
    )
    lapse = month(kept, "2026-11-01")
    assert np.allclose(kept.shortfall[0, :lapse], lapsed.shortfall[0, :lapse])
    assert _measures(lapsed) == pytest.approx([0.6, 1.0, 0.6])
    assert _measures(kept) == [0.0, 0.0, 0.0]
    # the 0.1% rule reaches magnets made abroad from Chinese metal: their exports abroad fall
    # to a fraction (plants sell at home instead; Chinese magnets stay at April's cap, which
    # No. 61 does not tighten: a route two controls reach takes the tighter one's cap)
    chain = kept.chain
    plants = chain.stage("magnet")
    regions = np.array([chain.buyers[b].region for b in chain.magnet_buyers])
    home = [chain.world.region(p.country) for p in plants]
    exports = np.array(
        [[p.country != "CN" and h != r for r in regions] for p, h in zip(plants, home)]
    )
    sold = [
        r.record.flows["magnet"][lapse + 3 :, :, :, 0][:, exports].sum() for r in (kept, lapsed)
    ]
    assert sold[1] < 0.5 * sold[0]


def test_october_reinstated_with_general_licences_is_the_lapse_until_the_lapse() -> None:
    # Variant (c): the licences take effect with the measures on 10 Nov 2026; before that,
    # their routes stay under their controls' caps, so every number is variant (b)'s.
    lapsed = result("china-2025-october-expansion-lapse")
    licensed = result("china-2025-october-expansion-reinstated-licences")
    lapse = month(lapsed, "2026-11-01")
    assert len(licensed.chain.controls) == len(lapsed.chain.controls) + 2
    outputs = [
        (lapsed.shortfall[0], licensed.shortfall[0]),
        (lapsed.prices_usd_per_kg[0], licensed.prices_usd_per_kg[0]),
        *((lapsed.record.flows[m], licensed.record.flows[m]) for m in lapsed.record.flows),
    ]
    for before, after in outputs:
        scale = np.nanmax(np.abs(before))  # rounding of sums of thousands of tonnes
        np.testing.assert_allclose(after[:lapse], before[:lapse], rtol=1e-9, atol=1e-12 * scale)
    assert any(not np.allclose(after[lapse:], before[lapse:]) for before, after in outputs)
    us_civil = np.array([b.region == "US" and b.sector != "defence" for b in lapsed.chain.buyers])
    got = [r.record.delivered[0, lapse:, us_civil].sum() for r in (lapsed, licensed)]
    assert got[1] > got[0]  # US civil buyers get more of what the October measures hold back


def _first_difference(a: RunResult, b: RunResult) -> int:
    """The first month in which any output of two runs differs (their length if none)."""
    assert a.record.production is not None and b.record.production is not None
    pairs = [
        (a.shortfall[0], b.shortfall[0]),
        (a.unmet[0], b.unmet[0]),
        (a.prices_usd_per_kg[0], b.prices_usd_per_kg[0]),
        (a.record.delivered[0], b.record.delivered[0]),
        (a.record.production, b.record.production),
    ]
    months = len(a.dates)
    for x, y in pairs:
        same = np.array([np.array_equal(x[t], y[t], equal_nan=True) for t in range(months)])
        months = min(months, int(np.argmin(same)) if not same.all() else months)
    return months


def test_the_october_variants_differ_from_10_november_2026_and_not_before() -> None:
    kept = result("china-2025-october-expansion")
    lapsed = result("china-2025-october-expansion-lapse")
    assert kept.dates[_first_difference(kept, lapsed)] == dt.date(2026, 11, 1)


def test_lynas_malaysia_closed_for_a_year_from_march_2026() -> None:
    lost, licensing = result("lynas-malaysia-licence-loss"), result("china-2025-april-licensing")
    assert lost.dates[_first_difference(lost, licensing)] == dt.date(2026, 3, 1)
    site = [lost.chain.index[f] for f in ("lynas_malaysia", "lynas_malaysia_hre")]
    assert lost.record.production is not None
    made = lost.record.production[:, site].sum(axis=(1, 2))
    assert (made[month(lost, "2026-04-01") : month(lost, "2027-03-01")] == 0).all()
    assert made[month(lost, "2027-04-01")] > 0 and made[month(lost, "2026-02-01")] > 0
    chain = lost.chain
    abroad = np.array([b.region != "CN" and b.material == "NdFeB" for b in chain.buyers])
    assert lost.unmet[0][:, abroad].sum() > licensing.unmet[0][:, abroad].sum()


def test_the_kachin_stoppages_cut_myanmar_output_and_raise_china_dy() -> None:
    hit = result("myanmar-heavy-feed-disruption")
    world = default_world()
    calm = run(
        world,
        load_scenario(SCENARIOS / "baseline.yaml", world).model_copy(
            update={"horizon": hit.scenario.horizon}
        ),
    )
    assert hit.dates[_first_difference(hit, calm)] == dt.date(2024, 10, 1)
    mine = hit.chain.index["myanmar"]
    assert hit.record.production is not None and calm.record.production is not None
    ratio = hit.record.production[:, mine].sum(axis=1) / calm.record.production[:, mine].sum(axis=1)
    assert ratio[month(hit, "2024-12-01")] == pytest.approx(0.6, abs=0.015)  # 40% lost
    assert ratio[month(hit, "2025-03-01")] == pytest.approx(0.45, abs=0.015)  # 55% lost
    dy, china = PRICE_PRODUCTS.index("Dy_oxide"), TIERS.index("china")
    june = month(hit, "2025-06-01")
    assert (
        hit.prices_usd_per_kg[0, june, dy, china] > 1.1 * calm.prices_usd_per_kg[0, june, dy, china]
    )


def test_the_floor_keeps_mp_running_through_a_slump() -> None:
    floor, no_floor = (
        result("us-dod-mp-price-floor-slump"),
        result("us-dod-mp-price-floor-slump-no-floor"),
    )
    assert floor.record.producer_level is not None
    assert no_floor.record.producer_level is not None
    assert (floor.record.producer_level[0, :, 0] == 1.0).all()
    assert no_floor.record.producer_level[0, -1, 0] == 0.0
    assert floor.record.floor_usd is not None and floor.record.floor_usd.sum() > 1e8
    calm = result("us-dod-mp-price-floor")
    assert calm.record.floor_usd is not None
    assert 0.0 < calm.record.floor_usd.sum() < floor.record.floor_usd.sum()


def test_an_embargo_on_everything_hurts_the_us_at_least_as_much_as_a_magnet_ban() -> None:
    world = default_world()
    ban = run(world, load_scenario(SCENARIOS / "china-magnet-ban-us.yaml", world))
    embargo = result("full-embargo-us")
    us = np.array([b.region == "US" for b in embargo.chain.buyers])
    assert embargo.shortfall[0][:, us].sum() >= ban.shortfall[0][:, us].sum() - 1e-6


def test_the_april_2025_forecast_sweeps_a_thousand_futures_with_a_real_band() -> None:
    # what could be forecast on 4 April 2025: 1,000 futures of the licence dynamics drawn from
    # the 2023 gallium and germanium licensing; the band of ex-China EV-traction shortfall in
    # 2026 is wide (the answer is not one assumption), and it closes as approvals ramp up
    import sim

    swept = sim.sweep(str(SCENARIOS / "china-2025-april-forecast.yaml"), 1000, seed=1)
    raw = swept.raw
    assert raw.samples == 1000 and len(raw.scenario.uncertain) == 5
    year = np.array([d.year for d in raw.dates])
    buyers = raw.buyers
    ev_abroad = np.asarray(
        (buyers["sector"] == "ev_traction")
        & (buyers["region"] != "CN")
        & (buyers["material"] == "NdFeB")
    )
    short = raw.arrays["shortfall"][:, :, ev_abroad]  # [samples, months, buyers]
    in_2026 = short[:, year == 2026].sum(axis=(1, 2))
    p05, p50, p95 = np.percentile(in_2026, [5, 50, 95])
    assert p95 > 2.0 * p05 > 0.0, (p05, p50, p95)  # a real band, not one number
    first_half = short[:, (year == 2025)].sum(axis=(1, 2))
    assert (first_half > 0).all()  # every future runs short in 2025: licences take months


def test_under_the_2027_origin_rule_us_defence_buys_only_from_us_plants() -> None:
    # from 1 Jan 2027 no magnet reaches US defence from China or (traced) from plants abroad
    # using Chinese inputs; US plants serve defence first, so it is not short
    import sim

    res = sim.run(sim.load_scenario(SCENARIOS / "us-defence-origin-rule-2027.yaml"))
    flows = res.flows
    to_defence = flows[(flows["stage"] == "magnet") & flows["target"].str.startswith("US:defence")]
    after = to_defence[pd.to_datetime(to_defence["date"]) >= pd.Timestamp("2027-01-01")]
    assert after["tonnes"].sum() > 0 and set(after["source_country"]) == {"US"}
    before = to_defence[pd.to_datetime(to_defence["date"]) < pd.Timestamp("2027-01-01")]
    assert "CN" in set(before["source_country"])
    short = res.shortfall
    defence = short[(short["region"] == "US") & (short["sector"] == "defence")]
    assert defence["shortfall_t"].sum() == 0.0

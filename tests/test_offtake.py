"""Offtakes: a reserved share of a plant's output serves its buyers first, even ahead of
higher-priority buyers, and lowers their shortfall."""

from __future__ import annotations

import numpy as np
import pytest

from sim.runs.engine import run
from tests.worlds import date, one_chain, scenario, with_defence

M0 = 12
SCARCE = {
    "kind": "outage",
    "facility": "g",
    "share": 0.9995,
    "start": "2025-01-01",
    "end": "2026-01-01",
}  # 4.2 t a month left for 110 t of demand
OFFTAKE = {
    "kind": "offtake",
    "facility": "g",
    "share": 0.5,
    "region": "US",
    "sectors": ["ev_traction"],
    "start": "2025-01-01",
}


def test_an_offtake_lowers_its_buyers_shortfall() -> None:
    world = with_defence(one_chain(cover_weeks=0.0))
    without = run(world, scenario([SCARCE]))
    with_off = run(world, scenario([SCARCE, OFFTAKE]))
    ev, defence = 0, 1
    assert with_off.shortfall[0, :, ev].sum() < without.shortfall[0, :, ev].sum() - 10.0
    assert with_off.shortfall[0, :, defence].sum() > without.shortfall[0, :, defence].sum()
    got = with_off.record.delivered[0, M0 + 2, ev]
    assert got == pytest.approx(0.5 * 100_000 / 12 * 0.0005, rel=1e-6)  # half the plant's output
    assert with_off.residual < 1e-9


def test_a_larger_offtake_share_never_raises_its_buyers_shortfall() -> None:
    world = with_defence(one_chain(cover_weeks=0.0))
    shares = np.array([0.1, 0.3, 0.6, 1.0])
    res = run(
        world,
        scenario([SCARCE, OFFTAKE]),
        samples=shares.size,
        detail=False,
        draws={"events[1].share": shares},
    )
    total = res.shortfall[:, :, 0].sum(axis=1)
    assert (np.diff(total) <= 1e-9).all() and total[0] > total[-1]


def test_an_offtake_ends_after_its_years() -> None:
    world = with_defence(one_chain(cover_weeks=0.0))
    res = run(world, scenario([SCARCE, {**OFFTAKE, "years": 0.5}]))
    assert res.record.delivered[0, M0 + 3, 0] > 0 and res.record.delivered[0, M0 + 7, 0] == 0


# Offtakes of a separation plant's oxide for a region's metal plants (Lynas for Japan).

NDPR, DY = 0, 1


def _oxide_offtake(share: list[float], monthly_reo: list[float], start: float = 0.0):
    from sim.model.levers.offtakes import OxideOfftake

    samples = len(share)
    return OxideOfftake(
        plants=np.array([0, 1]),
        customers=np.array([0, 1]),
        elements=np.array([NDPR]),
        share=np.array(share),
        monthly_reo=np.array(monthly_reo),
        start=np.full(samples, start),
        end=np.full(samples, np.inf),
    )


def test_an_oxide_offtake_reserves_within_share_need_and_tonnage() -> None:
    from sim.model.levers.offtakes import reserve_oxide
    from sim.units import ELEMENTS, REO_TO_ELEMENT

    avail = np.zeros((2, 2, len(ELEMENTS)))
    avail[:, :, NDPR] = [100.0, 50.0]
    avail[:, :, DY] = 10.0
    need = np.zeros((1, 3, len(ELEMENTS)))
    need[0, :, NDPR] = [30.0, 90.0, 500.0]
    need[0, :, DY] = 5.0
    # sample 0: half of each plant's NdPr, no limit; sample 1: all of it, 100 t REO a month
    off = _oxide_offtake([0.5, 1.0], [np.inf, 100.0])
    x, avail_left, need_left = reserve_oxide([off], avail, need, None, step=3)
    # sample 0: plant 0 gives 50 of the 120 wanted, pro rata; plant 1 25 of the 70 left
    assert x[0, 0, :2, NDPR] == pytest.approx([12.5, 37.5])
    assert x[0, 1, :2, NDPR] == pytest.approx([6.25, 18.75])
    # sample 1: 100 t REO is 85 t of NdPr, all from plant 0; nothing left for plant 1
    assert x[1, :, :, NDPR].sum() == pytest.approx(100.0 * REO_TO_ELEMENT[NDPR])
    assert x[1, 1].sum() == pytest.approx(0.0, abs=1e-12)
    assert (x[:, :, 2] == 0).all() and (x[..., DY] == 0).all()  # other region, other element
    assert np.allclose(avail_left, avail - x.sum(axis=2))
    assert np.allclose(need_left, need - x.sum(axis=1))
    # controls scale what each route may carry (their levels one row for every sample)
    allowed = np.ones((1, 2, 3, len(ELEMENTS)))
    allowed[:, 0, 1] = 0.0
    x_ctl, _, _ = reserve_oxide([off], avail, need, allowed, step=3)
    assert (x_ctl[:, 0, 1] == 0).all() and x_ctl[0, 0, 0, NDPR] == pytest.approx(30.0)
    # nothing before it starts
    later = _oxide_offtake([0.5, 1.0], [np.inf, 100.0], start=5.0)
    x_before, left_before, _ = reserve_oxide([later], avail, need, None, step=3)
    assert (x_before == 0).all() and np.array_equal(left_before, avail)


def _lynas_to_japan(share: float | None) -> tuple[float, float]:
    """Lynas's NdPr oxide to Japan's metal plant and to everyone in 2024, with an offtake of
    ``share`` of it for Japan (None: no offtake), and the run's mass residual."""
    from sim.world.loader import default_world

    events = []
    if share is not None:
        events.append(
            {
                "kind": "offtake",
                "facility": "lynas_malaysia",
                "elements": ["NdPr"],
                "share": share,
                "tonnes_pa": 7200,
                "region": "JP",
                "start": "2024-01-01",
            }
        )
    world = default_world()
    res = run(world, scenario(events, end="2024-12-31"))
    assert res.residual < 1e-6
    sep = [f.id for f in res.chain.stage("separation")]
    metal = [f.id for f in res.chain.stage("metal")]
    flows = res.record.flows["oxide"][:, sep.index("lynas_malaysia"), :, NDPR]
    return flows[:, metal.index("japan_metal")].sum(), flows.sum()


def test_an_oxide_offtake_gives_its_region_more_of_the_plant_and_more_with_a_larger_share() -> None:
    without, total = _lynas_to_japan(None)
    got = [_lynas_to_japan(share)[0] for share in (0.2, 0.6, 1.0)]
    assert got[0] > without + 1.0
    assert got[0] <= got[1] + 1e-9 <= got[2] + 2e-9
    assert got[2] <= total + 1e-6


def test_oxide_offtakes_drawn_per_sample_equal_their_single_runs() -> None:
    """Each sample of a batch with a drawn share, yearly limit and start is its own run, bit
    for bit, on April's licensing (where the offtake's Dy and Tb meet a control)."""
    from sim.world.loader import default_world

    shares, limits = [0.3, 1.0, 0.65], [900.0, 7200.0, 3000.0]
    starts = ["2024-01-01", "2025-02-01", "2025-06-15"]

    def events(share: float, limit: float, start: str) -> list[dict]:
        return [
            {
                "kind": "export_control",
                "exporter": "CN",
                "elements": ["Dy", "Tb"],
                "forms": ["oxide", "metal", "magnet"],
                "mode": "licence",
                "approval_rate": 0.4,
                "review_delay_days": 63,
                "start": "2025-04-04",
            },
            {
                "kind": "offtake",
                "facility": "lynas_malaysia",
                "share": share,
                "tonnes_pa": limit,
                "region": "JP",
                "start": start,
            },
        ]

    world = default_world()
    horizon = {"start": "2024-01-01", "end": "2026-12-31"}
    draws = {
        "events[1].share": np.array(shares),
        "events[1].tonnes_pa": np.array(limits),
        "events[1].start": np.array([date(d).toordinal() for d in starts], float),
    }
    batch = run(
        world, scenario(events(shares[0], limits[0], starts[0]), **horizon), samples=3, draws=draws
    )
    assert batch.residual < 1e-6
    assert not np.array_equal(batch.prices_usd_per_kg[0], batch.prices_usd_per_kg[1])
    for s in range(3):
        alone = run(world, scenario(events(shares[s], limits[s], starts[s]), **horizon))
        assert np.array_equal(batch.shortfall[s], alone.shortfall[0])
        assert np.array_equal(
            batch.prices_usd_per_kg[s], alone.prices_usd_per_kg[0], equal_nan=True
        )


def test_a_batch_forked_before_an_oxide_offtake_equals_one_that_runs_every_step() -> None:
    """Drawn share and limit of an offtake starting in 2025 cannot act before it: the batch
    runs the steps before once (`sim.runs.history`) and gets the same numbers, bit for bit."""
    from sim.world.loader import default_world
    from tests.test_prefix import assert_same

    event = {
        "kind": "offtake",
        "facility": "lynas_malaysia",
        "elements": ["NdPr", "Dy", "Tb"],
        "share": 0.5,
        "tonnes_pa": 3000,
        "region": "JP",
        "start": "2025-03-01",
    }
    world = default_world()
    base = scenario([event], end="2026-06-30")
    draws = {
        "events[0].share": np.array([0.2, 0.5, 1.0]),
        "events[0].tonnes_pa": np.array([500.0, 3000.0, 7200.0]),
    }
    forked = run(world, base, samples=3, draws=draws)
    whole = run(world, base, samples=3, draws=draws, fork_prefix=False)
    assert forked.shared_steps > 0 and whole.shared_steps == 0
    assert_same(forked, whole)

"""Properties of the levers on random small worlds: with licences, suspensions, S-curve
projects, stockpiles, offtakes (of magnets and of oxide), price levels and caps, floors and
producer economics, mass is conserved, stocks and stockpiles stay non-negative and nobody
receives more than demand."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.runs.engine import run
from sim.world.world import Producer, World
from tests.test_conservation import COUNTRIES, worlds
from tests.worlds import scenario

STARTS = ["2024-02-10", "2024-09-01", "2025-05-20"]


def _with_producer(draw: st.DrawFn, world: World) -> World:
    facs = [f.id for f in world.facilities if f.stage in ("mine", "separation")]
    chosen = draw(st.lists(st.sampled_from(facs), min_size=1, max_size=3, unique=True))
    prod = Producer(
        "p",
        tuple(chosen),
        "NdPr_oxide",
        draw(st.sampled_from(["china", "ex_china"])),
        draw(st.floats(10, 200)),
        draw(st.sampled_from([1.0, 3.0])),
        draw(st.floats(0.1, 1.0)),
        draw(st.sampled_from([2.0, 6.0])),
        draw(st.sampled_from([1.0, 4.0])),
    )
    prices = {
        **world.prices_usd_per_kg,
        ("NdPr_oxide", "china"): 50.0,
        ("NdPr_oxide", "ex_china"): 52.5,
    }
    return dataclasses.replace(world, producers=(prod,), prices_usd_per_kg=prices)


def _lever(draw: st.DrawFn, world: World) -> dict:
    kind = draw(
        st.sampled_from(
            [
                "licence",
                "new_capacity",
                "stockpile",
                "offtake",
                "price_level",
                "price_cap",
                "price_floor",
            ]
        )
    )
    start = draw(st.sampled_from(STARTS))
    buyer = draw(st.sampled_from(world.buyers))
    if kind == "licence":
        ev = {
            "kind": "export_control",
            "exporter": draw(st.sampled_from(sorted(COUNTRIES))),
            "mode": "licence",
            "approval_rate": draw(st.floats(0, 1)),
            "review_delay_days": draw(st.floats(0, 200)),
            "start": start,
            "forms": draw(st.sampled_from(["all", ["magnet"], ["oxide", "metal"]])),
            "general_licence": draw(st.sampled_from([[], ["US"], ["EU", "JP"]])),
            "sectors": draw(st.sampled_from(["all", ["defence"], ["ev_traction", "wind"]])),
        }
        if draw(st.booleans()):
            ev["foreign_content_threshold"] = draw(st.floats(0, 1))
        if draw(st.booleans()):
            ev["suspended"] = "2025-01-15"
            if draw(st.booleans()):
                ev["resumed"] = "2025-07-01"
        return ev
    if kind == "new_capacity":
        return {
            "kind": kind,
            "facility": draw(st.sampled_from([f.id for f in world.facilities])),
            "start": start,
            "nameplate_tpa": draw(st.floats(1, 10_000)),
            "ramp_months": draw(st.sampled_from([0, 7, 24])),
            "ramp": draw(st.sampled_from(["linear", "s_curve"])),
            "delay_months": draw(st.floats(0, 12)),
            "completion_probability": draw(st.floats(0, 1)),
        }
    if kind == "stockpile":
        ev = {
            "kind": kind,
            "region": buyer.region,
            "material": buyer.material,
            "sectors": [buyer.sector],
            "initial_t": draw(st.floats(0, 5_000)),
            "release_threshold": draw(st.floats(0, 1)),
            "max_release_t_per_month": draw(st.floats(0.1, 1_000)),
            "start": start,
        }
        if draw(st.booleans()):
            ev.update(
                purchase_t_per_month=draw(st.floats(0, 500)), target_t=draw(st.floats(0, 5_000))
            )
        return ev
    if kind == "offtake":
        metal_regions = sorted({world.region(f.country) for f in world.by_stage("metal")})
        if draw(st.booleans()) and metal_regions:  # of a separation plant's oxide
            separation = [f.id for f in world.by_stage("separation")]
            limit = draw(st.one_of(st.none(), st.floats(1, 50_000)))
            return {
                "kind": kind,
                "facility": draw(st.sampled_from(separation)),
                "region": draw(st.sampled_from(metal_regions)),
                "elements": draw(st.sampled_from(["all", ["NdPr"], ["Dy", "Tb"]])),
                "share": draw(st.floats(0.01, 1)),
                "start": start,
                **({} if limit is None else {"tonnes_pa": limit}),
            }
        magnets = [f.id for f in world.facilities if f.stage == "magnet"]
        return {
            "kind": kind,
            "facility": draw(st.sampled_from(magnets)),
            "region": buyer.region,
            "share": draw(st.floats(0.01, 1)),
            "start": start,
        }
    if kind in ("price_level", "price_cap"):
        return {
            "kind": kind,
            "product": "NdPr_oxide",
            "usd_per_kg": draw(st.floats(1, 300)),
            "start": start,
        }
    return {
        "kind": kind,
        "product": "NdPr_oxide",
        "usd_per_kg": draw(st.floats(1, 300)),
        "beneficiary": "p",
        "start": start,
        "years": draw(st.floats(0.1, 5)),
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_levers_conserve_mass_and_keep_stocks_non_negative(data: st.DataObject) -> None:
    world = data.draw(worlds())
    world = _with_producer(data.draw, world)
    evs = [_lever(data.draw, world) for _ in range(data.draw(st.integers(1, 4)))]
    result = run(world, scenario(evs, end="2025-12-31"))
    assert result.residual <= 1e-9
    rec = result.record
    assert rec.stocks is not None and rec.inventory is not None
    assert rec.stocks.min() >= -1e-6 and rec.inventory.min() >= -1e-6
    assert (rec.delivered <= rec.demand + 1e-9).all()
    if rec.stockpile_t is not None:
        assert rec.stockpile_t.min() >= -1e-9
    if rec.floor_usd is not None:
        assert rec.floor_usd.min() >= 0.0

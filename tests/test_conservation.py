"""Mass is conserved, stocks stay non-negative, and a batch equals its samples run alone."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import MassBalanceError
from sim.model.ledger import Ledger
from sim.model.levers.economics import TIERS
from sim.runs.engine import run
from sim.units import ELEMENTS
from sim.world.world import Buyer, Facility, Tranche, World
from tests.worlds import PARAMS, REGIONS, one_chain, ore, scenario

COUNTRIES = {"CN": "CN", "US": "US", "JP": "JP", "DE": "EU", "AU": "ROW", "KR": "KR"}
SECTORS = ("ev_traction", "wind", "defence", "electronics")


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """Small random worlds: 1-3 facilities a stage in random countries, random buyers."""
    countries = sorted(COUNTRIES)
    facs: list[Facility] = []
    n_mines = draw(st.integers(1, 3))
    for i in range(n_mines):
        facs.append(
            Facility(
                f"m{i}",
                f"m{i}",
                draw(st.sampled_from(countries)),
                "mine",
                "concentrate",
                (Tranche(draw(st.floats(100, 50_000))),),
                ore=f"o{i}",
            )
        )
    for stage, product in (
        ("separation", "oxide"),
        ("metal", "metal"),
        ("magnet", "NdFeB"),
        ("magnet", "SmCo"),
    ):
        for i in range(draw(st.integers(1, 2))):
            start = draw(st.sampled_from([None, "2024-06-15", "2025-03-01"]))
            tr = Tranche(
                draw(st.floats(10, 60_000)),
                None if start is None else __import__("datetime").date.fromisoformat(start),
                draw(st.sampled_from([0.0, 6.0, 18.0])),
            )
            feeds = (
                tuple(
                    draw(
                        st.lists(
                            st.sampled_from([f"m{j}" for j in range(n_mines)]),
                            max_size=2,
                            unique=True,
                        )
                    )
                )
                if stage == "separation"
                else ()
            )
            facs.append(
                Facility(
                    f"{stage[:3]}{product}{i}",
                    "p",
                    draw(st.sampled_from(countries)),
                    stage,
                    product,
                    (tr,),
                    recovers=draw(st.sampled_from(["all", "light"])),
                    feeds_from=feeds,
                    priority=draw(st.integers(1, 2)),
                )
            )
    buyers = []
    for _ in range(draw(st.integers(1, 5))):
        buyers.append(
            Buyer(
                draw(st.sampled_from(REGIONS)),
                draw(st.sampled_from(SECTORS)),
                draw(st.sampled_from(["NdFeB", "SmCo", "La", "Ce", "Dy"])),
                draw(st.floats(1, 20_000)),
                draw(st.floats(-0.05, 0.2)),
                draw(st.floats(0, 30)),
                draw(st.integers(1, 3)),
            )
        )
    lead = {(a, b): draw(st.floats(0, 60)) for a in REGIONS for b in REGIONS}
    ores = {
        f"o{i}": ore(
            **{e: draw(st.floats(0, 50)) for e in ("NdPr", "Dy", "Tb", "Sm", "La")}, Ce=1.0
        )
        for i in range(n_mines)
    }
    base = one_chain()
    trigger = draw(st.sampled_from([0.5, 1.5]))  # 0.5: they thrift at base prices too
    thrift = {  # magnet makers who thrift Dy away, at once or slowly, up to all of it
        "thrift_max_share": draw(st.sampled_from([0.0, 0.5, 1.0])),
        "thrift_trigger_price_ratio": trigger,
        "thrift_full_price_ratio": trigger + draw(st.sampled_from([0.2, 2.5])),
        "thrift_adoption_months": draw(st.sampled_from([0.0, 6.0])),
        # and who move Dy onto Tb, or back, as the two prices part
        "swap_max_share": draw(st.sampled_from([0.0, 0.5, 1.0])),
        "swap_full_price_ratio": draw(st.sampled_from([1.2, 2.0])),
    }
    dy = {(f"{e}_oxide", tier): p for e, p in (("Dy", 300.0), ("Tb", 900.0)) for tier in TIERS}
    return World(
        2024,
        COUNTRIES,
        ores,
        tuple(facs),
        tuple(buyers),
        lead,
        base.recipes,
        dict(PARAMS) | thrift,
        base.prices_usd_per_kg | dy,
    )


@st.composite
def events(draw: st.DrawFn, world: World) -> list[dict]:
    out: list[dict] = []
    ids = [f.id for f in world.facilities]
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["export_control", "outage", "new_capacity"]))
        start = draw(st.sampled_from(["2024-02-10", "2024-09-01", "2025-05-20"]))
        if kind == "export_control":
            mode = draw(st.sampled_from(["ban", "quota"]))
            ev = {
                "kind": kind,
                "exporter": draw(st.sampled_from(sorted(COUNTRIES))),
                "mode": mode,
                "start": start,
                "forms": draw(
                    st.sampled_from(["all", ["magnet"], ["oxide", "metal"], ["concentrate"]])
                ),
                "elements": draw(st.sampled_from(["all", ["Dy", "Tb"], ["Sm"]])),
                "destinations": draw(st.sampled_from(["all", ["US"], ["EU", "JP"]])),
            }
            if mode == "quota":
                ev["share"] = draw(st.floats(0, 1))
            if draw(st.booleans()):
                ev["end"] = "2025-10-15"
        elif kind == "outage":
            ev = {
                "kind": kind,
                "facility": draw(st.sampled_from(ids)),
                "start": start,
                "end": "2025-12-31",
                "share": draw(st.floats(0.1, 1.0)),
            }
        else:
            ev = {
                "kind": kind,
                "facility": draw(st.sampled_from(ids)),
                "start": start,
                "nameplate_tpa": draw(st.floats(1, 10_000)),
                "ramp_months": draw(st.sampled_from([0, 12])),
            }
        out.append(ev)
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mass_is_conserved_and_stocks_stay_non_negative(data: st.DataObject) -> None:
    world = data.draw(worlds())
    evs = data.draw(events(world))
    result = run(world, scenario(evs, end="2025-12-31"))
    assert result.residual <= 1e-9
    rec = result.record
    assert rec.stocks is not None and rec.inventory is not None
    assert rec.stocks.min() >= -1e-6
    assert rec.inventory.min() >= -1e-6
    assert (rec.delivered <= rec.demand + 1e-9).all()
    assert (rec.delivered >= -1e-12).all()


def test_ledger_flags_created_material() -> None:
    ledger = Ledger(1)
    ledger.open(np.zeros((1, len(ELEMENTS))))
    ledger.mined[0, 2] = 10.0
    holdings = np.zeros((1, len(ELEMENTS)))
    holdings[0, 2] = 10.5
    with pytest.raises(MassBalanceError, match="Tb"):
        ledger.check(holdings)


def test_batch_of_identical_samples_matches_single_run_bit_for_bit() -> None:
    world = one_chain(lead_days=20.0)
    evs = [
        {
            "kind": "export_control",
            "exporter": "CN",
            "mode": "quota",
            "share": 0.3,
            "forms": ["magnet"],
            "start": "2024-07-10",
        }
    ]
    single = run(world, scenario(evs))
    batch = run(world, scenario(evs), samples=4)
    for s in range(4):
        assert np.array_equal(batch.record.delivered[s], single.record.delivered[0])
        assert np.array_equal(
            batch.prices_usd_per_kg[s], single.prices_usd_per_kg[0], equal_nan=True
        )


def test_same_inputs_give_identical_results() -> None:
    a = run(one_chain(), scenario())
    b = run(one_chain(), scenario())
    assert np.array_equal(a.record.delivered, b.record.delivered)

"""Sites and companies as names: an outage, offtake or floor naming a site or a company reaches
all its facilities, exactly as events naming each facility would; unknown names are refused
with the names the world knows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.errors import InputError
from sim.io.scenario_files import load_scenario
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.runs.engine import RunResult, run
from sim.units import ELEMENT_INDEX
from sim.world.data_files import read_rows
from sim.world.loader import default_world, vintage_world
from sim.world.rows import OwnerRow
from tests.worlds import scenario

HORIZON = {"start": "2025-01-01", "end": "2027-12-31"}
OUTAGE = {"kind": "outage", "start": "2026-03-01", "end": "2027-03-01"}


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return default_world()


def _same(a: RunResult, b: RunResult) -> None:
    assert np.array_equal(a.shortfall, b.shortfall)
    assert np.array_equal(a.prices_usd_per_kg, b.prices_usd_per_kg, equal_nan=True)
    assert a.record.production is not None and b.record.production is not None
    assert np.array_equal(a.record.production, b.record.production)


def test_the_lynas_malaysia_site_and_its_three_facility_ids_are_the_same_outage(world) -> None:  # type: ignore[no-untyped-def]
    assert world.named("lynas_malaysia") == (
        "lynas_malaysia",
        "lynas_malaysia_hre",
        "lynas_malaysia_hre2",
    )
    site = run(world, scenario([{**OUTAGE, "facility": "lynas_malaysia"}], **HORIZON))
    ids = [{**OUTAGE, "facility": f} for f in world.named("lynas_malaysia")]
    _same(site, run(world, scenario(ids, **HORIZON)))
    light = world.facility("lynas_malaysia")
    index = site.chain.index
    made = site.record.production
    assert made is not None and made[16:24, index[light.id]].sum() == 0.0  # closed
    assert made[30:, index["lynas_malaysia_hre"]].sum() > 0.0  # back after March 2027


def test_a_company_outage_reaches_every_facility_it_owns(world) -> None:  # type: ignore[no-untyped-def]
    owned = world.named("lynas")
    assert set(owned) == {
        "mt_weld",
        "mt_weld_segh",
        "lynas_malaysia",
        "lynas_malaysia_hre",
        "lynas_malaysia_hre2",
    }
    company = run(world, scenario([{**OUTAGE, "facility": "lynas"}], **HORIZON))
    each = [{**OUTAGE, "facility": f} for f in owned]
    _same(company, run(world, scenario(each, **HORIZON)))


def test_an_offtake_naming_a_company_reserves_a_share_of_each_of_its_magnet_plants(world) -> None:  # type: ignore[no-untyped-def]
    offtake = {"kind": "offtake", "share": 0.5, "region": "US", "start": "2025-06-01"}
    company = run(world, scenario([{**offtake, "facility": "mp_materials"}], **HORIZON))
    plants = ["mp_independence", "mp_10x"]  # the company's magnet plants (not its mine)
    assert len(company.chain.offtakes) == 2
    _same(company, run(world, scenario([{**offtake, "facility": p} for p in plants], **HORIZON)))


def test_a_floor_naming_a_company_pays_on_its_separation_plants(world) -> None:  # type: ignore[no-untyped-def]
    floor = {
        "kind": "price_floor",
        "product": "NdPr_oxide",
        "usd_per_kg": 120.0,
        "start": "2025-07-01",
        "years": 10,
        "payer": "AU government",
    }
    company = run(world, scenario([{**floor, "beneficiary": "lynas"}], **HORIZON))
    site = run(world, scenario([{**floor, "beneficiary": "lynas_malaysia"}], **HORIZON))
    none = run(world, scenario([], **HORIZON))
    paid = company.record.floor_usd
    assert paid is not None and site.record.floor_usd is not None
    assert np.array_equal(paid, site.record.floor_usd)  # Lynas separates only in Malaysia
    assert (paid[0, :6] == 0).all() and (paid[0, 6:] > 1e6).all()  # from July 2025
    assert np.array_equal(company.shortfall, none.shortfall)  # paid, but no flow changes
    # the top-up over last month's ex-China NdPr price, on the NdPr Lynas separated
    plants = [company.chain.index[f] for f in world.named("lynas_malaysia")]
    assert company.record.production is not None
    made_kg = company.record.production[6:, plants, 0].sum(axis=1) * 1000.0
    ndpr = company.prices_usd_per_kg[0, 5:-1, PRICE_PRODUCTS.index("NdPr_oxide")]
    expected = (120.0 - ndpr[:, TIERS.index("ex_china")]) * made_kg
    assert np.allclose(paid[0, 6:, 0], expected, rtol=1e-12)
    low = run(world, scenario([{**floor, "beneficiary": "lynas", "usd_per_kg": 1.0}], **HORIZON))
    assert low.record.floor_usd is not None and (low.record.floor_usd == 0).all()


def _load(tmp_path: Path, event: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nhorizon: {start: 2025-01-01, end: 2026-12-31}\nevents:\n" + event,
        encoding="utf-8",
    )
    load_scenario(path, default_world())


def test_a_floor_on_any_priced_oxide_pays_on_that_element(world) -> None:  # type: ignore[no-untyped-def]
    floor = {
        "kind": "price_floor",
        "product": "Gd_oxide",
        "usd_per_kg": 40.0,
        "beneficiary": "lynas",
        "start": "2025-07-01",
        "years": 10,
    }
    res = run(world, scenario([floor], **HORIZON))
    assert res.record.floor_usd is not None and res.record.production is not None
    plants = [res.chain.index[f] for f in world.named("lynas_malaysia")]
    made_kg = res.record.production[6:, plants, ELEMENT_INDEX["Gd"]].sum(axis=1) * 1000.0
    gd = res.prices_usd_per_kg[0, 5:-1, PRICE_PRODUCTS.index("Gd_oxide"), TIERS.index("ex_china")]
    assert made_kg.sum() > 0.0
    assert np.allclose(res.record.floor_usd[0, 6:, 0], (40.0 - gd) * made_kg, rtol=1e-12)


@pytest.mark.parametrize(
    ("event", "words"),
    [
        (
            "  - {kind: outage, facility: lynass, start: 2026-01-01, end: 2026-06-01}\n",
            ["s.yaml:4: events[0].facility: unknown facility, site or company", "'lynas'"],
        ),
        (
            "  - {kind: outage, facility: zzz, start: 2026-01-01, end: 2026-06-01}\n",
            ["expected one of [", "'lynas'", "'lynas_malaysia'", "'mt_weld_segh'"],
        ),
        (
            "  - {kind: offtake, facility: mt_weld, share: 0.5, region: US, start: 2026-01-01}\n",
            ["events[0].facility: not a magnet or separation plant", "'lynas_malaysia'"],
        ),
        (
            "  - {kind: export_control, exporter: CN, mode: ban, start: 2026-01-01,\n"
            "     general_licences: [{exporters: [chinaa_ndfeb], regions: [US],\n"
            "                         from: 2026-02-01}]}\n",
            [
                "s.yaml:5: events[0].general_licences[0].exporters[0]: unknown facility",
                "did you mean 'china_ndfeb'?",
            ],
        ),
        (
            "  - {kind: export_control, exporter: CN, mode: ban, start: 2026-01-01,\n"
            "     general_licences: [{exporters: [china_ndfeb], regions: [USA],\n"
            "                         from: 2026-02-01}]}\n",
            ["events[0].general_licences[0].regions: unknown region", "(got 'USA')"],
        ),
        (
            "  - {kind: export_control, exporter: CN, mode: ban, start: 2026-01-01,\n"
            "     general_licences: [{exporters: [china_ndfeb], from: 2026-02-01,\n"
            "                         until: 2026-01-01}]}\n",
            ["events[0].general_licences[0]: until (2026-01-01) must be after from (2026-02-01)"],
        ),
        (
            "  - {kind: price_floor, product: NdPr_oxide, usd_per_kg: 90, beneficiary: neo,\n"
            "     start: 2026-01-01, years: 5}\n",
            ["events[0].beneficiary: unknown producer", "'neo_performance'"],
        ),
        (
            "  - {kind: price_floor, product: Tm_oxide, usd_per_kg: 90, beneficiary: lynas,\n"
            "     start: 2026-01-01, years: 5}\n",
            ["events[0].product: no price in this world (prices.csv)", "'Tm_oxide'"],
        ),
    ],
)
def test_an_unknown_name_is_refused_with_the_names_the_world_knows(
    tmp_path: Path, event: str, words: list[str]
) -> None:
    with pytest.raises(InputError) as caught:
        _load(tmp_path, event)
    for word in words:
        assert word in str(caught.value), str(caught.value)


@pytest.mark.parametrize("name", ["default", "default@2009", "default@2020"])
def test_every_owned_facility_is_a_facility_of_its_vintage(name: str) -> None:
    world = vintage_world(name)
    folder = "" if name == "default" else f"vintages/{name.removeprefix('default@')}"
    rows = read_rows(OwnerRow, "owners.csv", folder)
    ids = {f.id for f in world.facilities}
    assert rows and {row.facility for row in rows} <= ids
    assert len({row.facility for row in rows}) == len(rows)  # one owner a facility
    assert (
        not (set(world.sites) | set(world.companies))
        - {r.site for r in rows}
        - {r.company for r in rows}
    )

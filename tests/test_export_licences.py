"""Export controls, complete: licences (review delay, approval rate), general licences,
end-use sectors and suspensions; a tighter control never lowers the shortfall it targets."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from sim.runs.engine import run
from sim.units import DAYS_PER_MONTH
from sim.world.loader import default_world
from tests.worlds import one_chain, scenario, with_defence

M0 = 12  # 2025-01 is month 12 after the 2024-01 origin
LICENCE = {
    "kind": "export_control",
    "exporter": "CN",
    "forms": ["magnet"],
    "mode": "licence",
    "approval_rate": 0.5,
    "review_delay_days": 2 * DAYS_PER_MONTH,
    "start": "2025-01-01",
}
BAN = {
    "kind": "export_control",
    "exporter": "CN",
    "forms": ["magnet"],
    "mode": "ban",
    "start": "2025-01-01",
}


def test_licences_hold_everything_for_the_review_then_release_the_approved_share() -> None:
    res = run(one_chain(cover_weeks=0.0), scenario([LICENCE]))
    got, demand = res.record.delivered[0, :, 0], res.record.demand[0, :, 0]
    assert np.allclose(got[:M0], demand[:M0])
    assert np.allclose(got[M0 : M0 + 2], 0.0, atol=1e-9)
    assert np.allclose(got[M0 + 2 :], 0.5 * demand[M0 + 2 :], rtol=1e-6)


def test_a_suspension_switches_the_control_off_until_it_resumes() -> None:
    ev = {**BAN, "suspended": "2025-04-01", "resumed": "2025-07-01"}
    res = run(one_chain(cover_weeks=0.0), scenario([ev]))
    got, demand = res.record.delivered[0, :, 0], res.record.demand[0, :, 0]
    assert np.allclose(got[M0 : M0 + 3], 0.0, atol=1e-9)
    assert np.allclose(got[M0 + 3 : M0 + 6], demand[M0 + 3 : M0 + 6])
    assert np.allclose(got[M0 + 6 :], 0.0, atol=1e-9)


def test_a_suspension_without_resumption_ends_the_control() -> None:
    res = run(one_chain(cover_weeks=0.0), scenario([{**BAN, "suspended": "2025-05-01"}]))
    assert res.shortfall[0, : M0 + 4].sum() > 0 and res.shortfall[0, M0 + 4 :].max() < 1e-9


def test_general_licence_exempts_its_destinations() -> None:
    res = run(one_chain(cover_weeks=0.0), scenario([{**BAN, "general_licence": ["US"]}]))
    assert res.shortfall.max() < 1e-9


def test_sector_scope_denies_only_the_named_end_users() -> None:
    res = run(with_defence(one_chain(cover_weeks=0.0)), scenario([{**BAN, "sectors": ["defence"]}]))
    short = res.shortfall[0]
    assert short[:, 0].max() < 1e-9  # ev_traction still served
    assert short[M0 + 1 :, 1].min() > 9.9  # defence gets nothing (10 t a month)


# -- direction of effect on the default world --------------------------------------------------
HORIZON = {"start": "2024-01-01", "end": "2027-12-31"}


def _control(**kw: object) -> dict:
    return {
        "kind": "export_control",
        "exporter": "CN",
        "elements": ["Dy", "Tb"],
        "forms": ["oxide", "metal", "magnet"],
        "start": "2025-04-04",
        **kw,
    }


def _abroad_short(res: object) -> np.ndarray:
    """Cumulative unmet need over time of buyers outside China (shortfall and what they gave
    up for price: a dearer market makes buyers use less, which must not count as relief), t of
    magnet or element, [S, T]."""
    chain = res.chain  # type: ignore[attr-defined]
    abroad = np.array([b.region != "CN" for b in chain.buyers])
    return res.unmet[:, :, abroad].sum(axis=2).cumsum(axis=1)  # type: ignore[attr-defined]


def _ordered(cumulative: np.ndarray, transient: float = 5e-3, total: float = 1e-4) -> None:
    """Samples are ordered loosest to tightest: the shortfall over the horizon never falls
    along them (beyond ``total``, 0.01%: buyers who answer a dearer price free supply for
    others, which reshuffles a few tonnes), nor does the cumulative shortfall month by month, beyond
    transients of 1 t plus ``transient`` of it (a broader control reshuffles who gets what
    for a month or two, and buyers who see prices run ahead stock up a few weeks early)."""
    assert (np.diff(cumulative[:, -1]) >= -total * cumulative[1:, -1]).all()
    assert (np.diff(cumulative, axis=0) >= -(1.0 + transient * cumulative[1:])).all()
    assert cumulative[-1, -1] > cumulative[0, -1] + 1.0


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return default_world()


LICENCE_60 = _control(mode="licence", approval_rate=0.5, review_delay_days=60)


@pytest.mark.parametrize(
    ("event", "field", "loosest_first"),
    [
        (LICENCE_60, "approval_rate", [1.0, 0.8, 0.6, 0.4, 0.2, 0.0]),  # higher rate: never worse
        (LICENCE_60, "review_delay_days", [0.0, 30.0, 63.0, 120.0, 240.0]),
        (_control(mode="quota", share=0.5), "share", [1.0, 0.7, 0.4, 0.1, 0.0]),
    ],
)
def test_a_tighter_control_never_lowers_a_shortfall(  # type: ignore[no-untyped-def]
    world, event: dict, field: str, loosest_first: list[float]
) -> None:
    values = np.array(loosest_first)
    res = run(
        world,
        scenario([event], **HORIZON),
        samples=len(values),
        detail=False,
        draws={f"events[0].{field}": values},
    )
    _ordered(_abroad_short(res))


def _days(*dates: str) -> list[float]:
    return [float(dt.date.fromisoformat(d).toordinal()) for d in dates]


@pytest.mark.parametrize(
    ("field", "loosest_first"),
    [
        ("end", _days("2025-06-01", "2025-10-01", "2026-03-01", "2027-06-01")),  # lasts longer
        ("resumed", _days("2027-06-01", "2026-09-01", "2026-02-01", "2025-11-01")),  # shorter pause
    ],
)
def test_a_longer_control_never_lowers_a_shortfall(  # type: ignore[no-untyped-def]
    world, field: str, loosest_first: list[float]
) -> None:
    event = {**LICENCE_60, "end": "2026-06-01", "suspended": "2025-09-01", "resumed": "2026-06-01"}
    values = np.array(loosest_first)
    res = run(
        world,
        scenario([event], **HORIZON),
        samples=len(values),
        detail=False,
        draws={f"events[0].{field}": values},
    )
    _ordered(_abroad_short(res))


def test_more_destinations_never_lower_their_shortfall(world) -> None:  # type: ignore[no-untyped-def]
    runs = [
        run(world, scenario([_control(mode="ban", destinations=dest)], **HORIZON), detail=False)
        for dest in (["US"], ["US", "JP"], ["US", "JP", "EU"], "all")
    ]
    _ordered(np.concatenate([_abroad_short(r) for r in runs]))


@pytest.mark.parametrize("thrift", [0.0, None])
def test_more_elements_never_lower_a_shortfall(world, thrift: float | None) -> None:  # type: ignore[no-untyped-def]
    """Within 0.2% (the NdPr below). With thrifting the dearer Dy of a licence on Dy and Tb
    set off a little thrift, which a licence on Tb alone, binding as hard, did not, and magnet
    makers abroad then made 34 t more of the magnets the scarce Tb allowed (130,858 t short
    over 2024-2027 against 130,890 t). Since makers choose Tb for Dy, a licence on Tb alone
    moves them onto the Dy it leaves free, and adding Dy costs 7,562 t (124,103 -> 131,665)."""
    if thrift is not None:
        world = dataclasses.replace(world, parameters={**world.parameters, "thrift_max_share": 0})
    runs = [
        run(
            world,
            scenario(
                [
                    _control(
                        mode="licence", approval_rate=0.4, review_delay_days=60, elements=elements
                    )
                ],
                **HORIZON,
            ),
            detail=False,
        )
        for elements in (["Tb"], ["Dy", "Tb"], ["Sm", "Dy", "Tb"], ["Sm", "Dy", "Tb", "NdPr"])
    ]
    # Adding NdPr closes sales of ex-China NdPr into China (the cheap market while the control
    # holds China's back), so ex-China magnet makers get more of it: up to 2.3% less
    # cumulative shortfall while the licences are under review (262 t of 11,528 in month 20),
    # and 0.01-0.05% over the horizon (19 t of 131,559; 67 t before the reference was
    # averaged) with two-way trade netted out, which makes the tier abroad a net seller of
    # NdPr metal to China in normal times. Since magnet makers choose Tb for Dy (a swap puts
    # NdPr in the place of the Dy it moves, Dec 2026) the NdPr kept abroad counts a little
    # more: 150 t of 132,404 (0.11%; 142 t without thrift), hence 0.2% over the horizon.
    _ordered(np.concatenate([_abroad_short(r) for r in runs]), transient=0.025, total=2e-3)


# -- general licences: named exporter -> buyer pairs, exempt while valid ------------------------
LICENSED = {
    **BAN,
    "general_licences": [
        {
            "exporters": ["g"],
            "regions": ["US"],
            "sectors": ["ev_traction"],
            "from": "2025-04-01",
            "until": "2025-10-01",
        }
    ],
}


def test_a_general_licence_exempts_exactly_its_pairs_while_it_is_valid() -> None:
    world = with_defence(one_chain(cover_weeks=0.0))
    res = run(world, scenario([LICENSED]))
    got, demand = res.record.delivered[0], res.record.demand[0]
    ev, defence = 0, 1
    valid = slice(M0 + 3, M0 + 9)  # April to September 2025
    assert np.allclose(got[:M0], demand[:M0])
    assert np.allclose(got[M0 : M0 + 3, ev], 0.0, atol=1e-9)  # banned before the licence
    assert np.allclose(got[valid, ev], demand[valid, ev], rtol=1e-9)  # licensed pair: served
    assert np.allclose(got[M0 + 9 :, ev], 0.0, atol=1e-9)  # banned again once it lapses
    assert np.allclose(got[M0:, defence], 0.0, atol=1e-9)  # not a licensed pair: never served
    other_exporter = {**LICENSED, "general_licences": [{**LICENSED["general_licences"][0]}]}
    other_exporter["general_licences"][0]["exporters"] = ["x"]  # the metal plant ships no magnet
    res = run(world, scenario([other_exporter]))
    assert np.allclose(res.record.delivered[0, M0:], 0.0, atol=1e-9)


def test_a_general_licence_for_all_sectors_equals_exempting_its_region() -> None:
    world = with_defence(one_chain(cover_weeks=0.0))
    licence = {"exporters": ["g"], "regions": ["US"], "from": "2024-06-01"}
    licensed = run(world, scenario([{**BAN, "general_licences": [licence]}]))
    exempt = run(world, scenario([{**BAN, "general_licence": ["US"]}]))
    assert np.array_equal(licensed.record.delivered, exempt.record.delivered)
    assert np.array_equal(licensed.shortfall, exempt.shortfall)

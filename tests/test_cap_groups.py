"""A control caps the flow over all the routes it reaches together, so a control that never
acts changes nothing: the lanes and classes its reach splits cannot change how the other
controls' let-through flow is shared (docs/design.md, Export controls)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.config.scenario import Scenario
from sim.io.scenario_files import resolve
from sim.market import Market, allocation_kernels, cap_kernels
from sim.runs.engine import RunResult, run
from sim.world.loader import default_world

SCENARIOS = Path(__file__).parent.parent / "scenarios"
CIVIL = ["ev_traction", "wind", "electronics", "industrial_motors", "other"]
US_CIVIL_BAN = {
    "kind": "export_control",
    "exporter": "CN",
    "destinations": ["US"],
    "sectors": CIVIL,
    "forms": ["oxide", "metal", "magnet"],
    "mode": "ban",
}
# never in force: dated after every horizon, or suspended from its start for good (a licence
# approving everything is in force, and caps its routes at their normal flow:
# tests/test_full_approval.py; a quota of share 1 is a tonnage, which binds as demand grows:
# tests/test_licence_growth.py)
AFTER_THE_HORIZON = {**US_CIVIL_BAN, "start": "2150-01-01"}
SUSPENDED = {
    **US_CIVIL_BAN,
    "destinations": ["US", "JP"],
    "elements": ["Dy", "Tb"],
    "mode": "licence",
    "approval_rate": 0.2,
    "review_delay_days": 30,
    "start": "2025-02-01",
    "suspended": "2025-02-01",
}


def library(name: str, extra: list[dict] = ()) -> Scenario:
    """A library scenario, with ``extra`` events."""
    data, _ = resolve(SCENARIOS / f"{name}.yaml")
    return Scenario.model_validate({**data, "events": [*data["events"], *extra]})


def outputs(res: RunResult) -> dict[str, np.ndarray]:
    """The arrays compared: shortfall, prices and every market's flows."""
    flows = {f"flows.{name}": x for name, x in res.record.flows.items()}
    return {"shortfall": res.shortfall, "prices": res.prices_usd_per_kg, **flows}


# Who ships to whom within a lane of magnet buyers may move by a few parts in 100,000 of the
# largest route's flow when a scope splits the lane: its buyers share the lane's suppliers in
# proportion, and a use-first fill (tests/test_use_first.py) draws on suppliers in other
# proportions than the fill of restocking. What each buyer receives stays exact; the moved
# routes' lead times move shortfall by about a part in a billion of its largest.
ROUTES_MOVE = 1e-4


def assert_same(got: RunResult, expected: RunResult) -> None:
    a, b = outputs(got), outputs(expected)
    assert a.keys() == b.keys()
    for name in a:
        scale = np.nanmax(np.abs(b[name]))  # rounding of sums of thousands of tonnes
        moves = ROUTES_MOVE if name.startswith("flows.") else 1e-7
        np.testing.assert_allclose(a[name], b[name], rtol=1e-9, atol=moves * scale, err_msg=name)


@pytest.mark.parametrize(
    "name", ["china-2025-april-licensing", "china-2025-october-expansion-lapse"]
)
@pytest.mark.parametrize("extra", [AFTER_THE_HORIZON, SUSPENDED], ids=["after", "suspended"])
def test_a_control_that_never_acts_changes_nothing(name: str, extra: dict) -> None:
    world = default_world()
    plain = run(world, library(name))
    added = run(world, library(name, [extra]))
    assert len(added.chain.controls) == len(plain.chain.controls) + 1
    assert_same(added, plain)


# -- a market's cap groups ----------------------------------------------------------------


def random_market(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Routes ``open_[P, C, K]``, priorities ``[C]`` and a control's reach ``[P, C, K]``."""
    suppliers, customers, width = (int(v) for v in rng.integers(2, 7, size=3))
    open_ = (rng.random((suppliers, customers, width)) < 0.7).astype(float)
    reach = rng.random((suppliers, customers, 1)) < 0.6
    return open_, rng.integers(0, 3, size=customers), np.broadcast_to(reach, open_.shape)


def flows(
    open_: np.ndarray,
    priority: np.ndarray,
    scopes: list[np.ndarray],
    withheld: np.ndarray,
    levels: tuple[np.ndarray, ...],
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Dense flows ``[S, P, C, K]`` of a market of these scopes, withheld shares and
    ``levels``: supply, need and their normal levels."""
    market = Market(open_, priority, scopes=scopes, scope_groups=groups)
    avail, need, normal_avail, normal_need = levels
    return market.allocate(avail, need, None, normal_avail, normal_need, withheld=withheld).dense(
        slice(None)
    )


def random_levels(rng: np.random.Generator, open_: np.ndarray, samples: int) -> tuple:
    """Supply, need and normal levels, in other proportions than supply and need."""
    sup, cus = (samples, *open_.shape[::2]), (samples, *open_.shape[1:])
    return tuple(rng.uniform(1.0, 100.0, shape) for shape in (sup, cus, sup, cus))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), samples=st.integers(1, 3))
def test_a_scope_withholding_nothing_changes_no_flow(seed: int, samples: int) -> None:
    # The second scope splits lanes and classes; at level 0 it must change nothing.
    rng = np.random.default_rng(seed)
    open_, priority, reach = random_market(rng)
    other = np.broadcast_to(rng.random((*reach.shape[:2], 1)) < 0.5, reach.shape)
    levels = random_levels(rng, open_, samples)
    level = rng.uniform(0.1, 1.0, (samples, 1))
    alone = flows(open_, priority, [reach], level, levels)
    split = flows(open_, priority, [reach, other], np.hstack([level, 0 * level]), levels)
    np.testing.assert_allclose(split, alone, rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_a_control_caps_the_flow_over_all_its_routes_together(seed: int) -> None:
    # Its routes' flow, summed, is at most their normal flow less the share withheld; and
    # a control cut into two scopes of one group (a general licence not yet valid) caps as
    # the whole does.
    rng = np.random.default_rng(seed)
    open_, priority, reach = random_market(rng)
    levels = random_levels(rng, open_, 1)
    level = np.array([[rng.uniform(0.1, 0.9)]])
    normal = flows(open_, priority, [], np.zeros((1, 0)), (*levels[2:], *levels[2:]))
    capped = flows(open_, priority, [reach], level, levels)
    limit = (1.0 - level[0, 0]) * (normal * reach).sum(axis=(1, 2))
    assert ((capped * reach).sum(axis=(1, 2)) <= limit * (1 + 1e-9) + 1e-9).all()
    part = np.broadcast_to(rng.random((*reach.shape[:2], 1)) < 0.5, reach.shape)
    cut = [reach & part, reach & ~part]
    together = flows(open_, priority, cut, np.hstack([level, level]), levels, np.array([0, 0]))
    np.testing.assert_allclose(together, capped, rtol=1e-9, atol=1e-9)


def test_products_on_routes_apart_are_capped_each_on_its_own() -> None:
    # Magnets of two kinds share the market's one product column on routes apart: a control
    # reaching both caps each kind at its share of its own normal flow.
    open_ = np.array([[[1.0], [0.0]], [[0.0], [1.0]]])  # plant 0 -> buyer 0, plant 1 -> buyer 1
    reach = np.ones((2, 2, 1), dtype=bool)
    avail, need = np.array([[[100.0], [100.0]]]), np.array([[[90.0], [10.0]]])
    normal = (avail, np.array([[[50.0], [10.0]]]))
    got = flows(open_, np.ones(2, int), [reach], np.array([[0.6]]), (avail, need, *normal))
    assert got[0, 0, 0, 0] == pytest.approx(0.4 * 50.0)
    assert got[0, 1, 1, 0] == pytest.approx(0.4 * 10.0)  # not 0.4 x 60 less the other's


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), samples=st.integers(2, 5))
def test_a_sample_of_a_batch_gets_its_own_caps_bit_for_bit(seed: int, samples: int) -> None:
    # Samples withhold different shares (some none); each gets the numbers it gets alone.
    rng = np.random.default_rng(seed)
    open_, priority, reach = random_market(rng)
    other = np.broadcast_to(rng.random((*reach.shape[:2], 1)) < 0.5, reach.shape)
    avail, need, *normal = random_levels(rng, open_, samples)
    levels = (avail, 3.0 * need, *normal)  # more than normal: caps bind
    withheld = rng.random((samples, 2)) * (rng.random((samples, 2)) < 0.6)
    batch = flows(open_, priority, [reach, other], withheld, levels, np.array([0, 1]))
    for s in range(samples):
        one = tuple(a[s : s + 1] for a in levels)
        alone = flows(open_, priority, [reach, other], withheld[s : s + 1], one, np.array([0, 1]))
        assert np.array_equal(batch[s], alone[0])


def test_the_pass_module_holds_the_digest_of_the_cap_kernels_it_inlines() -> None:
    # numba's cache sees only the content of the compiled function's own file: a change to
    # the cap kernels must change the pass's file, or runs would load a stale pass.
    text = (Path(cap_kernels.__file__)).read_bytes()
    assert hashlib.sha256(text).hexdigest()[:16] == allocation_kernels.CAP_KERNELS_DIGEST

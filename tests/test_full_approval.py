"""A licence approving every shipment still caps its routes at their normal flow.

A licence lets through ``approval_rate`` of its routes' normal flow (`sim.model.controls`).
Until December 2026 a control withholding nothing took its routes out of their cap group, so
approving 100% lifted the cap while approving 99% kept it: on the April 2025 path, China's
Dy-bearing magnets abroad jumped to 2.9x their normal flow the month approvals reached 1.0
as buyers restocked, and 2025's shortfall was half what 99% gave. A control is now capped
while it is in force (`Control.on`), whatever it withholds, so the result is continuous in
the approval rate.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.runs.engine import run
from tests.worlds import one_chain, scenario

HORIZON = {"start": "2024-01-01", "end": "2026-12-31"}


def _licence(approval: float) -> dict:
    """A licence on Chinese NdFeB from April 2025: nothing ships for 90 days, then
    ``approval`` of normal flow."""
    return {
        "kind": "export_control",
        "exporter": "CN",
        "forms": ["NdFeB"],
        "mode": "licence",
        "approval_rate": approval,
        "review_delay_days": 90,
        "start": "2025-04-01",
    }


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return one_chain(cover_weeks=8.0)


def _shipped(world, events: list[dict]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Tonnes of magnets shipped to the buyer a month."""
    return run(world, scenario(events, **HORIZON)).record.flows["magnet"][:, :, 0, 0].sum(axis=1)


def test_full_approval_lets_through_normal_flow_not_a_restocking_surge(world) -> None:  # type: ignore[no-untyped-def]
    free, held = _shipped(world, []), _shipped(world, [_licence(1.0)])
    assert held[15:18].sum() < 0.5 * free[15:18].sum()  # April-June 2025: under review
    after = slice(19, None)  # from August 2025, once the review is over
    assert (held[after] <= free[after] * 1.001 + 1e-9).all(), held[after] / free[after]


def test_what_ships_is_continuous_in_the_approval_rate(world) -> None:  # type: ignore[no-untyped-def]
    free = _shipped(world, [])
    full, nearly = _shipped(world, [_licence(1.0)]), _shipped(world, [_licence(0.999)])
    assert (np.abs(full - nearly) <= 0.002 * free + 1e-9).all(), (full - nearly) / free

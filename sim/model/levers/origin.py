"""Origin of material, for extraterritorial export controls (the 0.1% rule of October 2025).

For each exporter named by a control with a ``foreign_content_threshold``, every metal and
magnet plant carries the share of its input stock that is of that exporter's origin, one value
a sample. Oxide from separation plants in the exporter's country is of its origin; metal
carries its metal plant's share (1 in the exporter's country). Shares mix by mass when
shipments are booked (not when they arrive: transit is ignored). A magnet plant outside the
exporter whose share is at least the threshold has its exports abroad (to the control's
destinations, for the products it names) treated as the exporter's own, at the control's
level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.model.levers.reach import Side, control_scope

if TYPE_CHECKING:
    from sim.model.chain import Chain, Control


@dataclass
class Trace:
    """Origin shares of one exporter's material at metal and magnet plants, ``[S, P]``."""

    exporter: str
    sep_home: np.ndarray  # [Ps] separation plants in the exporter's country
    metal_home: np.ndarray  # [Pm]
    metal: np.ndarray  # [S, Pm]
    magnet: np.ndarray  # [S, Pg]


@dataclass
class Reach:
    """An extraterritorial control: its routes from plants outside the exporter, threshold."""

    control: Control
    scope: np.ndarray  # [Pg, Bm, 1]
    threshold: np.ndarray  # [S]
    trace: Trace


def build(chain: Chain, thresholds: dict[int, np.ndarray]) -> None:
    """Set ``chain.traces`` and ``chain.reaches`` for controls ``{index in chain.controls:
    threshold}``."""
    chain.traces, chain.reaches = {}, []
    mags = chain.stage("magnet")
    regions_g = chain.regions("magnet")
    buyer_regions = [chain.buyers[b].region for b in chain.bm]
    sectors = [chain.buyers[b].sector for b in chain.bm]
    for k, threshold in thresholds.items():
        control = chain.controls[k]
        ev = control.event
        if ev.exporter not in chain.traces:
            chain.traces[ev.exporter] = Trace(
                ev.exporter,
                np.array([f.country == ev.exporter for f in chain.stage("separation")]),
                np.array([f.country == ev.exporter for f in chain.stage("metal")]),
                np.zeros((chain.samples, len(chain.stage("metal")))),
                np.zeros((chain.samples, len(mags))),
            )
        as_exporter = Side([ev.exporter] * len(mags), regions_g)
        routes = control_scope(
            ev,
            as_exporter,
            Side(buyer_regions, buyer_regions, sectors),
            chain._covered("magnet", ev),
        )
        foreign = np.array([f.country != ev.exporter for f in mags])
        abroad = np.array([[r != b for b in buyer_regions] for r in regions_g], dtype=bool)
        scope = routes & (foreign[:, None] & abroad.reshape(len(mags), -1))[:, :, None]
        chain.reaches.append(Reach(control, scope, threshold, chain.traces[ev.exporter]))


def _mix(
    share: np.ndarray, held: np.ndarray, got: np.ndarray, got_origin: np.ndarray
) -> np.ndarray:
    total = held + got
    mixed = np.divide(share * held + got_origin, total, out=share.copy(), where=total > 1e-12)
    return np.clip(mixed, 0.0, 1.0)


def track_oxide(chain: Chain, x: np.ndarray) -> None:
    """Mix the oxide shipped to metal plants, ``x[S, Ps, C, E]`` (metal plants first)."""
    pm = len(chain.stage("metal"))
    for tr in chain.traces.values():
        to_metal = x[:, :, :pm, :].sum(axis=3)  # [S, Ps, Pm]
        got = to_metal.sum(axis=1)
        got_origin = (to_metal * tr.sep_home[None, :, None]).sum(axis=1)
        mixed = _mix(tr.metal, chain.metal_in.sum(axis=2), got, got_origin)
        tr.metal = np.where(tr.metal_home[None], 1.0, mixed)


def track_metal(chain: Chain, x: np.ndarray) -> None:
    """Mix the metal shipped to magnet plants, ``x[S, Pm, Pg, E]``."""
    for tr in chain.traces.values():
        shipped = x.sum(axis=3)  # [S, Pm, Pg]
        origin = np.where(tr.metal_home[None], 1.0, tr.metal)  # [S, Pm]
        got_origin = (shipped * origin[:, :, None]).sum(axis=1)
        tr.magnet = _mix(tr.magnet, chain.mag_in.sum(axis=2), shipped.sum(axis=1), got_origin)


def magnet_allowed(chain: Chain) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The magnet market's allowed share of normal flow with extraterritorial reach: dense
    ``[S, Pg, Bm, 1]`` (for offtakes; None when nothing needs it or nothing is capped) and at
    lane level for the market (plants are lanes of their own when a reach exists)."""
    lanes = chain.allowed["magnet"]
    if not chain.reaches and not chain.offtakes:
        return None, lanes
    dense = None
    for c in chain.controls:
        if c.level.any() and c.scope["magnet"].any():
            cut = c.level[:, None, None, None] * c.scope["magnet"][None]
            dense = (1.0 - cut) if dense is None else dense * (1.0 - cut)
    for reach in chain.reaches:
        level = reach.control.level
        if not level.any():
            continue
        caught = (reach.trace.magnet >= reach.threshold[:, None]).astype(float)  # [S, Pg]
        cut = level[:, None, None, None] * reach.scope[None] * caught[:, :, None, None]
        dense = (1.0 - cut) if dense is None else dense * (1.0 - cut)
    if chain.reaches:
        lanes = chain.markets["magnet"].sample_lanes(dense)
    return dense, lanes

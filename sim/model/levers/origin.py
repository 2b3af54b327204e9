"""Origin of material, for extraterritorial export controls (the 0.1% rule of October 2025).

For each exporter named by a control with a ``foreign_content_threshold``, every metal and
magnet plant carries the share of its input stock that is of that exporter's origin, one value
a sample. Oxide from separation plants in the exporter's country is of its origin; metal
carries its metal plant's share (1 in the exporter's country). Shares mix by mass when
shipments are booked (not when they arrive: transit is ignored). A magnet plant outside the
exporter whose share is at least the threshold has its exports abroad (to the control's
destinations, for the products it names) treated as the exporter's own, at the control's
level: its routes under each such control are a scope of the magnet market (`plant_scopes`),
capped with the control's own routes (`reach_withheld` gives their withheld share a step).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim.config.events import ExportControl
from sim.model.levers.reach import Products, Side, control_scope


@dataclass(frozen=True)
class Trace:
    """Where one exporter's material starts: its separation and metal plants."""

    exporter: str
    sep_home: np.ndarray  # [separation plants] in the exporter's country
    metal_home: np.ndarray  # [metal plants] in the exporter's country


@dataclass
class OriginShares:
    """Share of one exporter's origin in metal and magnet plants' input stocks, a sample each;
    changed by every shipment booked."""

    metal: np.ndarray  # [S, metal plants]
    magnet: np.ndarray  # [S, magnet plants]

    def copy(self) -> OriginShares:
        return OriginShares(self.metal.copy(), self.magnet.copy())

    def repeat(self, samples: int) -> OriginShares:
        """A one-sample state's shares for ``samples`` samples."""
        return OriginShares(
            np.repeat(self.metal, samples, axis=0), np.repeat(self.magnet, samples, axis=0)
        )


@dataclass(frozen=True)
class Reach:
    """An extraterritorial control: its routes from magnet plants outside the exporter, and
    the origin share from which a plant's exports are caught."""

    control: int  # index among the chain's controls
    scope: np.ndarray  # [magnet plants, magnet buyers, 1]
    threshold: np.ndarray  # [S]
    exporter: str


@dataclass(frozen=True)
class OriginRule:
    """The traced exporters and the extraterritorial controls (empty: no origin traced)."""

    traces: dict[str, Trace]
    reaches: list[Reach]
    magnet_plants: int

    @cached_property
    def plant_routes(self) -> list[tuple[int, int]]:
        """``(reach, plant)``: each plant with routes under each extraterritorial control."""
        return [
            (r, int(p))
            for r, reach in enumerate(self.reaches)
            for p in np.flatnonzero(reach.scope.any(axis=(1, 2)))
        ]

    def initial_shares(self, samples: int) -> dict[str, OriginShares]:
        """No exporter's origin anywhere yet."""
        return {
            exporter: OriginShares(
                np.zeros((samples, len(trace.metal_home))), np.zeros((samples, self.magnet_plants))
            )
            for exporter, trace in self.traces.items()
        }


def build(
    controls: Sequence[ExportControl],
    thresholds: dict[int, np.ndarray],
    sides: dict[str, tuple[Side, Side]],
    products: Products,
) -> OriginRule:
    """The origin rule of ``controls`` with a ``{index in controls: threshold}``.

    Args:
        controls: every export control, in the chain's order.
        thresholds: the extraterritorial ones' foreign content thresholds, a sample each.
        sides: each market's suppliers and customers (`sim.model.layout.Layout.sides`).
        products: what each market's suppliers sell.
    """
    traces: dict[str, Trace] = {}
    reaches = []
    magnet_plants, magnet_buyers = sides["magnet"]
    for k, threshold in thresholds.items():
        ev = controls[k]
        if ev.exporter not in traces:
            traces[ev.exporter] = _trace(ev.exporter, sides)
        scope = _foreign_routes(ev, magnet_plants, magnet_buyers, products.covered("magnet", ev))
        reaches.append(Reach(k, scope, threshold, ev.exporter))
    return OriginRule(traces, reaches, len(magnet_plants.countries))


def _trace(exporter: str, sides: dict[str, tuple[Side, Side]]) -> Trace:
    """The separation and metal plants in the exporter's country."""
    return Trace(
        exporter,
        np.array([c == exporter for c in sides["oxide"][0].countries]),
        np.array([c == exporter for c in sides["metal"][0].countries]),
    )


def _foreign_routes(
    ev: ExportControl, plants: Side, buyers: Side, covered: np.ndarray
) -> np.ndarray:
    """``[plants, buyers, 1]``: routes abroad from magnet plants outside the exporter that the
    control would reach were the plants in the exporter's country."""
    as_exporter = Side([ev.exporter] * len(plants.countries), plants.regions)
    routes = control_scope(
        ev, as_exporter, Side(buyers.regions, buyers.regions, buyers.sectors), covered
    )
    foreign = np.array([c != ev.exporter for c in plants.countries])
    abroad = np.array([[r != b for b in buyers.regions] for r in plants.regions], dtype=bool)
    return routes & (foreign[:, None] & abroad.reshape(len(plants.countries), -1))[:, :, None]


def _mix(
    share: np.ndarray, held: np.ndarray, got: np.ndarray, got_origin: np.ndarray
) -> np.ndarray:
    total = held + got
    mixed = np.divide(share * held + got_origin, total, out=share.copy(), where=total > 1e-12)
    return np.clip(mixed, 0.0, 1.0)


def track_oxide(
    rule: OriginRule, shares: dict[str, OriginShares], metal_in: np.ndarray, x: np.ndarray
) -> None:
    """Mix the oxide shipped to metal plants, ``x[S, separation plants, C, E]`` (metal plants
    first), into their stocks ``metal_in`` (before the shipment)."""
    metal_plants = metal_in.shape[1]
    for exporter, trace in rule.traces.items():
        share = shares[exporter]
        to_metal = x[:, :, :metal_plants, :].sum(axis=3)  # [S, separation, metal plants]
        got = to_metal.sum(axis=1)
        got_origin = (to_metal * trace.sep_home[None, :, None]).sum(axis=1)
        mixed = _mix(share.metal, metal_in.sum(axis=2), got, got_origin)
        share.metal = np.where(trace.metal_home[None], 1.0, mixed)


def track_metal(
    rule: OriginRule, shares: dict[str, OriginShares], mag_in: np.ndarray, x: np.ndarray
) -> None:
    """Mix the metal shipped to magnet plants, ``x[S, metal plants, magnet plants, E]``, into
    their stocks ``mag_in`` (before the shipment)."""
    for exporter, trace in rule.traces.items():
        share = shares[exporter]
        shipped = x.sum(axis=3)  # [S, metal plants, magnet plants]
        origin = np.where(trace.metal_home[None], 1.0, share.metal)
        got_origin = (shipped * origin[:, :, None]).sum(axis=1)
        share.magnet = _mix(share.magnet, mag_in.sum(axis=2), shipped.sum(axis=1), got_origin)


def reach_allowed(
    rule: OriginRule,
    dense: np.ndarray | None,
    levels: list[np.ndarray],
    shares: dict[str, OriginShares],
) -> np.ndarray | None:
    """The magnet market's allowed share ``dense[S, plants, buyers, 1]`` (None: all) further
    cut on the routes of plants whose origin share catches them under a control's reach."""
    for reach in rule.reaches:
        level = levels[reach.control]
        if not level.any():
            continue
        caught = (shares[reach.exporter].magnet >= reach.threshold[:, None]).astype(float)
        cut = level[:, None, None, None] * reach.scope[None] * caught[:, :, None, None]
        dense = (1.0 - cut) if dense is None else dense * (1.0 - cut)
    return dense


def plant_scopes(rule: OriginRule, like: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Each plant's routes under each extraterritorial control (`OriginRule.plant_routes`), as
    a control's reach by market (none but in the magnet market; ``like``: a control's)."""
    out = []
    for r, p in rule.plant_routes:
        scope = {market: np.zeros_like(a) for market, a in like.items()}
        scope["magnet"][p] = rule.reaches[r].scope[p]
        out.append(scope)
    return out


def reach_withheld(
    rule: OriginRule,
    levels: list[np.ndarray],
    on: list[np.ndarray],
    shares: dict[str, OriginShares],
) -> tuple[np.ndarray, np.ndarray]:
    """``[S, plant routes]`` the share withheld on each of `plant_scopes` and whether it is
    in force: the control's level and whether it is in force (``on``) where the plant's
    origin share is at least the threshold, else 0 and not."""
    columns, in_force = [], []
    for r, p in rule.plant_routes:
        reach = rule.reaches[r]
        caught = shares[reach.exporter].magnet[:, p] >= reach.threshold
        columns.append(levels[reach.control] * caught)
        in_force.append(on[reach.control] & caught)
    if not columns:
        empty = np.zeros((len(levels[0]) if levels else 1, 0))
        return empty, empty.astype(bool)
    return np.stack(columns, axis=1), np.stack(np.broadcast_arrays(*in_force), axis=1)

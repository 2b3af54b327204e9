"""Export controls: their phases and reach, and the share of normal flow they let through.

A control withholds a share of normal flow on the routes and products it reaches
(`sim.model.levers.reach`): all of it under a ban, ``1 - share`` under a quota, and under
licences all of it during the review delay, then ``1 - approval_rate``; nothing while it is
suspended. A quota is a tonnage: the markets' reference grows with world demand
(`sim.market.reference`), so the share of it a quota withholds grows to match (`Tonnage`). Its
level at a step (the withheld share, averaged over the step, a sample) is part of the run's
state; `withheld_shares` turns the levels into each market's withheld shares, a
scope each (the markets cap each control's routes together: `scope_groups`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from sim.config.events import ExportControl, ExportRestraint
from sim.config.licences import GeneralLicence
from sim.config.schedules import Steps
from sim.model.levers import schedules
from sim.model.levers.reach import Products, Side, back_scope, control_scope, licensed_pairs
from sim.model.levers.schedules import Piece
from sim.model.levers.timing import (
    EventValues,
    Phase,
    Varying,
    active_fraction,
    withheld_share,
)
from sim.model.trade import MARKETS, Trade
from sim.units import DAYS_PER_MONTH

# Markets where a control's exporter becomes the cheap market nobody abroad sells into: not the
# concentrate trade, whose ore can only go to the plants able to crack it (Myanmar's clays to
# China), whatever the price.
TRADED_ON_PRICE: tuple[str, ...] = ("oxide", "metal", "magnet")


@dataclass(frozen=True)
class Control:
    """An export control: its event, its ``phases``, its suspension window ``off``, its
    reach on each market (``scope``: routes and products, ``[P, C, K]`` booleans over the
    chain's suppliers, customers and products) and the routes into the exporter it closes
    while it is on (``back``: sales into the market it has made the cheap one)."""

    event: ExportControl
    phases: list[Phase]
    off: tuple[np.ndarray, np.ndarray]
    scope: dict[str, np.ndarray]
    back: dict[str, np.ndarray]  # routes into the exporter, closed while the control is on
    feared: tuple[np.ndarray, np.ndarray]  # from announcement to start (months, a sample each)
    parent: int | None = None  # a general licence's: the index of the control it licenses

    def times(self) -> list[np.ndarray]:
        """Every date at which the level may change, months from the origin (every month of
        a ramp)."""
        edges = [t for a, b, _ in self.phases for t in (a, b)] + list(self.off)
        return edges + [
            t for *_, s in self.phases if not isinstance(s, np.ndarray) for t in s.times()
        ]

    def feared_at(self, step: int) -> np.ndarray:
        """``[S]`` share of ``step`` between the control's announcement and its start."""
        return active_fraction(*self.feared, step)

    def at(self, step: int) -> np.ndarray:
        """Share of normal flow withheld, mean over ``step``."""
        return withheld_share(self.phases, self.off, step)


def build_controls(
    events: EventValues,
    sides: dict[str, tuple[Side, Side]],
    products: Products,
    named: Callable[[str], tuple[str, ...]],
    demand: Demand,
) -> list[Control]:
    """The scenario's export controls, in its order, then one for the routes of each general
    licence (the control's reach on them, off while the licence is valid; ``named``: the
    facility ids a name reaches; ``demand``: the world demand index the markets' reference
    grows with)."""
    controls: list[Control] = []
    licensed: list[Control] = []
    for i, ev in events.of_kind(ExportControl):
        covered = {m: products.covered(m, ev) for m in MARKETS}
        scope = {m: control_scope(ev, *sides[m], covered[m]) for m in MARKETS}
        back = {m: back_scope(ev, *sides[m], covered[m]) for m in TRADED_ON_PRICE}
        back["concentrate"] = np.zeros_like(scope["concentrate"])  # ore goes where it is cracked
        off = (events.when(i, "suspended", np.inf), events.when(i, "resumed", np.inf))
        feared = (events.when(i, "announced", np.inf), events.when(i, "start", 0.0))
        control = Control(ev, _phases(events, i, ev, demand), off, scope, back, feared)
        licences = _licences(events, i, control, sides, named, len(controls))
        controls.append(replace(control, scope=_unlicensed(scope, licences)))
        licensed += licences
    return controls + licensed


def _licences(
    events: EventValues,
    i: int,
    control: Control,
    sides: dict[str, tuple[Side, Side]],
    named: Callable[[str], tuple[str, ...]],
    parent: int,
) -> list[Control]:
    """A control over the routes of each general licence of control ``i`` (the chain's
    ``parent``-th): its phases outside the licence's validity, on the routes the licence
    names that no earlier licence of the control does; no routes back; feared from its
    announcement until its start or the licence, whichever comes first."""
    out: list[Control] = []
    announced, start = control.feared
    for j, licence in enumerate(control.event.general_licences):
        exporters = {f for name in licence.exporters for f in named(name)}
        taken = _unlicensed(control.scope, out)
        scope = {
            m: taken[m] & licensed_pairs(licence, *sides[m], exporters)[:, :, None] for m in MARKETS
        }
        valid = _validity(events, i, j, licence)
        phases = [p for a, b, share in control.phases for p in _outside(a, b, share, valid)]
        back = {m: np.zeros_like(a) for m, a in control.back.items()}
        feared = (announced, np.minimum(start, valid[0]))
        out.append(Control(control.event, phases, control.off, scope, back, feared, parent))
    return out


def _unlicensed(scope: dict[str, np.ndarray], licences: list[Control]) -> dict[str, np.ndarray]:
    """A control's reach less the routes its general licences govern."""
    out = dict(scope)
    for licence in licences:
        out = {m: out[m] & ~licence.scope[m] for m in out}
    return out


def _validity(
    events: EventValues, i: int, j: int, licence: GeneralLicence
) -> tuple[np.ndarray, np.ndarray]:
    """When general licence ``j`` of control ``i`` is valid, months from the origin."""
    since = events.part(i, f"general_licences[{j}].from", licence.since)
    if licence.until is None:
        return since, np.full(events.samples, np.inf)
    return since, events.part(i, f"general_licences[{j}].until", licence.until)


def _outside(
    start: np.ndarray,
    end: np.ndarray,
    share: np.ndarray | Varying,
    valid: tuple[np.ndarray, np.ndarray],
) -> list[Phase]:
    """A phase ``[start, end)`` cut to the times outside ``valid``."""
    return [(start, np.minimum(end, valid[0]), share), (np.maximum(start, valid[1]), end, share)]


def _phases(events: EventValues, i: int, ev: ExportControl, demand: Demand) -> list[Phase]:
    """``(start, end, withheld)`` phases of control ``i``: a ban, a quota letting through
    ``share`` (of normal flow as it stood when the phase began: a tonnage), or licences:
    nothing ships during the review delay, then ``approval_rate`` of normal flow does (either
    share may be scheduled: a phase a piece of it)."""
    start, end = events.when(i, "start", 0.0), events.when(i, "end", np.inf)
    if ev.mode == "ban":
        return [(start, end, np.ones(events.samples))]
    if ev.mode == "quota":
        pieces = _let_through(schedules.pieces(events, i, "share", ev.share), start, end)
        return [(a, b, Tonnage(share, a, demand)) for a, b, share in pieces]
    rate = schedules.pieces(events, i, "approval_rate", ev.approval_rate)
    if isinstance(ev.review_delay_days, Steps):
        return _reviews(events, i, ev, rate, start, end)
    delay = events.value(i, "review_delay_days") / DAYS_PER_MONTH
    granted = np.minimum(start + delay, end)
    return [(start, granted, np.ones(events.samples)), *_let_through(rate, granted, end)]


def _let_through(rate: list[Piece], start: np.ndarray, end: np.ndarray) -> list[Phase]:
    """Phases withholding what the pieces of ``rate`` do not let through, within
    ``[start, end)``."""
    return [
        (np.maximum(start, since), np.minimum(end, until), schedules.withheld(value))
        for since, until, value in rate
    ]


def _reviews(
    events: EventValues,
    i: int,
    ev: ExportControl,
    rate: list[Piece],
    start: np.ndarray,
    end: np.ndarray,
) -> list[Phase]:
    """Licences under scheduled review delays: ``1 - approval_rate`` withheld from the
    start, and the approved share too in the windows where no licence is granted."""
    gaps = schedules.review_gaps(events, i, ev.review_delay_days, start)
    held = [
        (np.maximum(a, since), np.minimum(np.minimum(b, end), until), value)
        for a, b in gaps
        for since, until, value in rate
    ]
    return [*_let_through(rate, start, end), *held]


@dataclass(frozen=True)
class Demand:
    """The world demand index the markets' reference grows with while a control is in force
    (`sim.model.chain.Chain.demand_index`: a step each, the ``warmup`` steps first)."""

    index: np.ndarray
    warmup: int

    def growth(self, since: np.ndarray, step: int) -> np.ndarray:
        """``[S]`` the index at ``step`` over the index of the step before ``since`` (the
        last the reference took before a control beginning at ``since`` held it)."""
        last = self.index.size - 1
        before = np.clip(np.floor(since) - 1.0 + self.warmup, 0, last)
        return self.index[min(step + self.warmup, last)] / self.index[before.astype(np.int64)]

    def months(self, since: np.ndarray) -> np.ndarray:
        """Every step of the run from the earliest of ``since`` on."""
        first = np.min(np.maximum(since, -self.warmup))
        return np.arange(np.floor(first), self.index.size - self.warmup, dtype=float)


@dataclass(frozen=True)
class Tonnage:
    """A quota's share held to a tonnage: ``share`` (withheld, or varying) of the reference
    as it stood at ``since``; as the reference grows with world demand, the share of it
    withheld grows so that what is let through does not (`Varying`)."""

    share: np.ndarray | Varying
    since: np.ndarray
    demand: Demand

    def withheld(
        self, start: np.ndarray, end: np.ndarray, off: tuple[np.ndarray, np.ndarray], step: int
    ) -> np.ndarray:
        """The mean withheld share over the part of ``step`` inside ``[start, end)`` and
        outside ``off``."""
        on = withheld_share([(start, end, np.ones_like(start))], off, step)
        share = withheld_share([(start, end, self.share)], off, step)
        return on - (on - share) / self.demand.growth(self.since, step)

    def times(self) -> list[np.ndarray]:
        """Every month from its start (the reference grows every month)."""
        inner = [] if isinstance(self.share, np.ndarray) else self.share.times()
        return [self.demand.months(self.since), *inner]


def reach_thresholds(events: EventValues) -> dict[int, np.ndarray]:
    """``{index among the controls: threshold, a sample}`` of extraterritorial controls."""
    return {
        k: events.value(i, "foreign_content_threshold")
        for k, (i, ev) in enumerate(events.of_kind(ExportControl))
        if ev.foreign_content_threshold is not None
    }


def scope_groups(controls: list[Control]) -> np.ndarray:
    """The cap group of each of the markets' scopes (every control's reach, then every
    control's routes back): a control's reach and its general licences' share one (a licence
    not in force leaves its routes capped with the control's); routes back are a group each."""
    n = len(controls)
    reach = [i if c.parent is None else c.parent for i, c in enumerate(controls)]
    return np.array(reach + list(range(n, 2 * n)), dtype=np.int64)


def withheld_shares(
    controls: list[Control], levels: list[np.ndarray], trade: Trade
) -> dict[str, np.ndarray | None]:
    """Each market's share of normal flow withheld on each of its scopes (`scope_groups`),
    ``[S, scopes]``, from the controls' ``levels``: a control's level on its reach, all of it
    on its routes back while it withholds anything; 0 for scopes that reach no route of the
    market and to the scopes after the controls' (None where nothing is withheld)."""
    if not any(level.any() for level in levels):
        return {market: None for market in MARKETS}
    shares = np.stack([*levels, *((level > 0.0) * 1.0 for level in levels)], axis=1)
    out: dict[str, np.ndarray | None] = {}
    for market in MARKETS:
        reached = trade.markets[market].reached
        withheld = np.zeros((shares.shape[0], reached.size))
        withheld[:, : shares.shape[1]] = shares * reached[None, : shares.shape[1]]
        out[market] = withheld if withheld.any() else None
    return out


def dense_allowed(
    controls: list[Control], levels: list[np.ndarray], market: str
) -> np.ndarray | None:
    """One market's allowed share of normal flow over the chain's suppliers and customers,
    ``[S, P, C, K]`` (None where nothing is withheld)."""
    dense = None
    for control, level in zip(controls, levels):
        if level.any() and control.scope[market].any():
            cut = level[:, None, None, None] * control.scope[market][None]
            dense = (1.0 - cut) if dense is None else dense * (1.0 - cut)
    return dense


Restraint = tuple[np.ndarray, np.ndarray]  # start, end (months from the origin, a sample each)


def build_restraints(events: EventValues) -> list[Restraint]:
    """The scenario's export restraints (home-first selling), in its order."""
    return [
        (events.when(i, "start", 0.0), events.when(i, "end", np.inf))
        for i, _ in events.of_kind(ExportRestraint)
    ]


def restraint_share(restraints: list[Restraint], step: int) -> np.ndarray | None:
    """``[S]`` share of ``step`` in which some export restraint is in force (None: none
    in the scenario)."""
    if not restraints:
        return None
    return np.max([active_fraction(start, end, step) for start, end in restraints], axis=0)

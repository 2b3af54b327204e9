"""Export controls: their phases and reach, and the share of normal flow they let through.

A control withholds a share of normal flow on the routes and products it reaches
(`sim.model.levers.reach`): all of it under a ban, ``1 - share`` under a quota, and under
licences all of it during the review delay, then ``1 - approval_rate``; nothing while it is
suspended. A quota is a tonnage: the markets' reference grows with its products' demand
(`sim.market.reference`), so the share of it a quota withholds grows to match (`Tonnage`). Its
level at a step (the withheld share, averaged over the step, a sample) is part of the run's
state; `withheld_shares` turns the levels into each market's withheld shares, a
scope each (the markets cap each control's routes together: `scope_groups`). A control also
closes the routes into its exporter from abroad (`Back`, a price product each) while its
exporter's market is the cheap one, and they open where it becomes the dear one
(`dear_at_home`, from the prices each step clears).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from sim.config.events import ExportControl, ExportRestraint
from sim.config.licences import GeneralLicence
from sim.config.schedules import Steps
from sim.model.levers import schedules
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.model.levers.reach import (
    Products,
    Side,
    back_scope,
    control_scope,
    element_set,
    form_set,
    licensed_pairs,
)
from sim.model.levers.schedules import Piece
from sim.model.levers.timing import (
    EventValues,
    Phase,
    Varying,
    active_fraction,
    in_force,
    withheld_share,
)
from sim.model.trade import MARKETS, Trade
from sim.units import DAYS_PER_MONTH, ELEMENTS, MAGNETS

# Markets where sales into a control's exporter follow price: not the concentrate trade, whose
# ore can only go to the plants able to crack it (Myanmar's clays to China), whatever the price.
TRADED_ON_PRICE: tuple[str, ...] = ("oxide", "metal", "magnet")
PRICED_BY_TIER = "CN"  # the exporter whose market is the China tier of the prices


@dataclass(frozen=True)
class Back:
    """The routes into a control's exporter from abroad for one price product (an oxide: its
    element on the oxide and metal markets; a magnet: its makers on the magnet market), ``[P,
    C, K]`` booleans by market. They are closed while the control is on and the exporter's
    market is the cheap one for that product (nobody abroad sells into it: the best bid is
    elsewhere), and open when it is the dear one (arbitrage: sellers abroad take the better
    price, as no control stops imports)."""

    product: int  # index into `PRICE_PRODUCTS`
    scope: dict[str, np.ndarray]


@dataclass(frozen=True)
class Control:
    """An export control: its event, its ``phases``, its suspension window ``off``, its
    reach on each market (``scope``: routes and products, ``[P, C, K]`` booleans over the
    chain's suppliers, customers and products) and the routes into the exporter, a price
    product each, that it closes while it is on and the exporter's market is the cheap one
    (``back``)."""

    event: ExportControl
    phases: list[Phase]
    off: tuple[np.ndarray, np.ndarray]
    scope: dict[str, np.ndarray]
    back: tuple[Back, ...]  # routes into the exporter, by price product
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

    def on(self, step: int) -> np.ndarray:
        """``[S]`` whether the control is in force for some part of ``step``, whatever it
        withholds: its routes then carry at most their normal flow less that share."""
        return in_force(self.phases, self.off, step)


def build_controls(
    events: EventValues,
    sides: dict[str, tuple[Side, Side]],
    products: Products,
    named: Callable[[str], tuple[str, ...]],
    demand: Demand,
) -> list[Control]:
    """The scenario's export controls, in its order, then one for the routes of each general
    licence (the control's reach on them, off while the licence is valid; ``named``: the
    facility ids a name reaches; ``demand``: the buyers' contained demand, from which each
    quota's index is made)."""
    controls: list[Control] = []
    licensed: list[Control] = []
    for i, ev in events.of_kind(ExportControl):
        covered = {m: products.covered(m, ev) for m in MARKETS}
        scope = {m: control_scope(ev, *sides[m], covered[m]) for m in MARKETS}
        back = _back(ev, sides, covered, scope, products.magnet_product)
        off = (events.when(i, "suspended", np.inf), events.when(i, "resumed", np.inf))
        feared = (events.when(i, "announced", np.inf), events.when(i, "start", 0.0))
        control = Control(ev, _phases(events, i, ev, demand.of(ev)), off, scope, back, feared)
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
        feared = (announced, np.minimum(start, valid[0]))
        out.append(Control(control.event, phases, control.off, scope, (), feared, parent))
    return out


def _back(
    control: ExportControl,
    sides: dict[str, tuple[Side, Side]],
    covered: dict[str, np.ndarray],
    scope: dict[str, np.ndarray],
    magnet_product: np.ndarray,
) -> tuple[Back, ...]:
    """A control's routes back into its exporter, one `Back` for each price product it
    covers: an oxide's element on the oxide and metal markets, a magnet's makers on the
    magnet market (none on the concentrate trade: ore goes where it is cracked)."""
    every = {m: back_scope(control, *sides[m], covered[m]) for m in TRADED_ON_PRICE}
    none = {m: np.zeros_like(scope[m]) for m in MARKETS}
    out: list[Back] = []
    for e in range(len(ELEMENTS)):
        parts = dict(none)
        for m in ("oxide", "metal"):
            parts[m] = every[m] & (np.arange(every[m].shape[2]) == e)[None, None, :]
        if parts["oxide"].any() or parts["metal"].any():
            out.append(Back(e, parts))
    for k, name in enumerate(MAGNETS):
        makers = np.asarray(magnet_product == k, dtype=bool)
        parts = dict(none, magnet=every["magnet"] & makers[:, None, None])
        if parts["magnet"].any():
            out.append(Back(PRICE_PRODUCTS.index(f"{name}_magnet"), parts))
    return tuple(out)


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


def _phases(events: EventValues, i: int, ev: ExportControl, demand: DemandIndex) -> list[Phase]:
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
    """The buyers' demand paths as contained elements, ``[steps, E]`` with the ``warmup``
    steps first: every buyer's (``contained``) and magnet buyers' (``magnet_contained``),
    from which each quota's demand index is made (`Demand.of`)."""

    contained: np.ndarray
    magnet_contained: np.ndarray
    warmup: int

    def of(self, control: ExportControl) -> DemandIndex:
        """The demand index of what ``control`` reaches: the contained demand of the
        elements it names, of every buyer, or of magnet buyers if it names only magnets.
        The markets' references grow with their products' own indices
        (`sim.model.chain.Chain.market_index`), so a quota on one product is a tonnage
        exactly, and one on several products with different growth nearly."""
        # in the elements' order, not the set's (which changes with the process's hash seed)
        elements = sorted(ELEMENTS.index(e) for e in element_set(control.elements))
        only_magnets = not (form_set(control.forms) - set(MAGNETS))
        whole = self.magnet_contained if only_magnets else self.contained
        return DemandIndex(whole[:, elements].sum(axis=1), self.warmup)


@dataclass(frozen=True)
class DemandIndex:
    """A demand index the markets' reference grows with while a control is in force (a step
    each, the ``warmup`` steps first)."""

    index: np.ndarray
    warmup: int

    def growth(self, since: np.ndarray, step: int) -> np.ndarray:
        """``[S]`` the index at ``step`` over the index of the step before ``since`` (the
        last the reference took before a control beginning at ``since`` held it)."""
        last = self.index.size - 1
        before = np.clip(np.floor(since) - 1.0 + self.warmup, 0, last)
        base = self.index[before.astype(np.int64)]
        now = self.index[min(step + self.warmup, last)]
        return np.divide(now, base, out=np.ones_like(base), where=(base > 0.0) & (now > 0.0))

    def months(self, since: np.ndarray) -> np.ndarray:
        """Every step of the run from the earliest of ``since`` on."""
        first = np.min(np.maximum(since, -self.warmup))
        return np.arange(np.floor(first), self.index.size - self.warmup, dtype=float)


@dataclass(frozen=True)
class Tonnage:
    """A quota's share held to a tonnage: ``share`` (withheld, or varying) of the reference
    as it stood at ``since``; as the reference grows with demand (``demand``: the index of
    what the quota reaches), the share of it withheld grows so that what is let through does
    not (`Varying`)."""

    share: np.ndarray | Varying
    since: np.ndarray
    demand: DemandIndex

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


def scopes(controls: list[Control]) -> list[dict[str, np.ndarray]]:
    """The markets' scopes of the controls: every control's reach, then every control's
    routes back, a price product each."""
    return [c.scope for c in controls] + [b.scope for c in controls for b in c.back]


def scope_groups(controls: list[Control]) -> np.ndarray:
    """The cap group of each of the controls' `scopes`: a control's reach and its general
    licences' share one (a licence not in force leaves its routes capped with the
    control's); routes back are a group each."""
    n = len(controls)
    reach = [i if c.parent is None else c.parent for i, c in enumerate(controls)]
    backs = sum(len(c.back) for c in controls)
    return np.array(reach + list(range(n, n + backs)), dtype=np.int64)


def dear_at_home(prices: np.ndarray) -> np.ndarray:
    """``[S, P]`` True where China's market is the dear one for a price product: its price
    above the ex-China tier's (``prices[S, P, K]``)."""
    home, abroad = prices[:, :, TIERS.index("china")], prices[:, :, TIERS.index("ex_china")]
    return np.asarray(home > abroad, dtype=bool)


Scoped = dict[str, np.ndarray | None]  # by market: ``[S, scopes]`` (None: nothing there)


def withheld_shares(
    controls: list[Control],
    levels: list[np.ndarray],
    on: list[np.ndarray],
    trade: Trade,
    dear: np.ndarray | None = None,
) -> tuple[Scoped, Scoped]:
    """Each market's share of normal flow withheld on each of its scopes (`scopes`), ``[S,
    scopes]``, and whether each scope is in force, from the controls' ``levels`` and ``on``
    (`Control.at`, `Control.on`): a control's level on its reach while it is in force; on its
    routes back, all of it while it is in force and its exporter's market is not the dear one
    for the route's product (``dear[S, P]``, `dear_at_home`, for China's controls; None:
    nowhere); 0 and not in force for scopes that reach no route of the market and for the
    scopes after the controls' (None where no scope is in force). A scope in force caps its
    group's routes at their normal flow less the share withheld, so a licence approving every
    shipment lets through its normal flow and no more, as one approving 99% lets through 99%."""
    none: Scoped = {market: None for market in MARKETS}
    if not any(o.any() for o in on):
        return none, dict(none)
    shares, ins = list(levels), list(on)  # a control withholds only while in force
    for control, o in zip(controls, on):
        for b in control.back:
            back = o
            if dear is not None and control.event.exporter == PRICED_BY_TIER:
                back = o & ~dear[:, b.product]
            shares.append(back * 1.0)
            ins.append(back)
    withheld_all = np.stack(np.broadcast_arrays(*shares), axis=1)
    on_all = np.stack(np.broadcast_arrays(*ins), axis=1)
    withheld: Scoped = {}
    in_force: Scoped = {}
    for market in MARKETS:
        reached = trade.markets[market].reached
        n = withheld_all.shape[1]
        scoped_on = np.zeros((on_all.shape[0], reached.size), dtype=bool)
        scoped_on[:, :n] = on_all & reached[None, :n]
        if not scoped_on.any():
            withheld[market] = in_force[market] = None
            continue
        share = np.zeros((withheld_all.shape[0], reached.size))
        share[:, :n] = withheld_all * reached[None, :n]
        withheld[market], in_force[market] = share, scoped_on
    return withheld, in_force


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

"""The chain's structure and state: arrays over samples, facilities, customers and elements.

`Chain.build` turns a `World` and a `Scenario` into index arrays (who may buy from whom, lead
times, recipes, capacity tranches, controls) and an initial state near steady state. The
stage functions that move material each step are in `sim.model.stages`.

Shapes: ``S`` samples, ``E`` elements, ``M`` mines, ``Ps`` separation plants, ``Pm`` metal
plants, ``Pg`` magnet plants, ``B`` buyers (``Bm`` of magnets, ``Be`` of elements).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sim.config.scenario import (
    ExportControl,
    NewCapacity,
    Offtake,
    Outage,
    Recycling,
    Scenario,
    Stockpile,
    Substitution,
)
from sim.market import Destinations, Flow, Market, MarketCache, Pool
from sim.model.levers import economics, origin
from sim.model.levers.demand_response import RecyclingState, SubstitutionState
from sim.model.levers.demand_response import speed as demand_speed
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS, FloorState, LevelState, ProducerState
from sim.model.levers.offtakes import OfftakeState
from sim.model.levers.origin import Reach, Trace
from sim.model.levers.schedules import (
    Side,
    active_fraction,
    control_scope,
    element_set,
    form_set,
    ramp_average,
    withheld_share,
)
from sim.model.levers.stockpiles import StockpileState
from sim.units import DAYS_PER_MONTH, ELEMENT_INDEX, ELEMENTS, MAGNETS, REO_TO_ELEMENT, month_index
from sim.world.world import Facility, Tranche, World

E = len(ELEMENTS)
MARKETS: tuple[str, ...] = ("concentrate", "oxide", "metal", "magnet")
CAPACITY_BLOCK = 12  # steps of tranches' levels worked out at once


def _rows_same(a: np.ndarray) -> bool:
    """Whether every row (axis 0) of ``a`` is the same."""
    return bool((a[1:] == a[:1]).all())


def _span(idx: np.ndarray) -> slice | np.ndarray:
    """``idx`` as a slice if it is a run of consecutive integers (indexing with it is then
    a view, and updates in place are plain), else ``idx`` itself."""
    if idx.size and bool((np.diff(idx) == 1).all()):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


class Pipeline:
    """Material in transit to customers: a ring of future arrivals, ``[slot, S, C, K]``; its
    market may trade only some ``products`` of the ``K``."""

    def __init__(
        self,
        samples: int,
        customers: int,
        width: int,
        max_lead: float,
        products: np.ndarray | None = None,
    ) -> None:
        self.slots = int(np.floor(max_lead)) + 2
        self.buf = np.zeros((self.slots, samples, customers, width))
        # where the market's shipments land: the same place, or its products' columns
        self.same = (
            Destinations.same(customers, width)
            if products is None
            else Destinations.columns(customers, products)
        )

    def ship(self, step: int, amount: np.ndarray, lead: np.ndarray) -> None:
        """Send ``amount[S, P, C, K]`` along routes with ``lead[P, C]`` months (pro rata)."""
        whole = np.floor(lead).astype(int)
        frac = lead - whole
        for offset in range(self.slots):
            weight = (whole == offset) * (1.0 - frac) + (whole + 1 == offset) * frac
            if weight.any():
                self.buf[(step + offset) % self.slots] += np.einsum("spck,pc->sck", amount, weight)

    def ship_flow(
        self,
        step: int,
        flow: Flow,
        lead: np.ndarray,
        customers: slice = slice(None),
        into: Destinations | None = None,
    ) -> None:
        """Send a market's ``flow`` along routes with ``lead[G, H]`` months between its lanes
        (lanes share a region, so a lead time), to this pipeline's ``customers`` of it;
        ``into`` places what they get in this pipeline (pools of buyers to their members;
        default: the same customer, its market's products' columns)."""
        flow.ship_into(self.buf, step, lead, customers, into or self.same)

    def due(self, step: int) -> np.ndarray:
        """This step's arrivals, ``[S, C, K]``: a view of the ring, to be taken and zeroed."""
        return self.buf[step % self.slots]

    def in_transit(self) -> np.ndarray:
        """Everything on its way, ``[S, C, K]``."""
        return self.buf.sum(axis=0)


@dataclass
class Control:
    """An export control's reach on each market and its level: the share of normal flow it
    withholds, averaged over the current step, a sample (0 off, 1 nothing ships).

    ``phases`` are ``(start, end, withheld)`` per-sample arrays (a licence regime is a ban
    during the review delay, then ``1 - approval_rate``); ``off`` is the suspension window.
    """

    event: ExportControl
    phases: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    off: tuple[np.ndarray, np.ndarray]
    scope: dict[str, np.ndarray]
    level: np.ndarray

    def times(self) -> list[np.ndarray]:
        """Every date at which the level may change, months from the origin."""
        return [t for a, b, _ in self.phases for t in (a, b)] + list(self.off)

    def at(self, step: int) -> np.ndarray:
        """Share of normal flow withheld, mean over ``step``."""
        return withheld_share(self.phases, self.off, step)


@dataclass
class OutageSwitch:
    """An outage: a facility index, the share of capacity lost, and its level a sample."""

    facility: int
    share: np.ndarray
    start: np.ndarray
    end: np.ndarray
    level: np.ndarray

    def times(self) -> list[np.ndarray]:
        return [self.start, self.end]

    def at(self, step: int) -> np.ndarray:
        """Share of the step inside [start, end)."""
        return active_fraction(self.start, self.end, step)


def _lead_matrix(world: World, src: list[str], dst: list[str]) -> np.ndarray:
    """Months from each source region to each destination region."""
    out = np.zeros((len(src), len(dst)))
    for i, a in enumerate(src):
        for j, b in enumerate(dst):
            out[i, j] = world.lead_days[(a, b)] / DAYS_PER_MONTH
    return out


def apply_capacity_events(world: World, scenario: Scenario) -> World:
    """The world with the scenario's `new_capacity` events turned into tranches."""
    for index, ev in enumerate(scenario.events):
        if not isinstance(ev, NewCapacity):
            continue
        tranche = Tranche(ev.nameplate_tpa, ev.start, ev.ramp_months, event=index)
        try:
            fac = world.facility(ev.facility)
        except KeyError:
            assert ev.stage is not None and ev.country is not None  # checked by loading
            product = {"separation": "oxide", "metal": "metal"}.get(ev.stage, ev.product or "NdFeB")
            fac = Facility(
                id=ev.facility,
                name=ev.label or ev.facility,
                country=ev.country,
                stage=ev.stage,
                product=product,
                tranches=(),
                recovers=ev.recovers or "all",
                feeds_from=tuple(ev.feeds_from or ()),
            )
        tranches = (tranche,) if ev.replace else (*fac.tranches, tranche)
        world = world.with_facility(Facility(**{**fac.__dict__, "tranches": tranches}))
    return world


class Chain:
    """Structure and state of one batch of ``samples`` futures of one scenario.

    Steps run from ``-warmup`` (a settling period with the same world, not reported) to
    ``steps - 1``; step ``t`` is the month starting ``t`` months after the horizon's origin.
    """

    producers: list[ProducerState]  # set by sim.model.levers.economics.build
    floors: list[FloorState]
    price_levels: list[LevelState]
    price_caps: list[LevelState]
    base_prices: np.ndarray  # [P, K] 2024 prices
    fills_now: np.ndarray  # [S, P, K] share of running use the markets covered, last step
    separated: np.ndarray  # [S, Ps, E] this step's separated oxide
    traces: dict[str, Trace]  # set by sim.model.levers.origin.build
    reaches: list[Reach]

    def __init__(
        self,
        world: World,
        scenario: Scenario,
        samples: int,
        warmup: int,
        draws: Mapping[str, np.ndarray] | None = None,
        market_cache: MarketCache | None = None,
    ) -> None:
        self.scenario = scenario
        self.draws = dict(draws or {})
        self.world = world = apply_capacity_events(world, scenario)
        self.samples = S = samples
        self.origin = dt.date(scenario.horizon.start.year, scenario.horizon.start.month, 1)
        self.steps = int(np.floor(month_index(self.origin, scenario.horizon.end))) + 1
        self.warmup = warmup
        self.params = world.parameters
        order = ("mine", "separation", "metal", "magnet")
        self.facilities = [f for stage in order for f in world.by_stage(stage)]
        self.index = {f.id: i for i, f in enumerate(self.facilities)}
        counts = [len(world.by_stage(stage)) for stage in order]
        bounds = np.cumsum([0, *counts])
        self.slices = {st: slice(int(a), int(b)) for st, a, b in zip(order, bounds, bounds[1:])}
        self._build_tranches()
        self._build_structure()
        self._build_buyers()
        self._build_events()
        self._build_markets(MarketCache() if market_cache is None else market_cache)
        economics.build(self)
        self.capacity = np.zeros((S, len(self.facilities)))  # t per step
        self.new_capacity = np.zeros((S, len(self.facilities)))  # of projects, t per step
        self._build_state()

    # -- structure ---------------------------------------------------------------------------
    def stage(self, name: str) -> list[Facility]:
        """Facilities of a stage, in array order."""
        return self.facilities[self.slices[name]]

    def regions(self, name: str) -> list[str]:
        return [self.world.region(f.country) for f in self.stage(name)]

    def countries(self, name: str) -> list[str]:
        return [f.country for f in self.stage(name)]

    def month(self, when: dt.date | None, default: float) -> np.ndarray:
        """Months from the origin to a date, one value a sample."""
        value = default if when is None else month_index(self.origin, when)
        return np.full(self.samples, value)

    def value(self, event: int, field: str) -> np.ndarray:
        """A number of event ``event``, one value a sample: the sweep's draws for
        ``events[i].field`` if it has any, else the scenario's value."""
        drawn = self.draws.get(f"events[{event}].{field}")
        if drawn is not None:
            return np.asarray(drawn, dtype=float)
        return np.full(self.samples, float(getattr(self.scenario.events[event], field)))

    def when(self, event: int, field: str, default: float) -> np.ndarray:
        """A date of event ``event`` as months from the origin, one value a sample (drawn
        dates are day ordinals); ``default`` where the date is not set."""
        drawn = self.draws.get(f"events[{event}].{field}")
        if drawn is None:
            return self.month(getattr(self.scenario.events[event], field), default)
        days = np.asarray(drawn, dtype=float)
        cache = {d: month_index(self.origin, dt.date.fromordinal(int(d))) for d in np.unique(days)}
        return np.array([cache[d] for d in days])

    def completes(self, event: int) -> np.ndarray:
        """Whether capacity project ``event`` is built, 0 or 1 a sample: the sweep's draws
        for ``events[i].completes``, else the central case (built if its completion
        probability is at least one half)."""
        drawn = self.draws.get(f"events[{event}].completes")
        if drawn is not None:
            return (np.asarray(drawn, dtype=float) > 0.5).astype(float)
        p = self.value(event, "completion_probability")
        return (p >= 0.5).astype(float)

    def _build_tranches(self) -> None:
        owner, nameplate, start, ramp, end, s_curve = [], [], [], [], [], []
        for i, fac in enumerate(self.facilities):
            for tr in fac.tranches:
                owner.append(i)
                end.append(self.month(tr.end, np.inf))
                if tr.event is None:
                    nameplate.append(np.full(self.samples, tr.capacity_tpa))
                    start.append(self.month(tr.start, -np.inf))
                    ramp.append(np.full(self.samples, tr.ramp_months))
                    s_curve.append(np.zeros(self.samples, dtype=bool))
                else:
                    ev = self.scenario.events[tr.event]
                    built = self.completes(tr.event)
                    nameplate.append(self.value(tr.event, "nameplate_tpa") * built)
                    start.append(
                        self.when(tr.event, "start", -np.inf) + self.value(tr.event, "delay_months")
                    )
                    ramp.append(self.value(tr.event, "ramp_months"))
                    s_curve.append(np.full(self.samples, getattr(ev, "ramp", "") == "s_curve"))
        growth = np.array([1.0 + f.growth_pa for f in self.facilities])
        base = month_index(self.origin, dt.date(self.world.base_year, 7, 1))
        years = (np.arange(-self.warmup, self.steps) + 0.5 - base) / 12.0
        self.growth_path = growth[None, :] ** years[:, None]  # [steps incl. warm-up, F]
        self.tranche_owner = np.zeros((len(owner), len(self.facilities)))
        self.tranche_owner[np.arange(len(owner)), owner] = 1.0
        # Tranches are listed by owner: a facility's capacity is the sum of its run of them.
        self.tranche_tpa = np.stack(nameplate, axis=1) if nameplate else np.zeros((self.samples, 0))
        self.tranche_start = np.stack(start, axis=1) if start else np.zeros((self.samples, 0))
        self.tranche_ramp = np.stack(ramp, axis=1) if ramp else np.zeros((self.samples, 0))
        self.tranche_end = np.stack(end, axis=1) if end else np.zeros((self.samples, 0))
        self.tranche_s_curve = (
            np.stack(s_curve, axis=1) if s_curve else np.zeros((self.samples, 0), dtype=bool)
        )
        # Facilities whose tranches differ between samples (a drawn start or nameplate, say);
        # the others' capacity is worked out once a step for every sample. Each part is whole
        # runs of tranches (a facility's), with its owners and where each run starts.
        varies = np.zeros(self.tranche_start.shape[1], dtype=bool)
        for a in (
            self.tranche_tpa,
            self.tranche_start,
            self.tranche_ramp,
            self.tranche_end,
            self.tranche_s_curve,
        ):
            varies |= (a != a[:1]).any(axis=0)
        owner_of = np.array(owner, dtype=int)
        varies = np.isin(owner_of, owner_of[varies])
        self._tranche_parts = []
        self._capacity_levels: tuple[int, list] = (-1 << 30, [])  # `_tranche_levels`
        for cols, rows in (
            (np.flatnonzero(~varies), slice(0, 1)),
            (np.flatnonzero(varies), slice(None)),
        ):
            if cols.size:
                owners, starts = np.unique(owner_of[cols], return_index=True)
                self._tranche_parts.append((cols, rows, owners, starts))

    def _build_structure(self) -> None:
        w, p = self.world, self.params
        mines, seps = self.stage("mine"), self.stage("separation")
        self.comp = np.array([w.ores[m.ore] * REO_TO_ELEMENT for m in mines]).reshape(-1, E)
        light = np.array([e not in ("Dy", "Tb", "Y") for e in ELEMENTS], dtype=float)
        self.recover = np.array(
            [
                p["separation_recovery"] * (light if s.recovers == "light" else np.ones(E))
                for s in seps
            ]
        ).reshape(-1, E)
        mine_ids = [m.id for m in mines]
        self.feeds = np.array(
            [[(not s.feeds_from) or m in s.feeds_from for s in seps] for m in mine_ids], dtype=float
        ).reshape(len(mines), len(seps))[:, :, None]
        self.sep_priority = np.array([s.priority for s in seps], dtype=int)
        mags = self.stage("magnet")
        self.product = np.array([MAGNETS.index(g.product) for g in mags], dtype=int)
        self.recipe = np.array([w.recipes[g.product] for g in mags]).reshape(-1, E)
        self.swarf_to = np.array([self._recycler(g) for g in mags], dtype=int)
        regions = {st: self.regions(st) for st in ("mine", "separation", "metal", "magnet")}
        self.lead = {
            "concentrate": _lead_matrix(w, regions["mine"], regions["separation"]),
            "oxide_metal": _lead_matrix(w, regions["separation"], regions["metal"]),
            "metal": _lead_matrix(w, regions["metal"], regions["magnet"]),
        }

    def _recycler(self, magnet_plant: Facility) -> int:
        """Separation plant that takes this magnet plant's swarf: same country, else region."""
        seps = self.stage("separation")
        cap = [sum(t.capacity_tpa for t in s.tranches) for s in seps]
        for same in (
            lambda s: s.country == magnet_plant.country,
            lambda s: self.world.region(s.country) == self.world.region(magnet_plant.country),
        ):
            hits = [i for i, s in enumerate(seps) if same(s)]
            if hits:
                return max(hits, key=lambda i: cap[i])
        return -1

    def _build_buyers(self) -> None:
        w = self.world
        self.buyers = list(w.buyers)
        self.is_magnet = np.array([b.material in MAGNETS for b in self.buyers])
        self.bm = np.flatnonzero(self.is_magnet)
        self.be = np.flatnonzero(~self.is_magnet)
        self.bm_at, self.be_at = _span(self.bm), _span(self.be)  # slices when contiguous
        self.buyer_region = np.array([b.region for b in self.buyers])
        self.buyer_material = np.array([b.material for b in self.buyers])
        content = np.zeros((len(self.buyers), E))
        for i, b in enumerate(self.buyers):
            if b.material in MAGNETS:
                content[i] = w.recipes[b.material]
            else:
                content[i, ELEMENT_INDEX[b.material]] = 1.0
        self.content = content
        self.buyer_priority = np.array([b.priority for b in self.buyers], dtype=int)
        self.cover = np.array([b.cover_weeks * 7.0 / DAYS_PER_MONTH for b in self.buyers])
        base = self.world.base_year + 0.5
        first = month_index(self.origin, dt.date(self.world.base_year, 1, 1))
        years = (np.arange(-self.warmup, self.steps) - first + 0.5) / 12.0 + self.world.base_year
        growth = np.array([(1.0 + b.growth_pa) for b in self.buyers])
        annual = np.array([b.demand_tpa for b in self.buyers])
        self.demand_path = annual[None, :] * growth[None, :] ** (years[:, None] - base) / 12.0
        mags = self.stage("magnet")
        self.magnet_open = np.array(
            [
                [
                    MAGNETS.index(g.product) == MAGNETS.index(self.buyers[b].material)
                    for b in self.bm
                ]
                for g in mags
            ],
            dtype=float,
        ).reshape(len(mags), len(self.bm))[:, :, None]
        buyer_regions = [b.region for b in self.buyers]
        self.magnet_home = np.array(
            [[r == buyer_regions[b] for b in self.bm] for r in self.regions("magnet")], dtype=float
        ).reshape(self.magnet_open.shape[:2])
        self.lead["magnet"] = _lead_matrix(
            w, self.regions("magnet"), [buyer_regions[i] for i in self.bm]
        )
        self.lead["oxide_buyer"] = _lead_matrix(
            w, self.regions("separation"), [buyer_regions[i] for i in self.be]
        )
        self.input_lead = {
            "separation": self._mean_lead("concentrate", "mine"),
            "metal": self._mean_lead("oxide_metal", "separation"),
            "magnet": self._mean_lead("metal", "metal"),
        }
        self.buyer_lead = np.zeros(len(self.buyers))
        cap_g = np.array([sum(t.capacity_tpa for t in g.tranches if t.start is None) for g in mags])
        for j, k in enumerate(self.bm):
            weights = cap_g * self.magnet_open[:, j, 0]
            if weights.sum() > 0:
                self.buyer_lead[k] = float(weights @ self.lead["magnet"][:, j] / weights.sum())
        cap_s = np.array(
            [sum(t.capacity_tpa for t in s.tranches) for s in self.stage("separation")]
        )
        for j, k in enumerate(self.be):
            if cap_s.sum() > 0:
                self.buyer_lead[k] = float(cap_s @ self.lead["oxide_buyer"][:, j] / cap_s.sum())

    def _mean_lead(self, route: str, supplier_stage: str) -> np.ndarray:
        """Each customer's lead time averaged over its suppliers, weighted by capacity."""
        cap = np.array(
            [sum(t.capacity_tpa for t in f.tranches) for f in self.stage(supplier_stage)]
        )
        lead = self.lead[route]
        if route == "concentrate":
            weights = cap[:, None] * self.feeds[:, :, 0]
        else:
            weights = np.repeat(cap[:, None], lead.shape[1], axis=1)
        total = weights.sum(axis=0)
        return np.divide(
            (weights * lead).sum(axis=0), total, out=np.zeros_like(total), where=total > 0
        )

    # -- events ------------------------------------------------------------------------------
    def _sides(self) -> dict[str, tuple[Side, Side]]:
        buyer_regions = [b.region for b in self.buyers]
        bm_r = [buyer_regions[i] for i in self.bm]
        be_r = [buyer_regions[i] for i in self.be]
        bm_s = [self.buyers[i].sector for i in self.bm]
        be_s: list[str | None] = [self.buyers[i].sector for i in self.be]
        side = {st: Side(self.countries(st), self.regions(st)) for st in self.slices}
        oxide_customers = Side(
            [*self.countries("metal"), *be_r],
            [*self.regions("metal"), *be_r],
            [None] * len(self.stage("metal")) + be_s,
        )
        return {
            "concentrate": (side["mine"], side["separation"]),
            "oxide": (side["separation"], oxide_customers),
            "metal": (side["metal"], side["magnet"]),
            "magnet": (side["magnet"], Side(bm_r, bm_r, bm_s)),
        }

    def _covered(self, market: str, ev: ExportControl) -> np.ndarray:
        """``[P, K]``: supplier products this control names, on one market."""
        forms, elems = form_set(ev.forms), element_set(ev.elements)
        named = np.array([e in elems for e in ELEMENTS])
        if market == "concentrate":
            hit = "concentrate" in forms and (self.comp[:, named] > 0).any(axis=1)
            return np.broadcast_to(np.asarray(hit), (self.comp.shape[0],))[:, None].copy()
        if market in ("oxide", "metal"):
            n = len(self.stage("separation" if market == "oxide" else "metal"))
            return np.tile(named & (market in forms), (n, 1))
        contains = (self.recipe[:, named] > 0).any(axis=1)
        in_forms = np.array([MAGNETS[k] in forms for k in self.product], dtype=bool)
        return (contains & in_forms)[:, None]

    def _build_events(self) -> None:
        sides = self._sides()
        self.controls: list[Control] = []
        self.outages: list[OutageSwitch] = []
        self.stockpiles: list[StockpileState] = []
        self.offtakes: list[OfftakeState] = []
        self.substitutions: list[SubstitutionState] = []
        self.recycling: list[RecyclingState] = []
        for i, ev in enumerate(self.scenario.events):
            if isinstance(ev, ExportControl):
                scope = {m: control_scope(ev, *sides[m], self._covered(m, ev)) for m in MARKETS}
                off = (self.when(i, "suspended", np.inf), self.when(i, "resumed", np.inf))
                phases = self._control_phases(i, ev)
                self.controls.append(Control(ev, phases, off, scope, np.zeros(self.samples)))
            elif isinstance(ev, Stockpile):
                self.stockpiles.append(self._stockpile(i, ev))
            elif isinstance(ev, Offtake):
                self.offtakes.append(self._offtake(i, ev))
            elif isinstance(ev, Substitution):
                self.substitutions.append(self._substitution(i, ev))
            elif isinstance(ev, Recycling):
                self.recycling.append(self._recycling(i, ev))
            elif isinstance(ev, Outage):
                self.outages.append(
                    OutageSwitch(
                        self.index[ev.facility],
                        self.value(i, "share"),
                        self.when(i, "start", 0.0),
                        self.when(i, "end", np.inf),
                        np.zeros(self.samples),
                    )
                )
        self.allowed: dict[str, np.ndarray | None] = {m: None for m in MARKETS}
        origin.build(self, self._reach_thresholds())

    def _reach_thresholds(self) -> dict[int, np.ndarray]:
        """``{index in self.controls: threshold a sample}`` of extraterritorial controls."""
        out, k = {}, 0
        for i, ev in enumerate(self.scenario.events):
            if isinstance(ev, ExportControl):
                if ev.foreign_content_threshold is not None:
                    out[k] = self.value(i, "foreign_content_threshold")
                k += 1
        return out

    def demand(self, step: int) -> np.ndarray:
        """``[S, B]`` this step's demand: the demand path less what substitution switched."""
        path = self.demand_path[step + self.warmup][None, :]
        if not self.substitutions:
            return np.broadcast_to(path, (self.samples, path.shape[1]))
        kept = np.ones((self.samples, path.shape[1]))
        for sub in self.substitutions:
            kept[:, sub.buyers] *= 1.0 - sub.share
        return path * kept

    def demand_of(self, step: int, idx: np.ndarray) -> np.ndarray:
        """``demand(step)[:, idx]`` (read only): taken from the one demand row before it is
        spread over the samples when every sample's demand is the same."""
        if not self.substitutions:
            row = np.take(self.demand_path[step + self.warmup][None, :], idx, axis=1)
            return np.broadcast_to(row, (self.samples, row.shape[1]))
        return np.take(self.demand(step), idx, axis=1)

    def _substitution(self, i: int, ev: Substitution) -> SubstitutionState:
        """Substitution ``i``: its buyers, the price each one watches, and its rules."""

        def named(value: object, name: str) -> bool:
            return value == "all" or name in value  # type: ignore[operator]

        buyers = [
            k
            for k, b in enumerate(self.buyers)
            if named(ev.materials, b.material)
            and named(ev.regions, b.region)
            and named(ev.sectors, b.sector)
        ]
        product, tier = [], []
        for k in buyers:
            b = self.buyers[k]
            name = f"{b.material}_magnet" if b.material in MAGNETS else f"{b.material}_oxide"
            product.append(PRICE_PRODUCTS.index(name) if name in PRICE_PRODUCTS else -1)
            tier.append(TIERS.index("china" if b.region == "CN" else "ex_china"))
        return SubstitutionState(
            buyers=np.array(buyers, dtype=int),
            product=np.array(product, dtype=int),
            tier=np.array(tier, dtype=int),
            max_share=self.value(i, "max_share"),
            trigger=self.value(i, "trigger_price_ratio"),
            full=self.value(i, "full_price_ratio"),
            speed=demand_speed(self.value(i, "adoption_months")),
            start=self.when(i, "start", 0.0),
            end=self.when(i, "end", np.inf),
            reversible=ev.reversible,
            share=np.zeros((self.samples, len(buyers))),
        )

    def _recycling(self, i: int, ev: Recycling) -> RecyclingState:
        """Recycling ``i``: the magnets its region's buyers bought ``life_years`` before each
        step (their demand path, extended back), and what a tonne of scrap yields."""
        idx = [
            k
            for k, b in enumerate(self.buyers)
            if b.region == ev.region and b.material == ev.material
        ]
        life = self.value(i, "life_years")[:, None]
        base = self.world.base_year + 0.5
        first = month_index(self.origin, dt.date(self.world.base_year, 1, 1))
        years = (np.arange(-self.warmup, self.steps) - first + 0.5) / 12.0 + self.world.base_year
        scrap = np.zeros((self.samples, len(years)))
        for k in idx:
            b = self.buyers[k]
            scrap += b.demand_tpa / 12.0 * (1.0 + b.growth_pa) ** (years[None] - life - base)
        seps = [f.id for f in self.stage("separation")]
        return RecyclingState(
            plant=seps.index(ev.facility),
            start=self.when(i, "start", 0.0),
            ramp=self.value(i, "ramp_months"),
            collection=self.value(i, "collection_share"),
            scrap=scrap,
            content=self.world.recipes[ev.material] * self.params["swarf_recovery"],
        )

    def _stockpile(self, i: int, ev: Stockpile) -> StockpileState:
        """Stockpile ``i``'s served buyers (checked non-empty by loading) and rules."""
        served = np.array(
            [
                k
                for k, b in enumerate(self.buyers)
                if b.region == ev.region
                and b.material == ev.material
                and (ev.sectors == "all" or b.sector in ev.sectors)
            ],
            dtype=int,
        )
        target = self.value(i, "target_t") if ev.target_t is not None else np.zeros(self.samples)
        return StockpileState(
            buyers=served,
            content=self.content[served[0]] if served.size else np.zeros(E),
            held=self.value(i, "initial_t"),
            start=self.when(i, "start", 0.0),
            end=self.when(i, "end", np.inf),
            threshold=self.value(i, "release_threshold"),
            max_release=self.value(i, "max_release_t_per_month"),
            purchase=self.value(i, "purchase_t_per_month"),
            target=target,
        )

    def _offtake(self, i: int, ev: Offtake) -> OfftakeState:
        """Offtake ``i``: its magnet plant and buyers (checked by loading), share and dates."""
        plant = self.index[ev.facility] - self.slices["magnet"].start
        buyers = np.array(
            [
                j
                for j, k in enumerate(self.bm)
                if self.buyers[k].region == ev.region
                and self.magnet_open[plant, j, 0] > 0
                and (ev.sectors == "all" or self.buyers[k].sector in ev.sectors)
            ],
            dtype=int,
        )  # buyers of the magnet the plant makes
        start = self.when(i, "start", 0.0)
        end = (
            start + 12.0 * self.value(i, "years")
            if ev.years is not None
            else np.full(self.samples, np.inf)
        )
        return OfftakeState(plant, buyers, self.value(i, "share"), start, end)

    def _control_phases(
        self, i: int, ev: ExportControl
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(start, end, withheld)`` phases of control ``i``: a ban, a quota letting through
        ``share``, or licences: nothing ships during the review delay, then ``approval_rate``
        of normal flow does."""
        start, end = self.when(i, "start", 0.0), self.when(i, "end", np.inf)
        if ev.mode == "ban":
            return [(start, end, np.ones(self.samples))]
        if ev.mode == "quota":
            return [(start, end, 1.0 - self.value(i, "share"))]
        granted = np.minimum(start + self.value(i, "review_delay_days") / DAYS_PER_MONTH, end)
        return [
            (start, granted, np.ones(self.samples)),
            (granted, end, 1.0 - self.value(i, "approval_rate")),
        ]

    def refresh_controls(self) -> None:
        """Recompute each market's allowed share of normal flow from the controls' levels."""
        for market in MARKETS:
            allowed = None
            for c in self.controls:
                if not c.level.any() or not c.scope[market].any():
                    continue
                scope = self.markets[market].lanes(self._columns(c.scope[market], market))
                cut = c.level[:, None, None, None] * scope[None]
                allowed = (1.0 - cut) if allowed is None else allowed * (1.0 - cut)
            self.allowed[market] = allowed

    def _build_markets(self, market_cache: MarketCache) -> None:
        """Each market's lanes: suppliers (customers) grouped by region, open routes, home
        routes, priority and the reach of every control, so that allocation and shipping
        work on lanes; ``lane_lead`` holds the lead times between lanes."""
        sides = self._sides()
        codes: dict[str, int] = {}

        def key(side: Side) -> np.ndarray:
            return np.array([codes.setdefault(r, len(codes)) for r in side.regions])

        Ps, Pm = len(self.stage("separation")), len(self.stage("metal"))
        Pg = len(self.stage("magnet"))
        bm, be = self.buyer_priority[self.bm], self.buyer_priority[self.be]
        # Element buyers of one region and priority are one customer of the oxide market.
        cells = [(self.buyers[b].region, self.buyer_priority[b]) for b in self.be]
        pools = list(dict.fromkeys(cells))
        pool = np.array([pools.index(c) for c in cells], dtype=int)
        element = np.array([ELEMENT_INDEX[self.buyers[b].material] for b in self.be], dtype=int)
        self.oxide_pool = Pool(pool, element, len(pools), E)
        self.oxide_pool_regions = [region for region, _ in pools]
        firsts = np.array([cells.index(c) for c in pools], dtype=int)
        columns = np.concatenate([np.arange(Pm), Pm + firsts]).astype(int)
        self.market_columns: dict[str, np.ndarray | None] = {m: None for m in MARKETS}
        self.market_columns["oxide"] = columns
        # Metal plants make only what magnet plants order: the elements of their recipes.
        used = np.flatnonzero(self.recipe.sum(axis=0) > 0)
        self.market_products: dict[str, np.ndarray | None] = {m: None for m in MARKETS}
        self.market_products["metal"] = used if used.size else None
        metal_k = used.size if used.size else E
        sides["oxide"] = (
            sides["oxide"][0],
            Side(
                [sides["oxide"][1].countries[i] for i in columns],
                [sides["oxide"][1].regions[i] for i in columns],
            ),
        )
        oxide_priority = np.concatenate([np.ones(Pm, int), be[firsts]])
        structure = {
            "concentrate": (self.feeds, self.sep_priority, None),
            "oxide": (np.ones((Ps, Pm + len(pools), E)), oxide_priority, None),
            "metal": (np.ones((Pm, Pg, metal_k)), np.ones(Pg, int), None),
            "magnet": (self.magnet_open, bm, self.magnet_home),
        }
        self.markets: dict[str, Market] = {}
        self.lane_lead: dict[str, np.ndarray] = {}
        lead = {
            "concentrate": self.lead["concentrate"],
            "oxide": np.concatenate(
                [self.lead["oxide_metal"], self.lead["oxide_buyer"][:, firsts]], axis=1
            ),
            "metal": self.lead["metal"],
            "magnet": self.lead["magnet"],
        }
        for name, (open_, priority, home) in structure.items():
            sup, cus = sides[name]
            sup_key = key(sup)
            if name == "magnet" and self.reaches:  # origin differs plant by plant
                sup_key = len(codes) + np.arange(len(sup_key))
            self.markets[name] = market = market_cache.get(
                open_,
                priority,
                home=home,
                sup_key=sup_key,
                cus_key=key(cus),
                scopes=[self._columns(c.scope[name], name) for c in self.controls],
            )
            self.lane_lead[name] = market.lanes(lead[name])

    def _columns(self, a: np.ndarray, market: str) -> np.ndarray:
        """A market's route array ``a[P, C, K]`` over the market's customers and products (the
        oxide market sees pools of element buyers, each like its first member; the metal
        market trades only the elements some magnet uses)."""
        columns, products = self.market_columns[market], self.market_products[market]
        a = a if columns is None else np.take(a, columns, axis=1)
        return a if products is None else np.take(a, products, axis=2)

    # -- state -------------------------------------------------------------------------------
    def _build_state(self) -> None:
        """Stocks and pipelines near steady state at the first warm-up step."""
        S = self.samples
        t0 = -self.warmup
        self.update_capacity(t0)
        p = self.params
        cap = self.capacity[0]
        M, Ps = len(self.stage("mine")), len(self.stage("separation"))
        Pm, Pg = len(self.stage("metal")), len(self.stage("magnet"))
        d0 = self.demand_path[0]
        prod = np.zeros(Pg)
        cap_g = cap[self.slices["magnet"]]
        for k in range(len(MAGNETS)):
            mine_k = self.product == k
            total = d0[self.bm][
                [MAGNETS.index(self.buyers[b].material) == k for b in self.bm]
            ].sum()
            if cap_g[mine_k].sum() > 0:
                prod[mine_k] = total * cap_g[mine_k] / cap_g[mine_k].sum()
        self.rate_g = np.tile(prod[:, None] * self.recipe / p["magnet_yield"], (S, 1, 1))
        metal_need = self.rate_g[0].sum(axis=0)
        cap_m = cap[self.slices["metal"]]
        share_m = cap_m / cap_m.sum() if cap_m.sum() > 0 else np.zeros(Pm)
        self.rate_m = np.tile(share_m[:, None] * metal_need / p["metal_yield"], (S, 1, 1))
        plant_cover = p["plant_input_cover_months"]
        self.mag_in = self.rate_g * plant_cover
        self.metal_in = self.rate_m * plant_cover
        feed = self.feeds[:, :, 0].T @ (cap[self.slices["mine"]][:, None] * self.comp)
        feed_reo = (feed / REO_TO_ELEMENT).sum(axis=1, keepdims=True)
        mix = np.divide(feed, feed_reo, out=np.zeros_like(feed), where=feed_reo > 0)
        cap_s = cap[self.slices["separation"]]
        # Upstream of the oxides every sample's state starts the same: one row (`upstream`).
        self.upstream_rows = 1
        self.sep_in = cap_s[None, :, None] * mix[None] * p["separation_input_cover_months"]
        self.sep_out = np.tile(cap_s[:, None] * mix * self.recover, (S, 1, 1))
        self.mine_stock = np.zeros((1, M, E))
        self.inventory = np.tile(d0 * self.cover, (S, 1))
        max_lead = max(float(m.max()) if m.size else 0.0 for m in self.lead.values())
        self.pipe = {
            "concentrate": Pipeline(1, Ps, E, max_lead),
            "oxide_metal": Pipeline(S, Pm, E, max_lead),
            "oxide_buyer": Pipeline(S, len(self.be), 1, max_lead),
            "metal": Pipeline(S, Pg, E, max_lead, self.market_products["metal"]),
            "magnet": Pipeline(S, len(self.bm), 1, max_lead),
        }

    def update_capacity(self, step: int) -> None:
        """Capacity this step, tonnes per step, from tranches' ramps, growth and outages."""
        tpa, new_tpa = np.zeros_like(self.capacity), np.zeros_like(self.capacity)
        for (_, _, owners, _), (made, planned) in zip(
            self._tranche_parts, self._tranche_levels(step)
        ):
            tpa[:, owners], new_tpa[:, owners] = made, planned  # agreeing facilities: 1 row
        tpa *= self.growth_path[step + self.warmup]
        new_tpa *= self.growth_path[step + self.warmup]
        for out in self.outages:
            tpa[:, out.facility] *= 1.0 - out.share * out.level
        self.capacity = tpa / 12.0
        self.new_capacity = np.minimum(new_tpa / 12.0, self.capacity)  # of projects, t a step

    def _tranche_levels(self, step: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each tranche part's facilities' nameplate at ``step`` after ramps and ends, all and
        of projects (tonnes a year, before growth and outages): ``[rows, owners]`` each.

        They depend on the step and the draws alone, so they are worked out for
        `CAPACITY_BLOCK` steps at a time, with the steps as a leading axis (the same numbers
        as one step at a time: elementwise, and each facility's run of tranches summed in
        order)."""
        t0, parts = self._capacity_levels
        if not t0 <= step < t0 + CAPACITY_BLOCK:
            t0 = step
            steps = np.arange(t0, t0 + CAPACITY_BLOCK, dtype=float)[:, None, None]
            parts = []
            for cols, rows, _, starts in self._tranche_parts:
                # C-ordered gathers of whole runs of tranches
                start, ramp, end, s_curve, nameplate = (
                    np.take(a[rows], cols, axis=1)
                    for a in (
                        self.tranche_start,
                        self.tranche_ramp,
                        self.tranche_end,
                        self.tranche_s_curve,
                        self.tranche_tpa,
                    )
                )
                level = ramp_average(start, ramp, steps, s_curve)
                level = level * np.clip(end - steps, 0.0, 1.0)  # share before the end
                # A sum in a fixed order (a BLAS product's order may depend on the batch).
                parts.append(
                    (
                        np.add.reduceat(nameplate * level, starts, axis=2),
                        np.add.reduceat(nameplate * level * np.isfinite(start), starts, axis=2),
                    )
                )
            self._capacity_levels = (t0, parts)
        return [(made[step - t0], planned[step - t0]) for made, planned in parts]

    def upstream(self) -> int:
        """Rows of the state upstream of the oxides (mines' stocks, separation plants' feed,
        the concentrate pipeline; ``[R, ...]``) this step: one for every sample while it is
        the same in all and so is what moves it (mines' and separation plants' capacity, the
        controls on concentrate), as when a sweep draws downstream levers; from the first
        step where that differs, one a sample. Each sample's numbers are those it would get
        alone either way."""
        S = self.samples
        if self.upstream_rows < S:
            cap = self.capacity[:, : self.slices["separation"].stop]  # mines, separation
            allowed = self.allowed["concentrate"]
            if not (_rows_same(cap) and (allowed is None or _rows_same(allowed))):
                self.mine_stock = np.repeat(self.mine_stock, S, axis=0)
                self.sep_in = np.repeat(self.sep_in, S, axis=0)
                pipe = self.pipe["concentrate"]
                pipe.buf = np.repeat(pipe.buf, S, axis=1)
                self.upstream_rows = S
        return self.upstream_rows

    def holdings(self) -> np.ndarray:
        """Every stock and pipeline in tonnes of contained element, ``[S, E]``."""
        total = (
            self.mine_stock.sum(1)
            + self.sep_in.sum(1)
            + self.sep_out.sum(1)
            + self.metal_in.sum(1)
            + self.mag_in.sum(1)
            + self.inventory @ self.content
        )
        for name in ("concentrate", "oxide_metal", "metal"):
            total = total + self.pipe[name].in_transit().sum(1)
        total = total + self.pipe["oxide_buyer"].in_transit()[:, :, 0] @ self.content[self.be]
        total = total + self.pipe["magnet"].in_transit()[:, :, 0] @ self.content[self.bm]
        for pile in self.stockpiles:
            total = total + pile.held[:, None] * pile.content[None]
        return total

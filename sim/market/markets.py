"""Markets: who gets scarce supply. A `Market` allocates suppliers' supply among customers'
needs along its routes, on its lanes (`sim.market.lanes`), by priority tier and pro rata
(`sim.market.allocation`); a `MarketCache` keeps markets built once for chains that share
their routes.

Arrays carry a leading sample axis and a trailing product axis ``K`` (elements for oxide and
metal, one for concentrate and magnets): members' ``avail[S, P, K]`` and ``need[S, C, K]``;
lane totals and flows are kept samples-last, as the allocation pass works.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

import numpy as np

from sim.arrays import spread
from sim.market.allocation import AllocationPass
from sim.market.flows import Flow
from sim.market.grouping_kernels import any_above
from sim.market.lanes import Lanes
from sim.market.reference import Reference

CRUMB_T = 1e-9  # supply left after a pass that the next ones do not offer (rounding's crumbs)


class Market(Lanes):
    """A market's routes, grouped once so that each step allocates between classes, not
    between every supplier and customer.

    Each allocation groups lanes further into the coarsest classes that face the same routes
    (`AllocationPass`); a control's cap applies to the flow over all the routes it reaches
    (its cap group). With home routes, a second pass allocates over them alone (`allocate`
    with a ``home_share``). With suppliers in an order (``sup_order``), customers draw on
    them in turn: a pass over each order's routes, from what the passes before left.
    """

    def __init__(
        self,
        open_: np.ndarray,
        priority: np.ndarray,
        *,
        home: np.ndarray | None = None,
        sup_key: np.ndarray | None = None,
        cus_key: np.ndarray | None = None,
        scopes: tuple[np.ndarray, ...] | list[np.ndarray] = (),
        scope_groups: np.ndarray | None = None,
        sup_order: np.ndarray | None = None,
        china: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """A market of routes ``open_[P, C, K]`` (1 where a route may carry a product) to
        customers of ``priority[C]`` (higher first); ``home[P, C]`` marks home routes,
        ``sup_key``/``cus_key`` split lanes further (the engine passes regions), and each of
        ``scopes`` (``[P, C, K or 1]``) is a control's reach, capped together with the other
        scopes of its number in ``scope_groups`` (default: each alone). ``sup_order[P]`` is
        the order in which customers draw on suppliers (lowest first; default: all at once).
        ``china`` (suppliers' and customers' tier, True for China) nets two-way trade
        between the tiers out of every allocation (`sim.market.net_kernels`; None: none)."""
        open_ = np.asarray(open_, dtype=float)
        P, C = open_.shape[:2]
        home_ = np.ones((P, C)) if home is None else np.asarray(home, dtype=float)
        sup_key = np.zeros(P) if sup_key is None else np.asarray(sup_key)
        cus_key = np.zeros(C) if cus_key is None else np.asarray(cus_key)
        order = np.zeros(P) if sup_order is None else np.asarray(sup_order)
        tier_sup, tier_cus = (np.zeros(P), np.zeros(C)) if china is None else china
        keys = np.column_stack([sup_key, order, tier_sup])
        super().__init__(open_, priority, home_, keys, np.column_stack([cus_key, tier_cus]), scopes)
        lane_scopes = [self.lanes(s) for s in scopes]
        groups = np.arange(len(scopes)) if scope_groups is None else np.asarray(scope_groups)
        self.reached = np.array([s.any() for s in lane_scopes], dtype=bool)  # [scopes]
        tiers = None
        if china is not None:
            tiers = (np.asarray(tier_sup, bool)[self.sup.first], np.asarray(tier_cus, bool))
            tiers = (tiers[0], tiers[1][self.cus.first])

        self._pass_of = (lane_scopes, groups, tiers)
        self.world = self.allocation(self.open)
        self._world = (_Turn(self.world),)  # the world pass alone
        levels = np.unique(order)
        lane_order = order[self.sup.first]
        self.in_order = tuple(  # none with one level: the world pass is that one
            _Turn(self, (lane_order == level)[:, None, None], lane_order == level)
            for level in (levels if levels.size > 1 else ())
        )
        self._home = None if home is None else _Turn(self, self.lanes(home_)[:, :, None])

    @property
    def home(self) -> AllocationPass | None:
        """The pass over the home routes (None: a market without them)."""
        return None if self._home is None else self._home.allocate

    def allocation(self, open_lanes: np.ndarray) -> AllocationPass:
        """An allocation pass over the lane routes ``open_lanes[G, H, K]``."""
        lane_scopes, groups, tiers = self._pass_of
        lane_edges = (self.edge_sup_lane, self.edge_cus_lane)
        return AllocationPass(open_lanes, self.priority, lane_scopes, lane_edges, groups, tiers)

    def allocate(
        self,
        avail: np.ndarray,
        need: np.ndarray,
        allowed: np.ndarray | None,
        normal_avail: np.ndarray | None = None,
        normal_need: np.ndarray | None = None,
        home_share: np.ndarray | None = None,
        products: np.ndarray | None = None,
        reference: Reference | None = None,
        withheld: np.ndarray | None = None,
        index: float | np.ndarray = 1.0,
        first: np.ndarray | None = None,
        in_force: np.ndarray | None = None,
        use: np.ndarray | None = None,
        weights: np.ndarray | None = None,
    ) -> Flow:
        """Allocate members' supply ``avail[S, P, K]`` to their ``need[S, C, K]``: the
        allocation (`Flow`), kept samples-last as the pass leaves it.

        Args:
            avail: what each supplier can deliver (>= 0); a first axis of 1 repeats.
            need: what each customer wants (>= 0); a first axis of 1 repeats.
            allowed: ``[S, G, H, K]`` each lane route's own share of normal flow (1 all, 0
                none), or ``None``: no route has a cap of its own.
            normal_avail: supply in normal times (default ``avail``): what suppliers could
                deliver, not idle nameplate; offtakes' plants pass all of it, reserved too.
            normal_need: need in normal times (default ``need``): customers' running use,
                not the panic orders of customers whose stocks a control has emptied.
            home_share: ``[S]`` share of the step in which suppliers serve home customers
                first (an export restraint), then all routes; the rest, all at once (None: 0).
            products: trade these columns of wider arrays (normal levels one column or as wide).
            reference: the normal levels held while a control is in force (updated), grown
                with this step's demand ``index`` (one, or one a product: `Reference.hold`).
            withheld: ``[S, scopes]`` the share of normal flow each scope withholds (the
                market's ``scopes``; None: none). The routes of a cap group's scopes
                ``in_force`` (``[S, scopes]``; None: those withholding something) carry
                together at most their normal flow less those shares.
            first: ``[S, P, K]`` the part of ``avail`` offered first, over all routes at
                once; the rest of it after, in the suppliers' order (None: all of it in
                their order). No home routes with it.
            use: ``[S, C, K]`` the part of ``need`` (at most it) customers use before an
                order can arrive, filled first, before restocking (None: pro rata to need).
            weights: ``[S, P, K]`` what customers spread need by in the first pass's first
                round, then by ``avail`` (None: by ``avail`` throughout).
        """
        totals = self._lane_totals(avail, need, normal_avail, normal_need, products)
        lanes = _every_sample(totals, _samples(allowed, home_share, withheld))
        caps = self._held_caps(lanes, (allowed, withheld, in_force), reference, index)
        used = _use_lanes(self, use, lanes[1], products)
        if weights is not None:  # a fifth lane total (`_in_turn`)
            lanes.append(self._weights_sl(weights, lanes[0], products))
        if first is None:
            x_sl = self._flows(caps, home_share, lanes, used)
        else:
            assert home_share is None, "supply offered first and home routes"
            x_sl = self._first_then_in_order(caps, lanes, first, products, used)
        sup_share = self.sup.share_sl(avail, totals[0], _traded(avail, products))
        cus_share = _customer_shares(self, (need, use), (totals[1], lanes[1]), used, products)
        return Flow(self, sup_share, cus_share, x_sl=x_sl)

    def _held_caps(
        self,
        lanes: list[np.ndarray],
        controls: tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None],
        reference: Reference | None,
        index: float | np.ndarray,
    ) -> _Caps:
        """What ``controls = (allowed, withheld, in_force)`` (`allocate`) let through, with
        lanes' normal levels (``lanes[2:4]``) held by the ``reference`` while one is in force."""
        allowed, withheld, in_force = controls
        in_force = withheld > 0.0 if withheld is not None and in_force is None else in_force
        if reference is not None:
            active = _in_force(allowed, in_force, self.reached)
            lanes[2], lanes[3] = reference.hold(active, lanes[2], lanes[3], index)
        return _Caps.of(allowed, withheld, in_force, lanes[0].shape[2])

    def _weights_sl(
        self, weights: np.ndarray, supply_sl: np.ndarray, products: np.ndarray | None
    ) -> np.ndarray:
        """Supplier lanes' ``weights[S, P, K]``, samples-last as ``supply_sl``."""
        weights_sl = self.sup.sum_to_sl(weights, supply_sl.shape[1], _traded(weights, products))
        return _every_sample([weights_sl], supply_sl.shape[2])[0]

    def _flows(
        self,
        caps: _Caps,
        home_share: np.ndarray | None,
        lanes: list[np.ndarray],
        use: tuple[np.ndarray | None, np.ndarray | None],
    ) -> np.ndarray:
        """Lane-edge flows ``[edges, K, S]``: pro rata over all routes, or home first for
        ``home_share`` of the step, or a mix of the two, a sample each; ``use`` is lanes'
        use and what they got of it (`_in_turn`)."""
        world_passes = self.in_order or self._world
        if home_share is None:
            return _in_turn(self, world_passes, caps, lanes, use=use)
        share = spread(home_share, (lanes[0].shape[2],))
        if np.all(share == 0.0):
            return _in_turn(self, world_passes, caps, lanes, use=use)
        assert self._home is not None, "a market without home routes"
        home = _in_turn(self, (self._home, *world_passes), caps, lanes, use=use)
        if np.all(share == 1.0):
            return home
        # a mix of the two: what lanes got in first fills is the two's, added
        world = _in_turn(self, world_passes, caps, lanes, use=use)
        # exact where a sample is all one or the other: its numbers are its own single run's
        return np.where(
            share == 1.0, home, np.where(share == 0.0, world, world + (home - world) * share)
        )

    def _lane_totals(
        self,
        avail: np.ndarray,
        need: np.ndarray,
        normal_avail: np.ndarray | None,
        normal_need: np.ndarray | None,
        products: np.ndarray | None,
    ) -> list[np.ndarray]:
        """Lanes' supply, need and normal levels, samples-last ``[lanes, K, S or 1]``."""
        width = avail.shape[2] if products is None else len(products)
        sup, cus = self.sup, self.cus
        supply_sl = sup.sum_to_sl(avail, width, _traded(avail, products))
        need_sl = cus.sum_to_sl(need, width, _traded(need, products))
        normal_supply_sl = (
            supply_sl
            if normal_avail is None
            else sup.sum_to_sl(normal_avail, width, _traded(normal_avail, products))
        )
        normal_need_sl = (
            need_sl
            if normal_need is None
            else cus.sum_to_sl(normal_need, width, _traded(normal_need, products))
        )
        return [supply_sl, need_sl, normal_supply_sl, normal_need_sl]

    def _first_then_in_order(
        self,
        caps: _Caps,
        lanes: list[np.ndarray],
        first: np.ndarray,
        products: np.ndarray | None,
        use: tuple[np.ndarray | None, np.ndarray | None],
    ) -> np.ndarray:
        """Flows ``[edges, K, S]``: suppliers' ``first[S, P, K]`` over all routes at once,
        then what is left of their supply in their order."""
        width, samples = lanes[0].shape[1:]
        first_sl = self.sup.sum_to_sl(first, width, _traded(first, products))
        first_sl = _every_sample([first_sl], samples)[0]
        passes = (*self._world, *(self.in_order or self._world))
        return _in_turn(self, passes, caps, lanes, first_supply_sl=first_sl, use=use)


class _Turn:
    """One pass of allocations in turn: the world's, or a market's routes picked by
    ``routes`` (``[G, H or 1, 1]``, multiplying its open routes), built when first run (a pass
    never run, as the home routes' without an export restraint, is never built); ``lanes``:
    the supplier lanes it draws on (None: all), a pass whose suppliers have nothing left is
    not run."""

    def __init__(
        self,
        over: AllocationPass | Market,
        routes: np.ndarray | None = None,
        lanes: np.ndarray | None = None,
    ) -> None:
        self.rows = None if lanes is None else np.flatnonzero(lanes)
        self._pass = over if isinstance(over, AllocationPass) else None
        self._market, self._routes = over, routes

    @property
    def allocate(self) -> AllocationPass:
        """The pass."""
        if self._pass is None:
            market = self._market
            assert isinstance(market, Market) and self._routes is not None
            self._pass = market.allocation(market.open * self._routes)
        return self._pass


class _Caps(NamedTuple):
    """What controls let through: routes' own shares ``allowed[S, G, H, K]``, each scope's
    withheld share and whether it is in force (1 or 0), samples-last ``withheld_sl[scopes,
    S]`` and ``on_sl[scopes, S]`` (None: none)."""

    allowed: np.ndarray | None
    withheld_sl: np.ndarray | None
    on_sl: np.ndarray | None

    @classmethod
    def of(
        cls,
        allowed: np.ndarray | None,
        withheld: np.ndarray | None,
        in_force: np.ndarray | None,
        samples: int,
    ) -> _Caps:
        """The caps of routes' ``allowed`` shares and scopes' ``withheld`` shares and
        ``in_force`` flags (``[S, scopes]`` each), for ``samples`` samples."""
        on = None if in_force is None else _samples_last(in_force * 1.0, samples)
        return cls(allowed, _samples_last(withheld, samples), on)


def _samples(*arrays: np.ndarray | None) -> int:
    """Samples the market's arrays must have: those of the controls' shares or the home
    share (1 if none is per sample)."""
    return max(1 if a is None else np.shape(a)[0] for a in arrays)


def _samples_last(withheld: np.ndarray | None, samples: int) -> np.ndarray | None:
    """``withheld[S or 1, scopes]`` as ``[scopes, samples]`` (C-ordered)."""
    if withheld is None:
        return None
    return np.ascontiguousarray(spread(withheld.T, (withheld.shape[1], samples)))


def _in_force(
    allowed: np.ndarray | None, in_force: np.ndarray | None, reached: np.ndarray
) -> np.ndarray | None:
    """``[S]`` whether some control is in force in each sample on routes of the market
    (None: in none)."""
    parts = []
    if allowed is not None:
        parts.append((allowed < 1.0).reshape(allowed.shape[0], -1).any(axis=1))
    if in_force is not None:
        parts.append(in_force[:, reached].any(axis=1))
    if not parts:
        return None
    return np.asarray(parts[0] if len(parts) == 1 else parts[0] | parts[1])


def _traded(a: np.ndarray, products: np.ndarray | None) -> np.ndarray | None:
    """Which columns of ``a`` are traded: ``products`` if ``a`` is wider than one column."""
    return products if products is not None and a.shape[2] > 1 else None


def _customer_shares(
    market: Market,
    wants: tuple[np.ndarray, np.ndarray | None],
    lane_need: tuple[np.ndarray, np.ndarray],
    used: tuple[np.ndarray | None, np.ndarray | None],
    products: np.ndarray | None,
) -> np.ndarray:
    """Customers' shares of what their lanes received, samples-last: pro rata to need, or
    with use apart (``wants = (need, use)``) each as it would be filled in a lane of its own
    (`Grouping.use_first_share_sl`). ``lane_need``: lanes' need as summed and for every
    sample; ``used``: `_use_lanes`'s, filled in."""
    need, use = wants
    use_sl, lane_in = used
    if use is None or use_sl is None or lane_in is None:
        return market.cus.share_sl(need, lane_need[0], _traded(need, products))
    totals = (lane_need[1], use_sl)
    return market.cus.use_first_share_sl((need, use), totals, lane_in, _traded(need, products))


def _use_lanes(
    market: Market, use: np.ndarray | None, need_sl: np.ndarray, products: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Lanes' use, samples-last as their need ``need_sl``, and a zeroed ``[2, lanes, K, S]``
    for what they get in first fills and in all (`_in_turn`); (None, None) without use."""
    if use is None:
        return None, None
    use_sl = market.cus.sum_to_sl(use, need_sl.shape[1], _traded(use, products))
    use_sl = _every_sample([use_sl], need_sl.shape[2])[0]
    return use_sl, np.zeros((2, *use_sl.shape))


def _in_turn(
    market: Market,
    passes: tuple[_Turn, ...],
    caps: _Caps,
    lanes: list[np.ndarray],
    first_supply_sl: np.ndarray | None = None,
    use: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> np.ndarray:
    """Flows ``[edges, K, S]`` of ``market``'s ``passes`` in turn, each from what the ones
    before left of ``lanes``' supply, need and normal levels, and of their use (lane totals
    samples-last, every sample, and a fifth, suppliers' weights for the first pass's first
    round, if given); the first pass offers ``first_supply_sl`` of the supply if given. A
    pass whose suppliers have nothing left (beyond rounding's crumbs, `CRUMB_T`, left with
    them) is not run. ``use = (use_sl, lane_in)``: lanes' use, filled first in
    each pass, and what they got in the passes' first fills and in all, added up in
    ``lane_in`` (None: no use apart). Members' shares read the sums: exact for one pass; over
    several (an export restraint's home pass, then the world's) they share each lane's
    receipts as one two-fill pass would, which conserves them but is not each pass's split."""
    supply_sl, need_sl, normal_supply_sl, normal_need_sl = lanes[:4]
    weights_sl = lanes[4] if len(lanes) > 4 else None  # the first pass's alone
    use_sl, lane_in = use
    got_in = None if lane_in is None else np.empty_like(lane_in)
    first = supply_sl if first_supply_sl is None else first_supply_sl
    flows = passes[0].allocate.allocate_sl(
        first,
        need_sl,
        caps.allowed,
        normal_supply_sl,
        normal_need_sl,
        caps.withheld_sl,
        caps.on_sl,
        use_sl,
        lane_in,
        weights_sl,
    )
    sent = market.edge_sup.sum_sl(flows)
    left = np.maximum(supply_sl - sent, 0.0)
    for later in passes[1:]:
        if later.rows is not None and not any_above(left, later.rows, CRUMB_T):
            continue
        got = market.edge_cus.sum_sl(flows)
        flows = flows + later.allocate.allocate_sl(
            left,
            np.maximum(need_sl - got, 0.0),
            caps.allowed,
            np.maximum(normal_supply_sl - sent, 0.0),
            np.maximum(normal_need_sl - got, 0.0),
            caps.withheld_sl,
            caps.on_sl,
            None if use_sl is None else np.maximum(use_sl - got, 0.0),
            got_in,
        )
        if lane_in is not None and got_in is not None:
            lane_in += got_in
        sent = market.edge_sup.sum_sl(flows)
        left = np.maximum(supply_sl - sent, 0.0)
    return flows


def _every_sample(arrays: list[np.ndarray], samples: int) -> list[np.ndarray]:
    """Samples-last ``arrays[n, K, S or 1]``, each with a column for every sample of any of
    them, and at least ``samples`` (C-ordered)."""
    samples = max(samples, *(a.shape[2] for a in arrays))
    return [
        a
        if a.shape[2] == samples
        else np.ascontiguousarray(np.broadcast_to(a, (*a.shape[:2], samples)))
        for a in arrays
    ]


class MarketCache:
    """Markets built once, for chains that share their routes: the same `Market` object for
    the same arguments.

    A sweep's batches, and a run's one-sample prefix and its full chain, build markets of
    the same routes; building one groups routes and plans every pass, so whoever runs those
    chains owns one cache and passes it to each (`sim.model.chain.Chain`'s ``market_cache``).
    A market changes after it is built only in caches of what its arguments determine (pass
    structures, shipping plans) and of the last control shares it saw (kept by identity, and
    checked against the number of samples), so chains of any size may share it. Holds at most
    ``size`` markets, dropping the oldest.
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._markets: dict[tuple[str, int], Market] = {}

    def get(self, open_: np.ndarray, priority: np.ndarray, **kwargs: Any) -> Market:
        """`Market` ``(open_, priority, **kwargs)``, built on the first call with arguments
        of these values (compared by their bytes, dtypes and shapes)."""
        key = _market_key(open_, priority, **kwargs)
        if key not in self._markets:
            if len(self._markets) >= self.size:
                del self._markets[next(iter(self._markets))]  # the oldest
            self._markets[key] = Market(open_, priority, **kwargs)
        return self._markets[key]


def _market_key(open_: np.ndarray, priority: np.ndarray, **kwargs: Any) -> tuple[str, int]:
    """A digest of `Market`'s arguments' values, and how many there are."""
    keys = ("home", "sup_key", "cus_key", "scope_groups", "sup_order")
    parts = [open_, priority] + [kwargs.get(k) for k in keys]
    parts += list(kwargs.get("scopes", ()))
    parts += list(kwargs.get("china") or (None, None))
    digest = hashlib.sha1()
    for part in parts:
        a = np.ascontiguousarray(part if part is not None else np.zeros(0))
        digest.update(f"{a.dtype}{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest(), len(parts)

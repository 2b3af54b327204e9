"""The allocation pass: a market's lanes grouped further into the coarsest classes that face
the same routes, controls and priority, and allocated between along the routes that may carry
flow, tier by tier (highest priority first), pro rata.

Each customer spreads its need over the suppliers it may buy from in proportion to what they
have (or, in the first round, to weights a market passes: in the metal market, what suppliers
have been able to deliver, `sim.model.levers.qualification`), suppliers that are asked for
more than they have scale every request down, and unmet need is asked again of what is left
(``ROUNDS`` rounds). Controls cap the flow over the routes
each reaches (its cap group, `sim.market.cap_groups`): at most their normal flow (what they
carry uncontrolled, from normal supply and need) less the share ``withheld``; a route may also
have a cap of its own, ``allowed`` times its normal flow. `AllocationPass` holds the
structure; the rounds run compiled (`sim.market.allocation_kernels.allocate_pass`), samples
innermost.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim.market.allocation_kernels import allocate_pass
from sim.market.cap_groups import CapGroups, cap_groups
from sim.market.grouping_kernels import edges_samples_last
from sim.market.groupings import Grouping, class_labels
from sim.market.pass_index import PassIndex

ROUNDS = 4
TINY = 1e-12


class LaneEdges(NamedTuple):
    """The market's lane edges (pairs of lanes that may carry flow) against a pass's edges."""

    class_edge: np.ndarray  # each lane edge's class edge, -1 where the pass does not open it
    sup_lane: np.ndarray  # each lane edge's supplier lane
    cus_lane: np.ndarray  # each lane edge's customer lane


class Tier:
    """The routes that may carry flow to one priority tier's customer classes, as a list of
    edges (``sup``, ``cus``), ``cus`` counted within the tier, sorted by customer."""

    def __init__(self, open_: np.ndarray, members: np.ndarray, start: int) -> None:
        """Edges of routes ``open_[G, H, K]`` to customer classes ``members``, numbered from
        ``start`` among the pass's edges."""
        sup, cus = np.nonzero(open_[:, members].any(axis=2))
        order = np.lexsort((sup, cus))
        self.sup, self.cus = sup[order], cus[order]
        self.members = members
        self.open = open_[self.sup, members[self.cus]]  # [edges, K]
        self.by_sup = Grouping(self.sup, open_.shape[0])
        self.by_cus = Grouping(self.cus, len(members))
        self.edges = slice(start, start + len(self.sup))


def tiers_of(open_: np.ndarray, priority: np.ndarray) -> list[Tier]:
    """The tiers of customer classes of ``priority[H]``, highest first, on routes ``open_``."""
    tiers: list[Tier] = []
    start = 0
    for level in sorted(set(priority.tolist()), reverse=True):
        tiers.append(Tier(open_, np.flatnonzero(priority == level), start))
        start = tiers[-1].edges.stop
    return tiers


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """``parts`` end to end as one int64 array (empty without parts)."""
    return np.concatenate([*parts, np.zeros(0, dtype=np.int64)]).astype(np.int64)


class AllocationPass:
    """One allocation over a market's lanes, grouped further into the coarsest classes of
    suppliers and customers that face the same open routes, controls and priority."""

    def __init__(
        self,
        open_: np.ndarray,
        priority: np.ndarray,
        scopes: list[np.ndarray],
        lane_edges: tuple[np.ndarray, np.ndarray],
        groups: np.ndarray,
        china: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """A pass over lanes' routes ``open_[G, H, K]``, customer lanes' ``priority[H]`` and
        controls' ``scopes`` (lane level) in cap ``groups`` (a number a scope), for the
        market's ``lane_edges`` (each edge's supplier lane and customer lane); ``china``
        (supplier lanes' and customer lanes' tier, True for China) nets two-way trade between
        the tiers (`sim.market.net_kernels`; None: none)."""
        tier_sup, tier_cus = (np.zeros(0), np.zeros(0)) if china is None else china
        by_tier = () if china is None else (np.asarray(tier_sup, dtype=float),)
        self.sup = Grouping(class_labels(open_, *scopes, *by_tier))
        by_tier = () if china is None else (np.asarray(tier_cus, dtype=float),)
        self.cus = Grouping(
            class_labels(
                open_.swapaxes(0, 1), priority, *(s.swapaxes(0, 1) for s in scopes), *by_tier
            )
        )
        self.open = np.take(np.take(open_, self.sup.first, 0), self.cus.first, 1)
        self.priority = priority[self.cus.first]
        self.tiers = tiers_of(self.open, self.priority)
        sup = _joined([t.sup for t in self.tiers])
        cus = _joined([t.members[t.cus] for t in self.tiers])
        self.flat = sup * self.open.shape[1] + cus  # each edge's place in a [G * H] matrix
        # each edge's first supplier and customer (the lanes of its classes)
        self.edge_sup_lane = self.sup.first[sup].astype(np.int64)
        self.edge_cus_lane = self.cus.first[cus].astype(np.int64)
        # Each lane edge's class edge (or -1 where this pass does not open it).
        where = np.full(self.open.shape[0] * self.open.shape[1], -1)
        where[self.flat] = np.arange(len(self.flat))
        sup_lane, cus_lane = lane_edges
        at = self.sup.labels[sup_lane] * self.open.shape[1] + self.cus.labels[cus_lane]
        self.lane_edges = LaneEdges(
            *(np.asarray(v, dtype=np.int64) for v in (where[at], sup_lane, cus_lane))
        )
        self.groups = _cap_groups(self, scopes, groups, sup, cus)
        self.netting = _netting(
            self,
            sup,
            cus,
            None
            if china is None
            else (
                np.asarray(tier_sup, bool)[self.sup.first],
                np.asarray(tier_cus, bool)[self.cus.first],
            ),
        )
        self._index: dict[int, PassIndex] = {}  # by products' width
        self._allowed: tuple[np.ndarray, np.ndarray] | None = None  # the last controls' edges

    def index(self, width: int) -> PassIndex:
        """This pass's structure as `allocate_pass` reads it, for products ``width`` wide."""
        if width not in self._index:
            tiers, sup, cus, lanes = self.tiers, self.sup, self.cus, self.lane_edges
            opened = [np.broadcast_to(t.open, (t.sup.size, width)) for t in tiers]
            groups = self.groups.widened(width)
            self._index[width] = PassIndex(
                sup_trivial=sup.trivial,
                sup_ptr=sup.ptr,
                sup_order=sup.order,
                sup_labels=sup.labels_i64,
                cus_trivial=cus.trivial,
                cus_ptr=cus.ptr,
                cus_order=cus.order,
                cus_labels=cus.labels_i64,
                edge_bounds=np.array([0] + [t.edges.stop for t in tiers], dtype=np.int64),
                member_bounds=np.cumsum([0] + [len(t.members) for t in tiers]).astype(np.int64),
                members=_joined([t.members for t in tiers]),
                edge_sup=_joined([t.sup for t in tiers]),
                edge_cus=_joined([t.cus for t in tiers]),
                edge_sup_ptr=_joined([t.by_sup.ptr for t in tiers]),
                edge_sup_order=_joined([t.by_sup.order for t in tiers]),
                edge_cus_ptr=_joined([t.by_cus.ptr for t in tiers]),
                edge_cus_order=_joined([t.by_cus.order for t in tiers]),
                opened=np.ascontiguousarray(np.concatenate(opened + [np.zeros((0, width))])),
                lane_class_edge=lanes.class_edge,
                lane_sup=lanes.sup_lane,
                lane_cus=lanes.cus_lane,
                **{f"group_{name}": a for name, a in groups._asdict().items()},
                **{f"net_{name}": a for name, a in self.netting._asdict().items()},
            )
        return self._index[width]

    def allowed_on_edges(self, allowed: np.ndarray, width: int, samples: int) -> np.ndarray:
        """Lanes' ``allowed[S, G, H, K]`` on this pass's edges, samples-last ``[edges, K, S]``
        (read between classes' first lanes: it is constant within a class by construction).
        Controls' shares change only when a control does (a new array then): kept."""
        held = self._allowed
        shape = (self.flat.size, width, samples)
        if held is not None and held[0] is allowed and held[1].shape == shape:
            return held[1]
        edges = np.empty(shape)
        edges_samples_last(
            np.asarray(allowed, dtype=float), self.edge_sup_lane, self.edge_cus_lane, edges
        )
        self._allowed = (allowed, edges)
        return edges

    def allocate_sl(
        self,
        supply_sl: np.ndarray,
        need_sl: np.ndarray,
        allowed: np.ndarray | None,
        normal_supply_sl: np.ndarray,
        normal_need_sl: np.ndarray,
        withheld_sl: np.ndarray | None = None,
        on_sl: np.ndarray | None = None,
        use_sl: np.ndarray | None = None,
        lane_in: np.ndarray | None = None,
        weights_sl: np.ndarray | None = None,
    ) -> np.ndarray:
        """Flows on the market's lane edges, ``[edges, K, S]``, from lanes' supply, need and
        normal levels, all samples-last ``[lanes, K, S]`` (C-ordered, every sample);
        ``withheld_sl[scopes, S]`` is the share of normal flow each scope withholds and
        ``on_sl[scopes, S]`` 1 where it is in force (C-ordered; ``None``: none withheld; in
        force where something is) and ``allowed[S, G, H, K]`` the lanes' own share (``None``:
        all); ``use_sl`` (at most ``need_sl``) is the part of lanes' need filled first, their
        use (``None``: none apart), and then ``lane_in[2, lanes, K, S]`` gets what each lane
        got in that first fill and in both (before two-way trade is netted out);
        ``weights_sl`` (as ``supply_sl``) is what customers spread their need by in a tier's
        first round, the suppliers they have qualified (``None``: by supply)."""
        K, S = supply_sl.shape[1], supply_sl.shape[2]
        # no edges or scopes: nothing read, so left empty
        edges = np.empty((0, K, S)) if allowed is None else self.allowed_on_edges(allowed, K, S)
        if withheld_sl is None:
            withheld_sl = on_sl = np.empty((0, S))
        elif on_sl is None:
            on_sl = np.ascontiguousarray((withheld_sl > 0.0) * 1.0)
        out = np.empty((self.lane_edges.class_edge.size, K, S))
        allocate_pass(
            supply_sl,
            need_sl,
            need_sl if use_sl is None else use_sl,
            use_sl is not None,
            normal_supply_sl,
            normal_need_sl,
            edges,
            allowed is not None,
            withheld_sl,
            on_sl,
            (np.empty((0, K, S)), False) if weights_sl is None else (weights_sl, True),
            self.index(K),
            ROUNDS,
            TINY,
            out,
            np.empty((2, 0, K, S)) if lane_in is None else lane_in,
        )
        return out


class Netting(NamedTuple):
    """A pass's parts whose two-way trade between the tiers is netted out (`PassIndex`'s
    ``net_`` fields)."""

    part: np.ndarray
    dir: np.ndarray
    cus: np.ndarray
    pair_ptr: np.ndarray
    pair_sup: np.ndarray
    pair_cus: np.ndarray
    pair_edge: np.ndarray


def _netting(
    p: AllocationPass,
    sup: np.ndarray,
    cus: np.ndarray,
    china: tuple[np.ndarray, np.ndarray] | None,
) -> Netting:
    """Pass ``p``'s netting parts, on its edges (supplier classes ``sup``, customer classes
    ``cus``), from its classes' tiers ``china`` (None: no part). A part is a connected set of
    classes with routes out of China and into it, whose routes within each tier are all open
    for every product."""
    E = len(sup)
    part, direction = np.full(E, -1, dtype=np.int64), np.zeros(E, dtype=np.int64)
    ptr, pairs = [0], []
    if china is not None and E:
        sup_cn, cus_cn = china
        G, H = p.open.shape[:2]
        direction = (sup_cn[sup] & ~cus_cn[cus]).astype(np.int64) - (~sup_cn[sup] & cus_cn[cus])
        where = np.full((G, H), -1)
        where[sup, cus] = np.arange(E)
        opened = p.open[sup, cus].all(axis=1)
        for members in _components(sup, cus, G, H):
            gs, hs = members[members < G], members[members >= G] - G
            edges = np.flatnonzero(np.isin(sup, gs))
            spans = [(gs[sup_cn[gs] == side], hs[cus_cn[hs] == side]) for side in (True, False)]
            within = [where[np.ix_(g, h)] for g, h in spans]
            whole = all((w >= 0).all() and opened[w].all() for w in within)
            if not (whole and (direction[edges] > 0).any() and (direction[edges] < 0).any()):
                continue
            part[edges] = (len(ptr) - 1) // 2
            for (g, h), w in zip(spans, within):
                pairs += [(e, a, b) for a, row in zip(g, w) for b, e in zip(h, row)]
                ptr.append(len(pairs))
    edge, pair_sup, pair_cus = (np.array([q[i] for q in pairs], dtype=np.int64) for i in range(3))
    return Netting(
        part,
        direction.astype(np.int64),
        np.asarray(cus, dtype=np.int64),
        np.array(ptr, dtype=np.int64),
        pair_sup,
        pair_cus,
        edge,
    )


def _components(sup: np.ndarray, cus: np.ndarray, G: int, H: int) -> list[np.ndarray]:
    """The connected sets of classes (suppliers ``0..G``, customers ``G..G + H``) that the
    edges (``sup``, ``cus``) join, each sorted, in order of their first class."""
    root = list(range(G + H))

    def find(a: int) -> int:
        while root[a] != a:
            root[a] = root[root[a]]
            a = root[a]
        return a

    for g, h in zip(np.asarray(sup).tolist(), np.asarray(cus).tolist()):
        a, b = find(g), find(G + h)
        if a != b:
            root[max(a, b)] = min(a, b)
    members: dict[int, list[int]] = {}
    for node in range(G + H):
        members.setdefault(find(node), []).append(node)
    return [np.array(m, dtype=np.int64) for m in members.values()]


def _cap_groups(
    p: AllocationPass,
    scopes: list[np.ndarray],
    groups: np.ndarray,
    sup: np.ndarray,
    cus: np.ndarray,
) -> CapGroups:
    """Pass ``p``'s cap groups of lane-level ``scopes`` numbered ``groups``, on its edges
    (supplier classes ``sup``, customers ``cus``)."""
    between = [np.take(np.take(s, p.sup.first, 0), p.cus.first, 1) for s in scopes]
    return cap_groups(between, groups, (sup, cus), p.open[sup, cus])

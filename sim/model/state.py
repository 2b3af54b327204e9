"""A run's state: what changes during a run, one row a sample (stocks, pipelines, rates,
capacity, prices, levels), apart from the chain's structure (`sim.model.chain.Chain`).

`State.initial` puts stocks and pipelines near steady state at the first warm-up step.
`State.copy` copies every array; `State.repeat` turns the state of a one-sample run into the
state of a batch whose samples all had that history (`sim.runs.history`).

Upstream of the oxides (mines' stocks, separation plants' feed, the concentrate pipeline) the
state is kept as one row for every sample while it is the same in all (`State.upstream`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.arrays import spread
from sim.market import Reference
from sim.model.capacity import capacity_at
from sim.model.chain import Chain
from sim.model.controls import withheld_shares
from sim.model.levers import buying, qualification, thrifting
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS, ProducerState
from sim.model.levers.origin import OriginShares
from sim.model.levers.stockpiles import StockpileState
from sim.model.levers.thrifting import LEVERS
from sim.model.pipeline import Pipeline
from sim.model.trade import MARKETS
from sim.units import ELEMENTS, MAGNETS, REO_TO_ELEMENT


def _rows_same(a: np.ndarray) -> bool:
    """Whether every row (axis 0) of ``a`` is the same."""
    return bool((a[1:] == a[:1]).all())


@dataclass
class State:
    """Everything a run changes, ``S`` samples (``R``: upstream rows, 1 or ``S``); tonnes of
    contained element unless said. The stages (`sim.model.stages`, `sim.model.trading`) and
    the clock's switches write its fields; the levers' parts change through their modules."""

    capacity: np.ndarray  # [S, F] t a step, after outages and producers' levels
    new_capacity: np.ndarray  # [S, F] the part of it from projects, t a step
    upstream_rows: int  # R
    mine_stock: np.ndarray  # [R, mines, E]
    sep_in: np.ndarray  # [R, separation plants, E] feed held
    sep_out: np.ndarray  # [S, separation plants, E] separated oxide held
    metal_in: np.ndarray  # [S, metal plants, E] oxide held
    mag_in: np.ndarray  # [S, magnet plants, E] metal held
    inventory: np.ndarray  # [S, B] buyers' stocks, t of their material
    thrifted: np.ndarray  # [S, B, L] their thrifted tonnes (`sim.model.levers.thrifting`)
    lead_seen: np.ndarray  # [S, magnet buyers] months their magnets take, as they have seen it
    oxide_lead_seen: np.ndarray  # [S, element buyers] the same for buyers of elements
    thrift_levels: np.ndarray  # [S, K, L] each tier's magnet makers' level of each lever
    used: np.ndarray  # [S, B] what buyers used this step, t of their material
    use_levels: np.ndarray  # [S, B] buyers' use of their demand path, after price
    cover_levels: np.ndarray  # [S, B] multiplier of the stock buyers aim to hold
    expected: np.ndarray  # [S, B] the price each buyer expects (its recent average)
    magnet_use_rate: np.ndarray  # [S, magnet plants, E] planned metal use a step
    metal_use_rate: np.ndarray  # [S, metal plants, E] planned oxide use a step
    metal_qualified: np.ndarray  # [S, metal plants, E] metal orders' weights (qualification)
    pipelines: dict[str, Pipeline]  # by route; concentrate's holds R rows
    separated: np.ndarray  # [R or S, separation plants, E] this step's separated oxide
    fills_now: np.ndarray  # [S, P, K] share of running use the markets covered, last step
    prices: np.ndarray  # [S, P, K] US$/kg each market cleared at, last step (before caps)
    normal_cover: np.ndarray  # [S, P, K + 1] months of use held at the end of the warm-up
    last_cover: np.ndarray  # [S, P, K + 1] months of use held last step
    market_views: np.ndarray  # [S, P, K, 2] holders' expected price and wanted cover level
    supply_levels: np.ndarray  # [S, R] each supply response's capacity multiplier
    control_levels: list[np.ndarray]  # [S] each control's withheld share this step
    control_on: list[np.ndarray]  # [S] whether each control is in force this step
    outage_levels: list[np.ndarray]  # [S] each outage's share of this step
    withheld: dict[str, np.ndarray | None]  # [S, scopes] each market's withheld shares
    in_force: dict[str, np.ndarray | None]  # [S, scopes] each market's scopes in force
    dear_at_home: np.ndarray  # [S, P] where China's market was the dear one, last step
    references: dict[str, Reference]  # each market's normal levels, held while a control is on
    producers: list[ProducerState]
    stockpiles: list[StockpileState]
    substitution_shares: list[np.ndarray]  # [S, its buyers] each substitution's switched share
    origin_shares: dict[str, OriginShares]  # by exporter
    # this step's demand once worked out (`sim.model.orders.demand_at`), until what it
    # depends on changes (substitution, buyers' use levels); None between steps
    demand_now: tuple[int, np.ndarray] | None = None

    @classmethod
    def initial(cls, chain: Chain) -> State:
        """Stocks and pipelines near steady state at the first warm-up step; every lever at
        rest."""
        S, zeros = chain.samples, [np.zeros(chain.samples) for _ in chain.controls]
        capacity, new_capacity = capacity_at(
            chain.tranches,
            -chain.warmup,
            chain.warmup,
            S,
            chain.outages,
            [np.zeros(S) for _ in chain.outages],
            chain.growth_changes,
        )
        cap = capacity[0]
        magnet_rate, metal_rate = _plant_rates(chain, cap)
        plant_cover = chain.params["plant_input_cover_months"]
        sep_in, sep_out = _separation_stocks(chain, cap)
        return cls(
            capacity=capacity,
            new_capacity=new_capacity,
            upstream_rows=1,
            mine_stock=np.zeros((1, len(chain.stage("mine")), len(ELEMENTS))),
            sep_in=sep_in,
            sep_out=sep_out,
            metal_in=metal_rate * plant_cover,
            mag_in=magnet_rate * plant_cover,
            inventory=np.array(spread(chain.demand_path[0] * chain.cover, (S, len(chain.buyers)))),
            thrifted=np.zeros((S, len(chain.buyers), len(LEVERS))),
            lead_seen=np.tile(chain.buyer_lead[chain.magnet_buyers], (S, 1)),
            oxide_lead_seen=np.tile(chain.buyer_lead[chain.element_buyers], (S, 1)),
            thrift_levels=np.zeros((S, len(TIERS), len(LEVERS))),
            used=np.zeros((S, len(chain.buyers))),
            use_levels=np.ones((S, len(chain.buyers))),
            cover_levels=np.ones((S, len(chain.buyers))),
            expected=buying.watched(chain.buying, chain.economics.base_at(-chain.warmup)).copy(),
            magnet_use_rate=magnet_rate,
            metal_use_rate=metal_rate,
            metal_qualified=_metal_available(chain, metal_rate * plant_cover, cap),
            pipelines=_pipelines(chain),
            separated=np.zeros((S, len(chain.stage("separation")), len(ELEMENTS))),
            fills_now=np.ones((S, len(PRICE_PRODUCTS), len(TIERS))),
            prices=np.array(chain.economics.base_at(-chain.warmup), dtype=float),
            normal_cover=np.zeros((S, len(PRICE_PRODUCTS), len(TIERS) + 1)),
            last_cover=np.zeros((S, len(PRICE_PRODUCTS), len(TIERS) + 1)),
            market_views=np.ones((S, len(PRICE_PRODUCTS), len(TIERS), 2)),
            supply_levels=np.ones((S, len(chain.supply_responses))),
            control_levels=zeros,
            control_on=[np.zeros(S, dtype=bool) for _ in chain.controls],
            outage_levels=[np.zeros(S) for _ in chain.outages],
            withheld={m: None for m in MARKETS},
            in_force={m: None for m in MARKETS},
            dear_at_home=np.zeros((S, len(PRICE_PRODUCTS)), dtype=bool),
            references={m: Reference() for m in MARKETS},
            producers=chain.economics.initial_producers(),
            stockpiles=_stockpiles(chain),
            substitution_shares=[np.zeros((S, len(sub.buyers))) for sub in chain.substitutions],
            origin_shares=chain.origin_rule.initial_shares(S),
        )

    def copy(self) -> State:
        """An independent copy: every array copied."""
        return self._replicate(lambda a, axis: a.copy(), lambda part: part.copy())

    def repeat(self, samples: int) -> State:
        """This one-sample state for a batch of ``samples`` samples that all had its history
        (upstream rows stay one row for every sample)."""
        assert self.inventory.shape[0] == 1, "a one-sample state"
        return self._replicate(
            lambda a, axis: np.repeat(a, samples, axis=axis), lambda part: part.repeat(samples)
        )

    def _replicate(
        self,
        each: Callable[[np.ndarray, int], np.ndarray],
        part: Callable[[Any], Any],
    ) -> State:
        """A state with ``each(array, sample axis)`` of every array kept a sample, copies of
        the upstream rows, and ``part(x)`` of every part with its own state."""
        upstream = ("concentrate",)
        return State(
            capacity=each(self.capacity, 0),
            new_capacity=each(self.new_capacity, 0),
            upstream_rows=self.upstream_rows,
            mine_stock=self.mine_stock.copy(),
            sep_in=self.sep_in.copy(),
            sep_out=each(self.sep_out, 0),
            metal_in=each(self.metal_in, 0),
            mag_in=each(self.mag_in, 0),
            inventory=each(self.inventory, 0),
            thrifted=each(self.thrifted, 0),
            lead_seen=each(self.lead_seen, 0),
            oxide_lead_seen=each(self.oxide_lead_seen, 0),
            thrift_levels=each(self.thrift_levels, 0),
            used=each(self.used, 0),
            use_levels=each(self.use_levels, 0),
            cover_levels=each(self.cover_levels, 0),
            expected=each(self.expected, 0),
            magnet_use_rate=each(self.magnet_use_rate, 0),
            metal_use_rate=each(self.metal_use_rate, 0),
            metal_qualified=each(self.metal_qualified, 0),
            pipelines={
                name: pipe.copy() if name in upstream else part(pipe)
                for name, pipe in self.pipelines.items()
            },
            separated=each(self.separated, 0),
            fills_now=each(self.fills_now, 0),
            prices=each(self.prices, 0),
            normal_cover=each(self.normal_cover, 0),
            last_cover=each(self.last_cover, 0),
            market_views=each(self.market_views, 0),
            supply_levels=each(self.supply_levels, 0),
            control_levels=[each(a, 0) for a in self.control_levels],
            control_on=[each(a, 0) for a in self.control_on],
            outage_levels=[each(a, 0) for a in self.outage_levels],
            withheld={m: None if a is None else each(a, 0) for m, a in self.withheld.items()},
            in_force={m: None if a is None else each(a, 0) for m, a in self.in_force.items()},
            dear_at_home=each(self.dear_at_home, 0),
            references={
                m: ref.copy() if m in upstream else part(ref) for m, ref in self.references.items()
            },
            producers=[part(p) for p in self.producers],
            stockpiles=[part(p) for p in self.stockpiles],
            substitution_shares=[each(a, 0) for a in self.substitution_shares],
            origin_shares={k: part(v) for k, v in self.origin_shares.items()},
        )

    def refresh_withheld(self, chain: Chain) -> None:
        """Each market's withheld shares of normal flow and scopes in force from the
        controls' levels and where China's market is the dear one now."""
        self.withheld, self.in_force = withheld_shares(
            chain.controls, self.control_levels, self.control_on, chain.trade, self.dear_at_home
        )

    def upstream(self, chain: Chain) -> int:
        """Rows of the state upstream of the oxides this step: one for every sample while it
        is the same in all and so is what moves it (mines' and separation plants' capacity,
        the controls on concentrate), as when a sweep draws downstream levers; from the first
        step where that differs, one a sample. Each sample's numbers are those it would get
        alone either way."""
        if self.upstream_rows < chain.samples and self._upstream_differs(chain):
            self._widen_upstream(chain.samples)
        return self.upstream_rows

    def _upstream_differs(self, chain: Chain) -> bool:
        """Whether mines' or separation plants' capacity or the controls on concentrate differ
        between samples this step."""
        cap = self.capacity[:, : chain.slices["separation"].stop]  # mines, separation
        withheld, on = self.withheld["concentrate"], self.in_force["concentrate"]
        return not (
            _rows_same(cap)
            and (withheld is None or _rows_same(withheld))
            and (on is None or _rows_same(on))
        )

    def _widen_upstream(self, samples: int) -> None:
        """Give every sample its own rows upstream of the oxides."""
        self.mine_stock = np.repeat(self.mine_stock, samples, axis=0)
        self.sep_in = np.repeat(self.sep_in, samples, axis=0)
        self.pipelines["concentrate"].widen(samples)
        self.upstream_rows = samples

    def holdings(self, chain: Chain) -> np.ndarray:
        """Every stock and pipeline in tonnes of contained element, ``[S, E]``."""
        total = (
            self.mine_stock.sum(1)
            + self.sep_in.sum(1)
            + self.sep_out.sum(1)
            + self.metal_in.sum(1)
            + self.mag_in.sum(1)
            + np.einsum("sb,be->se", self.inventory, chain.content)
        )
        pipe = self.pipelines
        for name in ("concentrate", "oxide_metal", "metal"):
            total = total + pipe[name].in_transit().sum(1)
        total = total + np.einsum(
            "sb,be->se",
            pipe["oxide_buyer"].in_transit()[:, :, 0],
            chain.content[chain.element_buyers],
        )
        total = total + np.einsum(
            "sb,be->se", pipe["magnet"].in_transit()[:, :, 0], chain.content[chain.magnet_buyers]
        )
        for rules, pile in zip(chain.stockpiles, self.stockpiles):
            total = total + pile.held[:, None] * rules.content[None]
        if chain.thrift.acts:
            total = total + self._thrifted_elements(chain)
        return total

    def _thrifted_elements(self, chain: Chain) -> np.ndarray:
        """``[S, E]`` what thrifting changed in the elements of the magnets held and on their
        way (their thrifted tonnes of each lever times the change the whole lever makes)."""
        delta = chain.thrift.buyer_delta  # [L, B, E]
        transit = self.pipelines["magnet_thrift"].in_transit()  # [S, magnet buyers, L]
        total = thrifting.contained(chain.thrift, self.thrifted) + np.einsum(
            "sbl,lbe->se", transit, delta[:, chain.magnet_buyers]
        )
        for rules, pile in zip(chain.stockpiles, self.stockpiles):
            if rules.buyers.size:
                total = total + pile.thrifted @ delta[:, rules.buyers[0]]
        return total


def _stockpiles(chain: Chain) -> list[StockpileState]:
    """Each stockpile at its initial holding, nothing of it thrifted."""
    return [
        StockpileState(pile.initial_t.copy(), np.zeros((*pile.initial_t.shape, len(LEVERS))))
        for pile in chain.stockpiles
    ]


def _plant_rates(chain: Chain, cap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Magnet and metal plants' use of their inputs a step, ``[S, plants, E]`` each: magnet
    plants make their magnet's demand, shared by capacity; metal plants make what they need,
    shared by capacity. ``cap``: every facility's capacity, tonnes a step."""
    S, params = chain.samples, chain.params
    demand = chain.demand_path[0][chain.magnet_buyers]
    cap_magnet = cap[chain.slices["magnet"]]
    made = np.zeros(len(cap_magnet))
    for k, name in enumerate(MAGNETS):
        makers = chain.magnet_product == k
        total = demand[[chain.buyers[b].material == name for b in chain.magnet_buyers]].sum()
        if cap_magnet[makers].sum() > 0:
            made[makers] = total * cap_magnet[makers] / cap_magnet[makers].sum()
    magnet_rate = np.tile(made[:, None] * chain.recipe / params["magnet_yield"], (S, 1, 1))
    metal_need = magnet_rate[0].sum(axis=0)
    cap_metal = cap[chain.slices["metal"]]
    share = cap_metal / cap_metal.sum() if cap_metal.sum() > 0 else np.zeros(len(cap_metal))
    metal_rate = np.tile(share[:, None] * metal_need / params["metal_yield"], (S, 1, 1))
    return magnet_rate, metal_rate


def _metal_available(chain: Chain, held: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """What metal plants holding ``held[S, plants, E]`` can make at capacity ``cap`` (every
    facility's, tonnes a step): their customers' first weights (`levers.qualification`)."""
    metal_cap = np.tile(cap[chain.slices["metal"]], (held.shape[0], 1))
    return qualification.available(held, metal_cap, chain.params["metal_yield"])


def _separation_stocks(chain: Chain, cap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Separation plants' feed (one row for every sample) and separated oxide held, at
    capacity ``cap`` (every facility's, tonnes a step) with the mix their mines send."""
    feed = chain.feeds[:, :, 0].T @ (cap[chain.slices["mine"]][:, None] * chain.mine_mix)
    feed_reo = (feed / REO_TO_ELEMENT).sum(axis=1, keepdims=True)
    mix = np.divide(feed, feed_reo, out=np.zeros_like(feed), where=feed_reo > 0)
    cap_s = cap[chain.slices["separation"]]
    sep_in = cap_s[None, :, None] * mix[None] * chain.params["separation_input_cover_months"]
    sep_out = np.tile(cap_s[:, None] * mix * chain.separation_recovery, (chain.samples, 1, 1))
    return sep_in, sep_out


def _pipelines(chain: Chain) -> dict[str, Pipeline]:
    """Empty pipelines on every route, long enough for the longest lead time."""
    S, max_lead = chain.samples, max(float(m.max()) if m.size else 0.0 for m in chain.lead.values())
    plants = {st: len(chain.stage(st)) for st in ("separation", "metal", "magnet")}
    return {
        "concentrate": Pipeline(1, plants["separation"], len(ELEMENTS), max_lead),
        "oxide_metal": Pipeline(S, plants["metal"], len(ELEMENTS), max_lead),
        "oxide_buyer": Pipeline(S, len(chain.element_buyers), 1, max_lead),
        "metal": Pipeline(
            S, plants["magnet"], len(ELEMENTS), max_lead, chain.trade.products["metal"]
        ),
        "magnet": Pipeline(S, len(chain.magnet_buyers), 1, max_lead),
        # the thrifted tonnes of the magnets on their way (`sim.model.levers.thrifting`)
        "magnet_thrift": Pipeline(
            S, len(chain.magnet_buyers), len(LEVERS), max_lead, by_column=True
        ),
    }

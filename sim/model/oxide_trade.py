"""The oxide market: separated oxides go to metal plants and to users of elements.

Offtakes of a separation plant's oxide (`sim.model.levers.offtakes.reserve_oxide`) are served
first; the market (`sim.market.Market`) then allocates what is left by priority, pro rata.
Both ship along the routes' lead times, and the fill shares reported beside the prices count
what the offtakes delivered.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim.market import Destinations, Flow
from sim.model import orders
from sim.model.chain import Chain
from sim.model.controls import dense_allowed
from sim.model.ledger import Ledger
from sim.model.levers import origin
from sim.model.levers.offtakes import reserve_oxide
from sim.model.orders import (
    buyer_need,
    covered_share,
    demand_of,
    position_need,
    receive,
    running_rate,
)
from sim.model.recorder import Recorder, record_fill
from sim.model.state import State


class _OxideNeed(NamedTuple):
    """What the oxide market's customers need: metal plants ``[S, plants, E]``, buyers of
    elements ``[S, buyers]``, and those buyers' demand this step ``[S, buyers]``."""

    metal: np.ndarray
    buyers: np.ndarray
    demand: np.ndarray


def trade_oxide(chain: Chain, state: State, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Separated oxides go to metal plants and to users of elements: offtakes first, then by
    priority, pro rata."""
    wants = _oxide_need(chain, state, step)
    reserved, avail, metal_left = _reserve(chain, state, step, wants.metal)
    pool = chain.trade.oxide_pool  # element buyers pooled by region and priority
    need = np.concatenate([metal_left, pool.total(wants.buyers)], axis=1)
    usage = np.concatenate([state.metal_use_rate, pool.total(wants.demand)], axis=1)
    metal_plants = wants.metal.shape[1]
    flow = chain.trade.markets["oxide"].allocate(
        avail,
        need,
        None,
        normal_avail=None if reserved is None else state.sep_out,
        normal_need=usage,
        reference=state.references["oxide"],
        withheld=state.withheld["oxide"],
        index=chain.market_index["oxide"][step + chain.warmup],
        in_force=state.in_force["oxide"],
    )
    share_buyers = pool.share(wants.buyers, need[:, metal_plants:])
    state.sep_out = state.sep_out - flow.supplied()
    if reserved is not None:
        state.sep_out = state.sep_out - reserved.sum(axis=2)
        state.pipelines["oxide_metal"].ship(step, reserved, chain.lead["oxide_metal"])
    _ship_oxide(chain, state, step, flow, metal_plants, pool.destinations(share_buyers))
    if chain.origin_rule.traces:  # origin of what metal plants get: every sample's flows
        rule = chain.origin_rule
        x = _with_reserved(flow.dense(slice(None)), reserved)
        origin.track_oxide(rule, state.origin_shares, state.metal_in, x)
    if rec.detail:
        x = _with_reserved(flow.dense(), reserved)
        buyers_x = pool.spread(x[:, :, metal_plants:], share_buyers[:1])
        rec.market(chain, step, "oxide", np.concatenate([x[:, :, :metal_plants], buyers_x], axis=2))
    _oxide_fills(chain, state, step, rec, flow, share_buyers, wants, reserved)


def _reserve(
    chain: Chain, state: State, step: int, need_metal: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """What the offtakes reserve, ``[S, separation plants, metal plants, E]`` (None without
    offtakes of oxide), and the plants' oxide and metal plants' need left for the market."""
    if not chain.oxide_offtakes:
        return None, state.sep_out, need_metal
    allowed = dense_allowed(chain.controls, state.control_levels, "oxide")
    if allowed is not None:
        allowed = allowed[:, :, : need_metal.shape[1]]  # metal plants come first
    # an offtake serves running use: what the plants plan to use a month, within their need
    wants = np.minimum(need_metal, state.metal_use_rate)
    reserved, avail, _ = reserve_oxide(chain.oxide_offtakes, state.sep_out, wants, allowed, step)
    return reserved, avail, np.maximum(need_metal - reserved.sum(axis=1), 0.0)


def _with_reserved(x: np.ndarray, reserved: np.ndarray | None) -> np.ndarray:
    """The market's dense flow ``x[S, separation plants, customers, E]`` with what the
    offtakes sent to metal plants (the first customers) added."""
    if reserved is None:
        return x
    metal_plants = reserved.shape[2]
    x_metal = x[:, :, :metal_plants] + reserved[: x.shape[0]]
    return np.concatenate([x_metal, x[:, :, metal_plants:]], axis=2)


def _oxide_need(chain: Chain, state: State, step: int) -> _OxideNeed:
    """Metal plants' order-up-to need, buyers of elements' need and their demand."""
    need_metal = position_need(
        running_rate(chain, state, "metal", state.metal_use_rate),
        chain.params["plant_input_cover_months"],
        chain.input_lead["metal"],
        state.metal_in,
        state.pipelines["oxide_metal"].buf,
    )
    ring = state.pipelines["oxide_buyer"].buf
    buyers, at = chain.element_buyers, chain.element_buyers_at
    need_buyers = buyer_need(chain, state, step, buyers, at, ring, state.oxide_lead_seen)
    return _OxideNeed(need_metal, need_buyers, demand_of(chain, state, step, buyers))


def _ship_oxide(
    chain: Chain, state: State, step: int, flow: Flow, metal_plants: int, into_buyers: Destinations
) -> None:
    """Ship the oxide market's flow to metal plants and (pools') buyers; take this step's
    arrivals."""
    lead = chain.trade.lane_lead["oxide"]
    state.pipelines["oxide_metal"].ship_flow(step, flow, lead, slice(0, metal_plants))
    buyers = state.pipelines["oxide_buyer"]
    buyers.ship_flow(step, flow, lead, slice(metal_plants, None), into_buyers)
    receive(chain, state, "oxide_metal", step)
    receive(chain, state, "oxide_buyer", step)
    pools = slice(metal_plants, None)
    seen = chain.trade.oxide_pool.pick(orders.lead_seen_by(flow, lead, pools))  # [S, buyers]
    state.oxide_lead_seen = orders.moved_lead(state.oxide_lead_seen, seen)


def _oxide_fills(
    chain: Chain,
    state: State,
    step: int,
    rec: Recorder,
    flow: Flow,
    share_buyers: np.ndarray,
    wants: _OxideNeed,
    reserved: np.ndarray | None,
) -> None:
    """The share of what the oxide market's customers wanted (within use) that it and the
    offtakes (``reserved``) covered, for each element's oxide price cells (buyers of
    elements get ``share_buyers`` of their pool's)."""
    covered, wanted = _oxide_covered(chain, state, flow, share_buyers, wants, reserved)
    tiers = chain.fill_cells.oxide_tiers
    fill = covered_share(covered, wanted, covered, chain.fill_cells.oxide_members, capped=False)
    products = chain.fill_cells.oxide_products
    for (tier, _), share in zip(tiers, fill.transpose(1, 0, 2)):
        record_fill(state, rec, step, products, tier, share[:, : len(products)])


def _oxide_covered(
    chain: Chain,
    state: State,
    flow: Flow,
    share_buyers: np.ndarray,
    wants: _OxideNeed,
    reserved: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """What the oxide market's customers got (from it and the offtakes' ``reserved``) and
    needed, each within their use, ``[S, metal plants + pools, E]`` each."""
    pool, metal_plants = chain.trade.oxide_pool, wants.metal.shape[1]
    got = flow.received()
    got_buyers = pool.pick(got[:, metal_plants:]) * share_buyers
    got_metal = (
        got[:, :metal_plants] if reserved is None else got[:, :metal_plants] + reserved.sum(axis=1)
    )
    rate = state.metal_use_rate
    covered = np.concatenate(
        [
            np.minimum(got_metal, rate),
            pool.total(np.minimum(got_buyers, wants.demand)),
        ],
        axis=1,
    )
    wanted = np.concatenate(
        [np.minimum(wants.metal, rate), pool.total(np.minimum(wants.buyers, wants.demand))], axis=1
    )
    return covered, wanted

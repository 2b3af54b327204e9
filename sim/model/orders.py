"""What parties want and get each step: buyers' demand, the order-up-to needs of buyers and
plants, arrivals into stocks, and the share of use a market covered."""

from __future__ import annotations

import numpy as np

from sim.arrays import spread
from sim.market import Flow
from sim.model import kernels
from sim.model.capacity import running_share
from sim.model.chain import Chain
from sim.model.levers import demand_response
from sim.model.levers.economics import Members
from sim.model.state import State


def demand_at(chain: Chain, state: State, step: int) -> np.ndarray:
    """``[S, B]`` this step's demand: the demand path (changed by `demand_growth` events) less
    what substitution switched and what price made buyers give up (read only: kept for the
    step until substitution or buyers' use levels change, `State.demand_now`)."""
    if state.demand_now is not None and state.demand_now[0] == step:
        return state.demand_now[1]
    path = path_at(chain, step)
    shares = state.substitution_shares
    demand = demand_response.demand(path, chain.samples, chain.substitutions, shares)
    demand = demand * state.use_levels if chain.buying.responds else demand
    demand = demand.view()
    demand.flags.writeable = False
    state.demand_now = (step, demand)
    return demand


def path_at(chain: Chain, step: int) -> np.ndarray:
    """``[1 or S, B]`` this step's demand before buyers answer price or substitute: the
    world's demand path, changed by the scenario's `demand_growth` events."""
    row = chain.demand_path[step + chain.warmup][None, :]
    return demand_response.path_row(row, chain.demand_changes, step)


def demand_of(chain: Chain, state: State, step: int, idx: np.ndarray) -> np.ndarray:
    """``demand_at(...)[:, idx]`` (read only): taken from the one demand row before it is spread
    over the samples when every sample's demand is the same."""
    if not chain.substitutions and not chain.buying.responds:
        row = np.take(path_at(chain, step), idx, axis=1)
        return spread(row, (chain.samples, row.shape[1]))
    return np.take(demand_at(chain, state, step), idx, axis=1)


def running_plants(chain: Chain, state: State, stage: str) -> np.ndarray:
    """``[S or 1, plants]`` the share of each plant of ``stage`` no outage stops this step."""
    if not chain.outages:
        return np.ones((1, len(chain.stage(stage))))
    every = running_share(chain.outages, state.outage_levels, chain.samples, len(chain.facilities))
    return every[:, chain.slices[stage]]


def running_rate(chain: Chain, state: State, stage: str, rate: np.ndarray) -> np.ndarray:
    """Plants' planned use ``rate[S, plants, E]`` for what they order this step: the share
    of it their running capacity can use (a plant an outage stops orders nothing for the
    use it cannot make, and keeps its plan for when it restarts: `kernels.smooth_rate`)."""
    if not chain.outages:
        return rate
    return rate * running_plants(chain, state, stage)[:, :, None]


def position_need(
    rate: np.ndarray, cover: float, lead: np.ndarray, held: np.ndarray, ring: np.ndarray
) -> np.ndarray:
    """Order-up-to need of plants that used ``rate`` this step (after use), holding ``held``
    with ``ring`` (their pipeline) on its way: ``rate * (cover + max(lead, 1))`` less what
    they hold and have coming, at least 0."""
    assert rate.shape == held.shape == ring.shape[1:], "one row a sample in each"
    need = np.empty(rate.shape)
    kernels.position_need(rate, cover + np.maximum(lead, 1.0), held, ring, need)
    return need


def buyer_need(
    chain: Chain,
    state: State,
    step: int,
    idx: np.ndarray,
    at: slice | np.ndarray,
    ring: np.ndarray,
    lead: np.ndarray | None = None,
) -> np.ndarray:
    """Order-up-to need of buyers ``idx`` (``at``: the same as a slice when it can be one),
    before they consume this step, with ``ring`` (their pipeline) on its way: demand times
    ``1 + cover + lead`` less what they hold and have coming, at least 0; ``lead`` (``[S,
    idx]``, months) is the lead time they have seen (default: the chain's, by capacity)."""
    return _buyer_need(chain, state, _demand_row(chain, state, step, idx), idx, at, ring, lead)


def buyer_need_and_use(
    chain: Chain,
    state: State,
    step: int,
    idx: np.ndarray,
    at: slice | np.ndarray,
    ring: np.ndarray,
    lead: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`buyer_need`, and the part of it buyers will use before an order can arrive (demand
    times ``1 + lead``, no cover, less what they hold and have coming), which a market short
    of supply fills first."""
    demand = _demand_row(chain, state, step, idx)
    use = np.empty((ring.shape[1], ring.shape[2]))
    months = chain.buyer_lead[idx] if lead is None else lead
    kernels.buyer_need(
        demand * (1.0 + months), np.ones(len(idx)), state.inventory[:, at], ring, use
    )
    return _buyer_need(chain, state, demand, idx, at, ring, lead), use


def _demand_row(chain: Chain, state: State, step: int, idx: np.ndarray) -> np.ndarray:
    """Buyers ``idx``'s demand this step, ``[S or 1, idx]`` (one row when all samples agree)."""
    demand = demand_of(chain, state, step, idx)
    return demand[:1] if demand.strides[0] == 0 else demand


def _buyer_need(
    chain: Chain,
    state: State,
    demand: np.ndarray,
    idx: np.ndarray,
    at: slice | np.ndarray,
    ring: np.ndarray,
    lead: np.ndarray | None,
) -> np.ndarray:
    """`buyer_need` from buyers' ``demand`` (`_demand_row`)."""
    need = np.empty((ring.shape[1], ring.shape[2]))
    if lead is not None or chain.cover.shape[0] > 1 or (state.cover_levels != 1.0).any():
        cover = chain.cover[:, idx] * state.cover_levels[:, idx]  # a sample each
        months = chain.buyer_lead[idx] if lead is None else lead
        target = demand * (1.0 + cover + months)
        kernels.buyer_need(target, np.ones(len(idx)), state.inventory[:, at], ring, need)
        return need
    kernels.buyer_need(
        demand,
        1.0 + chain.cover[0, idx] + chain.buyer_lead[idx],
        state.inventory[:, at],
        ring,
        need,
    )
    return need


LEAD_SPEED = float(1.0 - np.exp(-1.0 / 3.0))  # buyers learn their goods' lead time in months
TINY_T = 1e-9  # a flow below this tells a buyer nothing of its lead time


def lead_seen_by(flow: Flow, lead: np.ndarray, customers: slice = slice(None)) -> np.ndarray:
    """``[S, customers, K]`` the months a step's ``flow`` to each customer takes along routes
    of ``lead[G, H]`` months, by tonne (NaN where it gets nothing)."""
    return flow.lead_seen(lead, TINY_T, customers)


def moved_lead(lead_seen: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """The lead time buyers plan their pipelines on, ``lead_seen``, moved ``LEAD_SPEED`` of
    the way to the one they have ``seen`` this step where that is known: a buyer served from
    farther away orders further ahead (a lead fixed by plants' capacity left Japan's magnet
    buyers short when Germany's plants served them instead of China's)."""
    return np.where(np.isnan(seen), lead_seen, lead_seen + (seen - lead_seen) * LEAD_SPEED)


def receive(chain: Chain, state: State, name: str, step: int) -> None:
    """Move one pipeline's arrivals for ``step`` into stocks."""
    got = state.pipelines[name].due(step)
    if name == "concentrate":
        state.sep_in += got
    elif name == "oxide_metal":
        state.metal_in += got
    elif name == "metal":
        state.mag_in += got
    elif name == "oxide_buyer":
        state.inventory[:, chain.element_buyers_at] += got[:, :, 0]
    elif name == "magnet":
        state.inventory[:, chain.magnet_buyers_at] += got[:, :, 0]
    else:  # "magnet_thrift": the thrifted tonnes of the magnets that arrived
        state.thrifted[:, chain.magnet_buyers_at] += got
    got[...] = 0.0  # taken


def covered_share(
    got: np.ndarray,
    need: np.ndarray,
    usage: np.ndarray,
    groups: Members,
    capped: bool = True,
) -> np.ndarray:
    """Share of customers' running use that the market covered, ``[S, groups, K]``, for each
    group of customers (`group_members` of masks over axis 1), from deliveries, needs and use
    per step ``[S, C, K]``: 1 when deliveries keep up with use (stock rebuilding beyond that
    does not count as scarcity). Not ``capped``: the share of ``need`` that ``got`` covered,
    both already capped at use. One compiled pass (`kernels.coverage`)."""
    ptr, idx = groups
    S = max(got.shape[0], need.shape[0])
    out = np.empty((S, ptr.size - 1, got.shape[2]))
    kernels.coverage(
        np.asarray(got, dtype=float),
        np.asarray(need, dtype=float),
        np.asarray(usage, dtype=float),
        capped,
        ptr,
        idx,
        out,
    )
    return out


def widen(a: np.ndarray, products: np.ndarray, width: int) -> np.ndarray:
    """``a[..., len(products)]`` placed at ``products`` of a last axis of ``width`` (else 0)."""
    out = np.zeros((*a.shape[:-1], width))
    out[..., products] = a
    return out

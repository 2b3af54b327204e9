"""The stages: what each part of the chain does in one step, in the order they run.

Each step runs, in this order: the `switch` processes of events that change level now (urgent;
`sim.model.clock`), then the stages of `STAGES`: `arrive` (shipments due), `operate`
(capacity), `mine`, `separate`, `settle_producers`, `respond`, `make_magnets`, `make_metal`,
`trade_oxide`, `trade_concentrate`, `release_stockpiles`, `consume`, `clear_prices` (prices
move towards what stocks indicate; supply responses follow them). Markets run downstream
first, so each stage orders to replace what the stage below it has just used.

Every stage reads the chain's structure (`Chain`) and changes the run's `State`; it books what
it moves in the `Ledger`. Material is only ever moved, never created, except by `mine` (and
recycling inflows, booked as such).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.model import controls, kernels
from sim.model.capacity import capacity_at, running_share
from sim.model.chain import Chain
from sim.model.ledger import Ledger
from sim.model.levers import buying, economics, prices, supply_response, thrifting
from sim.model.levers.demand_response import adapt, recovered
from sim.model.levers.stockpiles import draw
from sim.model.orders import demand_at, receive
from sim.model.oxide_trade import trade_oxide
from sim.model.recorder import Recorder
from sim.model.state import State
from sim.model.trading import make_magnets, make_metal, trade_concentrate
from sim.units import REO_TO_ELEMENT

Stage = Callable[[Chain, State, int, Ledger, Recorder], None]


def arrive(chain: Chain, state: State, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Shipments due this step reach their customers' stocks."""
    if step == 0:
        ledger.open(state.holdings(chain))
    for name in state.pipelines:
        if name != "magnet_thrift" or state.thrift_levels.any():  # never thrifted: empty
            receive(chain, state, name, step)


def operate(chain: Chain, state: State, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Facilities set their capacity for the step (producers' economics included)."""
    state.capacity, state.new_capacity = capacity_at(
        chain.tranches,
        step,
        chain.warmup,
        chain.samples,
        chain.outages,
        state.outage_levels,
        chain.growth_changes,
    )
    economics.apply_levels(chain.economics, state.producers, state.capacity)
    supply_response.apply(chain.supply_responses, state.supply_levels, state.capacity)
    for cap in chain.caps:  # a tonnage neither growth nor price lifts
        cap.limit(state.capacity, step, state.new_capacity)


def mine(chain: Chain, state: State, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Mines push their output (ore in its element proportions) into their stocks."""
    rows = state.upstream(chain)
    out = state.capacity[:rows, chain.slices["mine"], None] * chain.mine_mix[None]
    state.mine_stock += out
    ledger.mined += out.sum(axis=1)
    rec.produced(chain, step, "mine", out)


def separate(chain: Chain, state: State, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Separation plants crack what feed they hold, up to capacity (t REO), into oxides."""
    rows = state.upstream(chain)
    cap = state.capacity[:rows, chain.slices["separation"]]
    recovery = chain.separation_recovery
    out = np.empty_like(state.sep_in)
    if rows == chain.samples:
        kernels.separate(
            state.sep_in, cap, REO_TO_ELEMENT, recovery, state.sep_out, ledger.losses, out
        )
    else:  # one feed for every sample: its oxides and losses added to each sample's books
        made, lost = np.zeros_like(state.sep_in), np.zeros((rows, ledger.losses.shape[1]))
        kernels.separate(state.sep_in, cap, REO_TO_ELEMENT, recovery, made, lost, out)
        state.sep_out += made
        ledger.losses += lost
    state.separated = out
    rec.produced(chain, step, "separation", out)


def settle_producers(chain: Chain, state: State, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Producers weigh price against cost; price floors pay their top-up."""
    rules = chain.economics
    if not rules.producers:
        return
    paid = economics.settle(rules, state.producers, state.prices, state.separated, step)
    if rules.floors:
        rec.paid(step, paid)
    rec.producing(step, np.stack([p.level for p in state.producers], axis=1))


def respond(chain: Chain, state: State, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Buyers switch away from dear materials (with a lag); end-of-life scrap comes back."""
    if chain.substitutions:
        _substitute(chain, state, step)
    for rc in chain.recycling:
        back = recovered(rc, step, chain.warmup)
        state.sep_out[:, rc.plant] += back
        if step >= 0:
            ledger.recycled_in += back


def _substitute(chain: Chain, state: State, step: int) -> None:
    """Move each substitution's switched share for its buyers' prices against base prices
    (the prices producers see: the ones the market cleared at last step)."""
    price = chain.economics.market_price(state.prices, step)
    base = chain.economics.base_at(step)
    for j, sub in enumerate(chain.substitutions):
        product = np.maximum(sub.product, 0)
        now, then = price[:, product, sub.tier], base[:, product, sub.tier]
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(then > 0, now / then, 1.0)
        shares = state.substitution_shares
        shares[j] = adapt(sub, shares[j], kernels.finite(ratio, nan=1.0), step)
        state.demand_now = None  # demand changes with the shares


def release_stockpiles(
    chain: Chain, state: State, step: int, ledger: Ledger, rec: Recorder
) -> None:
    """Stockpiles release to (or buy from) the buyers they serve, before those consume."""
    demand = demand_at(chain, state, step)
    for rules, pile in zip(chain.stockpiles, state.stockpiles):
        b = rules.buyers
        held, inventory = pile.held, state.inventory[:, b]
        to_buyers, from_buyers = draw(rules, pile, np.take(demand, b, axis=1), inventory, step)
        state.inventory[:, b] += to_buyers - from_buyers
        if chain.thrift.acts and (state.thrifted.any() or pile.thrifted.any()):
            # thrifted tonnes go with the magnets, each holder's share
            given = thrifting.given_up(
                pile.thrifted[:, None], held[:, None], to_buyers
            )  # [S, b, L]
            taken = thrifting.given_up(state.thrifted[:, b], inventory, from_buyers)
            state.thrifted[:, b] += given - taken
            pile.thrifted = pile.thrifted + taken.sum(axis=1) - given.sum(axis=1)
    if chain.stockpiles:
        rec.stockpiled(step, np.stack([p.held for p in state.stockpiles], axis=1))


def consume(chain: Chain, state: State, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Buyers use what they hold, up to this step's demand; the rest is their shortfall."""
    demand = demand_at(chain, state, step)
    got = np.minimum(demand, state.inventory)
    if chain.thrift.acts and state.thrifted.any():  # the thrifted tonnes of what was used
        used = thrifting.given_up(state.thrifted, state.inventory, got)
        state.thrifted = state.thrifted - used
        ledger.consumed += thrifting.contained(chain.thrift, used)
    state.inventory = state.inventory - got
    state.used = got
    ledger.consumed += _contained(got, chain.content)
    rec.consumed(chain, state, step, demand, got)


def _follow_price_home(chain: Chain, state: State) -> None:
    """Open the routes back into China for the products its market is now the dear one for,
    close them for the rest (`controls.withheld_shares`): what the prices just cleared say
    for the next step's trade."""
    if not any(c.back for c in chain.controls):
        return
    dear = controls.dear_at_home(state.prices)
    if dear.shape != state.dear_at_home.shape or (dear != state.dear_at_home).any():
        state.dear_at_home = dear
        state.refresh_withheld(chain)


def clear_prices(chain: Chain, state: State, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Markets clear: each price moves towards what its stocks' cover indicates."""
    rules = chain.price_rules
    windows = [c.feared_at(step) for c in chain.controls]
    running = running_share(
        chain.outages, state.outage_levels, chain.samples, len(chain.facilities)
    )
    sl = chain.slices
    held = rules.holdings(
        state.sep_out,
        state.metal_in,
        state.mag_in,
        (running[:, sl["metal"]], running[:, sl["magnet"]]),
    )
    demand = demand_at(chain, state, step)  # what buyers want at today's prices
    if demand.strides[0] == 0:
        demand = demand[:1]  # one row for every sample
    available = state.inventory + state.used  # what buyers had this step, before using it
    thrift = None
    if chain.thrift.acts and state.thrift_levels.any():  # each buyer at its tier's level
        thrift = np.take(state.thrift_levels, rules.buyer_tiers, axis=1)
    cover = prices.covers(rules, held, available, demand, state.magnet_use_rate, thrift)
    state.prices, state.normal_cover = prices.clear(
        rules,
        chain.economics,
        state.prices,
        state.normal_cover,
        cover,
        state.control_levels,
        state.market_views,
        windows,
        step,
        state.dear_at_home,
        state.last_cover,
    )
    state.last_cover = cover
    _follow_price_home(chain, state)
    rec.priced(step, chain.economics.capped(state.prices, step))
    state.use_levels, state.cover_levels, state.expected = buying.settle(
        chain.buying,
        state.use_levels,
        state.cover_levels,
        state.expected,
        state.prices,
        chain.economics.base_at(step),
        buying.feared(chain.buying, windows, rules.reach),
        step,
    )
    state.demand_now = None  # buyers' use levels moved: next step's demand is new
    state.supply_levels = supply_response.settle(
        chain.supply_responses,
        state.supply_levels,
        state.prices,
        chain.economics.base_at(step),
        step,
    )
    state.thrift_levels = thrifting.settle(
        chain.thrift, state.thrift_levels, state.prices, chain.economics.base_at(step), step
    )


def _contained(tonnes: np.ndarray, content: np.ndarray) -> np.ndarray:
    """``[S, E]`` elements contained in buyers' ``tonnes[S, B]`` of their material, added in
    the same order whatever the batch size (a BLAS product's order may depend on it)."""
    return np.einsum("sb,be->se", tonnes, content)


STAGES: tuple[Stage, ...] = (
    arrive,
    operate,
    mine,
    separate,
    settle_producers,
    respond,
    make_magnets,
    make_metal,
    trade_oxide,
    trade_concentrate,
    release_stockpiles,
    consume,
    clear_prices,
)

"""The trading stages: magnet and metal plants make to order, concentrate is traded (oxide:
`sim.model.oxide_trade`).

Each allocates its market (`sim.market.Market`) between what suppliers have and what
customers need, ships along the routes' lead times, plans the next orders and records how much
of customers' running use it covered (fill shares, reported beside the prices).
"""

from __future__ import annotations

import numpy as np

from sim.market import Flow, Reference
from sim.model import kernels, orders
from sim.model.chain import Chain
from sim.model.controls import dense_allowed, restraint_share
from sim.model.ledger import Ledger
from sim.model.levers import origin, qualification, thrifting
from sim.model.levers.offtakes import reserve
from sim.model.levers.startups import add_along, startup_claim
from sim.model.orders import (
    buyer_need_and_use,
    covered_share,
    demand_of,
    position_need,
    receive,
    running_plants,
    running_rate,
    widen,
)
from sim.model.pipeline import Pipeline
from sim.model.recorder import Recorder, record_fill
from sim.model.state import State
from sim.units import ELEMENTS, REO_TO_ELEMENT

SMOOTHING = 0.5  # weight of the previous usage rate when plants plan their input orders


def make_magnets(chain: Chain, state: State, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Magnet plants make to order for buyers, within capacity and the metal they hold."""
    ring = state.pipelines["magnet"].buf
    buyers, at = chain.magnet_buyers, chain.magnet_buyers_at
    need, use = buyer_need_and_use(chain, state, step, buyers, at, ring, state.lead_seen)
    thrifts = chain.thrift.acts and bool(state.thrift_levels.any())
    recipe = (  # [1 or S, plants, E] what a t of each plant's magnet holds
        thrifting.recipes(chain.thrift, chain.recipe, state.thrift_levels)
        if thrifts
        else chain.recipe[None]
    )
    per_tonne = recipe / chain.params["magnet_yield"]  # metal used per t of magnet
    capacity = state.capacity[:, chain.slices["magnet"], None]
    flow, reserved = _allocate_magnets(chain, state, step, (need, use), capacity, per_tonne)
    made = flow.supplied()[:, :, 0]
    if reserved is not None:
        made = made + reserved.sum(axis=2)[:, :, 0]
    used, content, recovered = _use_metal(chain, state, ledger, made, per_tonne, recipe)
    claim = _magnet_claim(chain, state, flow, reserved, need, made, capacity[:, :, 0])
    # plan inputs for what was used and for the backlog too
    running = running_plants(chain, state, "magnet")
    kernels.smooth_rate(
        state.magnet_use_rate, used, claim[:, :, :1] * per_tonne, SMOOTHING, running
    )
    if thrifts:
        _ship_thrifted(chain, state, step, flow, reserved)
    _ship_magnets(chain, state, step, flow, reserved)
    rec.produced(chain, step, "magnet", content)
    rec.swarf(chain, step, recovered)
    if rec.detail:
        rec.market(
            chain, step, "magnet", flow.dense() if reserved is None else flow.dense() + reserved[:1]
        )
    _magnet_fills(chain, state, step, rec, flow, reserved, need)


def _allocate_magnets(
    chain: Chain,
    state: State,
    step: int,
    wants: tuple[np.ndarray, np.ndarray],
    capacity: np.ndarray,
    per_tonne: np.ndarray,
) -> tuple[Flow, np.ndarray | None]:
    """The magnet market's flow for buyers' ``wants = (need, use)`` (``[S, buyers]`` each,
    use filled first) from plants' ``capacity[S, plants, 1]``, after what offtakes reserve
    (``[S, plants, buyers, 1]``, or None)."""
    need, use = wants
    avail = np.empty((capacity.shape[0], capacity.shape[1], 1))
    kernels.magnet_avail(state.mag_in, per_tonne, capacity[:, :, 0], avail[:, :, 0])
    withheld, on, dense = _magnet_allowed(chain, state)
    makeable = np.maximum(avail, 0.0)  # normal supply: what the metal held can make
    if chain.offtakes:
        reserved, avail, left = reserve(chain.offtakes, avail, need[:, :, None], dense, step)
        # what offtakes reserve serves use first
        use_left = np.maximum(use[:, :, None] - (need[:, :, None] - left), 0.0)
    else:  # nothing reserved (the dense [S, P, C] reserve would be zeros)
        reserved, avail, left = None, makeable, need[:, :, None]
        use_left = use[:, :, None]
    flow = chain.trade.markets["magnet"].allocate(
        avail,
        left,
        None,
        normal_avail=makeable,
        normal_need=demand_of(chain, state, step, chain.magnet_buyers)[:, :, None],
        home_share=restraint_share(chain.restraints, step),
        reference=state.references["magnet"],
        withheld=withheld,
        index=chain.market_index["magnet"][step + chain.warmup],
        in_force=on,
        use=use_left,
    )
    return flow, reserved


def _magnet_allowed(
    chain: Chain, state: State
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The magnet market's withheld shares and scopes in force (`State.withheld`,
    `State.in_force`, with those on plants' routes under an extraterritorial control:
    `origin.reach_withheld`), and the allowed share of normal flow, dense ``[S, plants,
    buyers, 1]``, for offtakes (None when there are none or nothing is capped)."""
    rule = chain.origin_rule
    withheld, on = state.withheld["magnet"], state.in_force["magnet"]
    if rule.reaches:
        caught, caught_on = origin.reach_withheld(
            rule, state.control_levels, state.control_on, state.origin_shares
        )
        if on is None and caught_on.any():
            scopes = chain.trade.markets["magnet"].reached.size
            withheld = np.zeros((caught.shape[0], scopes))
            on = np.zeros((caught.shape[0], scopes), dtype=bool)
        if withheld is not None and on is not None:
            withheld, on = withheld.copy(), on.copy()
            withheld[:, withheld.shape[1] - caught.shape[1] :] = caught
            on[:, on.shape[1] - caught.shape[1] :] = caught_on
    if not chain.offtakes:
        return withheld, on, None
    dense = dense_allowed(chain.controls, state.control_levels, "magnet")
    return (
        withheld,
        on,
        origin.reach_allowed(rule, dense, state.control_levels, state.origin_shares),
    )


def _use_metal(
    chain: Chain,
    state: State,
    ledger: Ledger,
    made: np.ndarray,
    per_tonne: np.ndarray,
    recipe: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Magnet plants use the metal for ``made[S, plants]`` of ``recipe[1 or S, plants, E]``
    (swarf recovered to separation plants): the metal used, the magnets' element content and
    the swarf recovered, ``[S, plants, E]`` each."""
    used, content, recovered = (np.empty_like(state.mag_in) for _ in range(3))
    kernels.make_magnets(
        made,
        per_tonne,
        recipe,
        chain.params["swarf_recovery"],
        chain.swarf_to,
        state.mag_in,
        state.sep_out,
        ledger.losses,
        used,
        content,
        recovered,
    )
    return used, content, recovered


def _magnet_claim(
    chain: Chain,
    state: State,
    flow: Flow,
    reserved: np.ndarray | None,
    need: np.ndarray,
    made: np.ndarray,
    capacity: np.ndarray,
) -> np.ndarray:
    """What magnet plants' idle project capacity could make of buyers' need that their home
    plants did not meet (`startup_claim`), ``[S, plants, K]``."""
    home_open = chain.magnet_home * chain.magnet_open[..., 0]

    def not_from_home() -> np.ndarray:  # [S, Bm, 1] need that home plants did not meet
        # home routes are constant within lanes: sum lane flows, not every plant's
        home = flow.arriving(flow.market.lanes(chain.magnet_home))[..., 0]
        if reserved is not None:
            home = home + add_along(reserved[..., 0] * chain.magnet_home[None], 1)
        return (need - home)[:, :, None]

    new_capacity = state.new_capacity[:, chain.slices["magnet"]]
    return startup_claim(made, capacity, new_capacity, not_from_home, home_open)


def _ship_magnets(
    chain: Chain, state: State, step: int, flow: Flow, reserved: np.ndarray | None
) -> None:
    """Ship the market's flow and the offtakes' reserve; take this step's arrivals."""
    pipe = state.pipelines["magnet"]
    pipe.ship_flow(step, flow, chain.trade.lane_lead["magnet"])
    if reserved is not None:
        pipe.ship(step, reserved, chain.lead["magnet"])
    receive(chain, state, "magnet", step)
    # buyers plan their pipelines on the lead time they see (`sim.model.orders.moved_lead`)
    seen = orders.lead_seen_by(flow, chain.trade.lane_lead["magnet"])[:, :, 0]
    state.lead_seen = orders.moved_lead(state.lead_seen, seen)


def _ship_thrifted(
    chain: Chain, state: State, step: int, flow: Flow, reserved: np.ndarray | None
) -> None:
    """Ship the thrifted tonnes of the magnets shipped this step (each plant's flow times its
    tier's level of each lever, into the lever's column) with them, and take this step's
    arrivals."""
    levels = thrifting.plant_levels(chain.thrift, state.thrift_levels)  # [S, plants, L]
    market = flow.market
    by_edge = np.take(levels, market.sup.first, axis=1)[:, market.edge_sup_lane]  # [S, edges, L]
    pipe = state.pipelines["magnet_thrift"]
    for lever in np.flatnonzero(levels.any(axis=(0, 1))):
        x_sl = flow.x_sl * by_edge[:, :, lever].T[:, None, :]
        weighted = Flow(market, flow.sup_share_sl, flow.cus_share_sl, x_sl=x_sl)
        into = pipe.into_column[lever]
        pipe.ship_flow(step, weighted, chain.trade.lane_lead["magnet"], into=into)
    if reserved is not None:
        pipe.ship(step, reserved[..., :1] * levels[:, :, None, :], chain.lead["magnet"])
    receive(chain, state, "magnet_thrift", step)


def _magnet_fills(
    chain: Chain,
    state: State,
    step: int,
    rec: Recorder,
    flow: Flow,
    reserved: np.ndarray | None,
    need: np.ndarray,
) -> None:
    """The share of magnet buyers' running use covered, for each magnet's price cells."""
    got = flow.received()[:, :, 0]
    if reserved is not None:
        got = got + reserved.sum(axis=1)[:, :, 0]
    cells = chain.fill_cells.magnet
    fill = covered_share(
        got[:, :, None],
        need[:, :, None],
        demand_of(chain, state, step, chain.magnet_buyers)[:, :, None],
        chain.fill_cells.magnet_members,
    )
    for (product, tier, _), share in zip(cells, fill.transpose(1, 0, 2)):
        record_fill(state, rec, step, product, tier, share[:, 0])


def make_metal(chain: Chain, state: State, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Metal plants reduce oxide to metal to order for magnet plants."""
    need = _metal_need(chain, state)
    y = chain.params["metal_yield"]
    cap = state.capacity[:, chain.slices["metal"]]
    k = chain.trade.products["metal"]  # the elements magnets use (others are never ordered)
    k = np.arange(len(ELEMENTS)) if k is None else k
    flow, made = _allocate_metal(chain, state, step, need, cap, k)
    used = made / y
    state.metal_in = state.metal_in - used
    ledger.losses += (used - made).sum(axis=1)
    claim = _metal_claim(chain, state, flow, need, made, cap, k)
    running = running_plants(chain, state, "metal")
    kernels.smooth_rate(state.metal_use_rate, used, claim / y, SMOOTHING, running)  # backlog too
    if chain.origin_rule.traces:  # origin of what magnet plants get: every sample's flows
        shipped = widen(flow.dense(slice(None)), k, len(ELEMENTS))
        origin.track_metal(chain.origin_rule, state.origin_shares, state.mag_in, shipped)
    state.pipelines["metal"].ship_flow(step, flow, chain.trade.lane_lead["metal"])
    receive(chain, state, "metal", step)
    rec.produced(chain, step, "metal", made)
    if rec.detail:
        rec.market(chain, step, "metal", widen(flow.dense(), k, len(ELEMENTS)))


def _metal_need(chain: Chain, state: State) -> np.ndarray:
    """Magnet plants' order-up-to need of metal, ``[S, magnet plants, E]``."""
    cover = chain.params["plant_input_cover_months"]
    ring = state.pipelines["metal"].buf
    lead = chain.input_lead["magnet"]
    rate = running_rate(chain, state, "magnet", state.magnet_use_rate)
    return position_need(rate, cover, lead, state.mag_in, ring)


def _metal_claim(
    chain: Chain,
    state: State,
    flow: Flow,
    need: np.ndarray,
    made: np.ndarray,
    cap: np.ndarray,
    k: np.ndarray,
) -> np.ndarray:
    """What metal plants' idle project capacity could make of the unmet ``need`` of magnet
    plants in their own price tier (`startup_claim`), ``[S, metal plants, E]``. A project in
    China claiming need abroad would crowd out the projects abroad that can serve it, and,
    under a control, claim what its licence may not let it ship.

    Claims on the traded elements ``k`` alone: the others' need is exactly 0 (magnet plants
    use none), so their claims would be 0 too, and adding 0 changes no sum."""
    claim = startup_claim(
        made.sum(axis=2),
        cap,
        state.new_capacity[:, chain.slices["metal"]],
        lambda: np.take(need, k, axis=2) - flow.received(),
        chain.metal_claim_open,
    )
    return widen(claim, k, len(ELEMENTS))


def _allocate_metal(
    chain: Chain, state: State, step: int, need: np.ndarray, cap: np.ndarray, k: np.ndarray
) -> tuple[Flow, np.ndarray]:
    """The metal market's flow of elements ``k`` for magnet plants' ``need`` from what metal
    plants can make of the oxide they hold within capacity ``cap``, and the metal made,
    ``[S, metal plants, E]``."""
    avail = qualification.available(state.metal_in, cap, chain.params["metal_yield"])
    months = chain.params["metal_qualification_months"]
    running = running_plants(chain, state, "metal") if chain.outages else None
    state.metal_qualified = qualification.qualified(state.metal_qualified, avail, months, running)
    flow = chain.trade.markets["metal"].allocate(
        avail,
        need,
        None,
        normal_need=state.magnet_use_rate,
        products=k,
        reference=state.references["metal"],
        withheld=state.withheld["metal"],
        index=chain.market_index["metal"][step + chain.warmup, k],
        in_force=state.in_force["metal"],
        weights=None if state.metal_qualified is avail else state.metal_qualified,
    )
    made = np.zeros_like(avail)
    made[:, :, k] = flow.supplied()
    return flow, made


def trade_concentrate(chain: Chain, state: State, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Mines' concentrate goes to the separation plants they feed (tonnes REO).

    While nothing upstream differs between the samples (a sweep draws export controls on
    oxides or magnets, or a plant's start), the trade is worked out once for all
    (`State.upstream`)."""
    rows = state.upstream(chain)
    withheld, on = state.withheld["concentrate"], state.in_force["concentrate"]
    mines = chain.slices["mine"]
    _trade_concentrate(
        chain,
        step,
        rec,
        state.capacity[:rows, chain.slices["separation"]],
        np.maximum(state.capacity[:rows, mines] - state.new_capacity[:rows, mines], 0.0),
        state.sep_in,
        state.mine_stock,
        state.pipelines["concentrate"],
        None if withheld is None else withheld[:rows],
        None if on is None else on[:rows],
        state.references["concentrate"],
    )
    receive(chain, state, "concentrate", step)


def _trade_concentrate(
    chain: Chain,
    step: int,
    rec: Recorder,
    cap: np.ndarray,
    established: np.ndarray,
    sep_in: np.ndarray,
    mine_stock: np.ndarray,
    pipe: Pipeline,
    withheld: np.ndarray | None,
    in_force: np.ndarray | None,
    reference: Reference,
) -> None:
    """`trade_concentrate` for some samples: separation plants' capacity ``cap`` and feed
    ``sep_in``, mines' established capacity (not projects') ``established``, mines'
    ``mine_stock`` (updated), the concentrate pipeline (shipped into), the controls'
    ``withheld`` shares, the scopes ``in_force`` and their reference (updated).

    Plants take first, pro rata, what established mines produce in a step (their contracts);
    then what is left, projects' output and unsold stock, in order of the ore's value
    (`Chain.feed_order`): more supply never displaces a plant's contracted feed."""
    need = _concentrate_need(chain, cap, sep_in, pipe.buf)
    stock_reo = np.empty(mine_stock.shape[:2])
    kernels.reo_held(mine_stock, np.empty((0, 0, 0, 0)), REO_TO_ELEMENT, stock_reo)
    market = chain.trade.markets["concentrate"]
    flow = market.allocate(
        stock_reo[:, :, None],
        need[:, :, None],
        None,
        normal_need=cap[:, :, None],
        reference=reference,
        withheld=withheld,
        index=chain.market_index["concentrate"][step + chain.warmup],
        first=np.minimum(stock_reo, established)[:, :, None],
        in_force=in_force,
    )
    mix = np.empty_like(mine_stock)
    kernels.ship_mix(mine_stock, stock_reo, flow.supplied()[:, :, 0], mix)
    # A lane's shipments carry its mines' mix, weighted by what each mine sends.
    lane_mix = np.take(market.sup.sum(flow.sup_share * mix), market.edge_sup.labels, axis=1)
    by_element = Flow(market, flow.sup_share_sl, flow.cus_share_sl, x=flow.x * lane_mix)
    by_element.ship_into(
        pipe.buf, step, chain.trade.lane_lead["concentrate"], destinations=pipe.same
    )
    if rec.detail:
        rec.market(chain, step, "concentrate", flow.dense() * mix[:1, :, None, :])


def _concentrate_need(
    chain: Chain, cap: np.ndarray, sep_in: np.ndarray, ring: np.ndarray
) -> np.ndarray:
    """Separation plants' order-up-to need, tonnes REO: capacity ``cap`` times cover and lead
    time, less the feed they hold (``sep_in``) and have coming (``ring``), at least 0."""
    held = np.empty(cap.shape)
    kernels.reo_held(sep_in, ring, REO_TO_ELEMENT, held)
    lead = np.maximum(chain.input_lead["separation"], 1.0)
    cover = chain.params["separation_input_cover_months"]
    return np.maximum(cap * (cover + lead)[None] - held, 0.0)

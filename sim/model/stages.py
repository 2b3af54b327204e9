"""The actors: what each stage of the chain does in one step, and their SimPy processes.

Each step runs, in this order: `switch` processes of events that change level now (urgent),
then `arrive` (shipments due), `operate` (capacity), `mine`, `separate`, `settle_producers`,
`make_magnets`, `make_metal`, `trade_oxide`, `trade_concentrate`, `release_stockpiles`,
`consume`. Markets run downstream first, so each stage orders to replace what the stage below
it has just used.

Every function books what it moves in the `Ledger`; material is only ever moved, never
created, except by `mine` (and recycling inflows, booked as such).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Protocol

import numpy as np
import simpy
from simpy.events import URGENT

from sim.market import Flow
from sim.model import kernels
from sim.model.chain import Chain
from sim.model.ledger import Ledger
from sim.model.levers import economics, origin
from sim.model.levers.demand_response import adapt, recovered
from sim.model.levers.offtakes import reserve
from sim.model.levers.schedules import change_steps
from sim.model.levers.startups import add_along, startup_claim
from sim.model.levers.stockpiles import draw
from sim.units import ELEMENTS, MAGNETS, REO_TO_ELEMENT

SMOOTHING = 0.5  # weight of the previous usage rate when plants plan their input orders


class Recorder(Protocol):
    """Receives what a step did (see `sim.runs.engine.Record`); flows between members only with
    ``detail``."""

    detail: bool

    def market(self, chain: Chain, step: int, name: str, x: np.ndarray) -> None: ...
    def produced(self, chain: Chain, step: int, stage: str, out: np.ndarray) -> None: ...
    def fill(self, step: int, product: str, tier: str, value: np.ndarray) -> None: ...
    def consumed(self, chain: Chain, step: int, demand: np.ndarray, got: np.ndarray) -> None: ...
    def swarf(self, chain: Chain, step: int, recovered: np.ndarray) -> None: ...
    def stockpiled(self, step: int, held: np.ndarray) -> None: ...
    def paid(self, step: int, usd: np.ndarray) -> None: ...
    def producing(self, step: int, levels: np.ndarray) -> None: ...


def _tiers(regions: list[str]) -> dict[str, np.ndarray]:
    china = np.array([r == "CN" for r in regions], dtype=bool)
    return {"china": china, "ex_china": ~china}


def _covered(
    got: np.ndarray,
    need: np.ndarray,
    usage: np.ndarray,
    groups: list[np.ndarray],
    capped: bool = True,
) -> np.ndarray:
    """Share of customers' running use that the market covered, ``[S, groups, K]``, for each
    group of customers (a boolean mask over axis 1), from deliveries, needs and use per step
    ``[S, C, K]``: 1 when deliveries keep up with use (stock rebuilding beyond that does not
    count as scarcity). Not ``capped``: the share of ``need`` that ``got`` covered, both
    already capped at use. One compiled pass (`kernels.coverage`)."""
    members = [np.flatnonzero(g) for g in groups]
    ptr = np.cumsum([0] + [m.size for m in members]).astype(np.int64)
    idx = np.concatenate(members + [np.zeros(0, dtype=np.int64)]).astype(np.int64)
    S = max(got.shape[0], need.shape[0])
    out = np.empty((S, len(groups), got.shape[2]))
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


def _widen(a: np.ndarray, products: np.ndarray, width: int) -> np.ndarray:
    """``a[..., len(products)]`` placed at ``products`` of a last axis of ``width`` (else 0)."""
    out = np.zeros((*a.shape[:-1], width))
    out[..., products] = a
    return out


def arrive(chain: Chain, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Shipments due this step reach their customers' stocks."""
    if step == 0:
        ledger.open(chain.holdings())
    for name in chain.pipe:
        receive(chain, name, step)


def receive(chain: Chain, name: str, step: int) -> None:
    """Move one pipeline's arrivals for ``step`` into stocks."""
    got = chain.pipe[name].due(step)
    if name == "concentrate":
        chain.sep_in += got
    elif name == "oxide_metal":
        chain.metal_in += got
    elif name == "metal":
        chain.mag_in += got
    elif name == "oxide_buyer":
        chain.inventory[:, chain.be_at] += got[:, :, 0]
    else:
        chain.inventory[:, chain.bm_at] += got[:, :, 0]
    got[...] = 0.0  # taken


def operate(chain: Chain, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Facilities set their capacity for the step (producers' economics included)."""
    chain.update_capacity(step)
    economics.apply_levels(chain)


def mine(chain: Chain, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Mines push their output (ore in its element proportions) into their stocks."""
    out = chain.capacity[: chain.upstream(), chain.slices["mine"], None] * chain.comp[None]
    chain.mine_stock += out
    ledger.mined += out.sum(axis=1)
    rec.produced(chain, step, "mine", out)


def separate(chain: Chain, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Separation plants crack what feed they hold, up to capacity (t REO), into oxides."""
    rows = chain.upstream()
    cap = chain.capacity[:rows, chain.slices["separation"]]
    out = np.empty_like(chain.sep_in)
    if rows == chain.samples:
        kernels.separate(
            chain.sep_in, cap, REO_TO_ELEMENT, chain.recover, chain.sep_out, ledger.losses, out
        )
    else:  # one feed for every sample: its oxides and losses added to each sample's books
        made, lost = np.zeros_like(chain.sep_in), np.zeros((rows, ledger.losses.shape[1]))
        kernels.separate(chain.sep_in, cap, REO_TO_ELEMENT, chain.recover, made, lost, out)
        chain.sep_out += made
        ledger.losses += lost
    chain.separated = out
    rec.produced(chain, step, "separation", out)


def settle_producers(chain: Chain, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Producers weigh price against cost; price floors pay their top-up."""
    if not chain.producers:
        return
    paid = economics.settle(chain, step)
    if chain.floors:
        rec.paid(step, paid)
    rec.producing(step, np.stack([p.level for p in chain.producers], axis=1))


def _position_need(
    rate: np.ndarray, cover: float, lead: np.ndarray, held: np.ndarray, ring: np.ndarray
) -> np.ndarray:
    """Order-up-to need of plants that used ``rate`` this step (after use), holding ``held``
    with ``ring`` (their pipeline) on its way: ``rate * (cover + max(lead, 1))`` less what
    they hold and have coming, at least 0."""
    assert rate.shape == held.shape == ring.shape[1:], "one row a sample in each"
    need = np.empty(rate.shape)
    kernels.position_need(rate, cover + np.maximum(lead, 1.0), held, ring, need)
    return need


def _buyer_need(
    chain: Chain, step: int, idx: np.ndarray, at: slice | np.ndarray, ring: np.ndarray
) -> np.ndarray:
    """Order-up-to need of buyers ``idx`` (``at``: the same as a slice when it can be one),
    before they consume this step, with ``ring`` (their pipeline) on its way: demand times
    ``1 + cover + lead`` less what they hold and have coming, at least 0."""
    demand = chain.demand_of(step, idx)
    if demand.strides[0] == 0:
        demand = demand[:1]  # one row for every sample
    need = np.empty((ring.shape[1], ring.shape[2]))
    kernels.buyer_need(
        demand, 1.0 + chain.cover[idx] + chain.buyer_lead[idx], chain.inventory[:, at], ring, need
    )
    return need


def make_magnets(chain: Chain, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Magnet plants make to order for buyers, within capacity and the metal they hold."""
    p = chain.params
    need = _buyer_need(chain, step, chain.bm, chain.bm_at, chain.pipe["magnet"].buf)
    per_t = chain.recipe / p["magnet_yield"]  # metal used per t of magnet
    mag = chain.slices["magnet"]
    capacity = chain.capacity[:, mag, None]
    avail = np.empty((capacity.shape[0], capacity.shape[1], 1))
    kernels.magnet_avail(chain.mag_in, per_t, capacity[:, :, 0], avail[:, :, 0])
    dense, lanes = origin.magnet_allowed(chain)  # with extraterritorial reach
    if chain.offtakes:
        reserved, avail, left = reserve(chain.offtakes, avail, need[:, :, None], dense, step)
    else:  # nothing reserved (the dense [S, P, C] reserve would be zeros)
        reserved, avail, left = None, np.maximum(avail, 0.0), need[:, :, None]
    flow = chain.markets["magnet"].allocate(
        avail,
        left,
        lanes,
        normal_avail=capacity,
        normal_need=chain.demand_of(step, chain.bm)[:, :, None],
        home_first=True,
    )
    made = flow.supplied()[:, :, 0]
    if reserved is not None:
        made = made + reserved.sum(axis=2)[:, :, 0]
    used, content, recovered = (np.empty_like(chain.mag_in) for _ in range(3))
    kernels.make_magnets(
        made,
        per_t,
        chain.recipe,
        p["swarf_recovery"],
        chain.swarf_to,
        chain.mag_in,
        chain.sep_out,
        ledger.losses,
        used,
        content,
        recovered,
    )
    home_open = chain.magnet_home * chain.magnet_open[..., 0]

    def not_from_home() -> np.ndarray:  # [S, Bm, 1] need that home plants did not meet
        # home routes are constant within lanes: sum lane flows, not every plant's
        home = flow.arriving(flow.market.lanes(chain.magnet_home))[..., 0]
        if reserved is not None:
            home = home + add_along(reserved[..., 0] * chain.magnet_home[None], 1)
        return (need - home)[:, :, None]

    claim = startup_claim(
        made, capacity[:, :, 0], chain.new_capacity[:, mag], not_from_home, home_open
    )
    # plan inputs for what was used and for the backlog too
    kernels.smooth_rate(chain.rate_g, used, claim[:, :, :1] * per_t[None], SMOOTHING)
    chain.pipe["magnet"].ship_flow(step, flow, chain.lane_lead["magnet"])
    if reserved is not None:
        chain.pipe["magnet"].ship(step, reserved, chain.lead["magnet"])
    receive(chain, "magnet", step)
    rec.produced(chain, step, "magnet", content)
    rec.swarf(chain, step, recovered)
    if rec.detail:
        rec.market(
            chain, step, "magnet", flow.dense() if reserved is None else flow.dense() + reserved[:1]
        )
    got = flow.received()[:, :, 0]
    if reserved is not None:
        got = got + reserved.sum(axis=1)[:, :, 0]
    materials = chain.buyer_material[chain.bm]
    cells = [
        (f"{name}_magnet", tier, members & (materials == name))
        for tier, members in _tiers(list(chain.buyer_region[chain.bm])).items()
        for name in MAGNETS
    ]
    fill = _covered(
        got[:, :, None],
        need[:, :, None],
        chain.demand_of(step, chain.bm)[:, :, None],
        [sel for _, _, sel in cells],
    )
    for (product, tier, _), share in zip(cells, fill.transpose(1, 0, 2)):
        rec.fill(step, product, tier, share[:, 0])


def make_metal(chain: Chain, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Metal plants reduce oxide to metal to order for magnet plants."""
    p = chain.params
    need = _position_need(
        chain.rate_g,
        p["plant_input_cover_months"],
        chain.input_lead["magnet"],
        chain.mag_in,
        chain.pipe["metal"].buf,
    )
    y = p["metal_yield"]
    stock = chain.metal_in.sum(axis=2)
    cap = chain.capacity[:, chain.slices["metal"]]
    share = np.minimum(np.divide(cap, y * stock, out=np.zeros_like(cap), where=stock > 0), 1.0)
    avail = y * chain.metal_in * share[:, :, None]
    k = chain.market_products["metal"]  # the elements magnets use (others are never ordered)
    k = np.arange(len(ELEMENTS)) if k is None else k
    flow = chain.markets["metal"].allocate(
        avail,
        need,
        chain.allowed["metal"],
        normal_avail=cap[:, :, None],
        normal_need=chain.rate_g,
        products=k,
    )
    made = np.zeros_like(avail)
    made[:, :, k] = flow.supplied()
    used = made / y
    chain.metal_in = chain.metal_in - used
    ledger.losses += (used - made).sum(axis=1)
    # Claims on the traded elements alone: the others' need is exactly 0 (magnet plants use
    # none), so their claims would be 0 too, and adding 0 changes no sum.
    claim = _widen(
        startup_claim(
            made.sum(axis=2),
            cap,
            chain.new_capacity[:, chain.slices["metal"]],
            lambda: np.take(need, k, axis=2) - flow.received(),
            np.ones((cap.shape[1], need.shape[1])),
        ),
        k,
        len(ELEMENTS),
    )
    kernels.smooth_rate(chain.rate_m, used, claim / y, SMOOTHING)  # the backlog too
    if chain.traces:  # origin of what magnet plants get: every sample's flows
        origin.track_metal(chain, _widen(flow.dense(slice(None)), k, len(ELEMENTS)))
    chain.pipe["metal"].ship_flow(step, flow, chain.lane_lead["metal"])
    receive(chain, "metal", step)
    rec.produced(chain, step, "metal", made)
    if rec.detail:
        rec.market(chain, step, "metal", _widen(flow.dense(), k, len(ELEMENTS)))


def trade_oxide(chain: Chain, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Separated oxides go to metal plants and to users of elements, by priority, pro rata."""
    p = chain.params
    need_m = _position_need(
        chain.rate_m,
        p["plant_input_cover_months"],
        chain.input_lead["metal"],
        chain.metal_in,
        chain.pipe["oxide_metal"].buf,
    )
    need_b = _buyer_need(chain, step, chain.be, chain.be_at, chain.pipe["oxide_buyer"].buf)
    demand_b = chain.demand_of(step, chain.be)
    pool = chain.oxide_pool  # element buyers pooled by region and priority
    need = np.concatenate([need_m, pool.total(need_b)], axis=1)
    usage = np.concatenate([chain.rate_m, pool.total(demand_b)], axis=1)
    pm = need_m.shape[1]
    flow = chain.markets["oxide"].allocate(
        chain.sep_out, need, chain.allowed["oxide"], normal_need=usage
    )
    share_b = pool.share(need_b, need[:, pm:])
    chain.sep_out = chain.sep_out - flow.supplied()
    lead = chain.lane_lead["oxide"]
    chain.pipe["oxide_metal"].ship_flow(step, flow, lead, slice(0, pm))
    chain.pipe["oxide_buyer"].ship_flow(
        step, flow, lead, slice(pm, None), pool.destinations(share_b)
    )
    receive(chain, "oxide_metal", step)
    receive(chain, "oxide_buyer", step)
    if chain.traces:  # origin of what metal plants get: every sample's flows
        origin.track_oxide(chain, flow.dense(slice(None)))
    if rec.detail:
        x = flow.dense()
        rec.market(
            chain,
            step,
            "oxide",
            np.concatenate([x[:, :, :pm], pool.spread(x[:, :, pm:], share_b[:1])], axis=2),
        )
    got = flow.received()
    got_b = pool.pick(got[:, pm:]) * share_b
    covered = np.concatenate(
        [np.minimum(got[:, :pm], chain.rate_m), pool.total(np.minimum(got_b, demand_b))], axis=1
    )
    wanted = np.concatenate(
        [np.minimum(need_m, chain.rate_m), pool.total(np.minimum(need_b, demand_b))], axis=1
    )
    tiers = _tiers(chain.regions("metal") + chain.oxide_pool_regions)
    fill = _covered(covered, wanted, covered, list(tiers.values()), capped=False)
    for tier, share in zip(tiers, fill.transpose(1, 0, 2)):
        for e, name in enumerate(ELEMENTS[:-1]):
            rec.fill(step, f"{name}_oxide", tier, share[:, e])


def trade_concentrate(chain: Chain, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Mines' concentrate goes to the separation plants they feed (tonnes REO).

    While nothing upstream differs between the samples (a sweep draws export controls on
    oxides or magnets, or a plant's start), the trade is worked out once for all
    (`Chain.upstream`)."""
    rows = chain.upstream()
    allowed = chain.allowed["concentrate"]
    _trade_concentrate(
        chain,
        step,
        rec,
        chain.capacity[:rows, chain.slices["separation"]],
        chain.sep_in,
        chain.mine_stock,
        chain.pipe["concentrate"].buf,
        None if allowed is None else allowed[:rows],
    )
    receive(chain, "concentrate", step)


def _trade_concentrate(
    chain: Chain,
    step: int,
    rec: Recorder,
    cap: np.ndarray,
    sep_in: np.ndarray,
    mine_stock: np.ndarray,
    ring: np.ndarray,
    allowed: np.ndarray | None,
) -> None:
    """`trade_concentrate` for some samples: separation plants' capacity ``cap`` and feed
    ``sep_in``, mines' ``mine_stock`` (updated) and the pipeline's ``ring`` (shipped into)."""
    p = chain.params
    held, stock_reo = np.empty(cap.shape), np.empty(mine_stock.shape[:2])
    kernels.reo_held(sep_in, ring, REO_TO_ELEMENT, held)
    lead = np.maximum(chain.input_lead["separation"], 1.0)
    need = np.maximum(cap * (p["separation_input_cover_months"] + lead)[None] - held, 0.0)
    kernels.reo_held(mine_stock, np.empty((0, 0, 0, 0)), REO_TO_ELEMENT, stock_reo)
    market = chain.markets["concentrate"]
    flow = market.allocate(
        stock_reo[:, :, None], need[:, :, None], allowed, normal_need=cap[:, :, None]
    )
    mix = np.empty_like(mine_stock)
    kernels.ship_mix(mine_stock, stock_reo, flow.supplied()[:, :, 0], mix)
    # A lane's shipments carry its mines' mix, weighted by what each mine sends.
    lane_mix = np.take(market.sup.sum(flow.sup_share * mix), market.edge_sup.labels, axis=1)
    by_element = Flow(market, flow.sup_share_sl, flow.cus_share_sl, x=flow.x * lane_mix)
    by_element.ship_into(
        ring, step, chain.lane_lead["concentrate"], destinations=chain.pipe["concentrate"].same
    )
    if rec.detail:
        rec.market(chain, step, "concentrate", flow.dense() * mix[:1, :, None, :])


def release_stockpiles(chain: Chain, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Stockpiles release to (or buy from) the buyers they serve, before those consume."""
    demand = chain.demand(step)
    for pile in chain.stockpiles:
        b = pile.buyers
        chain.inventory[:, b] += draw(pile, np.take(demand, b, axis=1), chain.inventory[:, b], step)
    if chain.stockpiles:
        rec.stockpiled(step, np.stack([p.held for p in chain.stockpiles], axis=1))


def consume(chain: Chain, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Buyers use what they hold, up to this step's demand; the rest is their shortfall."""
    demand = chain.demand(step)
    got = np.minimum(demand, chain.inventory)
    chain.inventory = chain.inventory - got
    ledger.consumed += got @ chain.content
    rec.consumed(chain, step, demand, got)


def respond(chain: Chain, step: int, ledger: Ledger, rec: Recorder) -> None:
    """Buyers switch away from dear materials (with a lag); end-of-life scrap comes back."""
    if chain.substitutions:
        price = economics.market_price(chain, step)
        base = economics.base_at(chain, step)
        for sub in chain.substitutions:
            product = np.maximum(sub.product, 0)
            now = price[:, product, sub.tier]
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.where(
                    base[:, product, sub.tier] > 0, now / base[:, product, sub.tier], 1.0
                )
            adapt(sub, np.nan_to_num(ratio, nan=1.0), step)
    for rc in chain.recycling:
        back = recovered(rc, step, chain.warmup)
        chain.sep_out[:, rc.plant] += back
        if step >= 0:
            ledger.recycled_in += back


STAGES: tuple[Callable[[Chain, int, Ledger, Recorder], None], ...] = (
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
)


def urgent(env: simpy.Environment, delay: float) -> simpy.Event:
    """An event ``delay`` from now that fires before ordinary events of the same time."""
    event = simpy.Event(env)
    event._ok = True
    event._value = None
    env.schedule(event, URGENT, delay)
    return event


def switch(
    env: simpy.Environment, chain: Chain, target: Any, on_change: Callable[[], None]
) -> Generator[simpy.Event, None, None]:
    """Set ``target.level`` to ``target.at(step)`` at every step where it may change (the
    steps of ``target.times()`` and the ones after), from the step the run starts at."""
    first = int(env.now)
    for step in change_steps(target.times(), first, chain.steps, always=first):
        if step > env.now:
            yield urgent(env, step - env.now)
        target.level = target.at(step)
        on_change()


def actor(
    env: simpy.Environment,
    stage: Callable[[Chain, int, Ledger, Recorder], None],
    chain: Chain,
    ledger: Ledger,
    rec: Recorder,
) -> Generator[simpy.Event, None, None]:
    """Run one stage at every step."""
    while True:
        stage(chain, int(env.now), ledger, rec)
        yield env.timeout(1)

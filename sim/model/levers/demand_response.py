"""Demand response: substitution that follows price with a lag, end-of-life recycling, and
demand that grows at another rate for a while.

**Substitution.** Each `substitution` event covers some buyers (materials x regions x
sectors). Every step it reads the price each buyer faces (its material's product in its tier,
as producers see it: the price the market cleared at last step) against its base price. The
share of demand switched away moves towards a target, ``max_share`` times where the price
ratio sits between ``trigger_price_ratio`` (nothing) and ``full_price_ratio`` (all of it), by
``1 - exp(-1/adoption_months)`` of the gap a month. Unless ``reversible``, the share never
falls: redesigned motors stay redesigned. A buyer's demand is its demand path times the
product of ``1 - share`` over the events that cover it. Switched demand leaves the market; it
is not a shortfall.

**End-of-life recycling.** A `recycling` event returns, each month, ``collection_share`` (ramped
linearly over ``ramp_months`` from ``start``) of the magnets the region's buyers of that magnet
bought ``life_years`` earlier (their demand path extended back), as the elements of the magnet
recipe, recovered at the swarf recovery rate, into a separation plant's output. That mass
enters the books as ``recycled_in``.

**Demand growth.** A `demand_growth` event multiplies its buyers' demand path by
``((1 + growth_pa) / (1 + trend)) ** years`` between its dates (`path_row`, the same
`sim.model.capacity.GrowthChange` as `capacity_growth`), then holds the level reached.

The builders return each event's rules; the switched shares are part of the run's state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.arrays import spread
from sim.config.events import DemandGrowth, Recycling, Substitution
from sim.model.capacity import GrowthChange
from sim.model.layout import Layout
from sim.model.levers.economics import PRICE_PRODUCTS, TIERS
from sim.model.levers.timing import EventValues, active_fraction, ramp_average
from sim.units import FORM_ALIASES, MAGNETS
from sim.world.world import Buyer, World


@dataclass(frozen=True)
class SubstitutionRules:
    """One substitution event: its buyers and rules (one value a sample)."""

    buyers: np.ndarray  # indices into the chain's buyers
    product: np.ndarray  # [B] index of each buyer's price product (-1: no price, no switch)
    tier: np.ndarray  # [B] index of each buyer's price tier
    max_share: np.ndarray  # [S]
    trigger: np.ndarray  # [S]
    full: np.ndarray  # [S]
    speed: np.ndarray  # [S] share of the gap closed a month
    start: np.ndarray
    end: np.ndarray
    reversible: bool


def speed(adoption_months: np.ndarray) -> np.ndarray:
    """Share of the gap to target closed in a month for a time constant (0 = at once)."""
    safe = np.where(adoption_months > 0, adoption_months, 1.0)
    return np.where(adoption_months > 0, 1.0 - np.exp(-1.0 / safe), 1.0)


def build_substitutions(events: EventValues, buyers: list[Buyer]) -> list[SubstitutionRules]:
    """The scenario's substitution events, in its order."""
    return [_substitution(events, i, ev, buyers) for i, ev in events.of_kind(Substitution)]


def _named(value: object, name: str | None) -> bool:
    return value == "all" or name in value  # type: ignore[operator]


def _named_material(value: str | list[str], material: str) -> bool:
    """Whether a list of materials (or "all") names ``material``: "NdFeB" names both grades,
    as a control's form does (`sim.units.FORM_ALIASES`)."""
    if value == "all" or material in value:
        return True
    return any(material in FORM_ALIASES.get(m, ()) for m in value)


def _covered(ev: Substitution | DemandGrowth, buyers: list[Buyer]) -> list[int]:
    """The indices of the buyers an event's materials, regions and sectors name."""
    return [
        k
        for k, b in enumerate(buyers)
        if _named_material(ev.materials, b.material)
        and _named(ev.regions, b.region)
        and _named(ev.sectors, b.sector)
    ]


def build_demand_growth(events: EventValues, buyers: list[Buyer]) -> list[GrowthChange]:
    """The scenario's `demand_growth` events over the buyers: each one's buyers, their own
    yearly trend and the event's rate and dates (a sample each)."""
    changes = []
    for i, ev in events.of_kind(DemandGrowth):
        covered = _covered(ev, buyers)
        changes.append(
            GrowthChange(
                np.array(covered, dtype=int),
                np.array([buyers[k].growth_pa for k in covered]),
                events.value(i, "growth_pa"),
                events.when(i, "start", 0.0),
                events.when(i, "end", np.inf),
            )
        )
    return changes


def path_row(path: np.ndarray, changes: list[GrowthChange], step: int) -> np.ndarray:
    """``[1 or S, B]`` a step's demand before price and substitution: its row of the world's
    demand path, ``path[1, B]``, changed by the `demand_growth` events (one row a sample
    when there are any)."""
    if not changes:
        return path
    out = np.repeat(path, changes[0].growth.shape[0], axis=0)
    for change in changes:
        out[:, change.members] *= change.factor(step)
    return out


def _substitution(
    events: EventValues, i: int, ev: Substitution, buyers: list[Buyer]
) -> SubstitutionRules:
    """Substitution ``i``: its buyers, the price each one watches, and its rules."""
    covered = _covered(ev, buyers)
    product, tier = _price_cells([buyers[k] for k in covered])
    return SubstitutionRules(
        buyers=np.array(covered, dtype=int),
        product=product,
        tier=tier,
        max_share=events.value(i, "max_share"),
        trigger=events.value(i, "trigger_price_ratio"),
        full=events.value(i, "full_price_ratio"),
        speed=speed(events.value(i, "adoption_months")),
        start=events.when(i, "start", 0.0),
        end=events.when(i, "end", np.inf),
        reversible=ev.reversible,
    )


def _price_cells(buyers: list[Buyer]) -> tuple[np.ndarray, np.ndarray]:
    """Each buyer's price product (-1 for none) and tier, indices into `PRICE_PRODUCTS` and
    `TIERS`."""
    names = [f"{b.material}_{'magnet' if b.material in MAGNETS else 'oxide'}" for b in buyers]
    product = [PRICE_PRODUCTS.index(n) if n in PRICE_PRODUCTS else -1 for n in names]
    tier = [TIERS.index("china" if b.region == "CN" else "ex_china") for b in buyers]
    return np.array(product, dtype=int), np.array(tier, dtype=int)


def adapt(sub: SubstitutionRules, share: np.ndarray, ratio: np.ndarray, step: int) -> np.ndarray:
    """The switched ``share[S, B]`` moved one month towards its target for price ratios
    ``[S, B]``."""
    active = active_fraction(sub.start, sub.end, step)[:, None]
    span = (sub.full - sub.trigger)[:, None]
    reach = np.clip((ratio - sub.trigger[:, None]) / span, 0.0, 1.0)
    target = np.where(sub.product[None] >= 0, sub.max_share[:, None] * reach, 0.0)
    moved = share + (target - share) * (sub.speed[:, None] * active)
    return moved if sub.reversible else np.maximum(share, moved)


def demand(
    path: np.ndarray, samples: int, rules: list[SubstitutionRules], shares: list[np.ndarray]
) -> np.ndarray:
    """``[S, B]`` a step's demand: its row of the demand path, ``path[1, B]``, less what
    substitution switched (``shares``, one ``[S, buyers]`` a rule); a read-only view of the
    row when nothing can switch."""
    if not rules:
        return spread(path, (samples, path.shape[1]))
    kept = np.ones((samples, path.shape[1]))
    for sub, share in zip(rules, shares):
        kept[:, sub.buyers] *= 1.0 - share
    return path * kept


@dataclass(frozen=True)
class RecyclingRules:
    """One recycling event: the plant it feeds and the element yield per step, ``[S, T', E]``
    computed up front (from the demand path extended back by the product life)."""

    plant: int  # index among separation plants
    start: np.ndarray  # [S]
    ramp: np.ndarray  # [S]
    collection: np.ndarray  # [S]
    scrap: np.ndarray  # [S, steps incl. warm-up] t of magnet reaching end of life a month
    content: np.ndarray  # [E] recovered element per t of magnet scrap


def build_recycling(events: EventValues, layout: Layout, years: np.ndarray) -> list[RecyclingRules]:
    """The scenario's recycling events, in its order (``years``: the middle of every step,
    warm-up included, as a calendar year)."""
    return [_recycling(events, i, ev, layout, years) for i, ev in events.of_kind(Recycling)]


def _recycling(
    events: EventValues, i: int, ev: Recycling, layout: Layout, years: np.ndarray
) -> RecyclingRules:
    """Recycling ``i``: the magnets its region's buyers bought ``life_years`` before each
    step (their demand path, extended back), and what a tonne of scrap yields."""
    world = layout.world
    scrap = _scrap(world, ev, events.value(i, "life_years"), years)
    separation_plants = [f.id for f in layout.stage("separation")]
    return RecyclingRules(
        plant=separation_plants.index(ev.facility),
        start=events.when(i, "start", 0.0),
        ramp=events.value(i, "ramp_months"),
        collection=events.value(i, "collection_share"),
        scrap=scrap,
        content=world.recipes[ev.material] * world.parameters["swarf_recovery"],
    )


def _scrap(world: World, ev: Recycling, life_years: np.ndarray, years: np.ndarray) -> np.ndarray:
    """``[S, steps incl. warm-up]`` tonnes of magnet the event's buyers bought ``life_years``
    before each step (their demand path, extended back)."""
    life, base = life_years[:, None], world.base_year + 0.5
    scrap = np.zeros((len(life_years), len(years)))
    for b in world.buyers:
        if b.region == ev.region and b.material == ev.material:
            scrap += b.demand_tpa / 12.0 * (1.0 + b.growth_pa) ** (years[None] - life - base)
    return scrap


def recovered(rec: RecyclingRules, step: int, warmup: int) -> np.ndarray:
    """``[S, E]`` elements recovered from end-of-life scrap this step."""
    level = ramp_average(rec.start, rec.ramp, step) * rec.collection
    return (level * rec.scrap[:, step + warmup])[:, None] * rec.content[None]

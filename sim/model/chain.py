"""The chain's structure: what a run of one scenario's batch of samples does not change.

`Chain` turns a `World` and a `Scenario` (and a sweep's draws, one value a sample) into index
arrays over facilities and buyers, lead times, recipes, capacity tranches, the markets' lanes
and the levers' rules, built once for a batch. What changes during a run (stocks, pipelines,
rates, prices, levels) is the run's `sim.model.state.State`; the stages that move material
each step (`sim.model.stages`) read both.

Shapes: ``S`` samples, ``E`` elements, ``F`` facilities (mines, then separation, metal and
magnet plants), ``B`` buyers (of magnets and of elements).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np

from sim.config.market import bounded
from sim.config.scenario import Scenario
from sim.market import MarketCache
from sim.model import buyers as buyer_arrays
from sim.model import controls, trade
from sim.model.capacity import (
    Tranches,
    apply_capacity_events,
    build_caps,
    build_growth_changes,
    build_outages,
    growth_path,
)
from sim.model.layout import Layout, lead_matrix
from sim.model.levers import (
    buying,
    demand_response,
    economics,
    offtakes,
    origin,
    prices,
    stockpiles,
    supply_response,
    thrifting,
)
from sim.model.levers.reach import Products, Side
from sim.model.levers.timing import EventValues, calendar_years
from sim.units import ELEMENT_INDEX, ELEMENTS, LIGHT, MAGNETS, REO_TO_ELEMENT, month_index
from sim.world.world import Facility, World

E = len(ELEMENTS)


class Chain(Layout):
    """The structure of one batch of ``samples`` futures of one scenario (a `Layout` of its
    facilities and all the rest); a run does not change it.

    Steps run from ``-warmup`` (a settling period with the same world, not reported) to
    ``steps - 1``; step ``t`` is the month starting ``t`` months after the horizon's origin.
    """

    def __init__(
        self,
        world: World,
        scenario: Scenario,
        samples: int,
        warmup: int,
        draws: Mapping[str, np.ndarray] | None = None,
        market_cache: MarketCache | None = None,
    ) -> None:
        super().__init__(_with_market(apply_capacity_events(world, scenario), scenario))
        self.scenario = scenario
        self.samples = samples
        self.origin, self.steps = horizon(scenario)
        self.warmup = warmup
        # the world's parameters, with the scenario's market block's and a sweep's drawn
        # market parameters (one value a sample, an array ``[S]``) over them
        self.params = _drawn_market(self.world.parameters, draws)
        self.events = EventValues(scenario, draws, self.origin, samples)
        # the middle of every step, warm-up included, as a calendar year
        self.years = calendar_years(self.origin, self.world.base_year, warmup, self.steps)
        growth = growth_path(self.facilities, self.origin, self.world.base_year, warmup, self.steps)
        self.tranches = Tranches(self.facilities, self.events, growth)
        self._build_plants()
        self._build_buyers()
        self._build_levers(MarketCache() if market_cache is None else market_cache)
        self.economics = economics.build(self, self.events)
        self.thrift = thrifting.build(
            self.params,
            self.world.recipes,
            {product for product, _ in self.world.prices_usd_per_kg},
            self.regions("magnet"),
            self.magnet_product,
            self.buyer_material,
        )
        buyers = prices.Buyers(
            self.buyer_region,
            self.buyer_material,
            self.content,
            self.magnet_buyers,
            self.thrift.buyer_delta,
        )
        sides = self.sides(self.buyers, self.magnet_buyers, self.element_buyers)
        scopes = [c.scope for c in self.controls]
        self.supply_responses = supply_response.build(self)
        self.buying = buying.build(
            self.buyers, self.world.demand_elasticity, self.params, self.world.prices_usd_per_kg
        )
        self.price_rules = prices.build(
            self, self.params, buyers, self.magnet_product, sides, scopes
        )

    def _build_plants(self) -> None:
        """What plants do: mines' element mix, separation plants' recovery and feeds, magnet
        plants' products and recipes, where swarf goes, and lead times between plants."""
        world, mines = self.world, self.stage("mine")
        separation, magnet = self.stage("separation"), self.stage("magnet")
        self.mine_mix = np.array([world.ores[m.ore] * REO_TO_ELEMENT for m in mines]).reshape(-1, E)
        self.separation_recovery = _recovery(self.params["separation_recovery"], separation)
        self.feeds = _feeds(mines, separation)
        self.feed_order = _feed_order(world, mines, self.feeds[:, :, 0])
        self.separation_priority = np.array([s.priority for s in separation], dtype=int)
        self.magnet_product = np.array([MAGNETS.index(p.product) for p in magnet], dtype=int)
        self.recipe = np.array([world.recipes[p.product] for p in magnet]).reshape(-1, E)
        self.swarf_to = np.array([_recycler(world, separation, p) for p in magnet], dtype=int)
        self.products = Products(
            self.mine_mix,
            self.recipe,
            self.magnet_product,
            len(separation),
            len(self.stage("metal")),
        )
        self.lead = {
            route: lead_matrix(world, self.regions(source), self.regions(to))
            for route, source, to in (
                ("concentrate", "mine", "separation"),
                ("oxide_metal", "separation", "metal"),
                ("metal", "metal", "magnet"),
            )
        }

    def _build_buyers(self) -> None:
        """Buyers: who buys magnets and who elements, what their material holds, their
        demand path, the plants that may serve them, and lead times to them."""
        self.buyers = buyers = list(self.world.buyers)
        self.is_magnet = np.array([b.material in MAGNETS for b in buyers])
        self.magnet_buyers = np.flatnonzero(self.is_magnet)
        self.element_buyers = np.flatnonzero(~self.is_magnet)
        self.magnet_buyers_at = buyer_arrays.span(self.magnet_buyers)  # a slice when it can be
        self.element_buyers_at = buyer_arrays.span(self.element_buyers)
        self.buyer_region = np.array([b.region for b in buyers])
        self.buyer_material = np.array([b.material for b in buyers])
        self.content = buyer_arrays.content(buyers, self.world.recipes)
        self.buyer_priority = np.array([b.priority for b in buyers], dtype=int)
        # months of use each buyer keeps in stock, ``[S or 1, B]``: its cover_weeks times the
        # market's buyer_cover_scale (one a sample where a sweep draws it)
        scale = np.reshape(np.asarray(self.params["buyer_cover_scale"], dtype=float), (-1, 1))
        self.cover = buyer_arrays.cover_months(buyers)[None] * scale
        self.demand_path = buyer_arrays.demand_path(buyers, self.years, self.world.base_year)
        # each market's demand index, a product column each ([steps incl. warm-up, K]): its
        # reference grows with it while a control holds it (`sim.market.reference`)
        self.contained = self.demand_path @ self.content  # [steps, E] every buyer's elements
        magnet_t = self.demand_path[:, self.magnet_buyers]
        self.market_index = {
            "concentrate": self.contained.sum(axis=1, keepdims=True),
            "oxide": self.contained,
            "metal": self.contained,  # the market trades some of the columns
            "magnet": magnet_t.sum(axis=1, keepdims=True),
        }
        self.magnet_contained = magnet_t @ self.content[self.magnet_buyers]
        self.magnet_open, self.magnet_home = buyer_arrays.magnet_routes(
            self.stage("magnet"), self.regions("magnet"), buyers, self.magnet_buyers
        )
        # metal plants' projects take up the unmet need of magnet plants in their own price
        # tier (China, or outside it): `trading._metal_claim`
        china = [np.array([f.country == "CN" for f in self.stage(s)]) for s in ("metal", "magnet")]
        self.metal_claim_open = (china[0][:, None] == china[1][None, :]) * 1.0
        for route, plants, served in (
            ("magnet", "magnet", self.magnet_buyers),
            ("oxide_buyer", "separation", self.element_buyers),
        ):
            regions = [buyers[i].region for i in served]
            self.lead[route] = lead_matrix(self.world, self.regions(plants), regions)
        self._build_leads()

    def _build_leads(self) -> None:
        """Each plant's lead time from its suppliers, and each buyer's from the plants that
        may serve it, averaged by capacity."""
        tpa = {st: buyer_arrays.nameplate_tpa(self.stage(st)) for st in self.slices}
        customers = {"oxide_metal": len(self.stage("metal")), "metal": len(self.stage("magnet"))}
        self.input_lead = {
            "separation": buyer_arrays.mean_lead(
                tpa["mine"][:, None] * self.feeds[:, :, 0], self.lead["concentrate"]
            ),
            "metal": buyer_arrays.mean_lead(
                np.repeat(tpa["separation"][:, None], customers["oxide_metal"], axis=1),
                self.lead["oxide_metal"],
            ),
            "magnet": buyer_arrays.mean_lead(
                np.repeat(tpa["metal"][:, None], customers["metal"], axis=1), self.lead["metal"]
            ),
        }
        existing = buyer_arrays.nameplate_tpa(self.stage("magnet"), existing=True)
        self.buyer_lead = buyer_arrays.buyer_lead(
            len(self.buyers),
            self.magnet_buyers,
            self.element_buyers,
            existing[:, None] * self.magnet_open[:, :, 0],
            self.lead["magnet"],
            tpa["separation"],
            self.lead["oxide_buyer"],
        )

    def _build_levers(self, market_cache: MarketCache) -> None:
        """The scenario's events (controls, outages, stockpiles, offtakes, demand response,
        the origin rule) and the markets, whose lanes follow the controls' reach."""
        events, products = self.events, self.products
        sides = self.sides(self.buyers, self.magnet_buyers, self.element_buyers)
        self.controls = controls.build_controls(
            events,
            sides,
            products,
            self.world.named,
            controls.Demand(self.contained, self.magnet_contained, self.warmup),
        )
        self.restraints = controls.build_restraints(events)
        self.outages = build_outages(events, self.named)
        self.caps = build_caps(events, self.named)
        self.growth_changes = build_growth_changes(events, self.facilities, self.index)
        self.stockpiles = stockpiles.build(events, self.buyers, self.content)
        self.offtakes = offtakes.build(
            events, self, self.buyers, self.magnet_buyers, self.magnet_open
        )
        self.oxide_offtakes = offtakes.build_oxide(events, self)
        self.substitutions = demand_response.build_substitutions(events, self.buyers)
        self.demand_changes = demand_response.build_demand_growth(events, self.buyers)
        self.recycling = demand_response.build_recycling(events, self, self.years)
        self.origin_rule = origin.build(
            [c.event for c in self.controls], controls.reach_thresholds(events), sides, products
        )
        self.trade = self._build_trade(sides, market_cache)
        self.fill_cells = economics.FillCells.build(
            list(self.buyer_region[self.magnet_buyers]),
            self.buyer_material[self.magnet_buyers],
            self.regions("metal") + self.trade.oxide_pool_regions,
        )

    def _build_trade(
        self, sides: dict[str, tuple[Side, Side]], market_cache: MarketCache
    ) -> trade.Trade:
        """The four markets, their lanes split by the controls' reach."""
        element = np.array([ELEMENT_INDEX[self.buyers[b].material] for b in self.element_buyers])
        routes = {
            "concentrate": trade.Routes(
                self.feeds, self.separation_priority, None, self.feed_order
            ),
            "magnet": trade.Routes(
                self.magnet_open, self.buyer_priority[self.magnet_buyers], self.magnet_home
            ),
        }
        return trade.build(
            sides,
            self.lead,
            routes,
            (self.buyer_priority[self.element_buyers], element.astype(int)),
            self.recipe,
            *self._scopes(),
            bool(self.origin_rule.reaches),
            market_cache,
        )

    def _scopes(self) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
        """The markets' scopes (each control's reach, its routes back, each plant's routes
        under an extraterritorial control) and their cap groups (an extraterritorial
        control's plants' with its own routes)."""
        rule = self.origin_rule
        plants = origin.plant_scopes(rule, self.controls[0].scope) if rule.reaches else []
        scopes = controls.scopes(self.controls) + plants
        reaches = [rule.reaches[r].control for r, _ in rule.plant_routes]
        groups = np.concatenate([controls.scope_groups(self.controls), reaches]).astype(np.int64)
        return scopes, groups


def horizon(scenario: Scenario) -> tuple[dt.date, int]:
    """The first day of a scenario's first month (the origin of steps), and its months."""
    origin = dt.date(scenario.horizon.start.year, scenario.horizon.start.month, 1)
    return origin, int(np.floor(month_index(origin, scenario.horizon.end))) + 1


def _recovery(recovery: float, plants: list[Facility]) -> np.ndarray:
    """``[separation plants, E]`` share of each element a plant recovers (light-only plants
    only the light ones, `sim.units.LIGHT`)."""
    light = np.array([e in LIGHT for e in ELEMENTS], dtype=float)
    return np.array(
        [recovery * (light if s.recovers == "light" else np.ones(E)) for s in plants]
    ).reshape(-1, E)


def _feeds(mines: list[Facility], plants: list[Facility]) -> np.ndarray:
    """``[mines, separation plants, 1]`` 1 where a mine may feed a plant."""
    return np.array(
        [[(not s.feeds_from) or m.id in s.feeds_from for s in plants] for m in mines], dtype=float
    ).reshape(len(mines), len(plants))[:, :, None]


def _feed_order(world: World, mines: list[Facility], feeds: np.ndarray) -> np.ndarray:
    """``[mines]`` the order in which separation plants take mines' concentrate beyond
    established output: the most valuable ore a tonne of REO first (its oxides at the world's
    base prices), so that spare capacity goes to scarce valuable feed before plentiful cheap
    feed. A mine comes right after the last mine of more valuable ore that feeds a plant it
    feeds (``feeds[mines, plants]``), so mines that never meet share a turn (0 first), and
    so do mines of ores of equal value."""
    usd = _usd_per_kg_oxide(world)
    value = np.array([float(np.dot(world.ores[m.ore], usd)) for m in mines])
    meet = (feeds @ feeds.T) > 0  # [mines, mines] feed a plant in common
    order = np.zeros(len(mines), dtype=int)
    for level in np.unique(-value):  # most valuable first
        group = value == -level
        before = meet[group].any(axis=0) & (value > -level)
        order[group] = order[before].max() + 1 if before.any() else 0
    return order


def _usd_per_kg_oxide(world: World) -> np.ndarray:
    """``[E]`` the world's base price of each element's oxide (the mean of the tiers; an
    element with no price counts 0): a kg of REO of an ore's split ``ore[E]`` (shares of REO)
    is worth ``ore @ usd``."""
    prices = world.prices_usd_per_kg
    return np.array(
        [
            np.mean([v for (product, _), v in prices.items() if product == f"{e}_oxide"] or [0.0])
            for e in ELEMENTS
        ]
    )


def _recycler(world: World, plants: list[Facility], magnet_plant: Facility) -> int:
    """Separation plant that takes a magnet plant's swarf: the largest in the same country,
    else region (-1: none)."""
    cap = [sum(t.capacity_tpa for t in s.tranches) for s in plants]
    for same in (
        lambda s: s.country == magnet_plant.country,
        lambda s: world.region(s.country) == world.region(magnet_plant.country),
    ):
        hits = [i for i, s in enumerate(plants) if same(s)]
        if hits:
            return max(hits, key=lambda i: cap[i])
    return -1


def _with_market(world: World, scenario: Scenario) -> World:
    """``world`` with the parameters the scenario's ``market:`` block sets (a distribution's
    central value, in a single run)."""
    values = scenario.market.values()
    if not values:
        return world
    return dataclasses.replace(world, parameters=bounded(world.parameters, values))


def _drawn_market(
    parameters: Mapping[str, Any], draws: Mapping[str, np.ndarray] | None
) -> Mapping[str, Any]:
    """``parameters`` with a sweep's drawn market parameters (``market.NAME``), an array of
    one value a sample each; the same mapping when none is drawn."""
    drawn = {
        key.removeprefix("market."): np.asarray(values, dtype=float)
        for key, values in (draws or {}).items()
        if key.startswith("market.")
    }
    return bounded(parameters, drawn) if drawn else parameters

"""From tonnes to what people lose: units not built (with the units planned beside them), the
value of that output, what buyers pay over 2024 prices, and what policies cost their payers;
by period (`sim.runs.windows`) and region, with the regions rolled up.

Units not built are a month's shortfall (t, sample 0) over the product's magnet per unit
(``intensities.csv``), for a product that takes all its sector's magnets (EVs, wind); products
that together take a sector's magnets (electric and hybrid cars of EV traction) share its
shortfall as they share its planned magnet (units x kg a unit). For a product that takes a
part of them (an F-35 of defence), the planned units times the share of the sector's demand
short. Never more than the units planned (``unit_plans.csv``, grown as the
buyers' demand grows): a month whose tonnes would make more is capped and flagged
(``capped``), which says the tonnes and the plans disagree (`consistency_table`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.config.events import PriceFloor, Stockpile
from sim.config.scenario import Scenario
from sim.runs.engine import PRICE_PRODUCTS, TIERS, Record, RunResult
from sim.runs.gdp import gdp_table
from sim.runs.resilience import resilience_table
from sim.runs.summary import first_event
from sim.runs.windows import Window, periods, with_rollups
from sim.units import ELEMENT_INDEX, MAGNETS, REO_TO_ELEMENT, month_index
from sim.world.impact_data import ImpactData, buyer_growth, gdp_multipliers, impact_data
from sim.world.world import World

KG_PER_T = 1000.0
GROUP = ["date", "region", "sector", "material"]
SECTOR_KEYS = ["region", "sector", "material"]
UNIT_KEYS = ["period", "region", "sector", "product", "unit"]
UNIT_SUMS = ["planned_units", "units_not_built", "capped_months", "output_at_risk_usd"]
COST_KEYS = ["period", "region", "sector", "material"]
COST_SUMS = ["bought_t", "extra_cost_usd"]
CHECK_COLUMNS = [
    "product",
    "unit",
    "region",
    "demand_t",
    "units",
    "implied_kg_per_unit",
    "kg_low",
    "kg_high",
    "whole_sector",
    "within",
]


def plans_table(world: World, data: ImpactData) -> pd.DataFrame:
    """One row a plan: region, sector, material, product, unit, kg a unit (and its band),
    whether it takes its whole sector, base-year units, growth (resolved) and value a unit."""
    rows = []
    for plan in data.plans:
        product = data.products[plan.product]
        growth = plan.growth_pa
        if growth is None:
            growth = buyer_growth(world, plan.region, product)
        rows.append(
            {
                "region": plan.region,
                "sector": product.sector,
                "material": product.material,
                "product": product.id,
                "unit": product.unit,
                "kg_per_unit": product.kg_per_unit,
                "kg_low": product.kg_low,
                "kg_high": product.kg_high,
                "whole_sector": product.whole_sector,
                "units": plan.units,
                "growth_pa": growth,
                "usd_per_unit": plan.usd_per_unit,
            }
        )
    return pd.DataFrame(rows)


def monthly_plans(result: RunResult) -> pd.DataFrame:
    """Each plan's units a month over the run (grown from the middle of the base year, as
    the buyers' demand is): the `plans_table` columns, with ``date`` and ``planned_units``."""
    chain = result.chain
    plans = plans_table(chain.world, impact_data(result.scenario.world))
    if plans.empty:
        return plans.assign(date=[], planned_units=[])
    years = chain.years[chain.warmup : chain.warmup + chain.steps]
    since_base = years[:, None] - (chain.world.base_year + 0.5)
    planned = plans["units"].to_numpy() * (1 + plans["growth_pa"].to_numpy()) ** since_base / 12
    frame = plans.loc[np.tile(plans.index, len(years))].reset_index(drop=True)
    dates = np.repeat(np.array(result.dates, dtype=object), len(plans))
    return frame.assign(date=dates, planned_units=planned.ravel())


def units_lost(shortfall: pd.DataFrame, planned: pd.DataFrame) -> pd.DataFrame:
    """Each month x plan with its buyers' demand and shortfall: ``units_not_built`` (capped at
    the month's planned units), ``capped_months`` (1 where capped) and
    ``output_at_risk_usd``."""
    rows = planned.merge(shortfall[[*GROUP, "demand_t", "shortfall_t"]], on=GROUP)
    demand_kg = rows["demand_t"].to_numpy() * KG_PER_T
    part = np.divide(
        rows["planned_units"] * rows["kg_per_unit"],
        demand_kg,
        out=np.zeros(len(rows)),
        where=demand_kg > 0,
    )
    whole = whole_share(rows, GROUP, "planned_units")
    share = np.where(rows["whole_sector"], whole, np.minimum(part, 1.0))
    wanted = rows["shortfall_t"] * KG_PER_T * share / rows["kg_per_unit"]
    lost = np.minimum(wanted, rows["planned_units"])
    return rows.assign(
        units_not_built=lost,
        capped_months=(wanted > rows["planned_units"] * (1 + 1e-9)).astype(int),
        output_at_risk_usd=lost * rows["usd_per_unit"],
    )


def whole_share(rows: pd.DataFrame, keys: list[str], units: str) -> np.ndarray:
    """Each whole-sector row's share of the planned magnet (``units`` x kg a unit) of the
    whole-sector rows of its group (``keys``): 1 for a sector's only product."""
    planned_kg = (rows[units] * rows["kg_per_unit"]).where(rows["whole_sector"].astype(bool))
    total = planned_kg.groupby([rows[k] for k in keys]).transform("sum")
    return np.divide(
        planned_kg.to_numpy(dtype=float),
        total.to_numpy(dtype=float),
        out=np.ones(len(rows)),
        where=total.to_numpy(dtype=float) > 0,
    )


def units_table(shortfall: pd.DataFrame, planned: pd.DataFrame, window: Window) -> pd.DataFrame:
    """Units not built beside units planned, by period x region (and roll-ups) x sector x
    product, with the value of the output lost and the months capped (no rows for a world
    without plans)."""
    if planned.empty:
        return pd.DataFrame(columns=[*UNIT_KEYS, *UNIT_SUMS, "share_not_built"])
    rows = units_lost(shortfall, planned)
    rows["period"] = periods(rows["date"], window)
    rows = rows.dropna(subset=["period"])
    summed = rows.groupby(UNIT_KEYS, sort=True)[UNIT_SUMS].sum().reset_index()
    out = with_rollups(summed, UNIT_KEYS, UNIT_SUMS)
    return out.assign(
        share_not_built=np.divide(
            out["units_not_built"],
            out["planned_units"],
            out=np.zeros(len(out)),
            where=out["planned_units"] > 0,
        )
    )


def extra_cost_table(
    result: RunResult, shortfall: pd.DataFrame, window: Window, sample: int = 0
) -> pd.DataFrame:
    """What buyers paid over 2024 prices for what they bought: price change from the world's
    base price in their tier, times the kg delivered (oxide kg for element buyers), by
    period x region (and roll-ups) x sector x material."""
    rows = shortfall.assign(period=periods(shortfall["date"], window)).dropna(subset=["period"])
    product, tier, per_kg = price_cells(rows)
    step = _steps(result, rows["date"])
    change = result.prices_usd_per_kg[sample] - result.chain.economics.base_prices[None]
    priced = product >= 0
    moved = np.where(priced, change[step, np.maximum(product, 0), tier], 0.0)
    rows = rows.assign(
        bought_t=rows["delivered_t"],
        extra_cost_usd=rows["delivered_t"].to_numpy() * KG_PER_T * per_kg * np.nan_to_num(moved),
    )
    summed = rows.groupby(COST_KEYS, sort=True)[COST_SUMS].sum().reset_index()
    return with_rollups(summed, COST_KEYS, COST_SUMS)


def price_cells(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's price product (-1: not priced) and tier, and kg of the priced product per
    kg delivered (oxide per contained element for element buyers)."""
    material = rows["material"]
    is_magnet = material.isin(MAGNETS).to_numpy()
    names = material + np.where(is_magnet, "_magnet", "_oxide")
    index = {name: i for i, name in enumerate(PRICE_PRODUCTS)}
    product = names.map(index).fillna(-1).to_numpy(dtype=int)
    in_china = rows["region"].to_numpy() == "CN"
    tier = np.where(in_china, TIERS.index("china"), TIERS.index("ex_china"))
    oxide = {m: 1.0 / REO_TO_ELEMENT[i] for m, i in ELEMENT_INDEX.items()}
    per_kg = np.where(is_magnet, 1.0, material.map(oxide).fillna(1.0).to_numpy(dtype=float))
    return product, tier, per_kg


def _steps(result: RunResult, dates: pd.Series) -> np.ndarray:
    """The run's step of each date."""
    step = {d: t for t, d in enumerate(result.dates)}
    return dates.map(step).to_numpy(dtype=int)


def policy_costs_table(result: RunResult, window: Window, sample: int = 0) -> pd.DataFrame:
    """What each policy cost its payer a period: price-floor top-ups (US$ paid to the
    beneficiary) and stockpile purchases (tonnes bought times the price in the stockpile's
    region's tier)."""
    usd = policy_usd(result.scenario, result.record, result.prices_usd_per_kg)
    labels = policy_labels(result.scenario)
    months = len(result.dates)
    frame = labels.loc[np.tile(np.arange(len(labels)), months)].reset_index(drop=True)
    frame["period"] = np.repeat(periods(pd.Series(result.dates), window).to_numpy(), len(labels))
    frame["usd"] = usd[min(sample, usd.shape[0] - 1)].ravel()
    frame = frame.dropna(subset=["period"])
    keys = ["period", "policy", "kind", "payer"]
    return frame.groupby(keys, sort=True)["usd"].sum().reset_index()


def policy_labels(scenario: Scenario) -> pd.DataFrame:
    """Name, kind and payer of each policy that costs its payer money: the price floors,
    then the stockpiles, in the scenario's order (the columns of `policy_usd`)."""
    rows = [
        (ev.label or f"{ev.product} floor", "price_floor", ev.payer)
        for ev in scenario.events
        if isinstance(ev, PriceFloor)
    ] + [
        (ev.label or f"{ev.region} {ev.material}", "stockpile_purchase", f"{ev.region} stockpile")
        for ev in scenario.events
        if isinstance(ev, Stockpile)
    ]
    return pd.DataFrame(rows, columns=["policy", "kind", "payer"])


def policy_usd(scenario: Scenario, record: Record, prices_usd_per_kg: np.ndarray) -> np.ndarray:
    """``[S, T, policies]`` what each policy of `policy_labels` paid a month: a floor's
    top-ups; a stockpile's purchases (its initial stock when it starts, then its holding's
    rises) at the month's price in its region's tier. One row for every sample when the
    record has one."""
    floors = record.floor_usd
    piles = [ev for ev in scenario.events if isinstance(ev, Stockpile)]
    samples, months = prices_usd_per_kg.shape[:2]
    parts = [floors if floors is not None else np.zeros((samples, months, 0))]
    if piles and record.stockpile_t is not None:
        bought = _pile_purchases(scenario, record.stockpile_t, piles)
        price = np.stack([_pile_price(prices_usd_per_kg, ev) for ev in piles], axis=-1)
        parts.append(bought * KG_PER_T * price)
    rows = max(part.shape[0] for part in parts)
    return np.concatenate([np.broadcast_to(p, (rows, *p.shape[1:])) for p in parts], axis=-1)


def _pile_purchases(scenario: Scenario, held: np.ndarray, piles: list[Stockpile]) -> np.ndarray:
    """``[S, T, piles]`` tonnes each stockpile bought a month: its initial stock in the month
    it starts (if within the horizon), then each rise of its holding."""
    initial = np.broadcast_to([ev.initial_t for ev in piles], (len(held), 1, len(piles)))
    bought = np.maximum(np.diff(held, axis=1, prepend=initial), 0.0)
    for j, ev in enumerate(piles):
        month = int(month_index(scenario.horizon.start, ev.start))
        if 0 <= month < bought.shape[1]:
            bought[:, month, j] += ev.initial_t
    return bought


def _pile_price(prices_usd_per_kg: np.ndarray, pile: Stockpile) -> np.ndarray:
    """``[S, T]`` a stockpile's material's price a kg, in its region's tier (0 if unpriced)."""
    magnet = pile.material in MAGNETS
    name = f"{pile.material}_{'magnet' if magnet else 'oxide'}"
    if name not in PRICE_PRODUCTS:
        return np.zeros(prices_usd_per_kg.shape[:2])
    tier = TIERS.index("china" if pile.region == "CN" else "ex_china")
    price = prices_usd_per_kg[:, :, PRICE_PRODUCTS.index(name), tier]
    per_kg = 1.0 if magnet else 1.0 / REO_TO_ELEMENT[ELEMENT_INDEX[pile.material]]
    return np.nan_to_num(price) * per_kg


def impact_tables(
    result: RunResult, shortfall: pd.DataFrame, window: Window
) -> dict[str, pd.DataFrame]:
    """A run's impact tables by file name: units not built with their value, the GDP lost
    with them, what buyers paid over 2024 prices, resilience by buyer group, and policy costs
    (when it has policies)."""
    units = units_table(shortfall, monthly_plans(result), window)
    tables = {
        "units_not_built.csv": units,
        "gdp.csv": gdp_table(units, gdp_multipliers(result.scenario.world)),
        "extra_cost.csv": extra_cost_table(result, shortfall, window),
        "resilience.csv": resilience_table(shortfall, first_event(result)),
    }
    policy = policy_costs_table(result, window)
    return tables | ({"policy_costs.csv": policy} if not policy.empty else {})


def consistency_table(world: World, data: ImpactData) -> pd.DataFrame:
    """The world's base-year demand in kg of magnet over each product's units planned, by
    region and for the world: for a product that takes its whole sector, the kg a unit its
    buyers' demand implies, ``within`` its sourced band (products that share a sector take
    its demand as they share its planned magnet: ``demand_t`` is their part); for a part of a
    sector, within if the units fit in the sector's demand at the band's low end."""
    plans = plans_table(world, data)
    if plans.empty:
        return plans
    demand = pd.DataFrame(
        [(b.region, b.sector, b.material, b.demand_tpa) for b in world.buyers],
        columns=["region", "sector", "material", "demand_t"],
    )
    rows = plans.merge(demand, on=["region", "sector", "material"])
    taken = np.where(rows["whole_sector"], whole_share(rows, SECTOR_KEYS, "units"), 1.0)
    rows["demand_t"] = rows["demand_t"] * taken
    keys = ["product", "unit", "kg_per_unit", "kg_low", "kg_high", "whole_sector"]
    world_rows = rows.groupby(keys, sort=False)[["units", "demand_t"]].sum().reset_index()
    rows = pd.concat([rows, world_rows.assign(region="world")], ignore_index=True)
    implied = rows["demand_t"] * KG_PER_T / rows["units"]
    high_ok = ~rows["whole_sector"] | (implied <= rows["kg_high"])
    return rows.assign(implied_kg_per_unit=implied, within=(implied >= rows["kg_low"]) & high_ok)[
        CHECK_COLUMNS
    ]

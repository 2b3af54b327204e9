"""GDP lost with the output at risk, for the regions whose products have input-output
multipliers (the US first): each product's lost output (units not built times their value,
`sim.runs.impact`) times the domestic value added a US$ of its final output carries, direct
and indirect (Type I: no induced spending), by period and product, as the USGS 2025
critical-minerals methodology turns lost output into GDP through input-output tables.

Assumptions (docs/design.md, Impact): lost units are final output lost, not made up later
nor by other producers; fixed input coefficients and prices; the value of a unit is its
final price; no induced (household spending) effects.
"""

from __future__ import annotations

import pandas as pd

from sim.world.impact_data import GdpMultiplier

KEYS = ["period", "region", "sector", "product", "industry_code", "industry"]
COLUMNS = [*KEYS, "output_at_risk_usd", "va_per_usd", "gdp_lost_usd"]


def gdp_table(units: pd.DataFrame, multipliers: tuple[GdpMultiplier, ...]) -> pd.DataFrame:
    """A row a period x region x product with a multiplier: the output at risk (US$, from
    ``units_not_built.csv``'s rows), the value added a US$ carries and the GDP lost."""
    found = pd.DataFrame(
        [vars(m) for m in multipliers], columns=list(GdpMultiplier.__annotations__)
    )
    rows = units.merge(found, on=["region", "product"])
    rows = rows.assign(gdp_lost_usd=rows["output_at_risk_usd"] * rows["va_per_usd"])
    return rows[COLUMNS].sort_values(KEYS, kind="stable").reset_index(drop=True)

"""The market's behaviour a scenario may set, or leave uncertain: how steeply and how fast
prices answer stock cover, how holders and buyers stock, and how magnet makers thrift; and
how much stock buyers hold in normal times (``buyer_cover_scale``, a multiple of every
buyer's ``cover_weeks``: the downstream chain's stocks are among the least known inputs), and
how long magnet makers take to move their metal orders (``metal_qualification_months``).

These are the behavioural parameters `sim calibrate --fit` searches (`BOUNDS`, the ranges it
searches), whose values differ by the history they are fitted on (docs/market-parameters.md
section 15): a scenario's ``market:`` block sets them over the world's own values, and a
sweep draws any written as a distribution, so that the market's behaviour is an uncertain
input beside the policy's (``market.price_cover_sensitivity`` in `sim sensitivity`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from sim.config.strict import Float, Strict

BOUNDS: dict[str, tuple[float, float]] = {
    "price_cover_sensitivity": (0.5, 5.0),
    "price_adjustment_months": (0.25, 12.0),
    "stocking_sensitivity": (0.0, 5.0),
    "holding_sensitivity": (0.0, 2.0),
    "expectation_months": (1.0, 24.0),
    "stocking_months": (0.5, 12.0),
    "price_foresight_months": (0.0, 12.0),
    # how fast and from what cost magnet makers thrift Dy and Tb (requalifying a grade takes
    # one to three years: docs/market-parameters.md section 7)
    "thrift_adoption_months": (6.0, 36.0),
    "thrift_trigger_price_ratio": (1.0, 3.0),
}


# what a scenario may also set or draw but no fit searches: a multiple of every buyer's normal
# cover (`sim/world/data/demand.csv`, ``cover_weeks``), from a quarter to four times it, and
# the months magnet makers take to move their metal orders to a plant (0: at once; qualifying
# a magnet grade takes one to three years, `sim.model.levers.qualification`)
LIMITS: dict[str, tuple[float, float]] = {
    **BOUNDS,
    "buyer_cover_scale": (0.25, 4.0),
    "metal_qualification_months": (0.0, 36.0),
}


def _field(name: str, description: str) -> Any:
    low, high = LIMITS[name]
    return Field(None, ge=low, le=high, description=f"{description} ({low:g} to {high:g}).")


class Market(Strict):
    """The ``market:`` block: behavioural parameters over the world's (`parameters.csv`);
    those not written keep the world's values."""

    price_cover_sensitivity: Float | None = _field(
        "price_cover_sensitivity",
        "Elasticity of price to stock cover: halving cover multiplies the indicated price by "
        "2 to this power",
    )
    price_adjustment_months: Float | None = _field(
        "price_adjustment_months", "Time constant of price's move towards the indicated price"
    )
    stocking_sensitivity: Float | None = _field(
        "stocking_sensitivity",
        "Buyers' target cover as (price / expected price) to this power",
    )
    holding_sensitivity: Float | None = _field(
        "holding_sensitivity",
        "Holders' wanted cover, in the price, as (price / expected price) to this power",
    )
    expectation_months: Float | None = _field(
        "expectation_months", "Time constant of the price holders and buyers expect"
    )
    stocking_months: Float | None = _field(
        "stocking_months", "Time constant of the move of target cover"
    )
    price_foresight_months: Float | None = _field(
        "price_foresight_months",
        "Months ahead traders extend this month's change of stock cover",
    )
    thrift_adoption_months: Float | None = _field(
        "thrift_adoption_months", "Time constant of magnet makers' move to a thrifted recipe"
    )
    thrift_trigger_price_ratio: Float | None = _field(
        "thrift_trigger_price_ratio",
        "Cost of a magnet's Dy and Tb over its base cost at which thrifting starts",
    )
    buyer_cover_scale: Float | None = _field(
        "buyer_cover_scale",
        "Multiple of every buyer's normal stock cover (`cover_weeks` of the world's demand): "
        "the stock it holds at the start and orders up to",
    )
    metal_qualification_months: Float | None = _field(
        "metal_qualification_months",
        "Time constant over which magnet makers move their metal orders to what each metal "
        "plant can deliver (0: this month's stocks, at once)",
    )

    def values(self) -> dict[str, float]:
        """The parameters written, by name."""
        return {k: float(v) for k, v in self.model_dump().items() if v is not None}


def bounded(parameters: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``parameters`` with ``values`` (numbers, or arrays of one value a sample), the cover
    floor set so that the highest indicated price stays where ``parameters`` put it
    (``price_cover_floor ** -price_cover_sensitivity``: 32x, the largest spike on record)
    whatever sensitivity is set: neither a fit nor a scenario may lift the bound."""
    ceiling = parameters["price_cover_floor"] ** -parameters["price_cover_sensitivity"]
    out = {**parameters, **values}
    out["price_cover_floor"] = ceiling ** (-1.0 / out["price_cover_sensitivity"])
    return out

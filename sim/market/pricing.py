"""Prices from fundamentals: stock cover against its normal level, moved by expectations.

A market's price is set by how many months of use its holders have in stock (all stocks of the
product and of what is made from it, over the unconstrained use they serve) against the cover
of the base period, in which the price was the base price: ``anchor * (cover / normal)**(-a)``
(the indicated price). Traders do not jump to it: the price moves towards it by a share of the
gap in logs each month (adaptive expectations with a time constant in months), so a spike
outlives the month flows resume, until stocks are rebuilt. This is the form of the
system-dynamics rare-earth models (Jeffers et al.; Sprecher et al. 2017), where price follows
inventory coverage and expected price. Traders also look ahead: the cover they price on is
the cover a few months on if this month's change goes on (`foreseen_cover`), so a cut in
flow moves the price when it is seen, not when the stocks it drains are gone.
"""

from __future__ import annotations

import numpy as np


def indicated_price(
    anchor: np.ndarray,
    cover: np.ndarray,
    normal: np.ndarray,
    sensitivity: float | np.ndarray,
    floor: float | np.ndarray,
    low: float,
) -> np.ndarray:
    """The price stocks indicate: ``anchor * (cover / normal) ** (-sensitivity)``, between
    ``low`` and ``floor ** -sensitivity`` times the anchor.

    Args:
        anchor: the price at normal cover (the base price), US$/kg.
        cover: months of use held now.
        normal: months of use held in the base period (> 0; where it is not, the anchor).
        sensitivity: the price's elasticity to cover (> 0): halving cover multiplies the
            price by ``2 ** sensitivity``.
        floor: the share of normal cover below which a market's price stops rising (> 0):
            the indicated price is at most ``floor ** -sensitivity`` times the anchor.
        low: the lowest price, as a share of the anchor (producers' cash costs: below it
            they stop selling from stock and cut output rather than cut price further).

    Returns:
        The indicated price, of the broadcast shape.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(normal > 0, cover / normal, 1.0)
    return anchor * np.maximum(np.maximum(ratio, floor) ** (-sensitivity), low)


def adapt(price: np.ndarray, target: np.ndarray, months: float | np.ndarray) -> np.ndarray:
    """The price a month on: ``price`` moved towards ``target`` by ``1 - exp(-1/months)`` of
    the gap in logs (``months`` 0: at once; an array, > 0, broadcast over the prices: one
    value a sample). Non-positive prices take the target."""
    if np.ndim(months) == 0 and months <= 0:
        return target.copy()
    step = 1.0 - np.exp(-1.0 / months)
    ok = (price > 0) & (target > 0)
    safe_p, safe_t = np.where(ok, price, 1.0), np.where(ok, target, 1.0)
    return np.where(ok, safe_p * (safe_t / safe_p) ** step, target)


def blended_cover(own: np.ndarray, pooled: np.ndarray, withheld: np.ndarray) -> np.ndarray:
    """A tier's cover as its buyers face it: the pooled cover of both tiers where trade
    between them is free (arbitrage equalises what they can get), its own where a control
    withholds the flow between them, in proportion to the share ``withheld``."""
    return pooled + (own - pooled) * withheld


def foreseen_cover(cover: np.ndarray, last: np.ndarray, months: float | np.ndarray) -> np.ndarray:
    """The cover ``months`` ahead if this month's change goes on: ``cover + months * (cover -
    last)``, at least 0 (``months`` 0: ``cover`` itself; an array broadcasts over the
    covers: one value a sample)."""
    if np.ndim(months) == 0 and months <= 0:
        return cover
    return np.maximum(cover + months * (cover - last), 0.0)

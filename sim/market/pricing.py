"""Scarcity prices: what a market pays when it meets only part of its need."""

from __future__ import annotations

import numpy as np


def scarcity_price(
    base_usd_per_kg: np.ndarray, fill: np.ndarray, elasticity: float, ceiling: float
) -> np.ndarray:
    """Price from the share of need that was met: ``base * fill**(-1/elasticity)``, capped.

    A fully served market (fill 1) keeps its base price; a market that met half its need at a
    short-run demand elasticity of 0.5 pays four times base.

    Args:
        base_usd_per_kg: the price when need is met in full.
        fill: the share of need met (broadcast against ``base_usd_per_kg``).
        elasticity: the short-run demand elasticity (> 0).
        ceiling: the highest price, as a multiple of base.

    Returns:
        The price, US$/kg, of the broadcast shape.
    """
    shape = np.broadcast_shapes(np.shape(base_usd_per_kg), np.shape(fill))
    base = np.broadcast_to(base_usd_per_kg, shape)
    # Most markets are served in full, where the factor is exactly 1: base, capped.
    out = np.broadcast_to(np.minimum(base_usd_per_kg, base_usd_per_kg * ceiling), shape).copy()
    short = np.broadcast_to(fill < 1.0, shape)
    if short.any():
        low = base[short]
        safe = np.clip(np.broadcast_to(fill, shape)[short], 1.0 / ceiling**elasticity, 1.0)
        out[short] = np.minimum(low * safe ** (-1.0 / elasticity), low * ceiling)
    return out

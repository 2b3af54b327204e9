"""Qualified suppliers: magnet makers spread their metal orders over the metal plants they
have qualified, not over this month's stocks.

An alloy maker sells to magnet makers that have tested and approved its alloy, and a magnet
maker qualifies a new one over months (Project Blue, 2022: the metal plants of Vietnam and
Thailand are "locked into Japanese magnet producers"). Pro rata to what each plant has this
month, a plant whose stock or capacity jumps takes customers from the others at once: 30,000
t/yr more metal capacity in China in January 2025 moved China's magnet makers' orders from
the metal plants abroad within the quarter, and those plants entered April's licensing holding
less Dy oxide (docs/design.md, Markets: magnet makers keep the metal plants they have
qualified).

So the metal market's customers spread their need, in each tier's first round, in proportion
to what each plant has been able to deliver (its stock within capacity), followed over
``metal_qualification_months`` (`qualified`; 0: this month's, as before); what a plant cannot
deliver is asked again of the others pro rata to what they have (`sim.market.allocation`). In
a steady market the weights are what plants have, so the split is as before; a plant's change
of stock or capacity reaches its customers over that time, and a plant an outage stops keeps
its customers' weights until it restarts. The weights act between the market's classes of
suppliers (each tier's plants facing the same routes and controls, summed); within a class,
members share its sales by what they have, as in every market.
"""

from __future__ import annotations

import numpy as np

from sim.model.levers.timing import closing_speed


def available(metal_in: np.ndarray, cap: np.ndarray, metal_yield: float) -> np.ndarray:
    """What metal plants can make of the oxide they hold ``metal_in[S, plants, E]`` within
    their capacity ``cap[S, plants]`` this step, ``[S, plants, E]``: each element's metal in
    proportion to its oxide when capacity binds."""
    stock = metal_in.sum(axis=2)
    share = np.minimum(
        np.divide(cap, metal_yield * stock, out=np.zeros_like(cap), where=stock > 0), 1.0
    )
    return metal_yield * metal_in * share[:, :, None]


def qualified(
    weights: np.ndarray,
    avail: np.ndarray,
    months: float | np.ndarray,
    running: np.ndarray | None = None,
) -> np.ndarray:
    """Customers' weights for each metal plant ``weights[S, plants, E]`` moved towards what it
    can deliver now, ``avail``, with time constant ``months`` (a share ``1 - exp(-1 /
    months)`` of the gap a step; all of it for 0). A plant an outage stops for part of the
    step (``running[S or 1, plants]``, its share running; None: all run) moves only that
    share of the way: its customers stay qualified with it while it is stopped."""
    speed = closing_speed(months, 3)
    if running is None or (running == 1.0).all():
        if np.ndim(speed) == 0 and speed == 1.0:
            return avail
        return weights + (avail - weights) * speed
    return weights + (avail - weights) * (speed * running[:, :, None])

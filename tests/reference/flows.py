"""Shipping in numpy: what a market's customers receive at each step from now."""

from __future__ import annotations

import numpy as np

from sim.market import Flow
from tests.reference.groupings import class_sum


def arrivals(
    flow: Flow, lead: np.ndarray, customers: slice = slice(None)
) -> list[tuple[int, np.ndarray]]:
    """What some ``customers`` receive ``offset`` steps from now, ``[S, customers, K]``, for
    each offset, along routes of ``lead[G, H]`` months between lanes (a fractional lead
    splits a route's flow between the steps either side of it, pro rata)."""
    m = flow.market
    whole = np.floor(lead).astype(int)
    frac = lead - whole
    labels = m.cus.labels[customers]
    out = []
    for offset in range(int(whole.max(initial=0)) + 2):
        weight = ((whole == offset) * (1.0 - frac) + (whole + 1 == offset) * frac).reshape(-1)
        got = class_sum(flow.x * weight[m.edge_flat][None, :, None], m.edge_cus.labels, m.cus.size)
        out.append((offset, flow.cus_share[:, customers] * np.take(got, labels, axis=1)))
    return out

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


def member_flows(flow: Flow, samples: slice = slice(0, 1)) -> np.ndarray:
    """Flows between members ``x[S, P, C, K]`` of some samples, in numpy: each lane pair's
    edge flow (0 without an edge) times the supplier's and the customer's share."""
    market = flow.market
    edges = flow.x[samples]
    lanes = np.zeros((edges.shape[0], market.sup.size * market.cus.size, edges.shape[2]))
    lanes[:, market.edge_flat] = edges
    pairs = market.sup.labels[:, None] * market.cus.size + market.cus.labels[None, :]
    P, C = market.sup.labels.size, market.cus.labels.size
    x = np.take(lanes, pairs.reshape(-1), 1).reshape(edges.shape[0], P, C, edges.shape[2])
    return x * flow.sup_share[samples][:, :, None, :] * flow.cus_share[samples][:, None, :, :]

"""Two-way trade between the price tiers netted out, compiled: the allocation pass's flows and
the normal flows its caps read (`sim.market.allocation_kernels` runs the rounds).

Pro rata, every customer draws on every supplier it may buy from, so with no control Japan's
metal plants sold most of their metal to China's magnet plants while Japan's magnet plants
bought China's metal: two-way trade of one product between the tiers, which freight makes
dearer than buying at home and which no trade statistic shows. A pass's edges that may be
netted fall into **parts** (connected routes between supplier and customer classes that never
mix the tiers; NdFeB apart from SmCo magnets): within a part, the flows China -> abroad (``A``)
and abroad -> China (``B``) of a product are cut by ``d = min(A, B)``, each route in
proportion to its flow, and each tier's suppliers ship what they no longer export to their own
tier's customers who no longer import, in proportion to both (``r_g q_h / d``). Every supplier
ships and every customer receives what the pro-rata rounds gave it, so shortages are shared as
before; only who ships to whom changes. A part is netted only where every route between its
suppliers and customers of a tier is open.

Controls cap flows out of China at a share of their normal flow (`sim.market.cap_kernels`);
the normal flow is netted the same way, so a quota is a share of what China's routes carry
net (`scale_out`), not of the two-way trade.

These steps are inlined into the pass (``inline="always"``) and live here for the pass
module's size. Numba's cache notices a change only in the file of the function it compiled
(`allocate_pass`): that file holds this one's digest
(`sim.market.allocation_kernels.NET_KERNELS_DIGEST`, checked by `tests/test_netting.py`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.market.pass_index import PassIndex


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _cut_shares(flows: np.ndarray, index: PassIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each part's netted tonnes ``d`` and the shares of its flows out of China (``fa``) and
    into China (``fb``) that netting cuts, ``[parts, K, S]`` each."""
    parts = (index.net_pair_ptr.size - 1) // 2
    K, S = flows.shape[1], flows.shape[2]
    out_ = np.zeros((parts, K, S))
    back = np.zeros((parts, K, S))
    for e in range(flows.shape[0]):
        p, direction = index.net_part[e], index.net_dir[e]
        if p < 0 or direction == 0:
            continue
        into = out_[p] if direction > 0 else back[p]
        for k in range(K):
            for s in range(S):
                into[k, s] += flows[e, k, s]
    d = np.minimum(out_, back)
    fa = np.zeros((parts, K, S))
    fb = np.zeros((parts, K, S))
    for p in range(parts):
        for k in range(K):
            for s in range(S):
                if d[p, k, s] > 0.0:
                    fa[p, k, s] = d[p, k, s] / out_[p, k, s]
                    fb[p, k, s] = d[p, k, s] / back[p, k, s]
    return d, fa, fb


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def scale_out(normal: np.ndarray, index: PassIndex) -> None:
    """Normal flows ``normal[E, K, S]`` on routes out of China, netted (in place): each cut by
    its part's netted share. The caps read only those routes."""
    if index.net_pair_ptr.size < 2:
        return
    _, fa, _ = _cut_shares(normal, index)
    for e in range(normal.shape[0]):
        p = index.net_part[e]
        if p < 0 or index.net_dir[e] <= 0:
            continue
        for k in range(normal.shape[1]):
            for s in range(normal.shape[2]):
                normal[e, k, s] -= normal[e, k, s] * fa[p, k, s]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def net_flows(flows: np.ndarray, index: PassIndex) -> None:
    """A pass's flows ``flows[E, K, S]`` with two-way trade between the tiers netted out (in
    place), each supplier class's and customer class's total kept."""
    if index.net_pair_ptr.size < 2:
        return
    d, fa, fb = _cut_shares(flows, index)
    K, S = flows.shape[1], flows.shape[2]
    sent = np.zeros((index.sup_ptr.size - 1, K, S))  # r: what a class no longer exports
    got = np.zeros((index.cus_ptr.size - 1, K, S))  # q: what a class no longer imports
    for e in range(flows.shape[0]):
        p, direction = index.net_part[e], index.net_dir[e]
        if p < 0 or direction == 0:
            continue
        share = fa[p] if direction > 0 else fb[p]
        g, h = index.edge_sup[e], index.net_cus[e]
        for k in range(K):
            for s in range(S):
                cut = flows[e, k, s] * share[k, s]
                flows[e, k, s] -= cut
                sent[g, k, s] += cut
                got[h, k, s] += cut
    for t in range(index.net_pair_ptr.size - 1):
        p = t // 2
        for q in range(index.net_pair_ptr[t], index.net_pair_ptr[t + 1]):
            e, g, h = index.net_pair_edge[q], index.net_pair_sup[q], index.net_pair_cus[q]
            for k in range(K):
                for s in range(S):
                    if d[p, k, s] > 0.0:
                        flows[e, k, s] += sent[g, k, s] * got[h, k, s] / d[p, k, s]

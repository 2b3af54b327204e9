"""Markets: allocation of scarce supply among customers, lanes and flows, prices, and
their compiled kernels. Imports only the base layer.

Modules, from the bottom up: `groupings` (classes of members, pools of buyers, destinations in
a pipeline), `shipping` (when and where flows arrive), `lanes` (a market's lanes and edges),
`allocation` (the allocation pass: tiers and pro-rata rounds), `flows` (an allocation, and its
shipment), `markets` (`Market`, `MarketCache`), `reference` (the normal levels a control's share
applies to), `pricing` (prices from stock cover and expectations). Compiled kernels:
`allocation_kernels` (the pass and the ordered group sum; the structure it reads is in
`pass_index`), `grouping_kernels` (shares, parts, transposes), `shipping_kernels` (shipments,
and the weighted group sum). The names other layers use are re-exported here.
"""

from sim.market.flows import Flow
from sim.market.groupings import Destinations, Grouping, Pool
from sim.market.markets import Market, MarketCache
from sim.market.reference import Reference

__all__ = ["Destinations", "Flow", "Grouping", "Market", "MarketCache", "Pool", "Reference"]

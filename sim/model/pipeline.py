"""Material in transit: a ring of future arrivals for each route between stages."""

from __future__ import annotations

import numpy as np

from sim.market import Destinations, Flow


class Pipeline:
    """Material in transit to customers: a ring of future arrivals, ``buf[slot, S, C, K]``
    (part of a run's state); its market may trade only some ``products`` of the ``K``."""

    def __init__(
        self,
        samples: int,
        customers: int,
        width: int,
        max_lead: float,
        products: np.ndarray | None = None,
        by_column: bool = False,
    ) -> None:
        """``by_column``: also keep where a market's shipments land in each one column
        (`into_column`)."""
        slots = int(np.floor(max_lead)) + 2
        # where the market's shipments land: the same place, or its products' columns
        same = (
            Destinations.same(customers, width)
            if products is None
            else Destinations.columns(customers, products)
        )
        columns = [
            Destinations.columns(customers, np.array([j])) for j in range(width if by_column else 0)
        ]
        self._set(np.zeros((slots, samples, customers, width)), same, columns)

    def _set(self, buf: np.ndarray, same: Destinations, columns: list[Destinations]) -> None:
        self.buf = buf
        self.slots = buf.shape[0]
        self.same = same
        self.into_column = columns  # product j of a market of one product into column j

    def _with(self, buf: np.ndarray) -> Pipeline:
        """A pipeline to the same customers holding ``buf``."""
        out = Pipeline.__new__(Pipeline)
        out._set(buf, self.same, self.into_column)
        return out

    def copy(self) -> Pipeline:
        return self._with(self.buf.copy())

    def repeat(self, samples: int) -> Pipeline:
        """A one-sample pipeline for ``samples`` samples."""
        return self._with(np.repeat(self.buf, samples, axis=1))

    def widen(self, samples: int) -> None:
        """Give each of ``samples`` samples its own copy of a ring kept as one row for all."""
        self.buf = np.repeat(self.buf, samples, axis=1)

    def ship(self, step: int, amount: np.ndarray, lead: np.ndarray) -> None:
        """Send ``amount[S, P, C, K]`` along routes with ``lead[P, C]`` months (pro rata)."""
        whole = np.floor(lead).astype(int)
        frac = lead - whole
        for offset in range(self.slots):
            weight = (whole == offset) * (1.0 - frac) + (whole + 1 == offset) * frac
            if weight.any():
                self.buf[(step + offset) % self.slots] += np.einsum("spck,pc->sck", amount, weight)

    def ship_flow(
        self,
        step: int,
        flow: Flow,
        lead: np.ndarray,
        customers: slice = slice(None),
        into: Destinations | None = None,
    ) -> None:
        """Send a market's ``flow`` along routes with ``lead[G, H]`` months between its lanes
        (lanes share a region, so a lead time), to this pipeline's ``customers`` of it;
        ``into`` places what they get in this pipeline (pools of buyers to their members;
        default: the same customer, its market's products' columns)."""
        flow.ship_into(self.buf, step, lead, customers, into or self.same)

    def due(self, step: int) -> np.ndarray:
        """This step's arrivals, ``[S, C, K]``: a view of the ring, to be taken and zeroed."""
        return self.buf[step % self.slots]

    def in_transit(self) -> np.ndarray:
        """Everything on its way, ``[S, C, K]``."""
        return self.buf.sum(axis=0)

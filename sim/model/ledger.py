"""Mass balance: every tonne that enters the chain is consumed, lost, held or in transit.

Per element and per sample, over the reported period::

    mined + recycled_in = consumed + losses + (holdings_end - holdings_start)

where holdings are every stock and every pipeline in tonnes of contained element. (Swarf
recycled inside the chain is an internal flow; end-of-life recycling enters as ``recycled_in``.)
`check` raises `MassBalanceError` naming the element and the imbalance when the residual
exceeds ``tolerance`` times the throughput, or is not a number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sim.errors import MassBalanceError
from sim.units import ELEMENTS

TOLERANCE = 1e-9


@dataclass
class Ledger:
    """Cumulative books of one batch of samples, ``[S, E]`` arrays in tonnes of element."""

    samples: int
    mined: np.ndarray = field(init=False)
    recycled_in: np.ndarray = field(init=False)
    consumed: np.ndarray = field(init=False)
    losses: np.ndarray = field(init=False)
    opening: np.ndarray | None = None

    def __post_init__(self) -> None:
        zeros = np.zeros((self.samples, len(ELEMENTS)))
        self.mined, self.recycled_in = zeros.copy(), zeros.copy()
        self.consumed, self.losses = zeros.copy(), zeros.copy()

    def copy(self) -> Ledger:
        """An independent copy of the books."""
        return self._with(lambda a: a.copy(), self.samples)

    def repeat(self, samples: int) -> Ledger:
        """One sample's books for ``samples`` samples that all had its history."""
        assert self.samples == 1, "the books of one sample"
        return self._with(lambda a: np.repeat(a, samples, axis=0), samples)

    def _with(self, each: Callable[[np.ndarray], np.ndarray], samples: int) -> Ledger:
        out = Ledger(samples)
        out.mined, out.recycled_in = each(self.mined), each(self.recycled_in)
        out.consumed, out.losses = each(self.consumed), each(self.losses)
        out.opening = None if self.opening is None else each(self.opening)
        return out

    def open(self, holdings: np.ndarray) -> None:
        """Start the books: zero the flows and remember the opening holdings."""
        self.__post_init__()
        self.opening = holdings.copy()

    def residual(self, holdings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Residual and throughput, ``[S, E]`` each, given the closing holdings."""
        opening = np.zeros_like(holdings) if self.opening is None else self.opening
        inflow = self.mined + self.recycled_in
        outflow = self.consumed + self.losses + holdings - opening
        throughput = inflow + opening
        return inflow - outflow, throughput

    def _relative(self, holdings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Residual, and residual relative to each sample's throughput of the element (at
        least a tonne), ``[S, E]``: a scarce element's books are held to its own scale."""
        res, through = self.residual(holdings)
        return res, np.abs(res) / np.maximum(through, 1.0)

    def relative_residual(self, holdings: np.ndarray) -> float:
        """Largest residual over all samples and elements, relative to its throughput."""
        rel = self._relative(holdings)[1]
        return float(np.max(rel)) if rel.size else 0.0

    def check(self, holdings: np.ndarray, tolerance: float = TOLERANCE) -> float:
        """Raise `MassBalanceError` unless the books balance; return the relative residual."""
        res, rel = self._relative(holdings)
        if rel.size and not rel.max() <= tolerance:  # a NaN residual fails too
            s, e = np.unravel_index(int(np.argmax(rel)), rel.shape)  # a NaN's, if any
            raise MassBalanceError(
                f"mass balance broken for {ELEMENTS[e]} in sample {s}: residual "
                f"{res[s, e]:.6g} t is {rel[s, e]:.3g} of throughput (tolerance {tolerance:g}); "
                f"mined {self.mined[s, e]:.6g}, consumed {self.consumed[s, e]:.6g}, "
                f"losses {self.losses[s, e]:.6g}"
            )
        return float(rel.max()) if rel.size else 0.0

"""The reference a control's share applies to: lanes' normal supply and need averaged over
about the 12 months before the control started, held while it is in force and grown with
world demand."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.market.grouping_kernels import hold_both

SPEED = 1.0 - np.exp(-1.0 / 12.0)  # the normal levels averaged over about 12 months


class Reference:
    """A market's normal levels held fixed while a control is in force, a sample each.

    A quota or licence lets through a share of the flow its routes would carry in normal
    times. If normal times were measured each step, a supply loss elsewhere (an outage at a
    plant outside the exporter) would raise the normal flow from the exporter and loosen the
    control. So each sample's lanes' normal supply and need are averaged (exponentially, over
    about 12 months: `SPEED`) while no control of the market is in force in that sample, and
    the average is held while one is: the reference is fixed when the control starts and
    released when none is in force. An average, not the last month: a plant abroad that
    starts a month before a licence takes normal flow off the exporter's routes at once, while
    the inputs it needs (licensed too) catch up over months, so a reference of the last month
    alone tightened the licence by the plant's whole first month (Japan's magnet plant 2,000 t
    larger from March 2025 raised the shortfall by 1.1% under the held licensing).

    Held for years, a fixed reference would tighten a control as the world's demand grows (a
    licence approving every shipment would bind harder each year). So the levels are held per
    unit of an exogenous demand index of their product (`sim.model.chain.Chain.market_index`:
    from the buyers' demand paths, the same whatever happens in the run) and grow with it
    while held. A quota, a tonnage, offsets that growth in its own share
    (`sim.model.controls.Tonnage`)."""

    def __init__(self) -> None:
        self.supply_sl: np.ndarray | None = None  # [lanes, K, S] normal supply per unit index
        self.need_sl: np.ndarray | None = None  # [lanes, K, S] normal need per unit index

    def hold(
        self,
        active: np.ndarray | None,
        supply_sl: np.ndarray,
        need_sl: np.ndarray,
        index: float | np.ndarray = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The normal levels to use this step: this step's ``supply_sl`` and ``need_sl``
        (``[lanes, K, S]``) in samples with no control in force, the held ones grown to this
        step's demand ``index`` (a number, or one a product: ``[K]``) where ``active[S]``
        says a control is."""
        K = supply_sl.shape[1]
        if not isinstance(index, np.ndarray) or index.shape != (K,):
            index = np.full(K, index, dtype=float)
        held_supply, held_need = self._held(supply_sl.shape, need_sl.shape)
        if held_supply is None or held_need is None:  # both start from this step's
            held_supply = held_need = np.empty((0, *supply_sl.shape[1:]))
        S = supply_sl.shape[2]
        on = np.zeros(S, dtype=bool) if active is None else np.asarray(active, dtype=bool)
        on = np.ascontiguousarray(on if on.shape == (S,) else np.broadcast_to(on, (S,)))
        supply_sl = np.ascontiguousarray(supply_sl, dtype=float)
        need_sl = np.ascontiguousarray(need_sl, dtype=float)
        outs = (
            np.empty(supply_sl.shape),
            np.empty(need_sl.shape),
            np.empty(supply_sl.shape),
            np.empty(need_sl.shape),
        )
        index = np.ascontiguousarray(index, dtype=float)
        hold_both(supply_sl, need_sl, held_supply, held_need, on, index, SPEED, outs)
        self.supply_sl, self.need_sl = outs[0], outs[1]
        if not on.any():
            return supply_sl, need_sl
        return outs[2], outs[3]

    def _held(
        self, supply_shape: tuple[int, ...], need_shape: tuple[int, ...]
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The held levels for arrays of these shapes (one held sample for every sample
        when the market has just widened from one row to one a sample)."""
        if self.supply_sl is None or self.need_sl is None:
            return None, None
        return _widened(self.supply_sl, supply_shape), _widened(self.need_sl, need_shape)

    def copy(self) -> Reference:
        """An independent copy."""
        return self._with(lambda a: a.copy())

    def repeat(self, samples: int) -> Reference:
        """This one-sample reference for ``samples`` samples."""
        return self._with(lambda a: np.repeat(a, samples, axis=2))

    def _with(self, each: Callable[[np.ndarray], np.ndarray]) -> Reference:
        out = Reference()
        if self.supply_sl is not None and self.need_sl is not None:
            out.supply_sl, out.need_sl = each(self.supply_sl), each(self.need_sl)
        return out


def _widened(held: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """``held`` for arrays of ``shape`` (None if it cannot be)."""
    if held.shape == shape:
        return held
    if held.shape[:2] == shape[:2] and held.shape[2] == 1:
        return np.broadcast_to(held, shape)
    return None

"""What a step reports: the `Recorder` a run passes to the stages (`sim.runs.engine.Record`)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from sim.model.chain import Chain
from sim.model.state import State


class Recorder(Protocol):
    """Receives what a step did (see `sim.runs.engine.Record`); flows between members only with
    ``detail``."""

    detail: bool

    def market(self, chain: Chain, step: int, name: str, x: np.ndarray) -> None: ...
    def produced(self, chain: Chain, step: int, stage: str, out: np.ndarray) -> None: ...
    def fill(self, step: int, product: int | np.ndarray, tier: int, value: np.ndarray) -> None: ...
    def priced(self, step: int, prices: np.ndarray) -> None: ...
    def consumed(
        self, chain: Chain, state: State, step: int, demand: np.ndarray, got: np.ndarray
    ) -> None: ...
    def swarf(self, chain: Chain, step: int, recovered: np.ndarray) -> None: ...
    def stockpiled(self, step: int, held: np.ndarray) -> None: ...
    def paid(self, step: int, usd: np.ndarray) -> None: ...
    def producing(self, step: int, levels: np.ndarray) -> None: ...


def record_fill(
    state: State,
    rec: Recorder,
    step: int,
    product: int | np.ndarray,
    tier: int,
    share: np.ndarray,
) -> None:
    """Keep a price cell's covered share ``[S]`` (or some cells' of a tier, ``[S, n]`` for
    ``product[n]``) for the prices producers see next step, and record it."""
    state.fills_now[:, product, tier] = share
    rec.fill(step, product, tier, share)

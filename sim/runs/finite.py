"""Non-finite numbers found and named: a NaN or an infinity in a run's record or a sweep's
batch is a `NonFiniteError` saying which array and where, never a number passed on. (A price
is NaN, by design, for a product the world gives no price: those are left out.)"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sim.errors import NonFiniteError


def check_finite(arrays: Mapping[str, np.ndarray | None], where: str) -> None:
    """Raise `NonFiniteError` naming the first array of ``arrays`` holding a NaN or an
    infinity, and the index of its first such number; ``where`` says whose arrays they are."""
    for name, array in arrays.items():
        if array is not None and not np.isfinite(array).all():
            raise _non_finite(array, f"{where}: {name}")


def _non_finite(array: np.ndarray, what: str) -> NonFiniteError:
    """The error naming ``what`` (``array``) and its first non-finite number and index."""
    index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
    return NonFiniteError(
        f"{what} holds a non-finite number ({array[index]!r} at index "
        f"{list(index)}); the run's numbers cannot be trusted"
    )


def priced(prices: np.ndarray, base_usd_per_kg: np.ndarray) -> np.ndarray:
    """Price paths ``[S, T, P, K]`` with the products and tiers that have no base price
    (``base_usd_per_kg[P, K]`` NaN: their paths are NaN by design) set to 0, for a check."""
    return np.where(np.isnan(base_usd_per_kg), 0.0, prices)

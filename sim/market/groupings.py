"""Groupings: a market's suppliers or customers partitioned into classes (`Grouping`), element
buyers pooled into customers of several products (`Pool`), and where a market's customers'
arrivals land in a pipeline (`Destinations`).

Arrays carry a leading sample axis (``[S, members, ...]``, samples-first) or, as the markets
keep lane totals and flows, a trailing one (``[members, K, S]``, samples-last, names ending
in ``_sl``). Class sums add members one at a time in ascending order, whatever the layout, so
their numbers do not depend on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from sim.market.allocation_kernels import group_sum, group_sum_columns
from sim.market.grouping_kernels import parts_sl, shares_sl, use_first_shares_sl


def class_labels(*rows: np.ndarray) -> np.ndarray:
    """Class of each of ``n`` members: members whose rows are equal in every array (each
    ``[n, ...]``) share a class; classes are numbered in order of first appearance."""
    n = rows[0].shape[0]
    if n == 0:
        return np.zeros(0, dtype=int)
    parts = [np.asarray(r, dtype=float).reshape(n, -1) for r in rows]
    # + 0.0 makes -0.0 0.0, so that rows of equal values have equal bytes
    flat = np.ascontiguousarray(np.concatenate(parts, axis=1)) + 0.0
    first: dict[bytes, int] = {}
    return np.array([first.setdefault(row.tobytes(), len(first)) for row in flat], dtype=int)


def product_columns(a: np.ndarray, width: int, products: np.ndarray | None = None) -> np.ndarray:
    """Which column of ``a[..., n]`` each of ``width`` products reads: ``products`` (if
    given), each its own (``n == width``), or the one column (``n == 1``)."""
    if products is not None:
        return np.asarray(products, dtype=np.int64)
    if a.shape[-1] == 1:
        return np.zeros(width, dtype=np.int64)
    assert a.shape[-1] == width, "a product axis of the width or of 1"
    return np.arange(width, dtype=np.int64)


class Grouping:
    """A partition of members (axis 1 of ``[S, n, ...]`` arrays) into classes."""

    def __init__(self, labels: np.ndarray, size: int | None = None) -> None:
        self.labels = labels
        self.size = (int(labels.max()) + 1 if labels.size else 0) if size is None else size
        order = np.argsort(labels, kind="stable")
        counts = np.bincount(labels, minlength=self.size)
        present = np.flatnonzero(counts)  # classes with members
        self.first = order[(np.cumsum(counts) - counts)[present]]  # each one's first
        self.trivial = self.size == labels.size and bool((labels == np.arange(labels.size)).all())
        self.single = bool((counts == 1).all())  # each class one member: a sum is a gather
        # Class c's members are order[ptr[c]:ptr[c + 1]], ascending (a stable sort).
        self.ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.order = order.astype(np.int64)
        self.labels_i64 = labels.astype(np.int64, copy=False)

    def sum(self, a: np.ndarray) -> np.ndarray:
        """Class totals ``[S, classes, ...]`` of ``a[S, members, ...]`` (``a`` itself if every
        member is its own class; do not write to the result); 0 for classes without members.
        Members are added one at a time in ascending order (a sum in a fixed order)."""
        if self.trivial:
            return a
        a = np.asarray(a, dtype=float)
        if self.single:  # a sum of one number is that number
            return np.take(a, self.order, axis=1)
        rest = a.shape[2:]
        width = math.prod(rest)
        out = np.empty((a.shape[0], self.size, width))
        rows = a.reshape(a.shape[0], a.shape[1], width)
        # samples as the middle axis of the kernel's [members, K, S] (views, no copies)
        group_sum(rows.transpose(1, 0, 2), self.ptr, self.order, out.transpose(1, 0, 2))
        return out.reshape(a.shape[0], self.size, *rest)

    def sum_to_sl(
        self, a: np.ndarray, width: int, products: np.ndarray | None = None
    ) -> np.ndarray:
        """`sum` kept samples-last: class totals ``[classes, width, S]`` of ``a[S, members,
        width or 1]``, or of its columns ``products`` (a new array; the same numbers)."""
        a = np.asarray(a, dtype=float)
        out = np.empty((self.size, width, a.shape[0]))
        group_sum_columns(a, self.ptr, self.order, product_columns(a, width, products), out)
        return out

    def sum_sl(self, rows_sl: np.ndarray) -> np.ndarray:
        """`sum` of samples-last ``rows_sl[members, K, S]``: ``[classes, K, S]`` (a new
        array)."""
        out = np.empty((self.size, *rows_sl.shape[1:]))
        group_sum(rows_sl, self.ptr, self.order, out)
        return out

    def share_sl(
        self, a: np.ndarray, total_sl: np.ndarray, products: np.ndarray | None = None
    ) -> np.ndarray:
        """Each member's share of its class's samples-last total ``total_sl[classes, K, S]``
        (0 where that is 0), samples-last too: ``[members, K, S]`` from ``a[S, members, ...]``
        (of its columns ``products`` if given)."""
        a = np.asarray(a, dtype=float)
        K = max(a.shape[2] if products is None else len(products), total_sl.shape[1])
        out = np.empty((a.shape[1], K, max(a.shape[0], total_sl.shape[2])))
        shares_sl(a, total_sl, self.labels_i64, product_columns(a, K, products), out)
        return out

    def use_first_share_sl(
        self,
        members: tuple[np.ndarray, np.ndarray],
        totals_sl: tuple[np.ndarray, np.ndarray],
        got_sl: np.ndarray,
        products: np.ndarray | None = None,
    ) -> np.ndarray:
        """Each member's share of what its class receives after a use-first fill
        (`grouping_kernels.use_first_shares_sl`): ``members = (need, use)``, ``[S or 1,
        members, ...]`` (of their columns ``products`` if given), ``totals_sl`` the classes'
        need and use and ``got_sl[2]`` what they got in the first fill and in all,
        samples-last ``[classes, K, S]``."""
        need, use = (np.asarray(a, dtype=float) for a in members)
        K, S = got_sl.shape[2:]
        out = np.empty((need.shape[1], K, S))
        columns = product_columns(need, K, products)
        use_first_shares_sl(need, use, totals_sl, got_sl, self.labels_i64, columns, out)
        return out

    def part_sl(self, share_sl: np.ndarray, total_sl: np.ndarray) -> np.ndarray:
        """Each member's part ``[S, members, K]`` of its class's samples-last total
        ``total_sl[classes, K, S]``, from its samples-last ``share_sl[members, K, S]``."""
        samples = max(share_sl.shape[2], total_sl.shape[2])
        width = max(share_sl.shape[1], total_sl.shape[1])
        out = np.empty((samples, share_sl.shape[0], width))
        parts_sl(share_sl, total_sl, self.labels_i64, out)
        return out


@dataclass(frozen=True)
class Destinations:
    """Where a market's customers' arrivals land in a pipeline: entry ``j`` takes customer
    ``from_customer[j]``'s product ``from_product[j]``, times ``weight[:, j]`` if given, into
    the pipeline's customer ``to_customer[j]`` and product ``to_product[j]`` (each place at
    most once). ``key`` names the places (not the weights)."""

    from_customer: np.ndarray
    from_product: np.ndarray
    to_customer: np.ndarray
    to_product: np.ndarray
    weight: np.ndarray | None = None
    key: bytes = b""

    @staticmethod
    def of(
        from_customer: np.ndarray,
        from_product: np.ndarray,
        to_customer: np.ndarray,
        to_product: np.ndarray,
        weight: np.ndarray | None = None,
    ) -> Destinations:
        """Destinations of these places (as int64 arrays), keyed by them."""
        from_c, from_k, to_c, to_k = (
            np.ascontiguousarray(a, dtype=np.int64)
            for a in (from_customer, from_product, to_customer, to_product)
        )
        key = b"|".join(a.tobytes() for a in (from_c, from_k, to_c, to_k))
        return Destinations(from_c, from_k, to_c, to_k, weight=weight, key=key)

    @staticmethod
    def same(customers: int, width: int) -> Destinations:
        """Every customer's every product to the same place."""
        c, k = (a.reshape(-1) for a in np.indices((customers, width), dtype=np.int64))
        return Destinations.of(c, k, c, k)

    @staticmethod
    def columns(customers: int, products: np.ndarray) -> Destinations:
        """Product ``j`` to column ``products[j]`` (a market of some of a pipeline's
        products)."""
        c, j = (a.reshape(-1) for a in np.indices((customers, len(products)), dtype=np.int64))
        return Destinations.of(c, j, c, np.asarray(products, dtype=np.int64)[j])


class Pool:
    """Customers that each need one product, pooled into customers that need several.

    Customer ``j`` needs only product ``product[j]`` and joins pool ``pool[j]``; a market sees
    ``pools`` customers with a need over all ``width`` products, which is what element buyers
    are to the oxide market (one region's buyers of La, Ce, Y, ... become one customer). What a
    pool receives of a product is shared among its members that need it pro rata to their need.
    """

    def __init__(self, pool: np.ndarray, product: np.ndarray, pools: int, width: int) -> None:
        flat = np.asarray(pool, dtype=int) * width + np.asarray(product, dtype=int)
        self.flat = flat
        self.cells, labels = np.unique(flat, return_inverse=True)
        self.group = Grouping(labels.reshape(-1))
        self.shape = (pools, width)
        self._destinations: Destinations | None = None
        self._pool, self._product = np.divmod(flat, width)  # each member's pool and product

    def total(self, a: np.ndarray) -> np.ndarray:
        """Pools' need ``[S, pools, width]`` from members' ``a[S, J]`` (a read-only view of
        one row when ``a`` is one row for every sample, as demand mostly is)."""
        if a.shape[0] > 1 and a.strides[0] == 0:
            return np.broadcast_to(self.total(a[:1]), (a.shape[0], *self.shape))
        out = np.zeros((a.shape[0], self.shape[0] * self.shape[1]))
        out[:, self.cells] = self.group.sum(a)
        return out.reshape(a.shape[0], *self.shape)

    def pick(self, a: np.ndarray) -> np.ndarray:
        """Each member's product of its pool, ``[S, J]`` from ``a[S, pools, width]``."""
        return np.take(a.reshape(a.shape[0], -1), self.flat, axis=1)

    def share(self, a: np.ndarray, total: np.ndarray) -> np.ndarray:
        """Each member's share ``a[S, J]`` of its pool's ``total[S, pools, width]``."""
        whole = self.pick(total)
        return np.divide(a, whole, out=np.zeros_like(a), where=whole > 0)

    def destinations(self, share: np.ndarray) -> Destinations:
        """Where pools' arrivals go: each member's product of its pool, times its ``share[S,
        J]`` (`pick`), to the member (a pipeline of one product a member)."""
        if self._destinations is None:
            pool, product = np.divmod(self.flat.astype(np.int64), self.shape[1])
            members = np.arange(len(self.flat), dtype=np.int64)
            self._destinations = Destinations.of(pool, product, members, np.zeros_like(members))
        return replace(self._destinations, weight=share)

    def spread(self, a: np.ndarray, share: np.ndarray) -> np.ndarray:
        """Members' part ``[S, P, J, width]`` of pools' flows ``a[S, P, pools, width]``, given
        members' ``share[S, J]`` of their pool's product (zero but in each member's product)."""
        pool, product = self._pool, self._product
        out = np.zeros((*a.shape[:2], len(self.flat), self.shape[1]))
        out[:, :, np.arange(len(self.flat)), product] = a[:, :, pool, product] * share[:, None, :]
        return out

"""Offtakes: a share of a plant's output reserved for some customers.

Of a magnet plant's magnets: before a step's magnet market clears, each active offtake gives
its buyers (region x sectors) up to ``share`` of its plant's available output, pro rata to
their need; the market then allocates what is left as usual. Of a separation plant's oxides
(`reserve_oxide`): before the oxide market clears, the metal plants of the offtake's region
get up to ``share`` of each reserved oxide the plant holds, pro rata to what they want (the
oxide market passes what they use a month, within their order-up-to need), and at most
``tonnes_pa`` t REO a year from all the plants the offtake names, served in turn (Lynas's
priority supply of NdPr to Japan, up to 7,200 t a year). Export controls still apply: on a
controlled route the reserved flow is scaled by the share the control allows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config.events import Offtake
from sim.model.layout import Layout
from sim.model.levers.timing import EventValues, active_fraction
from sim.units import ELEMENT_ALIASES, ELEMENT_INDEX, ELEMENTS, REO_TO_ELEMENT
from sim.world.world import Buyer


@dataclass(frozen=True)
class OfftakeRules:
    """One offtake: plant index among magnet plants, buyer indices among magnet buyers."""

    plant: int
    buyers: np.ndarray
    share: np.ndarray  # [S]
    start: np.ndarray
    end: np.ndarray


def build(
    events: EventValues,
    layout: Layout,
    buyers: list[Buyer],
    magnet_buyers: np.ndarray,
    magnet_open: np.ndarray,
) -> list[OfftakeRules]:
    """The scenario's offtakes, in its order (their plants and buyers are checked by loading).

    Args:
        events: the scenario's events and their values.
        layout: where the facilities are.
        buyers: every buyer.
        magnet_buyers: the buyers of magnets, indices into ``buyers``.
        magnet_open: ``[magnet plants, magnet buyers, 1]`` 1 where a plant makes the magnet a
            buyer uses.
    """
    out = []
    for i, ev in events.of_kind(Offtake):
        start = events.when(i, "start", 0.0)
        years = events.value(i, "years") if ev.years is not None else None
        end = start + 12.0 * years if years is not None else np.full(events.samples, np.inf)
        for plant in _magnet_plants(layout, ev.facility):
            served = _served(ev, magnet_open[plant, :, 0], buyers, magnet_buyers)
            out.append(OfftakeRules(plant, served, events.value(i, "share"), start, end))
    return out


def _magnet_plants(layout: Layout, name: str) -> list[int]:
    """The magnet plants (indices among them) a name reaches: a plant, or a site's or a
    company's magnet plants (each with its own offtake of the same share)."""
    magnets = layout.slices["magnet"]
    return [int(i) - magnets.start for i in layout.named(name) if magnets.start <= i < magnets.stop]


def _served(
    ev: Offtake, open_: np.ndarray, buyers: list[Buyer], magnet_buyers: np.ndarray
) -> np.ndarray:
    """Indices among magnet buyers of those an offtake serves: of its region and sectors,
    buying the magnet its plant makes (``open_[magnet buyers]``)."""
    return np.array(
        [
            j
            for j, k in enumerate(magnet_buyers)
            if buyers[k].region == ev.region
            and open_[j] > 0
            and (ev.sectors == "all" or buyers[k].sector in ev.sectors)
        ],
        dtype=int,
    )


def reserve(
    offtakes: list[OfftakeRules],
    avail: np.ndarray,
    need: np.ndarray,
    allowed: np.ndarray | None,
    step: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Serve offtakes first: ``(x_reserved[S, P, C, 1], avail_left, need_left)``.

    Args:
        offtakes: the active and inactive offtakes.
        avail: ``[S, P, 1]`` plants' available output.
        need: ``[S, C, 1]`` buyers' need.
        allowed: ``[S, P, C, 1]`` share of flow controls allow, or None.
        step: the step.
    """
    x = np.zeros((avail.shape[0], avail.shape[1], need.shape[1], 1))
    avail, need = avail.copy(), need.copy()
    for off in offtakes:
        flow = _reserved(off, avail, need, allowed, step)
        x[:, off.plant, off.buyers, 0] += flow
        avail[:, off.plant, 0] -= flow.sum(axis=1)
        need[:, off.buyers, 0] -= flow
    return x, np.maximum(avail, 0.0), np.maximum(need, 0.0)


def _reserved(
    off: OfftakeRules,
    avail: np.ndarray,
    need: np.ndarray,
    allowed: np.ndarray | None,
    step: int,
) -> np.ndarray:
    """What one offtake reserves for its buyers, ``[S, its buyers]``: up to its share of its
    plant's ``avail``, pro rata to their ``need`` (as far as controls allow)."""
    on = active_fraction(off.start, off.end, step)
    wants = need[:, off.buyers, 0]
    if allowed is not None:
        wants = wants * allowed[:, off.plant, off.buyers, 0]
    total = wants.sum(axis=1)
    give = np.minimum(off.share * on * avail[:, off.plant, 0], total)
    return wants * np.divide(give, total, out=np.zeros_like(give), where=total > 1e-12)[:, None]


@dataclass(frozen=True)
class OxideOfftake:
    """One offtake of oxide: separation plants (indices among them, served in turn), the
    metal plants it serves and the elements it reserves (indices), its share ``[S]`` and its
    limit a month in t REO ``[S]`` (infinite: none), from ``start`` to ``end``."""

    plants: np.ndarray
    customers: np.ndarray
    elements: np.ndarray
    share: np.ndarray
    monthly_reo: np.ndarray
    start: np.ndarray
    end: np.ndarray


def build_oxide(events: EventValues, layout: Layout) -> list[OxideOfftake]:
    """The scenario's offtakes of separation plants' oxide, in its order."""
    out = []
    separation = layout.slices["separation"]
    metal_regions = np.array(layout.regions("metal"))
    for i, ev in events.of_kind(Offtake):
        if _magnet_plants(layout, ev.facility):
            continue  # an offtake of magnets (`build`), even for a company that also separates
        named = layout.named(ev.facility)
        plants = named[(named >= separation.start) & (named < separation.stop)] - separation.start
        if not plants.size:
            continue
        start = events.when(i, "start", 0.0)
        years = events.value(i, "years") if ev.years is not None else None
        end = start + 12.0 * years if years is not None else np.full(events.samples, np.inf)
        limit = events.value(i, "tonnes_pa") / 12.0 if ev.tonnes_pa is not None else None
        out.append(
            OxideOfftake(
                plants=plants,
                customers=np.flatnonzero(metal_regions == ev.region),
                elements=_elements(ev.elements),
                share=events.value(i, "share"),
                monthly_reo=np.full(events.samples, np.inf) if limit is None else limit,
                start=start,
                end=end,
            )
        )
    return out


def _elements(names: str | list[str]) -> np.ndarray:
    """Indices of the elements an offtake names ('all': every one)."""
    if names == "all":
        return np.arange(len(ELEMENTS))
    return np.unique([ELEMENT_INDEX[ELEMENT_ALIASES[n]] for n in names])


def reserve_oxide(
    offtakes: list[OxideOfftake],
    avail: np.ndarray,
    need: np.ndarray,
    allowed: np.ndarray | None,
    step: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Serve offtakes of oxide first: ``(x_reserved[S, P, M, E], avail_left, need_left)``.

    Args:
        offtakes: the active and inactive offtakes of oxide.
        avail: ``[S or 1, P, E]`` separation plants' oxide.
        need: ``[S or 1, M, E]`` metal plants' need.
        allowed: ``[S, P, M, E]`` share of flow controls allow to metal plants, or None.
        step: the step.
    """
    samples = max(avail.shape[0], need.shape[0])
    x = np.zeros((samples, avail.shape[1], need.shape[1], avail.shape[2]))
    avail = np.array(np.broadcast_to(avail, (samples, *avail.shape[1:])))
    need = np.array(np.broadcast_to(need, (samples, *need.shape[1:])))
    if allowed is not None:  # controls' levels may be one row for every sample
        allowed = np.broadcast_to(allowed, (samples, *allowed.shape[1:]))
    for off in offtakes:
        on = active_fraction(off.start, off.end, step)
        if not on.any() or not off.customers.size:
            continue
        limit = np.where(on > 0.0, off.monthly_reo * on, 0.0)  # t REO left this step
        cells = np.ix_(np.arange(samples), off.customers, off.elements)
        per_reo = 1.0 / REO_TO_ELEMENT[off.elements]
        for plant in off.plants:
            wants = need[cells]
            if allowed is not None:
                wants = wants * allowed[:, plant][cells]
            total = wants.sum(axis=1)  # [S, elements]
            give = np.minimum((off.share * on)[:, None] * avail[:, plant, off.elements], total)
            reo = (give * per_reo).sum(axis=1)
            over = reo > limit
            give *= np.where(over, np.divide(limit, reo, out=np.zeros_like(reo), where=over), 1.0)[
                :, None
            ]
            flow = (
                wants
                * np.divide(give, total, out=np.zeros_like(give), where=total > 1e-12)[:, None]
            )
            sent = flow.sum(axis=1)
            limit = np.maximum(limit - (sent * per_reo).sum(axis=1), 0.0)
            x[:, plant][cells] += flow
            avail[:, plant, off.elements] -= sent
            need[cells] -= flow
    return x, np.maximum(avail, 0.0), np.maximum(need, 0.0)

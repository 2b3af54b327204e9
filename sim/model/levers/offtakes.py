"""Offtakes: a share of a magnet plant's output reserved for some buyers.

Before a step's magnet market clears, each active offtake gives its buyers (region x sectors)
up to ``share`` of its plant's available output, pro rata to their need; the market then
allocates what is left as usual. Export controls still apply: on a controlled route the
reserved flow is scaled by the share the control allows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config.events import Offtake
from sim.model.layout import Layout
from sim.model.levers.timing import EventValues, active_fraction
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

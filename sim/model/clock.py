"""The SimPy clock: an actor a stage, a switch an event, run one step at a time.

Every stage of `sim.model.stages.STAGES` is an actor that runs once a step, in that order.
An export control or an outage is a switch that sets its level at the steps it may change,
urgently, so before the stages of that step.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Protocol

import numpy as np
import simpy
from simpy.events import URGENT

from sim.model.chain import Chain
from sim.model.ledger import Ledger
from sim.model.levers.timing import change_steps
from sim.model.recorder import Recorder
from sim.model.stages import STAGES, Stage
from sim.model.state import State

Process = Generator[simpy.Event, None, None]


class Switched(Protocol):
    """What a switch follows: the dates its level may change at, and its level at a step."""

    def times(self) -> list[np.ndarray]: ...
    def at(self, step: int) -> np.ndarray: ...


def urgent(env: simpy.Environment, delay: float) -> simpy.Event:
    """An event ``delay`` from now that fires before ordinary events of the same time."""
    event = simpy.Event(env)
    event._ok = True
    event._value = None
    env.schedule(event, URGENT, delay)
    return event


def switch(
    env: simpy.Environment,
    steps: int,
    target: Switched,
    levels: list[np.ndarray],
    place: int,
    on_change: Callable[[], None],
) -> Process:
    """Set ``levels[place]`` to ``target.at(step)`` at every step before ``steps`` where it
    may change (the steps of ``target.times()`` and the ones after), from the step the run
    starts at."""
    first = int(env.now)
    for step in change_steps(target.times(), first, steps, always=first):
        if step > env.now:
            yield urgent(env, step - env.now)
        levels[place] = target.at(step)
        on_change()


def actor(
    env: simpy.Environment,
    stage: Stage,
    chain: Chain,
    state: State,
    ledger: Ledger,
    rec: Recorder,
) -> Process:
    """Run one stage at every step."""
    while True:
        stage(chain, state, int(env.now), ledger, rec)
        yield env.timeout(1)


def processes(
    env: simpy.Environment, chain: Chain, state: State, ledger: Ledger, rec: Recorder
) -> list[Process]:
    """The switches of the chain's controls and outages, then the stages' actors, in the
    order they run within a step."""
    actors = [actor(env, stage, chain, state, ledger, rec) for stage in STAGES]
    return _switches(env, chain, state) + actors


def _switches(env: simpy.Environment, chain: Chain, state: State) -> list[Process]:
    """A switch a control (which sets each market's withheld shares when it changes), then a
    switch an outage."""

    def controls_changed() -> None:  # a control's phases are among its switch's times
        state.control_on = [c.on(int(env.now)) for c in chain.controls]
        state.refresh_withheld(chain)

    out = [
        switch(env, chain.steps, control, state.control_levels, i, controls_changed)
        for i, control in enumerate(chain.controls)
    ]
    out += [
        switch(env, chain.steps, outage, state.outage_levels, i, lambda: None)
        for i, outage in enumerate(chain.outages)
    ]
    return out

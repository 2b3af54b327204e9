"""Goal-seek: the smallest size of one lever (`sim.runs.solve_inputs`) for which a target
holds in a given share of futures, by bracketing, secant steps and bisection on the engine,
with common random numbers: every trial runs the same futures (one seed, one set of draws),
only the lever differs.

A future holds when no month of the window is short for the target's buyers (a month is short
as in ``summary.csv``: shortfall above a millionth of demand). Its excess is the shortfall
above that, summed over the window's months and the buyers: it falls as the lever grows and
is zero exactly when the future holds. With k = ceil(p x futures), the target holds in share
p when the k-th smallest excess is zero. Between the largest value that failed and the
smallest that held, secant steps on that order statistic find where it reaches zero (at once
when it falls linearly, as a stockpile's does), and bisection (scipy.optimize.bisect) on
whether the target holds closes what they leave; the answer is the smallest value that held,
within 0.1% of the largest that failed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize

from sim.config import draws as sampling
from sim.config.draws import Method
from sim.config.scenario import Scenario
from sim.errors import bad_value
from sim.runs.engine import check_count
from sim.runs.solve_inputs import Lever, Target, months_in
from sim.runs.sweep import SweepResult, sweep
from sim.world.world import World

SHORT_SHARE, SHORT_T = 1e-6, 1e-9  # a month is short above this share of demand plus this
GROWTH = 4.0  # the bracket's upper end grows by this until the target holds
RELATIVE_TOLERANCE = 1e-3  # the answer is within 0.1% (or `ABSOLUTE_TOLERANCE`) of the least
ABSOLUTE_TOLERANCE = 1e-2
SECANT_ROUNDS = 4
#: Trials a solve typically runs (bracketing, bisection to 0.1%, the check at 5% less): the
#: time estimate's count, not a limit (full-embargo-us-defence-stockpile.yaml's solve runs 6).
TYPICAL_TRIALS = 20
CHECK_SHARE = 0.95  # the margin: the target at 5% less than the answer


@dataclass(frozen=True)
class Trial:
    """One lever value tried: the k-th smallest excess over the futures (t; 0: the target
    holds) and the share of futures that held."""

    value: float
    excess_t: float
    share_held: float

    @property
    def holds(self) -> bool:
        return self.excess_t == 0.0


@dataclass(frozen=True)
class Futures:
    """How the futures are drawn and run: how many, seed, method, worker processes."""

    count: int
    seed: int = 0
    method: Method = "random"
    workers: int = 1


@dataclass
class Solve:
    """A solve's question and what it found; ``answer`` is ``None`` when no size held, and
    ``reason`` says why."""

    lever: Lever
    target: Target
    probability: float
    futures: int
    trials: list[Trial] = field(default_factory=list)
    answer: float | None = None
    reason: str = ""
    check: Trial | None = None
    wall_seconds: float = 0.0

    def trials_table(self) -> pd.DataFrame:
        """A row a trial in the order run (``check``: the margin's trial at 5% less)."""
        checks = [] if self.check is None else [self.check]
        return pd.DataFrame(
            [(t.value, t.excess_t, t.share_held, t.holds, t in checks)
             for t in [*self.trials, *checks]],
            columns=[self.lever.path, "excess_t", "share_held", "holds", "check"],
        )  # fmt: skip

    def failed_below(self) -> float | None:
        """The largest value tried that did not hold."""
        failed = [t.value for t in self.trials if not t.holds]
        return max(failed) if failed else None


def check_probability(probability: float) -> float:
    """``probability`` if it is in (0, 1], else an `InputError` at ``--probability``."""
    if not 0.0 < probability <= 1.0:
        raise bad_value("must be above 0 and at most 1", "--probability", probability)
    return probability


def solve(
    world: World,
    scenario: Scenario,
    lever: Lever,
    target: Target,
    probability: float,
    futures: Futures,
) -> Solve:
    """The smallest ``lever`` for which ``target`` holds in at least ``probability`` of the
    scenario's futures (one future when it has no uncertain input)."""
    began = time.perf_counter()
    check_count(futures.count, "-n")
    sampling.check_seed(futures.seed)
    count = futures.count if scenario.uncertain else 1
    found = Solve(lever, target, check_probability(probability), count)
    runner = _Runner(world, scenario, lever, target, futures, count, found)
    _search(found, runner)
    if found.answer is not None and found.answer > lever.kind.least:
        found.check = runner.run(found.answer * CHECK_SHARE)
    found.wall_seconds = time.perf_counter() - began
    return found


class _Runner:
    """Runs the futures with the lever at a value, each value once (a `Trial`, kept)."""

    def __init__(
        self,
        world: World,
        scenario: Scenario,
        lever: Lever,
        target: Target,
        futures: Futures,
        count: int,
        found: Solve,
    ) -> None:
        self.world, self.scenario, self.lever, self.target = world, scenario, lever, target
        self.futures, self.count, self.found = futures, count, found
        self.draws = sampling.draw(scenario, count, futures.seed, futures.method)
        self.rank = max(1, math.ceil(found.probability * count - 1e-9))

    def __call__(self, value: float) -> Trial:
        """The trial at ``value``: run now, or the one already run there."""
        done = [t for t in self.found.trials if t.value == value]
        trial = done[0] if done else self.run(value)
        if not done:
            self.found.trials.append(trial)
        return trial

    def run(self, value: float) -> Trial:
        """Every future with the lever at ``value`` (the same draws every time)."""
        draws = {**self.draws, self.lever.path: np.full(self.count, float(value))}
        f = self.futures
        result = sweep(self.world, self.scenario, self.count, seed=f.seed, method=f.method,
                       workers=f.workers, draws=draws)  # fmt: skip
        excess = excess_t(result, self.target)
        kth = float(np.sort(excess)[self.rank - 1])
        return Trial(float(value), kth, float(np.mean(excess == 0.0)))


def excess_t(result: SweepResult, target: Target) -> np.ndarray:
    """Each future's shortfall above the short threshold, summed over the target's months and
    buyers (t; 0 when it holds)."""
    months = months_in(target, result.dates)
    short = result.arrays["shortfall"][:, months][:, :, target.buyers].astype(np.float64)
    demand = result.arrays["demand"][:, months][:, :, target.buyers].astype(np.float64)
    over = short - (SHORT_SHARE * demand + SHORT_T)
    return np.maximum(over, 0.0).sum(axis=(1, 2))


def _search(found: Solve, trial: Callable[[float], Trial]) -> None:
    """Bracket the answer from the lever's least value up, close in by secant steps on the
    excess, then by bisection (scipy.optimize.bisect) on whether the target holds."""
    if trial(found.lever.kind.least).holds:
        found.answer = found.lever.kind.least
        return
    if _bracket(found, trial) is None:
        return
    for _ in range(SECANT_ROUNDS):
        if not _open(found):
            break
        _secant_step(found, trial)
    if _open(found):
        low, high = _ends(found)
        optimize.bisect(lambda x: -1.0 if trial(x).holds else 1.0, low, high,
                        xtol=ABSOLUTE_TOLERANCE, rtol=RELATIVE_TOLERANCE)  # fmt: skip
    found.answer = _ends(found)[1]


def _ends(found: Solve) -> tuple[float, float]:
    """The bracket: the largest value that failed below the smallest that held."""
    high = min(t.value for t in found.trials if t.holds)
    return max(t.value for t in found.trials if not t.holds and t.value < high), high


def _tolerance(value: float) -> float:
    """How close the bracket's ends must come."""
    return RELATIVE_TOLERANCE * abs(value) + ABSOLUTE_TOLERANCE


def _open(found: Solve) -> bool:
    """Whether the bracket is still wider than the tolerance."""
    low, high = _ends(found)
    return high - low > _tolerance(high)


def _secant_step(found: Solve, trial: Callable[[float], Trial]) -> None:
    """A trial just above where the excess reaches zero on the line through the two largest
    values that failed (the answer when it falls linearly, as a stockpile's does), and when
    that holds one just below."""
    low, high = _ends(found)
    quarter = _tolerance(high) / 4
    guess = min(max(_secant_guess(found, low, high), low + quarter), high - quarter)
    if trial(guess + quarter).holds and guess - quarter > low:
        trial(guess - quarter)


def _secant_guess(found: Solve, low: float, high: float) -> float:
    """Where the line through the two largest failed values reaches zero excess; the
    bracket's middle while there is no such line (one failed value, or no fall)."""
    failed = sorted((t.value, t.excess_t) for t in found.trials if not t.holds and t.value <= low)
    if len(failed) < 2 or failed[-1][1] >= failed[-2][1]:
        return (low + high) / 2
    (a, excess_a), (b, excess_b) = failed[-2:]
    return b + excess_b * (b - a) / (excess_a - excess_b)


def _bracket(found: Solve, trial: Callable[[float], Trial]) -> Trial | None:
    """The first value that holds, growing from the lever's current value (or 1) by
    `GROWTH`; ``None``, with the reason, when growing it stops helping or reaches its most."""
    kind = found.lever.kind
    last = found.trials[-1]
    value = min(max(found.lever.current, 1.0), kind.most)
    while True:
        now = trial(value)
        if now.holds:
            return now
        if now.excess_t >= last.excess_t * (1 - 1e-9) or value >= kind.most:
            found.reason = _no_answer(found, last, now)
            return None
        last, value = now, min(value * GROWTH, kind.most)


def _no_answer(found: Solve, last: Trial, now: Trial) -> str:
    """Why no size holds: more stopped helping, or the lever reached its most."""
    unit = found.lever.kind.unit
    still = f"the target still fails by {now.excess_t:,.4g} t at {now.value:,.6g} {unit}"
    if now.value >= found.lever.kind.most:
        return f"{still}, the most the lever may be"
    return f"{still}, no less than at {last.value:,.6g} {unit}: more does not help"

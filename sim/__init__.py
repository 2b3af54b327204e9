"""sim: a discrete-event simulator of rare-earth supply disruptions.

The package turns a YAML scenario (export controls, outages, new capacity) and an embedded,
sourced default world into shortfall timelines by region, sector and material.

The Python API (`sim.api`): `load_scenario` and `load_world` read inputs; `run` runs one
future of a scenario and returns a `Result` whose tables (``.shortfall``, ``.summary``,
``.prices``, ``.flows``, ``.stocks``, ``.production``) are pandas DataFrames; `sweep` runs
many futures (a `Sweep`: ``.summary``, ``.totals``, ``.parameters``); `compare` measures one
scenario against another future by future; `backtest` holds a run against observed series.

Example:
    >>> import sim
    >>> result = sim.run("scenarios/china-magnet-ban-us.yaml")
    >>> result.summary.nlargest(5, "shortfall_t")[["region", "sector", "shortfall_t"]]
"""

from sim.api import (
    Result,
    Sweep,
    backtest,
    compare,
    load_scenario,
    load_world,
    run,
    sweep,
)
from sim.version import __version__

__all__ = [
    "Result",
    "Sweep",
    "__version__",
    "backtest",
    "compare",
    "load_scenario",
    "load_world",
    "run",
    "sweep",
]

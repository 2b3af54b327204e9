"""sim: a discrete-event simulator of rare-earth supply disruptions.

The package turns a YAML scenario (export controls, outages, new capacity) and an embedded,
sourced default world into shortfall timelines by region, sector and material.

The Python API (`sim.api`): `load_scenario` and `load_world` read inputs, and `edit`
changes a scenario's fields; `run` runs one
future of a scenario and returns a `Result` whose tables (``.shortfall``, ``.summary``,
``.prices``, ``.flows``, ``.stocks``, ``.production``) are pandas DataFrames; `sweep` runs
many futures (a `Sweep`: ``.summary``, ``.totals``, ``.parameters``); `compare` measures one
scenario against another future by future; `backtest` holds a run against observed series.

Example:
    >>> import sim
    >>> result = sim.run("scenarios/china-magnet-ban-us.yaml")
    >>> result.summary.nlargest(5, "shortfall_t")[["region", "sector", "shortfall_t"]]
"""

import os

# Compiled kernels are cached in the user's cache folder, not beside the modules (numba's
# default): files numba writes into an installed package are not pip's, so `pip uninstall`
# leaves them, and the half-empty `site-packages/sim` then shadows a later editable install.
os.environ.setdefault(
    "NUMBA_CACHE_DIR",
    os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "sim",
        "numba",
    ),
)

from sim.api import (  # noqa: E402 (after the cache folder is chosen)
    Result,
    Sweep,
    backtest,
    compare,
    edit,
    load_scenario,
    load_world,
    run,
    sweep,
)
from sim.version import __version__  # noqa: E402

__all__ = [
    "Result",
    "Sweep",
    "__version__",
    "backtest",
    "compare",
    "edit",
    "load_scenario",
    "load_world",
    "run",
    "sweep",
]

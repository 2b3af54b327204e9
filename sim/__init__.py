"""sim: a discrete-event simulator of rare-earth supply disruptions.

The package turns a YAML scenario (export controls, outages, new capacity) and an embedded,
sourced default world into shortfall timelines by region, sector and material.
"""

from sim.version import __version__

__all__ = ["__version__"]

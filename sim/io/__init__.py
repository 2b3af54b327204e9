"""The edges: scenario and observed files, reports, plots and the command line.

The only layer that reads the user's files, writes files, prints or plots (`sim.world` reads
only the embedded data files).
"""

"""`python -m sim` runs the command line."""

from sim.io.cli import console

console()

"""`python -m sim` runs the command line."""

import sys

from sim.io.cli import main

sys.exit(main())

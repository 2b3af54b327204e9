"""Test settings shared by the suite. Hypothesis draws the same examples on every run (the
`ci` profile, the default, which CI also names in `.ci/run`), so that the README's test
command gives a newcomer the result CI gives, and a failure can be reproduced;
``HYPOTHESIS_PROFILE=explore`` searches new examples each run, to look for what the fixed
ones miss. Warm servers are off (``SIM_SERVER=0``) but where tests/test_server.py turns them
on."""

from __future__ import annotations

import os

from hypothesis import settings

# Commands the tests run stay in their own processes and start no warm server
# (`sim.io.server`): tests/test_server.py turns servers on where it tests them.
os.environ["SIM_SERVER"] = "0"

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

"""Test settings shared by the suite: Hypothesis's `ci` profile, which CI selects
(`HYPOTHESIS_PROFILE=ci` in `.ci/run`), draws the same examples on every run, so a CI result
can be reproduced; locally the default profile keeps searching new examples. Warm servers are
off (``SIM_SERVER=0``) but where tests/test_server.py turns them on."""

from __future__ import annotations

import os

from hypothesis import settings

# Commands the tests run stay in their own processes and start no warm server
# (`sim.io.server`): tests/test_server.py turns servers on where it tests them.
os.environ["SIM_SERVER"] = "0"

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

"""Test settings shared by the suite: Hypothesis's `ci` profile, which CI selects
(`HYPOTHESIS_PROFILE=ci` in `.ci/run`), draws the same examples on every run, so a CI result
can be reproduced; locally the default profile keeps searching new examples."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

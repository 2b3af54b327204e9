"""The stages' order is what `sim.model.stages` says it is."""

from __future__ import annotations

import re

from sim.model import stages


def test_the_stages_docstring_lists_every_stage_in_the_order_they_run() -> None:
    order = (stages.__doc__ or "").split("\n\n")[1]  # the paragraph that gives the order
    listed = re.findall(r"`(\w+)`", order)
    names = [stage.__name__ for stage in stages.STAGES]
    assert [name for name in listed if name in names] == names

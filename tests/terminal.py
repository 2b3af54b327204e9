"""Commands the tests interrupt, started as from a terminal: Ctrl-C (SIGINT) at its default
action whatever the suite inherited. A suite started in the background (``cmd &`` in a
non-interactive shell, as CI or a check may start it) ignores SIGINT, and a child keeps an
ignored signal ignored: Python then never raises KeyboardInterrupt in it, and a test of what
Ctrl-C does would watch the command run to its end instead."""

from __future__ import annotations

import signal


def like_a_terminal() -> None:
    """``preexec_fn`` of a command a test sends SIGINT: SIGINT back at its default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

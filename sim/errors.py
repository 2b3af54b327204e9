"""The one root exception of the package and its two families.

`InputError` is the user's to fix (a bad scenario or option): the command line prints it and
exits with status 2. `MassBalanceError` means the model lost or created material: a bug, never
silenced (status 3); so does `NonFiniteError`, a NaN or infinite number where the model's
numbers must be finite.
"""

from __future__ import annotations

import datetime as dt


class SimError(Exception):
    """Root of every error the package raises on purpose."""


class InputError(SimError):
    """Bad input: a scenario file, an option or a data value.

    Attributes:
        file: the file the bad value came from, if any.
        line: its 1-based line in that file, if known.
        path: the dotted field path (``events[0].start``), if any.
        problem: what is wrong and what was expected.
        value: the offending value, if any.
        others: further problems found in the same input at the same time (each an
            `InputError` of its own), reported after this one.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        line: int | None = None,
        path: str | None = None,
        value: object = None,
        has_value: bool = False,
    ) -> None:
        self.file, self.line, self.path, self.problem = file, line, path, problem
        self.value, self.has_value = value, has_value
        self.others: tuple[InputError, ...] = ()
        super().__init__(self.render())

    def with_others(self, others: list[InputError]) -> InputError:
        """This error, with ``others`` found beside it."""
        self.others = tuple(others)
        return self

    def render(self) -> str:
        """The message as ``FILE:LINE: field.path: problem (got VALUE)``."""
        where = ""
        if self.file:
            file = one_line(self.file)
            where = f"{file}:{self.line}: " if self.line else f"{file}: "
        field = f"{one_line(self.path)}: " if self.path else ""
        got = f" (got {excerpt(self.value)})" if self.has_value else ""
        return f"{where}{field}{excerpt(self.problem, MAX_PROBLEM, quote=False)}{got}"


def bad_value(problem: str, path: str, value: object) -> InputError:
    """An `InputError` at ``path`` (an option, an argument or a field; no file) quoting the
    ``value`` given, which may itself be None."""
    return InputError(problem, path=path, value=value, has_value=True)


MAX_VALUE, MAX_PROBLEM = 80, 2000  # characters of a value, and of a problem, an error shows


def excerpt(value: object, limit: int = MAX_VALUE, quote: bool = True) -> str:
    """``value`` as an error shows it: its repr (a date as written, ``2024-01-31``; text as
    it is with ``quote`` false), on one line, cut to ``limit`` characters."""
    text = _as_text(value, quote)
    text = one_line(" ".join(text.split()) if "\n" in text else text)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def one_line(text: str) -> str:
    """``text`` with its control characters escaped (``\\r``, ``\\x1b``): a file name or a
    value may hold line breaks, which would break an error's one line, or terminal codes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _as_text(value: object, quote: bool) -> str:
    """A date as written (ISO), text as it is unless ``quote``, anything else its repr."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value) if quote or not isinstance(value, str) else value


class Interrupted(SimError):
    """The user stopped a command (Ctrl-C, SIGTERM); the message says what was kept."""


EXIT_INTERRUPTED = 130  # a command the user stopped (128 + SIGINT, as shells report it)
NOTHING_WRITTEN = "interrupted; nothing was written"  # what a command stopped early prints


class MassBalanceError(SimError):
    """Material was created or destroyed: the books of a run do not balance."""


class NonFiniteError(MassBalanceError):
    """A number of a run, a sweep or a manifest is NaN or infinite: its books cannot be
    checked, so they are not trusted."""

"""Input text read safely (size-limited UTF-8 files), and 'did you mean' hints for names."""

from __future__ import annotations

import difflib
from pathlib import Path

from sim.errors import InputError


def read_text(path: Path, limit: int) -> str:
    """A UTF-8 text file of at most ``limit`` bytes, or an `InputError` saying why not.

    Only a regular file is read (a FIFO would wait for a writer for ever, a device such as
    /dev/zero never ends), and never more than ``limit + 1`` bytes of it."""
    raw = _read_bytes(path, limit)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=str(path)) from None


def _read_bytes(path: Path, limit: int) -> bytes:
    """The bytes of a regular file, refused past ``limit`` bytes (read up to one more)."""
    if path.exists() and not path.is_file():
        raise InputError("not a regular file (a folder, device or pipe)", file=str(path))
    try:
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", file=str(path)) from None
    if len(raw) > limit:
        raise InputError(f"file is larger than {limit} bytes", file=str(path))
    return raw


def nearest(name: str, options: set[str]) -> str:
    """'did you mean' the closest of ``options`` to a misspelt ``name``, else all of them."""
    close = difflib.get_close_matches(name, sorted(options), n=1)
    return f"did you mean '{close[0]}'?" if close else f"expected one of {sorted(options)}"

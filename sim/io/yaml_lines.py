"""YAML read safely into plain values, with the file and line of every value.

The lines let every later error (schema, world references, uncertain inputs) point at
``FILE:LINE``. Reading is bounded: files over ``MAX_BYTES``, documents expanding to more than
``MAX_NODES`` values, and nesting too deep for Python are refused as input errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sim.errors import InputError
from sim.io.input_text import read_text

#: The (file, line) of every value of a document, by its path of keys and list indices.
Lines = dict[tuple[Any, ...], tuple[str, int]]
MAX_BYTES = 1_000_000
MAX_NODES = 200_000  # values after alias expansion (guards against "billion laughs" files)


def dotted(path: tuple[Any, ...]) -> str:
    """A path of keys and indices as text: ``("events", 0, "start")`` -> ``events[0].start``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def read_yaml(path: Path) -> tuple[dict[str, Any], Lines]:
    """Parse one YAML file safely into a mapping and the line of every field."""
    file = str(path)
    data, lines = _parse(read_text(path, MAX_BYTES), file)
    if data is None:
        raise InputError(
            "the file is empty; expected a scenario mapping (name, horizon, events)",
            file=file,
            line=1,
        )
    if not isinstance(data, dict):
        raise InputError(
            "expected a mapping at the top level (name, horizon, events)",
            file=file,
            line=1,
            value=type(data).__name__,
            has_value=True,
        )
    return data, lines


def _parse(text: str, file: str) -> tuple[Any, Lines]:
    """The document's values (None if empty) and lines; YAML errors become `InputError`s."""
    loader = _loader(text, file)
    try:
        node = loader.get_single_node()
        composer = _Composer(loader, file)
        return (None if node is None else composer.value(node, ())), composer.lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or ""
        raise InputError(
            f"not valid YAML: {problem}{yaml_hint(problem)}", file=file, line=line
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", file=file) from None
    except RecursionError:
        raise InputError("YAML nested too deeply", file=file) from None
    finally:
        loader.dispose()


def _loader(text: str, file: str) -> yaml.SafeLoader:
    """A safe loader of ``text``; its reader refuses characters YAML does not allow."""
    try:
        return yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        raise InputError(
            f"not valid YAML: {exc.reason} (character #x{exc.character:04x})",
            file=file,
            line=text.count("\n", 0, exc.position) + 1,
        ) from None


#: What PyYAML's commonest complaints usually mean, in plain words.
YAML_HINTS: tuple[tuple[str, str], ...] = (
    (
        "mapping values are not allowed",
        "a key is probably indented more or less than the keys beside it, or a value holds "
        "': ' (quote such a value)",
    ),
    (
        "expected <block end>",
        "a line is probably indented differently from the lines of its block (keys of one "
        "mapping, or items of one list, start in the same column)",
    ),
    (
        "could not find expected ':'",
        "a key probably lacks its ':' or a quote is not closed on the line before",
    ),
    ("found character '\\t'", "YAML indents with spaces; this line has a tab"),
    ("found undefined alias", "'*' starts an alias in YAML; quote a value that starts with *"),
    ("found unexpected end of stream", "a quote or bracket is probably not closed"),
    (
        "did not find expected key",
        "a line is probably indented differently from the keys beside it, or a list item "
        "('- ') sits inside a mapping",
    ),
    (
        "did not find expected '-' indicator",
        "the items of a list ('- ') probably do not all start in the same column",
    ),
)


def yaml_hint(problem: str) -> str:
    """``; probably ...`` for a PyYAML complaint `YAML_HINTS` knows, else nothing."""
    for text, hint in YAML_HINTS:
        if text in problem:
            return f" ({hint})"
    return ""


class _Composer:
    """Builds plain values from a YAML node tree, recording the line of each in ``lines``."""

    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader, self.file = loader, file
        self.lines: Lines = {}

    def value(self, node: yaml.Node, path: tuple[Any, ...]) -> Any:
        """The value of ``node`` at ``path`` (a mapping, a list or a scalar)."""
        self.note(node, path)
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def note(self, node: yaml.Node, path: tuple[Any, ...]) -> None:
        """Record the line of ``path``; refuse a document of more than `MAX_NODES` values."""
        self.lines[path] = (self.file, node.start_mark.line + 1)
        if len(self.lines) > MAX_NODES:
            raise self.refuse(node, f"YAML expands to more than {MAX_NODES} values (aliases?)")

    def refuse(self, node: yaml.Node, problem: str, **field: Any) -> InputError:
        """An `InputError` at the line of ``node``; ``field``: its path and value, if any."""
        return InputError(problem, file=self.file, line=node.start_mark.line + 1, **field)

    def mapping(self, node: yaml.MappingNode, path: tuple[Any, ...]) -> dict[str, Any]:
        """A mapping; each key's line is the line of the key, not of its value."""
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, path, out)
            out[key] = self.value(value_node, (*path, key))
            self.lines[(*path, key)] = (self.file, key_node.start_mark.line + 1)
        return out

    def key(self, node: yaml.Node, path: tuple[Any, ...], seen: dict[str, Any]) -> str:
        """A mapping's key: text, and not one the mapping already has."""
        key = self.scalar(node, path)
        if not isinstance(key, str):
            raise self.refuse(
                node, "keys must be text", path=dotted(path) or None, value=key, has_value=True
            )
        if key in seen:
            first = self.lines[(*path, key)][1]
            problem = f"duplicate key '{key}' (first at line {first})"
            raise self.refuse(node, problem, path=dotted((*path, key)))
        return key

    def scalar(self, node: yaml.Node, path: tuple[Any, ...]) -> Any:
        """PyYAML's own constructor, whose non-YAML errors (``2024-13-45``, ``!!int abc``)
        become `InputError`s."""
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # ValueError, KeyError, AttributeError... from PyYAML
            why = f" ({exc})" if isinstance(exc, ValueError) else ""
            kind = node.tag.rsplit(":", 1)[-1]
            if kind == "timestamp":  # YAML took it for a date: say what a date looks like
                kind, why = "date", f"{why}; write dates as YYYY-MM-DD, e.g. 2026-03-01"
            raise self.refuse(
                node,
                f"not a valid {kind}{why}",
                path=dotted(path) or None,
                value=getattr(node, "value", None) if isinstance(node, yaml.ScalarNode) else None,
                has_value=isinstance(node, yaml.ScalarNode),
            ) from None

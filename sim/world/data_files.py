"""Reading the world's data files into validated rows, each with the file and line it came from.

A vintage's file is its own copy (``vintages/YEAR/NAME``) when it has one, else the shared
file at the top of the data folder. Every problem is an `InputError` naming the file, the
line, the column and the bad value, as for a scenario: ``FILE:LINE: column: problem (got
VALUE)``.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import ValidationError

from sim.errors import InputError
from sim.world.rows import DataRow

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

#: The embedded data folder.
PACKAGE_DATA: Traversable = resources.files("sim.world.data")
#: The data folder worlds are read from: the embedded one (a test may point it at a copy). A
#: module constant, so that the cache of built worlds can key on it.
DATA: Traversable = PACKAGE_DATA
#: How errors name the embedded data folder (relative to the repository).
DATA_NAME = "sim/world/data"

RowT = TypeVar("RowT", bound=DataRow)


@dataclass(frozen=True)
class LocatedRow(Generic[RowT]):
    """A validated row and where it came from (for errors found later, across rows)."""

    file: str
    line: int
    row: RowT


def read_rows(
    model: type[RowT], name: str, folder: str = "", root: Traversable = DATA
) -> list[RowT]:
    """The rows of data file ``name`` of a vintage's ``folder``, validated by ``model``."""
    return [located.row for located in located_rows(model, name, folder, root)]


def located_rows(
    model: type[RowT], name: str, folder: str = "", root: Traversable = DATA
) -> list[LocatedRow[RowT]]:
    """`read_rows` with the file and line of every row."""
    path, relative = _data_file(root, folder, name)
    file = f"{DATA_NAME}/{relative}" if root == PACKAGE_DATA else str(path)
    return parse_rows(model, path.read_text(encoding="utf-8"), file)


def has_own(folder: str, name: str, root: Traversable = DATA) -> bool:
    """Whether a vintage's ``folder`` has its own copy of data file ``name``."""
    return bool(folder) and root.joinpath(folder).joinpath(name).is_file()


def _data_file(root: Traversable, folder: str, name: str) -> tuple[Traversable, str]:
    """A vintage's own file ``name`` in ``folder`` if it has one, else the one shared by
    every vintage; and its name relative to ``root``."""
    own = root.joinpath(folder).joinpath(name) if folder else None
    if own and own.is_file():
        return own, f"{folder}/{name}"
    return root.joinpath(name), name


def parse_rows(model: type[RowT], text: str, file: str) -> list[LocatedRow[RowT]]:
    """The rows of CSV ``text`` (a header, then one row a line), validated by ``model``."""
    reader = csv.reader(io.StringIO(text))
    header = _header(model, reader, file)
    return [
        LocatedRow(file, line, _row(model, header, cells, file, line))
        for line, cells in _records(reader)
    ]


def _header(model: type[DataRow], reader: Iterator[list[str]], file: str) -> list[str]:
    """The header row (the first record), checked against the model's fields."""
    header = next(reader, None)
    if header is None:
        raise InputError("the file is empty; expected a header row", file=file, line=1)
    _check_header(model, header, file)
    return header


def _records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """The records after the header, each with the line it starts on (a blank line is none)."""
    line = reader.line_num + 1
    for cells in reader:
        if cells:
            yield line, cells
        line = reader.line_num + 1


def _check_header(model: type[DataRow], header: list[str], file: str) -> None:
    """Every column is a field of the model, once, and every required field is a column."""
    fields = {field.alias or name: field for name, field in model.model_fields.items()}
    for column in header:
        _check_column(column, header, sorted(fields), file)
    for column, field in fields.items():
        if field.is_required() and column not in header:
            raise InputError("missing column", file=file, line=1, path=column)


def _check_column(column: str, header: list[str], fields: list[str], file: str) -> None:
    """A column of the header is one of the model's ``fields``, and given once."""
    if column not in fields:
        close = difflib.get_close_matches(column, fields, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"expected {fields}"
        raise InputError(f"unknown column; {hint}", file=file, line=1, path=column)
    if header.count(column) > 1:
        raise InputError("column given twice", file=file, line=1, path=column)


def _row(model: type[RowT], header: list[str], cells: list[str], file: str, line: int) -> RowT:
    """One row validated; a blank cell is an absent value (the field's default, if any)."""
    values = _cells_by_column(header, cells, file, line)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise _row_error(exc.errors()[0], file, line) from None


def _cells_by_column(header: list[str], cells: list[str], file: str, line: int) -> dict[str, str]:
    """A row's cells by column, blank cells left out; refused unless one a column."""
    if len(cells) != len(header):
        raise InputError(
            f"{len(cells)} cells, but the header has {len(header)} columns", file=file, line=line
        )
    return {column: cell for column, cell in zip(header, cells) if cell.strip()}


def _row_error(error: Any, file: str, line: int) -> InputError:
    """The `InputError` of a row's first validation error."""
    column = str(error["loc"][0]) if error["loc"] else None
    if error["type"] == "missing":
        return InputError(
            "a value is required (the cell is blank)", file=file, line=line, path=column
        )
    value = error.get("input")
    return InputError(
        error["msg"].removeprefix("Value error, "),
        file=file,
        line=line,
        path=column,
        value=value,
        has_value=column is not None and isinstance(value, str),
    )

"""Which of a run's monthly tables are written, and how: Parquet (the default) or CSV.

The monthly tables (shortfall, flows, production, stocks, prices) are the big ones: the
baseline's flows alone are 350,000 rows, 22 MB of CSV. They are written as Parquet unless CSV
is asked for (``--format csv``), each with a ``NAME_by_year.csv`` beside it, and ``--tables``
chooses which are written at all (a table not chosen is not built). Every other table (the
summaries and impact tables) is small and always CSV. `read_table` reads either format back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sim.errors import InputError, bad_value
from sim.io.csv_text import write_csv

if TYPE_CHECKING:
    import pandas as pd

MONTHLY: tuple[str, ...] = ("shortfall", "flows", "production", "stocks", "prices")
FORMATS: tuple[str, ...] = ("parquet", "csv")


@dataclass(frozen=True)
class TableChoice:
    """The monthly tables to write and their file format."""

    tables: tuple[str, ...] = MONTHLY
    format: str = "parquet"

    def monthly_file(self, name: str) -> str:
        """The file name of the monthly table ``name``."""
        return f"{name}.{self.format}"


#: Every monthly table, as Parquet: what `sim run` writes unless told otherwise.
ALL_PARQUET = TableChoice()


def parse_tables(text: str) -> tuple[str, ...]:
    """``--tables``: ``all``, ``none`` or names from `MONTHLY` separated by commas."""
    if text.strip() == "all":
        return MONTHLY
    if text.strip() == "none":
        return ()
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in MONTHLY]
    if unknown or not names:
        expected = "all, none, or names from " + ", ".join(MONTHLY) + " separated by commas"
        raise bad_value(f"unknown table; expected {expected}", "--tables", text)
    return tuple(name for name in MONTHLY if name in names)


def write_table(table: pd.DataFrame, path: Path) -> None:
    """``table`` at ``path``, as Parquet (zstd, labels dictionary-encoded) or CSV by its suffix."""
    if path.suffix == ".csv":
        write_csv(table, path)
        return
    import pyarrow as pa
    import pyarrow.parquet as parquet

    arrow = pa.Table.from_pandas(table, preserve_index=False)
    labels = [i for i, field in enumerate(arrow.schema) if pa.types.is_string(field.type)]
    for i in labels:
        arrow = arrow.set_column(i, arrow.field(i).name, arrow.column(i).dictionary_encode())
    parquet.write_table(arrow, path, compression="zstd")


def read_table(folder: Path, name: str) -> pd.DataFrame:
    """The table ``name`` of a results folder, from its Parquet or CSV file."""
    import pandas as pd

    for suffix in FORMATS:
        path = folder / f"{name}.{suffix}"
        if path.is_file():
            table = pd.read_csv(path) if suffix == "csv" else pd.read_parquet(path)
            if "date" in table:
                table["date"] = pd.to_datetime(table["date"])
            return table
    raise InputError(f"no {name}.parquet or {name}.csv in this results folder", file=str(folder))

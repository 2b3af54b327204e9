"""``samples.parquet``: every sample's monthly shortfall and demand by buyer, as a sweep with
``--keep-samples`` writes it, in row groups so the whole table is never held in memory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sim.runs.sweep import SweepResult


def write_samples(result: SweepResult, path: Path, rows_per_group: int = 250) -> None:
    """Every sample's monthly shortfall and demand by buyer, long, in Parquet row groups of
    ``rows_per_group`` samples."""
    import pyarrow.parquet as parquet

    schema = _samples_schema()
    samples = result.arrays["shortfall"].shape[0]
    with parquet.ParquetWriter(path, schema, compression="zstd") as writer:
        for first in range(0, samples, rows_per_group):
            last = min(first + rows_per_group, samples)
            writer.write_table(_samples_table(result, first, last).cast(schema))


def _samples_schema() -> Any:
    import pyarrow as pa

    labels = pa.dictionary(pa.int8(), pa.string())
    return pa.schema(
        [
            ("sample", pa.int32()),
            ("date", pa.date32()),
            ("region", labels),
            ("sector", labels),
            ("material", labels),
            ("shortfall_t", pa.float32()),
            ("demand_t", pa.float32()),
        ]
    )


def _samples_table(result: SweepResult, first: int, last: int) -> Any:
    """Samples ``first`` to ``last - 1``, one row a sample, month and buyer."""
    import pyarrow as pa

    shortfall_t, demand_t = result.arrays["shortfall"], result.arrays["demand"]
    _, months, buyers = shortfall_t.shape
    count = last - first
    dates = np.array(result.dates, dtype="datetime64[D]")
    labels = {
        column: pa.array(np.tile(result.buyers[column].to_numpy(), count * months))
        for column in ("region", "sector", "material")
    }
    return pa.table(
        {
            "sample": pa.array(np.repeat(np.arange(first, last, dtype=np.int32), months * buyers)),
            "date": pa.array(np.tile(np.repeat(dates, buyers), count)),
            **{column: array.dictionary_encode() for column, array in labels.items()},
            "shortfall_t": pa.array(shortfall_t[first:last].ravel()),
            "demand_t": pa.array(demand_t[first:last].ravel()),
        }
    )

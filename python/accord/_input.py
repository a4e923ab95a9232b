"""Annotations in: a pandas or polars DataFrame, a pyarrow Table, RecordBatch
or RecordBatchReader, or anything with ``__arrow_c_stream__``, reduced to an
Arrow table of three columns (item, worker, label) handed to the compiled
core through the Arrow C stream interface (column buffers, never a loop
over rows)."""

from __future__ import annotations

from typing import Any, NamedTuple

import pyarrow as pa

#: Column names tried for the item, in order: crowd-kit's, then accord's.
ITEM_COLUMNS = ("task", "item")

#: Rows per record batch handed to the core (its reader works batch by
#: batch on its thread pool, so one huge batch would use one thread).
BATCH_ROWS = 1 << 16


class Columns(NamedTuple):
    """The three columns found, by their names in the input."""

    item: str
    worker: str
    label: str


class Input(NamedTuple):
    """Three columns, ready for the core, and the input's own types (so
    results carry ids and labels as the input had them)."""

    table: pa.Table
    columns: Columns
    item_type: pa.DataType
    worker_type: pa.DataType
    label_type: pa.DataType


def _to_table(data: Any) -> pa.Table:
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            return data  # selected below, before the conversion
        raise TypeError(
            f"expected a DataFrame with columns task (or item), worker, label; got a pandas {type(data).__name__}"
        )
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    if module == "polars" and hasattr(data, "to_arrow"):
        return data.to_arrow()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    raise TypeError(
        "expected a pandas or polars DataFrame, a pyarrow Table or RecordBatch, "
        f"or an object with __arrow_c_stream__; got {type(data).__module__}.{type(data).__name__}"
    )


def _find(names: list[str]) -> Columns:
    item = next((c for c in ITEM_COLUMNS if c in names), None)
    missing = [c for c, found in (("task (or item)", item), ("worker", "worker" in names), ("label", "label" in names)) if not found]
    if missing:
        raise ValueError(
            f"the data has no column {' or '.join(missing)}: expected columns task (or item), worker, label; "
            f"found {', '.join(map(str, names)) or 'none'}"
        )
    return Columns(item, "worker", "label")


def _value_type(t: pa.DataType) -> pa.DataType:
    return t.value_type if pa.types.is_dictionary(t) else t


def prepare(data: Any) -> Input:
    """The three columns of `data` as an Arrow table, and their types."""
    table = _to_table(data)
    names = table.column_names if isinstance(table, pa.Table) else [str(c) for c in table.columns]
    columns = _find(names)
    wanted = list(columns)
    if not isinstance(table, pa.Table):  # a pandas DataFrame
        # Column by column, in Arrow's C++ (no Python loop over rows); only
        # the three columns, and not the index.
        table = pa.Table.from_pandas(table, columns=wanted, preserve_index=False)
    else:
        table = table.select(wanted)
    types = [_value_type(table.schema.field(c).type) for c in wanted]
    # The core reads the columns by accord's names, in batches of at most
    # BATCH_ROWS rows (slices, not copies), which its reader spreads over
    # its threads: a pandas frame arrives as one batch.
    table = table.rename_columns(["item", "worker", "label"])
    table = pa.Table.from_batches(table.to_batches(max_chunksize=BATCH_ROWS), schema=table.schema)
    return Input(table, columns, *types)

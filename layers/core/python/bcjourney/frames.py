"""Conversions between pandas frames and the lake's Arrow schemas."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa


def to_table(frame: pd.DataFrame, table_schema: pa.Schema) -> pa.Table:
    """Exactly `table_schema`'s columns and types; a column the frame lacks is all null."""
    arrays = [
        pa.array(frame[f.name], type=f.type, from_pandas=True) if f.name in frame.columns
        else pa.nulls(len(frame), type=f.type)
        for f in table_schema
    ]
    return pa.Table.from_arrays(arrays, schema=table_schema)

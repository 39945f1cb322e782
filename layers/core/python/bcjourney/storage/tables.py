"""Arrow helpers shared by the adapters."""

from __future__ import annotations

import pyarrow as pa


def concat_tables(tables: list[pa.Table], schema: pa.Schema | None) -> pa.Table:
    if not tables:
        if schema is None:
            return pa.table({})
        return schema.empty_table()
    if schema is not None:
        tables = [t.select([n for n in schema.names if n in t.column_names]).cast(
            pa.schema([schema.field(n) for n in schema.names if n in t.column_names])) for t in tables]
    return pa.concat_tables(tables, promote_options="default")

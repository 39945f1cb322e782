"""Analysis helpers: run the Athena queries in athena_queries/ locally on a lake folder with DuckDB."""

from __future__ import annotations

from bcjourney_tools.analysis.local_sql import (
    LAKE_TABLES,
    athena_to_duckdb,
    connect_lake,
    list_query_files,
    queries_dir,
    run_query_file,
    run_sql,
)

__all__ = [
    "LAKE_TABLES",
    "athena_to_duckdb",
    "connect_lake",
    "list_query_files",
    "queries_dir",
    "run_query_file",
    "run_sql",
]

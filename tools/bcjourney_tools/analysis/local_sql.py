"""Run the Athena queries of athena_queries/ locally, unchanged, with DuckDB on a lake folder.

The lake folder has the S3 lake's layout (layout.py). Each lake table becomes a DuckDB view over its
Parquet files with Hive partitioning; partition columns (dt, partner, source) stay VARCHAR, exactly as
the Glue tables declare them to Athena. A table with no files yet becomes an empty view with the
columns of schema.py, so every query runs on any lake. The Athena (Trino) SQL is translated to DuckDB
SQL with sqlglot.

Nothing here pastes a value into SQL text: file lists travel as DuckDB variables, and the only names
written into SQL are the fixed table names below and identifiers taken from the parsed query.

duckdb and sqlglot are the 'local' extra: they are imported on first use, so importing this module
costs nothing where they are absent (the Lambda layer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import bcjourney
import pyarrow as pa
from bcjourney import layout, schema

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    import pandas as pd
    from sqlglot import exp

READ_DIALECT = "athena"  # sqlglot's Athena dialect: Trino for queries (Athena engine v3), Hive for DDL
WRITE_DIALECT = "duckdb"


@dataclass(frozen=True)
class LakeTable:
    """One Glue/Athena table of the lake: where its files live and what columns it has."""

    name: str
    prefix: str  # key prefix under the lake root, from layout.py
    columns: pa.Schema  # the Parquet columns, from schema.py
    partitions: tuple[str, ...]  # Hive partition columns, strings in Athena

    def arrow_schema(self) -> pa.Schema:
        """The table as Athena sees it: the file columns, then the partition columns as strings."""
        extra = [pa.field(p, pa.string()) for p in self.partitions if p not in self.columns.names]
        return pa.schema(list(self.columns) + extra)


LAKE_TABLES: dict[str, LakeTable] = {
    t.name: t
    for t in (
        LakeTable("unified_journeys", layout.UNIFIED_JOURNEYS, schema.UNIFIED_JOURNEYS, ("dt",)),
        LakeTable("curated_conversions", layout.CURATED_CONVERSIONS, schema.CURATED_CONVERSIONS, ("dt",)),
        LakeTable(
            "curated_broker_registrations",
            layout.CURATED_REGISTRATIONS,
            schema.CURATED_REGISTRATIONS,
            ("partner", "dt"),
        ),
        LakeTable("page_categories", layout.CURATED_PAGE_CATEGORIES, schema.PAGE_CATEGORIES, ()),
        LakeTable("quarantine", layout.QUARANTINE, schema.QUARANTINE, ("source", "dt")),
    )
}

_ARROW_TO_SQL = {
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.string(): "VARCHAR",
    pa.large_string(): "VARCHAR",
    pa.date32(): "DATE",
}


def _sql_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "TIMESTAMP"
    return _ARROW_TO_SQL.get(t, "VARCHAR")


def lake_sqlglot_schema() -> dict[str, dict[str, str]]:
    """Column types of every lake table for sqlglot's type inference (table -> column -> SQL type)."""
    return {
        name: {f.name: _sql_type(f.type) for f in t.arrow_schema()} for name, t in LAKE_TABLES.items()
    }


# --------------------------------------------------------------------------------------------------
# Athena SQL -> DuckDB SQL


def _parse_athena(sql: str) -> list[exp.Expression]:
    import sqlglot

    return [e for e in sqlglot.parse(sql, read=READ_DIALECT) if e is not None]


def _trino_count_if(node: exp.Expression) -> exp.Expression:
    """Trino's count_if(c) is a BIGINT and 0 over no rows; DuckDB's is a HUGEINT (a float in pandas)
    and NULL over no rows. count(CASE WHEN c THEN 1 END) behaves as Trino's in both respects."""
    from sqlglot import exp

    if isinstance(node, exp.CountIf):
        return exp.Count(this=exp.Case(ifs=[exp.If(this=node.this.copy(), true=exp.Literal.number(1))]))
    return node


def _with_types(tree: exp.Expression, types: Mapping[str, Mapping[str, str]]) -> exp.Expression:
    """Qualify and type-annotate the tree so that integer / integer stays integer division in DuckDB.

    Trino divides two integers as integers (7 / 2 = 3), DuckDB's '/' always returns a double. sqlglot
    only emits DuckDB's integer division when it knows both operands are integers, which needs column
    types: hence the lake's schema. Raises when the query cannot be qualified (unknown table...).
    """
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify

    qualified = qualify(
        tree.copy(),
        schema=types,
        dialect=READ_DIALECT,
        validate_qualify_columns=True,
        quote_identifiers=True,
        identify=False,
    )
    return annotate_types(qualified, schema=types, dialect=READ_DIALECT)


def _to_duckdb(tree: exp.Expression, types: Mapping[str, Mapping[str, str]] | None) -> str:
    from sqlglot import exp

    tree = tree.transform(_trino_count_if)
    if types is not None and isinstance(tree, (exp.Query, exp.Create)):
        try:
            tree = _with_types(tree, types)
        except Exception:  # noqa: BLE001 - untyped translation is still right without int/int division
            pass
    return tree.sql(dialect=WRITE_DIALECT)


def athena_to_duckdb(sql: str, *, types: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """Translate Athena (engine v3, Trino) SQL to DuckDB SQL; statements are joined with ';\\n'.

    types (table -> column -> SQL type, default: the lake's tables) lets sqlglot infer column types,
    which keeps Trino's integer division faithful; pass {} to translate without type inference.
    """
    if types is None:
        types = lake_sqlglot_schema()
    return ";\n".join(_to_duckdb(tree, types or None) for tree in _parse_athena(sql))


# --------------------------------------------------------------------------------------------------
# The lake as DuckDB views


def _parquet_files(root: Path) -> list[str]:
    """The table's Parquet files; like Athena, skip names starting with '_' or '.' (temp, markers)."""
    if not root.is_dir():
        return []
    return sorted(
        str(p)
        for p in root.rglob("*.parquet")
        if p.is_file()
        and p.stat().st_size > 0
        and not any(part.startswith(("_", ".")) for part in p.relative_to(root).parts)
    )


def connect_lake(lake_dir: str | Path, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (new and in-memory unless con is given) with one view per lake table.

    A table with Parquet files under its prefix reads them with Hive partitioning and
    hive_types_autocast=false, so dt / partner / source are VARCHAR as in Athena; a table without files
    is an empty view with the columns of schema.py (partition columns VARCHAR).
    """
    import duckdb

    lake = Path(lake_dir)
    if not lake.is_dir():
        raise FileNotFoundError(f"lake folder not found: {lake}")
    con = con if con is not None else duckdb.connect()
    for table in LAKE_TABLES.values():
        files = _parquet_files(lake / table.prefix)
        if files:
            variable = f"bcjourney_files_{table.name}"
            con.execute(f"SET VARIABLE {variable} = ?", [files])
            con.execute(
                f'CREATE OR REPLACE VIEW "{table.name}" AS SELECT * FROM read_parquet('
                f"getvariable('{variable}'), hive_partitioning = true, "
                "hive_types_autocast = false, union_by_name = true)"
            )
        else:
            con.register(f"bcjourney_empty_{table.name}", table.arrow_schema().empty_table())
            con.execute(f'CREATE OR REPLACE VIEW "{table.name}" AS SELECT * FROM "bcjourney_empty_{table.name}"')
    return con


# --------------------------------------------------------------------------------------------------
# Running queries


def _created_view(tree: exp.Expression) -> exp.Table | None:
    from sqlglot import exp

    if isinstance(tree, exp.Create) and str(tree.args.get("kind", "")).upper() == "VIEW":
        target = tree.this
        if isinstance(target, exp.Schema):  # CREATE VIEW v (a, b) AS ...
            target = target.this
        return target if isinstance(target, exp.Table) else None
    return None


def run_sql(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """Run Athena SQL (one or more statements) on a connect_lake() connection; the last result.

    A CREATE VIEW statement creates the view; when it is the last statement the view's rows are
    returned, as Athena users would see them with SELECT * FROM the view.
    """
    import pandas as pd
    from sqlglot import exp

    types = lake_sqlglot_schema()
    result: pd.DataFrame | None = None
    for tree in _parse_athena(sql):
        con.execute(_to_duckdb(tree, types))
        view = _created_view(tree)
        if view is not None:
            select = exp.select("*").from_(exp.table_(view.name, db=None, quoted=True))
            result = con.execute(select.sql(dialect=WRITE_DIALECT)).df()
        elif isinstance(tree, exp.Query):
            result = con.fetchdf()
        else:
            result = None
    return result if result is not None else pd.DataFrame()


def run_query_file(
    lake_dir: str | Path, sql_path: str | Path, con: duckdb.DuckDBPyConnection | None = None
) -> pd.DataFrame:
    """Run one athena_queries/*.sql file, unchanged, on a local lake folder; its result as a DataFrame."""
    sql = Path(sql_path).read_text(encoding="utf-8")
    return run_sql(connect_lake(lake_dir, con), sql)


def queries_dir() -> Path:
    """The repository's athena_queries/ folder (the nearest one above the package, else ./athena_queries)."""
    package = Path(bcjourney.__file__).resolve()
    for parent in package.parents:
        candidate = parent / "athena_queries"
        if candidate.is_dir():
            return candidate
    return Path.cwd() / "athena_queries"


def list_query_files() -> list[Path]:
    """Every athena_queries/*.sql file, in name order."""
    folder = queries_dir()
    return sorted(folder.glob("*.sql")) if folder.is_dir() else []

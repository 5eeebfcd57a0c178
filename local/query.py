"""SQL over the lake as the local Glue catalog registers it: DuckDB as Athena's stand-in.

Each catalog table becomes a DuckDB view over its Parquet, at the location the catalog
gives (`s3://<bucket>/<prefix>` is the bucket's directory mirror in --state-dir), with the
catalog's column types and partition keys. Views exist both unqualified and in a schema
named after the catalog database, so `SELECT ... FROM fact_sales_order` and
`SELECT ... FROM totesys_lake.fact_sales_order` both work, as in Athena.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb

from local.statedir import StateDir
from pipeline_common.errors import UnsafeIdentifierError
from pipeline_common.postgres import quote_identifier

_SIMPLE_TYPES = {
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "binary": "BLOB",
}
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_VARCHAR = re.compile(r"^(var)?char\(\d+\)$")


class LakeQueryError(RuntimeError):
    """The lake cannot be queried as asked (no catalog, unknown type, bad SQL)."""


@dataclass(frozen=True)
class LakeTable:
    """One catalog table: where its Parquet lives and its typed columns."""

    name: str
    location: str
    directory: Path
    columns: list[tuple[str, str]]
    partition_keys: list[tuple[str, str]]


def duckdb_type(glue_type: str) -> str:
    """The DuckDB type of a Glue/Hive column type."""
    text = glue_type.strip().lower()
    if text in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[text]
    match = _DECIMAL.match(text)
    if match:
        return f"DECIMAL({match.group(1)},{match.group(2)})"
    if _VARCHAR.match(text):
        return "VARCHAR"
    raise LakeQueryError(f"catalog column type {glue_type!r} has no DuckDB equivalent here")


def _quote(name: str) -> str:
    """A catalog name quoted for DuckDB (whose quoting is Postgres's), from the one allow-list
    the stages use: Glue keeps names in lower case, so a catalog name outside it is an error."""
    try:
        return quote_identifier(name)
    except UnsafeIdentifierError as exc:
        raise LakeQueryError(f"catalog name {name!r} is not a plain identifier") from exc


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def lake_tables(state: StateDir) -> tuple[str, list[LakeTable]]:
    """The catalog database name and its tables, locations mapped to the mirrors."""
    catalog = state.read_json(state.catalog_path, None)
    if not catalog or not catalog.get("database"):
        raise LakeQueryError(
            f"no catalog in {state.root}: run `python -m local run` with this --state-dir first"
        )
    tables: list[LakeTable] = []
    for entry in catalog.get("tables", []):
        table = entry["table"]
        descriptor = table.get("StorageDescriptor") or {}
        location = str(descriptor.get("Location", ""))
        parts = urlsplit(location)
        if parts.scheme != "s3" or not parts.netloc:
            raise LakeQueryError(f"table {table['Name']} has location {location!r}, not s3://")
        directory = state.bucket_dir(parts.netloc) / parts.path.lstrip("/")
        tables.append(
            LakeTable(
                name=str(table["Name"]),
                location=location,
                directory=directory,
                columns=[(c["Name"], c["Type"]) for c in descriptor.get("Columns", [])],
                partition_keys=[(c["Name"], c["Type"]) for c in table.get("PartitionKeys", [])],
            )
        )
    return str(catalog["database"]["Name"]), tables


def _view_sql(table: LakeTable) -> str:
    files = sorted(table.directory.rglob("*.parquet"))
    select = ", ".join(
        f"CAST({_quote(name)} AS {duckdb_type(kind)}) AS {_quote(name)}"
        for name, kind in [*table.columns, *table.partition_keys]
    )
    if not files:
        # An empty table: the catalog's columns, no rows.
        nulls = ", ".join(
            f"CAST(NULL AS {duckdb_type(kind)}) AS {_quote(name)}"
            for name, kind in [*table.columns, *table.partition_keys]
        )
        return f"SELECT {nulls} WHERE false"
    source = f"read_parquet({_literal(str(table.directory))} || '/**/*.parquet'"
    if table.partition_keys:
        source += ", hive_partitioning = true, hive_types_autocast = false"
    else:
        source += ", hive_partitioning = false"
    source += ", union_by_name = true)"
    return f"SELECT {select} FROM {source}"  # nosec B608 - names checked, path quoted


def connect_lake(state: StateDir) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per catalog table."""
    database, tables = lake_tables(state)
    conn = duckdb.connect(":memory:")
    conn.execute(f"CREATE SCHEMA {_quote(database)}")
    for table in tables:
        sql = _view_sql(table)
        conn.execute(f"CREATE VIEW {_quote(database)}.{_quote(table.name)} AS {sql}")
        conn.execute(f"CREATE VIEW main.{_quote(table.name)} AS {sql}")
    return conn


def run_query(state: StateDir, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of one SQL statement over the lake."""
    conn = connect_lake(state)
    try:
        try:
            cursor = conn.execute(sql)
        except duckdb.Error as exc:
            raise LakeQueryError(" ".join(str(exc).split())) from exc
        columns = [d[0] for d in cursor.description or []]
        return columns, [tuple(row) for row in cursor.fetchall()]
    finally:
        conn.close()

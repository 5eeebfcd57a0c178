"""The star schema as the loader knows it: the allow-list every SQL identifier comes from.

The definition itself (tables, columns and lake types, keys) is
`pipeline_common.contracts.star`, re-exported here; this module adds only what is
warehouse-specific: the Postgres type of each lake type. The DDL that creates these tables
lives in loader/sql/ and tests/integration/load/test_load_schema.py checks it against both.
"""

from __future__ import annotations

from pipeline_common.contracts.star import (
    DIMENSIONS,
    FACTS,
    LOAD_ORDER,
    STAR_TABLES,
    Column,
    LakeType,
    StarTable,
)

__all__ = [
    "DIMENSIONS",
    "FACTS",
    "LOAD_ORDER",
    "PG_TYPES",
    "STAR_TABLES",
    "Column",
    "LakeType",
    "StarTable",
    "pg_type",
]

PG_TYPES: dict[str, str] = {
    "int": "integer",
    "decimal(10,2)": "numeric(10,2)",
    "date": "date",
    "time": "time(3)",
    "string": "text",
    "boolean": "boolean",
}
"""The warehouse type of each lake type (the migrations declare these)."""


def pg_type(column: Column) -> str:
    """The Postgres type a star column has in the warehouse."""
    return PG_TYPES[column.lake_type]

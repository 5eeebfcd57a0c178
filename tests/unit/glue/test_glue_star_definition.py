"""The Glue job's copy of the star schema equals the one definition, contracts/star.py.

The job stays self-contained (SAM uploads only its script), so it keeps its own Spark
schemas and rules; these tests make every difference from star.py a failure: tables,
column names and order, Spark types, NOT NULL (what the job quarantines), foreign keys to
dim_date, source tables, renames, the non-negative and text-date rules, the partition key.
"""

from __future__ import annotations

import ast
import datetime as dt
import inspect
from decimal import Decimal
from typing import Any

import pytest
from pyspark.sql import types as T

from glue_jobs import star_schema as job
from pipeline_common.contracts import star
from pipeline_common.contracts.star import DIMENSIONS, FACTS, STAR_TABLES, StarTable

SPARK_TYPES: dict[str, str] = {
    "int": "int",
    "decimal(10,2)": "decimal(10,2)",
    "date": "date",
    "time": "string",  # `HH:MM:SS.fff`: Athena has no time type
    "string": "string",
    "boolean": "boolean",
}
SOURCED_DIMENSIONS = [t for t in DIMENSIONS if t.sources]
# The one join column a marker row cannot line up by name (counterparty -> its legal address).
JOIN_COLUMNS = {"legal_address_id": "address_id"}


def _source_columns(table: StarTable, pick: str) -> set[str]:
    return {str(table.source_column(c.name)) for c in table.columns if getattr(c, pick) is True}


def test_the_job_does_not_import_the_shared_layer() -> None:
    """SAM uploads only Command.ScriptLocation: an import of the layer would fail on Glue."""
    tree = ast.parse(inspect.getsource(job))
    imported = {
        name
        for node in ast.walk(tree)
        for name in (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else []
        )
    }
    assert not {name for name in imported if name.split(".")[0] == "pipeline_common"}


def test_the_job_writes_exactly_the_star_tables() -> None:
    assert set(job.STAR_SCHEMAS) == set(STAR_TABLES)
    assert sorted(job.STAR_TABLE_ORDER) == sorted(STAR_TABLES)


@pytest.mark.parametrize("name", list(STAR_TABLES))
def test_each_tables_columns_and_spark_types_are_the_definitions(name: str) -> None:
    fields = job.STAR_SCHEMAS[name].fields
    expected = [(c.name, SPARK_TYPES[c.lake_type]) for c in STAR_TABLES[name].columns]
    assert [(f.name, f.dataType.simpleString()) for f in fields] == expected


def test_source_tables_are_the_definitions() -> None:
    assert {t.name: t.sources for t in SOURCED_DIMENSIONS} == job.DIMENSION_SOURCES
    assert {t.name: t.sources[0] for t in FACTS} == job.FACT_SOURCES
    assert set(job.SOURCE_TABLES) == {s for t in STAR_TABLES.values() for s in t.sources}


@pytest.mark.parametrize("table", FACTS, ids=lambda t: t.name)
def test_a_fact_requires_exactly_the_columns_the_definition_makes_not_null(
    table: StarTable,
) -> None:
    """The job quarantines a NULL in the key, the timestamps and FACT_REQUIRED_COLUMNS."""
    source = table.sources[0]
    quarantined = {
        f"{source}_id",
        *job.REQUIRED_COLUMNS,
        *job.FACT_REQUIRED_COLUMNS[source],
    }
    required = {c.name: table.source_column(c.name) in quarantined for c in table.columns}
    assert required == {c.name: c.required for c in table.columns}
    assert set(job.FACT_REQUIRED_COLUMNS) == {t.sources[0] for t in FACTS}


@pytest.mark.parametrize("table", SOURCED_DIMENSIONS, ids=lambda t: t.name)
def test_a_dimension_requires_only_its_key_which_is_its_first_sources_id(
    table: StarTable,
) -> None:
    """The job merges a dimension's source on `<source>_id` and quarantines a NULL there."""
    assert [c.name for c in table.columns if c.required] == list(table.key)
    assert table.source_column(table.key[0]) == f"{table.sources[0]}_id"


def test_the_non_negative_and_text_date_rules_are_the_definitions() -> None:
    def rule(pick: str) -> dict[str, set[str]]:
        found = {t.sources[0]: _source_columns(t, pick) for t in FACTS}
        return {source: names for source, names in found.items() if names}

    assert {k: set(v) for k, v in job.NON_NEGATIVE_COLUMNS.items()} == rule("non_negative")
    assert {k: set(v) for k, v in job.TEXT_DATE_COLUMNS.items()} == rule("text_date")


def test_dim_date_covers_every_fact_column_that_refers_to_it() -> None:
    refers = {
        t.name: tuple(c.name for c in t.columns if c.references == ("dim_date", "date_id"))
        for t in FACTS
    }
    assert refers == job.FACT_DATE_COLUMNS


def test_facts_are_partitioned_and_keyed_as_the_definition_says() -> None:
    assert job.FACT_PARTITION_KEY == star.FACT_PARTITION_KEY
    assert job.FACT_PARTITION_SOURCE == star.FACT_PARTITION_SOURCE
    for table in FACTS:
        assert table.partition_keys == (job.FACT_PARTITION_KEY,)
        assert job.STAR_SCHEMAS[table.name].fields[0].name == table.key[0]  # the write's sort


# --- renames: the builders run on one marker row per source table ---------------------------


class Markers:
    """A distinct value per source column name, so an output value names its source column."""

    def __init__(self) -> None:
        self.ints: dict[str, int] = {}

    def value(self, name: str, data_type: T.DataType) -> Any:
        name = JOIN_COLUMNS.get(name, name)
        if isinstance(data_type, T.StringType):
            return f"<{name}>"
        if isinstance(data_type, T.IntegerType):
            return self.ints.setdefault(name, 100 + len(self.ints))
        if isinstance(data_type, T.DecimalType):
            return Decimal(self.ints.setdefault(name, 100 + len(self.ints)))
        if isinstance(data_type, T.DateType):
            return dt.date(2024, 1, 1) + dt.timedelta(
                days=self.ints.setdefault(name, len(self.ints))
            )
        if isinstance(data_type, T.BooleanType):
            return True
        if isinstance(data_type, T.TimestampNTZType):
            return {
                "created_at": dt.datetime(2024, 2, 3, 4, 5, 6, 789000),
                "last_updated": dt.datetime(2024, 3, 4, 5, 6, 7, 891000),
            }[name]
        raise TypeError(data_type)

    def frame(self, spark: Any, schema: T.StructType) -> Any:
        row = tuple(self.value(f.name, f.dataType) for f in schema.fields)
        return spark.createDataFrame([row], schema)


def _expected_row(table: StarTable, source_schemas: list[T.StructType], markers: Markers) -> dict:
    types = {f.name: f.dataType for schema in source_schemas for f in schema.fields}
    expected: dict[str, Any] = {}
    for column in table.columns:
        source = str(table.source_column(column.name))
        if column.name in star.FACT_TIMESTAMPS and table.kind == "fact":
            stamp = markers.value(source, types[source])
            expected[column.name] = (
                stamp.date() if column.lake_type == "date" else stamp.strftime("%H:%M:%S.%f")[:-3]
            )
        elif column.name not in dict(table.derived):
            expected[column.name] = markers.value(source, types[source])
    return expected


@pytest.mark.parametrize("table", SOURCED_DIMENSIONS, ids=lambda t: t.name)
def test_a_dimension_takes_each_column_from_the_source_column_the_definition_names(
    spark: Any, table: StarTable
) -> None:
    markers = Markers()
    schemas = {
        s: spark.createDataFrame([], job.EMPTY_SOURCE_SCHEMAS[s]).schema for s in table.sources
    }
    states = {s: markers.frame(spark, schema) for s, schema in schemas.items()}
    row = job.build_dimension(table.name, states).collect()
    assert len(row) == 1
    actual = row[0].asDict()
    expected = _expected_row(table, list(schemas.values()), markers)
    assert {k: actual[k] for k in expected} == expected


def _fact_source_schema(table: StarTable) -> T.StructType:
    """The fact's source table as the builders see it (validated: text dates are dates)."""
    spark_types = {
        "int": T.IntegerType(),
        "decimal(10,2)": T.DecimalType(10, 2),
        "date": T.DateType(),
        "string": T.StringType(),
        "boolean": T.BooleanType(),
    }
    fields = {"created_at": T.TimestampNTZType(), "last_updated": T.TimestampNTZType()}
    for column in table.columns:
        if column.name not in star.FACT_TIMESTAMPS:
            fields[str(table.source_column(column.name))] = spark_types[column.lake_type]
    return T.StructType([T.StructField(n, t, True) for n, t in fields.items()])


@pytest.mark.parametrize("table", FACTS, ids=lambda t: t.name)
def test_a_fact_takes_each_column_from_the_source_column_the_definition_names(
    spark: Any, table: StarTable
) -> None:
    markers = Markers()
    schema = _fact_source_schema(table)
    row = job.FACT_BUILDERS[table.name](markers.frame(spark, schema)).collect()
    assert len(row) == 1
    assert row[0].asDict() == _expected_row(table, [schema], markers)

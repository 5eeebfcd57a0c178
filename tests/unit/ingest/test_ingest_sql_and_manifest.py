"""The COPY statement and the manifest document, exactly as the contract spells them."""

from __future__ import annotations

import datetime as dt

import pytest

from ingest.extract import TableExtract, copy_sql
from ingest.fence import Fence, Snapshot
from ingest.manifest import build_manifest
from ingest.source import Column, TableSpec
from ingest.upload import PartInfo
from ingest.window import Window
from pipeline_common.errors import UnsafeIdentifierError
from pipeline_common.postgres import quote_identifier

SPEC = TableSpec(
    "currency",
    (
        Column("currency_id", "integer", "int4", False, 32, 0),
        Column("currency_code", "character varying", "varchar", False, None, None),
        Column("last_updated", "timestamp without time zone", "timestamp", False, None, None),
    ),
    "currency_id",
)
WINDOW = Window("2024-11-15 14:37:00.000000", "2024-11-15 14:40:00.123000")


def test_copy_statement_quotes_identifiers_and_orders_by_the_key() -> None:
    assert copy_sql(SPEC, WINDOW) == (
        'COPY (SELECT "currency_id", "currency_code", "last_updated" FROM "public"."currency" '
        "WHERE \"last_updated\" >= '2024-11-15 14:37:00.000000'::timestamp AND "
        "\"last_updated\" < '2024-11-15 14:40:00.123000'::timestamp "
        'ORDER BY "currency_id") TO STDOUT (FORMAT csv, HEADER)'
    )


def test_copy_statement_with_a_fence_also_takes_rows_before_lo_by_their_xmin() -> None:
    fence = Fence(span=40, seen_ages=(3, 17))

    assert copy_sql(SPEC, WINDOW, fence) == (
        'COPY (SELECT "currency_id", "currency_code", "last_updated" FROM "public"."currency" '
        "WHERE \"last_updated\" < '2024-11-15 14:40:00.123000'::timestamp AND "
        "(\"last_updated\" >= '2024-11-15 14:37:00.000000'::timestamp OR "
        "(age(xmin) BETWEEN 1 AND 40 AND age(xmin) <> ALL('{3,17}'::int4[]))) "
        'ORDER BY "currency_id") TO STDOUT (FORMAT csv, HEADER)'
    )


def test_a_fence_on_a_first_extract_adds_nothing() -> None:
    first = Window(None, "2024-11-15 14:40:00.123000")

    assert copy_sql(SPEC, first, Fence(40, ())) == copy_sql(SPEC, first)


def test_a_name_that_would_need_escaping_is_refused_not_escaped() -> None:
    with pytest.raises(UnsafeIdentifierError, match="not an allowed SQL identifier"):
        quote_identifier('we"ird')


def test_manifest_lists_only_tables_with_rows() -> None:
    part = PartInfo("currency/batch=20241115T144100123000Z/part-00000.csv.gz", 3, 120, 300)
    extracts = {
        "currency": TableExtract(SPEC, WINDOW, (part,), 0.4261),
        "staff": TableExtract(SPEC, WINDOW, (), 0.01),
    }

    manifest = build_manifest(
        batch_id="20241115T144100123000Z",
        created_at=dt.datetime(2024, 11, 15, 14, 41, 0, 123000),
        commit_lag_seconds=60,
        hi="2024-11-15 14:40:00.123000",
        watermarks={
            "currency": "2024-11-15 14:40:00.123000",
            "staff": "2024-11-15 14:40:00.123000",
        },
        extracts=extracts,
        snapshot=Snapshot(7, 12, (7, 9), (8, 11)),
    )

    assert manifest.to_json() == {
        "format_version": 1,
        "kind": "ingest",
        "batch_id": "20241115T144100123000Z",
        "created_at": "2024-11-15T14:41:00.123000+00:00",
        "commit_lag_seconds": 60,
        "hi": "2024-11-15 14:40:00.123000",
        "watermarks": {
            "currency": "2024-11-15 14:40:00.123000",
            "staff": "2024-11-15 14:40:00.123000",
        },
        "snapshot": {"xmin": 7, "xmax": 12, "xip": [7, 9], "seen_xids": [8, 11]},
        "tables": {
            "currency": {
                "window": {"lo": "2024-11-15 14:37:00.000000", "hi": "2024-11-15 14:40:00.123000"},
                "primary_key": "currency_id",
                "rows": 3,
                "bytes": 120,
                "seconds": 0.426,
                "parts": [
                    {
                        "key": "currency/batch=20241115T144100123000Z/part-00000.csv.gz",
                        "rows": 3,
                        "bytes": 120,
                    }
                ],
                "columns": [
                    {
                        "name": "currency_id",
                        "data_type": "integer",
                        "udt_name": "int4",
                        "nullable": False,
                        "numeric_precision": 32,
                        "numeric_scale": 0,
                    },
                    {
                        "name": "currency_code",
                        "data_type": "character varying",
                        "udt_name": "varchar",
                        "nullable": False,
                        "numeric_precision": None,
                        "numeric_scale": None,
                    },
                    {
                        "name": "last_updated",
                        "data_type": "timestamp without time zone",
                        "udt_name": "timestamp",
                        "nullable": False,
                        "numeric_precision": None,
                        "numeric_scale": None,
                    },
                ],
            }
        },
    }

"""The star-schema job end to end on hand-written batches: local Spark, moto Glue catalog.

One lake takes B1, B2, B3 one pass each, then a pass with nothing pending. The expected rows
are written out by hand from glue_scenario.BATCHES.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
from typing import Any

import pyarrow.parquet as pq
import pytest
from glue_scenario import (
    B1,
    B2,
    B3,
    PROCESSED_BUCKET,
    Lake,
    d,
    land,
    money,
    read_rows,
    sort_key,
)

ALL_TABLES = {
    "dim_date",
    "dim_staff",
    "dim_location",
    "dim_counterparty",
    "dim_currency",
    "dim_design",
    "dim_payment_type",
    "dim_transaction",
    "fact_sales_order",
    "fact_purchase_order",
    "fact_payment",
}
EMAIL = {1: "jeremie.franey@terrifictotes.com", 2: "deron.beier@terrifictotes.com"}
EMAIL[3] = "ana.erdman@terrifictotes.com"

LOCATION_1 = (1, "6826 Herzog Via", None, "Avon", "New Patienceburgh", "28441", "Turkey",
              "1803 637401")  # fmt: skip
LOCATION_2 = (2, "179 Alexie Cliffs", None, None, "Aliso Viejo", "99305-7380", "San Marino",
              "9621 880720")  # fmt: skip
LOCATION_2_BATH = (2, "179 Alexie Cliffs", None, None, "Bath", "99305-7380", "San Marino",
                   "9621 880720")  # fmt: skip
LOCATION_3 = (3, "148 Sincere Fort", "Flat 2", "", "Lake Charles", "89360", "Togo",
              "0730 783349")  # fmt: skip
COUNTERPARTY_1 = (1, "Fahey and Sons", "179 Alexie Cliffs", None, None, "Aliso Viejo",
                  "99305-7380", "San Marino", "9621 880720")  # fmt: skip
COUNTERPARTY_1_BATH = (1, "Fahey and Sons", "179 Alexie Cliffs", None, None, "Bath",
                       "99305-7380", "San Marino", "9621 880720")  # fmt: skip
COUNTERPARTY_2 = (2, "Leannon, Predovic and Morar", "148 Sincere Fort", "Flat 2", "",
                  "Lake Charles", "89360", "Togo", "0730 783349")  # fmt: skip
SALES_1 = (1, d("2024-11-14"), "09:15:00.123", d("2024-11-14"), "09:15:00.123", 1, 1, 100,
           money("2.50"), 1, 1, d("2024-11-21"), d("2024-11-20"), 1)  # fmt: skip
SALES_1_AMENDED = (1, d("2024-11-14"), "09:15:00.123", d("2024-11-15"), "14:41:30.500", 1, 1,
                   120, money("2.40"), 1, 1, d("2024-11-21"), d("2024-11-20"), 1)  # fmt: skip
SALES_2 = (2, d("2024-11-14"), "10:00:00.000", d("2024-11-14"), "10:00:00.000", 3, 2, 5000,
           money("3.94"), 2, 2, d("2024-11-18"), d("2026-11-13"), 3)  # fmt: skip
SALES_3 = (3, d("2024-11-15"), "11:30:45.678", d("2024-11-15"), "11:30:45.678", 1, 2, 42,
           money("10.00"), 3, 1, d("2024-11-17"), d("2024-11-16"), 2)  # fmt: skip
SALES_4 = (4, d("2024-11-15"), "14:42:00.000", d("2024-11-15"), "14:42:00.000", 2, 1, 7,
           money("99.99"), 1, 2, d("2024-11-19"), d("2024-11-18"), 1)  # fmt: skip
PAYMENT_1 = (1, d("2024-11-14"), "09:15:00.123", d("2024-11-14"), "09:15:00.123", 1, 1,
             money("250.00"), 1, 1, False, d("2024-11-21"))  # fmt: skip
PAYMENT_1_PAID = (1, d("2024-11-14"), "09:15:00.123", d("2024-11-15"), "14:42:30.000", 1, 1,
                  money("250.00"), 1, 1, True, d("2024-11-21"))  # fmt: skip
PAYMENT_2 = (2, d("2024-11-14"), "12:00:00.000", d("2024-11-14"), "12:00:00.000", 4, 1,
             money("134355.69"), 1, 3, False, d("2024-11-25"))  # fmt: skip
PURCHASE_1 = (1, d("2024-11-14"), "12:00:00.000", d("2024-11-14"), "12:00:00.000", 2, 1,
              "ZDOI5EA", 371, money("361.39"), 1, d("2024-11-18"), d("2024-11-25"), 2)  # fmt: skip

# Catalog columns, by hand from docs/contracts.md section 3.
CATALOG_COLUMNS = {
    "dim_date": "date_id date, year int, month int, day int, day_of_week int, day_name string,"
    " month_name string, quarter int",
    "dim_staff": "staff_id int, first_name string, last_name string, department_name string,"
    " location string, email_address string",
    "dim_location": "location_id int, address_line_1 string, address_line_2 string,"
    " district string, city string, postal_code string, country string, phone string",
    "dim_counterparty": "counterparty_id int, counterparty_legal_name string,"
    " counterparty_legal_address_line_1 string, counterparty_legal_address_line_2 string,"
    " counterparty_legal_district string, counterparty_legal_city string,"
    " counterparty_legal_postal_code string, counterparty_legal_country string,"
    " counterparty_legal_phone_number string",
    "dim_currency": "currency_id int, currency_code string, currency_name string",
    "dim_design": "design_id int, design_name string, file_location string, file_name string",
    "dim_payment_type": "payment_type_id int, payment_type_name string",
    "dim_transaction": "transaction_id int, transaction_type string, sales_order_id int,"
    " purchase_order_id int",
    "fact_sales_order": "sales_order_id int, created_date date, created_time string,"
    " last_updated_date date, last_updated_time string, sales_staff_id int,"
    " counterparty_id int, units_sold int,"
    " unit_price decimal(10,2), currency_id int, design_id int, agreed_payment_date date,"
    " agreed_delivery_date date, agreed_delivery_location_id int",
    "fact_purchase_order": "purchase_order_id int, created_date date, created_time string,"
    " last_updated_date date, last_updated_time string, staff_id int, counterparty_id int,"
    " item_code string, item_quantity int, item_unit_price decimal(10,2), currency_id int,"
    " agreed_delivery_date date, agreed_payment_date date, agreed_delivery_location_id int",
    "fact_payment": "payment_id int, created_date date, created_time string,"
    " last_updated_date date, last_updated_time string, transaction_id int, counterparty_id int,"
    " payment_amount decimal(10,2), currency_id int, payment_type_id int, paid boolean,"
    " payment_date date",
}
ARROW_TO_CATALOG = {
    "int32": "int",
    "string": "string",
    "date32[day]": "date",
    "decimal128(10, 2)": "decimal(10,2)",
    "bool": "boolean",
}


def columns_of(spec: str) -> list[tuple[str, str]]:
    parts = re.split(r",(?![^(]*\))", spec)  # not the comma inside decimal(10,2)
    return [tuple(part.strip().rsplit(" ", 1)) for part in parts]  # type: ignore[misc]


@pytest.fixture(scope="module")
def lake(spark: Any, module_aws: str, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """B1, B2, B3 landed and processed one pass each, then one pass with nothing pending."""
    lake = Lake(spark, tmp_path_factory.mktemp("incremental"), "totesys_lake_incremental")
    for batch in (B1, B2, B3):
        land(lake.ingest_dir, batch)
        lake.run()
    lake.run()
    return lake


def test_first_pass_writes_every_star_table(lake: Lake) -> None:
    manifest = lake.passes[0].manifest
    assert manifest is not None
    assert manifest["batch_id"] == B1 and manifest["ingest_batches"] == [B1]
    assert set(manifest["tables"]) == ALL_TABLES
    assert lake.rows(manifest, "dim_location") == [LOCATION_1, LOCATION_2, LOCATION_3]
    assert lake.rows(manifest, "dim_counterparty") == [COUNTERPARTY_1, COUNTERPARTY_2]
    assert lake.rows(manifest, "dim_currency") == [
        (1, "GBP", "Pound Sterling"),
        (2, "USD", "US Dollar"),
        (3, "EUR", "Euro"),
        (4, "XYZ", None),
    ]
    assert manifest["warnings"] == {"dim_currency": {"unknown_currency_code": 1}}
    assert lake.rows(manifest, "dim_design") == [
        (1, "Wooden", "/usr", "wooden-20220717-npgz.json"),
        (2, "Bronze", "/private", "bronze-20221024-4dds.json"),
    ]
    assert lake.rows(manifest, "dim_payment_type") == [
        (1, "SALES_RECEIPT"),
        (2, "SALES_REFUND"),
        (3, "PURCHASE_PAYMENT"),
        (4, "PURCHASE_REFUND"),
    ]
    assert lake.rows(manifest, "dim_staff") == [
        (1, "Jeremie", "Franey", "Sales", "Manchester", EMAIL[1]),
        (2, "Deron", "Beier", "Purchasing", "Leeds", EMAIL[2]),
        (3, "Ana", "Erdman", "Sales", "Manchester", EMAIL[3]),
    ]
    assert lake.rows(manifest, "dim_transaction") == [
        (1, "SALE", 1, None),
        (2, "SALE", 2, None),
        (3, "SALE", 3, None),
        (4, "PURCHASE", None, 1),
    ]
    assert lake.rows(manifest, "fact_sales_order") == [SALES_1, SALES_2, SALES_3]
    assert lake.rows(manifest, "fact_purchase_order") == [PURCHASE_1]
    assert lake.rows(manifest, "fact_payment") == [PAYMENT_1, PAYMENT_2]
    # A first snapshot's changes are all its rows.
    assert lake.rows(manifest, "dim_staff", changes=True) == lake.rows(manifest, "dim_staff")


def test_dim_date_spans_every_referenced_date_including_the_long_tail(lake: Lake) -> None:
    manifest = lake.passes[0].manifest
    assert manifest is not None
    assert manifest["date_range"] == {"min": "2024-11-14", "max": "2026-11-13"}
    rows = lake.rows(manifest, "dim_date")
    assert manifest["tables"]["dim_date"]["rows"] == len(rows) == 730
    by_day = {r[0]: r for r in rows}
    assert by_day[d("2024-11-14")] == (d("2024-11-14"), 2024, 11, 14, 4, "Thursday", "November", 4)
    assert by_day[d("2025-01-01")] == (d("2025-01-01"), 2025, 1, 1, 3, "Wednesday", "January", 1)
    assert by_day[d("2026-11-13")] == (d("2026-11-13"), 2026, 11, 13, 5, "Friday", "November", 4)
    # Every day in between, checked against Python's calendar.
    day = d("2024-11-14")
    for row in rows:
        assert row == (
            day,
            day.year,
            day.month,
            day.day,
            day.isoweekday(),
            calendar.day_name[day.weekday()],
            calendar.month_name[day.month],
            (day.month - 1) // 3 + 1,
        )
        day += dt.timedelta(days=1)


def test_facts_are_partitioned_by_created_month_with_deterministic_names(lake: Lake) -> None:
    manifest = lake.passes[0].manifest
    assert manifest is not None
    assert manifest["tables"]["fact_sales_order"] == {
        "kind": "fact",
        "location": "fact_sales_order/",
        "rows": 3,
        "partition_keys": ["created_month"],
        "objects": [
            {
                "key": f"fact_sales_order/created_month=2024-11/batch-{B1}-00000.snappy.parquet",
                "partition": {"created_month": "2024-11"},
                "rows": 3,
            },
        ],
    }
    # Nothing else lands in the fact prefix, and the temporary prefix is gone.
    fact_files = sorted(k for k in lake.passes[0].files if k.startswith("fact_sales_order/"))
    assert fact_files == [o["key"] for o in manifest["tables"]["fact_sales_order"]["objects"]]
    assert not (lake.processed_dir / "_tmp").exists()


def test_every_object_is_snappy_parquet_readable_by_pyarrow_with_the_catalog_types(
    lake: Lake,
) -> None:
    manifest = lake.passes[0].manifest
    assert manifest is not None
    for table, entry in manifest["tables"].items():
        keys = entry["objects"] if entry["kind"] == "dimension" else [
            o["key"] for o in entry["objects"]
        ]  # fmt: skip
        assert keys, table
        for key in keys:
            assert key.endswith(".snappy.parquet"), key
            parquet = pq.ParquetFile(lake.processed_dir / key)
            meta = parquet.metadata
            codecs = {
                meta.row_group(g).column(c).compression
                for g in range(meta.num_row_groups)
                for c in range(meta.num_columns)
            }
            assert codecs == {"SNAPPY"}, (key, codecs)
            arrow = [(f.name, ARROW_TO_CATALOG[str(f.type)]) for f in parquet.schema_arrow]
            assert arrow == columns_of(CATALOG_COLUMNS[table]), key


def test_every_table_is_registered_in_the_catalog_with_its_columns_and_location(
    lake: Lake,
) -> None:
    catalog = lake.passes[0].catalog
    assert set(catalog) == ALL_TABLES
    for name, entry in catalog.items():
        table = entry["table"]
        storage = table["StorageDescriptor"]
        assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == columns_of(
            CATALOG_COLUMNS[name]
        ), name
        assert storage["InputFormat"] == (
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
        )
        assert storage["SerdeInfo"]["SerializationLibrary"] == (
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
        )
        assert table["Parameters"]["classification"] == "parquet"
        if name.startswith("dim_"):
            assert storage["Location"] == f"s3://{PROCESSED_BUCKET}/{name}/snapshot={B1}/"
            assert table.get("PartitionKeys", []) == []
        else:
            assert storage["Location"] == f"s3://{PROCESSED_BUCKET}/{name}/"
            assert table["PartitionKeys"] == [{"Name": "created_month", "Type": "string"}]
    assert catalog["fact_sales_order"]["partitions"] == [
        (("2024-11",), f"s3://{PROCESSED_BUCKET}/fact_sales_order/created_month=2024-11/"),
    ]
    assert catalog["fact_payment"]["partitions"] == [
        (("2024-11",), f"s3://{PROCESSED_BUCKET}/fact_payment/created_month=2024-11/"),
    ]


def test_second_pass_adds_exactly_the_new_versions_and_rebuilds_changed_dimensions(
    lake: Lake,
) -> None:
    manifest = lake.passes[1].manifest
    assert manifest is not None
    assert manifest["batch_id"] == B2 and manifest["ingest_batches"] == [B2]
    # dim_date is not rebuilt: every B2 date lies inside the range it already covers.
    assert set(manifest["tables"]) == {
        "dim_location",
        "dim_counterparty",
        "dim_staff",
        "dim_transaction",
        "fact_sales_order",
        "fact_payment",
    }
    assert lake.rows(manifest, "fact_sales_order") == [SALES_1_AMENDED, SALES_4]
    assert lake.rows(manifest, "fact_payment") == [PAYMENT_1_PAID]
    # Across both batches the amended order has two records, the paid payment too.
    first = lake.passes[0].manifest
    assert first is not None
    both = sorted(
        lake.rows(first, "fact_sales_order") + lake.rows(manifest, "fact_sales_order"),
        key=sort_key,
    )
    assert both == [SALES_1, SALES_1_AMENDED, SALES_2, SALES_3, SALES_4]

    assert lake.rows(manifest, "dim_location") == [LOCATION_1, LOCATION_2_BATH, LOCATION_3]
    assert lake.rows(manifest, "dim_location", changes=True) == [LOCATION_2_BATH]
    assert lake.rows(manifest, "dim_counterparty") == [COUNTERPARTY_1_BATH, COUNTERPARTY_2]
    assert lake.rows(manifest, "dim_counterparty", changes=True) == [COUNTERPARTY_1_BATH]
    assert lake.rows(manifest, "dim_staff") == [
        (1, "Jeremie", "Franey", "Sales", "Leeds", EMAIL[1]),
        (2, "Deron", "Beier", "Purchasing", "Leeds", EMAIL[2]),
        (3, "Ana", "Erdman", "Sales", "Leeds", EMAIL[3]),
    ]
    assert lake.rows(manifest, "dim_staff", changes=True) == [
        (1, "Jeremie", "Franey", "Sales", "Leeds", EMAIL[1]),
        (3, "Ana", "Erdman", "Sales", "Leeds", EMAIL[3]),
    ]
    assert lake.rows(manifest, "dim_transaction", changes=True) == [(5, "SALE", 4, None)]
    assert manifest["tables"]["dim_transaction"]["rows"] == 5
    assert manifest["tables"]["dim_location"]["changed_rows"] == 1


def test_unchanged_dimensions_keep_their_snapshot_and_catalog_location(lake: Lake) -> None:
    manifest = lake.passes[1].manifest
    assert manifest is not None
    catalog = lake.passes[1].catalog
    for dim in ("dim_currency", "dim_design", "dim_payment_type", "dim_date"):
        assert manifest["snapshots"][dim] == f"{dim}/snapshot={B1}/"
        assert catalog[dim]["table"]["StorageDescriptor"]["Location"] == (
            f"s3://{PROCESSED_BUCKET}/{dim}/snapshot={B1}/"
        )
        # Its files are exactly those of the first pass.
        for key in lake.passes[0].manifest["tables"][dim]["objects"]:  # type: ignore[index]
            assert lake.passes[1].files[key] == lake.passes[0].files[key]
    for dim in ("dim_location", "dim_counterparty", "dim_staff", "dim_transaction"):
        assert catalog[dim]["table"]["StorageDescriptor"]["Location"] == (
            f"s3://{PROCESSED_BUCKET}/{dim}/snapshot={B2}/"
        )
    assert manifest["state"] == {
        "address": f"_state/address/batch={B2}/",
        "counterparty": f"_state/counterparty/batch={B1}/",
        "currency": f"_state/currency/batch={B1}/",
        "department": f"_state/department/batch={B2}/",
        "design": f"_state/design/batch={B1}/",
        "payment_type": f"_state/payment_type/batch={B1}/",
        "staff": f"_state/staff/batch={B1}/",
        "transaction": f"_state/transaction/batch={B2}/",
    }


def test_bad_rows_are_quarantined_with_reasons_and_counted(lake: Lake) -> None:
    manifest = lake.passes[1].manifest
    assert manifest is not None
    prefix = f"_quarantine/{B2}/sales_order/"
    assert manifest["quarantine"] == {
        "sales_order": {
            "rows": 2,
            "prefix": prefix,
            "reasons": {"agreed_payment_date: not a date": 1, "units_sold: negative": 1},
        }
    }
    rows = []
    for path in sorted((lake.processed_dir / prefix).glob("part-*.json")):
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(rows, key=lambda r: r["sales_order_id"]) == [
        {
            "sales_order_id": "5",
            "created_at": "2024-11-15 14:42:10.000",
            "last_updated": "2024-11-15 14:42:10.000",
            "design_id": "1",
            "staff_id": "1",
            "counterparty_id": "1",
            "units_sold": "10",
            "unit_price": "1.00",
            "currency_id": "1",
            "agreed_delivery_date": "2024-11-18",
            "agreed_payment_date": "2024-13-45",
            "agreed_delivery_location_id": "1",
            "_batch_id": B2,
            "_reason": "agreed_payment_date: not a date",
        },
        {
            "sales_order_id": "6",
            "created_at": "2024-11-15 14:42:20.000",
            "last_updated": "2024-11-15 14:42:20.000",
            "design_id": "1",
            "staff_id": "1",
            "counterparty_id": "1",
            "units_sold": "-3",
            "unit_price": "1.00",
            "currency_id": "1",
            "agreed_delivery_date": "2024-11-18",
            "agreed_payment_date": "2024-11-19",
            "agreed_delivery_location_id": "1",
            "_batch_id": B2,
            "_reason": "units_sold: negative",
        },
    ]


def test_a_batch_with_only_staff_changes_yields_a_complete_dim_staff(lake: Lake) -> None:
    manifest = lake.passes[2].manifest
    assert manifest is not None
    assert manifest["batch_id"] == B3
    assert set(manifest["tables"]) == {"dim_staff"}
    assert lake.rows(manifest, "dim_staff") == [
        (1, "Jeremie", "Franey", "Sales", "Leeds", EMAIL[1]),
        (2, "Deron", "Beier-Smith", "Purchasing", "Leeds", EMAIL[2]),
        (3, "Ana", "Erdman", "Sales", "Leeds", EMAIL[3]),
    ]
    assert lake.rows(manifest, "dim_staff", changes=True) == [
        (2, "Deron", "Beier-Smith", "Purchasing", "Leeds", EMAIL[2]),
    ]
    assert manifest["state"]["staff"] == f"_state/staff/batch={B3}/"
    assert manifest["state"]["department"] == f"_state/department/batch={B2}/"
    assert manifest["quarantine"] == {} and manifest["warnings"] == {}
    assert manifest["date_range"] == {"min": "2024-11-14", "max": "2026-11-13"}


def test_nothing_pending_writes_nothing(lake: Lake) -> None:
    assert lake.passes[3].manifest is None
    assert lake.passes[3].files == lake.passes[2].files
    assert lake.passes[3].catalog == lake.passes[2].catalog


def test_the_manifest_is_the_last_word_on_what_was_written(lake: Lake) -> None:
    """Every object a manifest names exists; every fact file is named by some manifest."""
    files = lake.passes[2].files
    named: set[str] = set()
    for result in lake.passes[:3]:
        assert result.manifest is not None
        for entry in result.manifest["tables"].values():
            if entry["kind"] == "fact":
                named.update(o["key"] for o in entry["objects"])
            else:
                named.update(entry["objects"] + entry["changed_objects"])
        on_disk = json.loads(files[f"_manifests/{result.manifest['batch_id']}.json"])
        assert on_disk == result.manifest
    assert named <= set(files)
    assert {k for k in files if k.startswith("fact_")} == {
        k for k in named if k.startswith("fact_")
    }
    assert not (lake.processed_dir / "_job" / "inflight.json").exists()
    # Sanity: read_rows sees the same totals the manifests claim.
    for result in lake.passes[:3]:
        assert result.manifest is not None
        for table, entry in result.manifest["tables"].items():
            assert len(read_rows(lake.processed_dir, entry)) == entry["rows"], table

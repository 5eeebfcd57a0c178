"""A first run extracts every ToteSys table exactly, in the layout the Glue job reads."""

from __future__ import annotations

import re
from typing import Any

from ingest.settings import TOTESYS_TABLES
from pipeline_common.contracts.batch import is_batch_id
from tests.integration.ingest.support import (
    all_keys,
    manifests,
    read_table,
    source_rows,
    state,
)

HI = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}000$")


def test_first_run_extracts_every_table_exactly(totesys, ingest, s3, bucket) -> None:
    summary = ingest()

    [manifest] = manifests(s3, bucket)
    assert summary.batch_id == manifest["batch_id"]
    assert is_batch_id(manifest["batch_id"])
    assert HI.match(manifest["hi"])
    assert sorted(manifest["tables"]) == sorted(TOTESYS_TABLES)
    for table in TOTESYS_TABLES:
        header, rows = read_table(s3, bucket, manifest, table)
        expected = source_rows(totesys, table)
        assert header == [column["name"] for column in manifest["tables"][table]["columns"]]
        assert rows == expected, table
        assert manifest["tables"][table]["rows"] == len(expected) == summary.rows[table]
        assert manifest["tables"][table]["window"] == {"lo": None, "hi": manifest["hi"]}
    counts = {table: len(source_rows(totesys, table)) for table in TOTESYS_TABLES}
    assert counts["sales_order"] > 200 and counts["address"] == 32  # seeded plus tricky rows


def test_tricky_values_reach_the_csv_exactly(totesys, ingest, s3, bucket) -> None:
    ingest()

    [manifest] = manifests(s3, bucket)
    _, addresses = read_table(s3, bucket, manifest, "address")
    assert addresses[-2:] == [
        [
            "9001",
            'Flat 1, "The Old Mill"\nBack Lane',
            None,
            "",
            "Zürich – Łódź 東京 😀",  # noqa: RUF001 - non-ASCII on purpose
            " 00042 ",
            "Côte d'Ivoire",
            "\\N",
            "2024-11-14 09:00:00.1",
            "2024-11-14 09:00:00",
        ],
        [
            "9002",
            "a,b",
            "",
            None,
            "tab\there",
            "crlf\r\nend",
            '"',
            ",",
            "2024-11-14 09:00:01.001",
            "2024-11-14 09:00:01.999",
        ],
    ]
    _, orders = read_table(s3, bucket, manifest, "sales_order")
    assert [(row[0], row[7], row[9]) for row in orders[-3:]] == [
        ("900001", "3.50", "2024-11-20"),
        ("900002", "0.10", ""),
        ("900003", "99999999.99", "2024-11-20"),
    ]
    _, payments = read_table(s3, bucket, manifest, "payment")
    assert [(row[0], row[5], row[8], row[9]) for row in payments[-2:]] == [
        ("900001", "3.50", "f", "2024-11-21"),
        ("900002", "0.00", "t", ""),
    ]
    _, transactions = read_table(s3, bucket, manifest, "transaction")
    assert transactions[-2:] == [
        ["900001", "SALE", "900001", None, "2024-11-14 09:00:10", "2024-11-14 09:00:10"],
        ["900002", "PURCHASE", None, "900001", "2024-11-14 09:00:10", "2024-11-14 09:00:10"],
    ]


def test_manifest_records_columns_keys_and_watermarks(totesys, ingest, s3, bucket) -> None:
    summary = ingest()

    [manifest] = manifests(s3, bucket)
    batch = manifest["batch_id"]
    assert manifest["format_version"] == 1
    assert manifest["kind"] == "ingest"
    assert manifest["commit_lag_seconds"] == 0
    assert manifest["created_at"] == (
        f"{batch[0:4]}-{batch[4:6]}-{batch[6:8]}T{batch[9:11]}:{batch[11:13]}:"
        f"{batch[13:15]}.{batch[15:21]}+00:00"
    )
    assert manifest["watermarks"] == {table: manifest["hi"] for table in TOTESYS_TABLES}
    sales = manifest["tables"]["sales_order"]
    assert sales["primary_key"] == "sales_order_id"
    assert sales["parts"] == [
        {
            "key": f"sales_order/batch={batch}/part-00000.csv.gz",
            "rows": sales["rows"],
            "bytes": sales["bytes"],
        }
    ]
    head = s3.head_object(Bucket=bucket, Key=sales["parts"][0]["key"])
    assert head["ContentLength"] == sales["bytes"]
    assert isinstance(sales["seconds"], float)
    columns = {column["name"]: column for column in sales["columns"]}
    assert [column["name"] for column in sales["columns"]] == [
        "sales_order_id",
        "created_at",
        "last_updated",
        "design_id",
        "staff_id",
        "counterparty_id",
        "units_sold",
        "unit_price",
        "currency_id",
        "agreed_delivery_date",
        "agreed_payment_date",
        "agreed_delivery_location_id",
    ]
    assert columns["sales_order_id"] == {
        "name": "sales_order_id",
        "data_type": "integer",
        "udt_name": "int4",
        "nullable": False,
        "numeric_precision": 32,
        "numeric_scale": 0,
    }
    assert columns["unit_price"] == {
        "name": "unit_price",
        "data_type": "numeric",
        "udt_name": "numeric",
        "nullable": False,
        "numeric_precision": 10,
        "numeric_scale": 2,
    }
    assert columns["last_updated"] == {
        "name": "last_updated",
        "data_type": "timestamp without time zone",
        "udt_name": "timestamp",
        "nullable": False,
        "numeric_precision": None,
        "numeric_scale": None,
    }
    payment_type = {c["name"]: c for c in manifest["tables"]["payment_type"]["columns"]}
    assert payment_type["payment_type_name"]["data_type"] == "USER-DEFINED"
    assert payment_type["payment_type_name"]["udt_name"] == "PaymentTypeName"
    address = {c["name"]: c for c in manifest["tables"]["address"]["columns"]}
    assert address["address_line_2"]["nullable"] is True
    assert state(s3, bucket) == {
        "batch_id": batch,
        "watermarks": manifest["watermarks"],
        "snapshot": manifest["snapshot"],
    }
    assert summary.to_dict()["manifest_key"] == f"_manifests/{batch}.json"


def test_extra_source_tables_are_ignored(totesys, ingest, s3, bucket) -> None:
    assert totesys.run("SELECT count(*) FROM _prisma_migrations") == [[1]]
    totesys.run("CREATE TABLE audit_log (id serial PRIMARY KEY, last_updated timestamp)")
    totesys.run("INSERT INTO audit_log (last_updated) VALUES ('2024-01-01')")

    ingest()

    prefixes = {key.split("/")[0] for key in all_keys(s3, bucket)}
    assert prefixes == set(TOTESYS_TABLES) | {"_manifests", "_state"}


def test_parts_hold_at_most_part_rows_and_each_repeats_the_header(
    totesys, ingest, s3, bucket
) -> None:
    ingest(part_rows=60)

    [manifest] = manifests(s3, bucket)
    batch = manifest["batch_id"]
    sales = manifest["tables"]["sales_order"]
    expected = source_rows(totesys, "sales_order")
    full, rest = divmod(len(expected), 60)
    assert [part["rows"] for part in sales["parts"]] == [60] * full + ([rest] if rest else [])
    assert [part["key"] for part in sales["parts"]] == [
        f"sales_order/batch={batch}/part-{n:05d}.csv.gz" for n in range(len(sales["parts"]))
    ]
    _, rows = read_table(s3, bucket, manifest, "sales_order")  # checks every header
    assert rows == expected
    currency = manifest["tables"]["currency"]
    assert [part["rows"] for part in currency["parts"]] == [4]


def _record_writes(client: Any) -> list[tuple[str, str]]:
    """Log (operation, key) of every object write the client makes, in call order."""
    writes: list[tuple[str, str]] = []

    def after(params: dict[str, Any], model: Any, **_: Any) -> None:
        writes.append((model.name, params["Key"]))

    for operation in ("PutObject", "CompleteMultipartUpload"):
        client.meta.events.register(f"provide-client-params.s3.{operation}", after)
    return writes


def test_manifest_is_written_after_every_object_and_state_after_it(
    totesys, ingest, s3, bucket, new_s3_client
) -> None:
    client = new_s3_client()
    writes = _record_writes(client)

    summary = ingest(s3_client=client)

    keys = [key for _, key in writes]
    assert keys[-2:] == [f"_manifests/{summary.batch_id}.json", "_state/ingest/watermarks.json"]
    assert sorted(keys[:-2]) == sorted(
        key for key in all_keys(s3, bucket) if not key.startswith("_")
    )
    assert len(keys[:-2]) == 11


def test_tables_are_read_largest_first_and_reported_in_the_settings_order(
    totesys, ingest, s3, bucket, monkeypatch
) -> None:
    import ingest.run as run

    totesys.run("ANALYZE")
    estimates = dict(
        totesys.run(
            "SELECT relname::text, reltuples::float8 FROM pg_class "
            "WHERE relname = ANY(:names) AND relkind = 'r'",
            names=list(TOTESYS_TABLES),
        )
    )
    read: list[str] = []
    extract_table = run.extract_table

    def recording(conn: Any, spec: Any, *args: Any, **kwargs: Any) -> Any:
        read.append(spec.name)
        return extract_table(conn, spec, *args, **kwargs)

    monkeypatch.setattr(run, "extract_table", recording)

    summary = ingest()

    assert read == sorted(TOTESYS_TABLES, key=lambda table: -estimates[table])
    assert read[:4] == ["transaction", "payment", "sales_order", "purchase_order"]
    assert list(summary.rows) == list(TOTESYS_TABLES)
    assert sorted(manifests(s3, bucket)[0]["tables"]) == sorted(TOTESYS_TABLES)

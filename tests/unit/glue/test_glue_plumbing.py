"""The job's non-Spark parts: locations, pending work, catalog inputs, arguments."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import types as T

from glue_jobs import star_schema as job


def write_json(root: Path, key: str, data: dict[str, Any]) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def ingest_manifest(batch_id: str) -> dict[str, Any]:
    return {"format_version": 1, "kind": "ingest", "batch_id": batch_id, "tables": {}}


B1, B2, B3 = "20241115T144100000000Z", "20241115T144400000000Z", "20241115T144700000000Z"


def processed_manifest(batch_id: str) -> dict[str, Any]:
    """The smallest processed manifest the contract allows: a pass that wrote no table."""
    return {
        "format_version": 1,
        "kind": "processed",
        "batch_id": batch_id,
        "ingest_batches": [batch_id],
        "created_at": "2024-11-15T14:50:00+00:00",
        "state": {},
        "state_rows": {},
        "snapshots": {},
        "date_range": None,
        "tables": {},
        "quarantine": {},
        "warnings": {},
    }


def test_local_location_reads_writes_lists_moves_and_deletes(tmp_path: Path) -> None:
    place = job.LocalLocation(tmp_path)
    assert place.read_json("_manifests/x.json") is None
    place.write_json("_manifests/x.json", {"b": 1, "a": [1, 2]})
    assert place.read_json("_manifests/x.json") == {"a": [1, 2], "b": 1}
    assert (tmp_path / "_manifests/x.json").read_text() == '{\n "a": [\n  1,\n  2\n ],\n "b": 1\n}'
    (tmp_path / "t/d=1").mkdir(parents=True)
    (tmp_path / "t/d=1/part-1.parquet").write_bytes(b"one")
    (tmp_path / "t/d=1/.part-1.parquet.crc").write_bytes(b"crc")
    (tmp_path / "t/_SUCCESS").write_bytes(b"")
    assert place.list_keys("t/") == [
        "t/_SUCCESS",
        "t/d=1/.part-1.parquet.crc",
        "t/d=1/part-1.parquet",
    ]
    assert job._data_files(place.list_keys("t/")) == ["t/d=1/part-1.parquet"]
    place.move([("t/d=1/part-1.parquet", "u/d=1/batch-x-00000.snappy.parquet")])
    assert (tmp_path / "u/d=1/batch-x-00000.snappy.parquet").read_bytes() == b"one"
    place.delete_prefix("t/")
    assert not (tmp_path / "t").exists()
    assert place.uri("u/") == f"file://{tmp_path.resolve()}/u/"


def test_open_location_parses_s3_uris_and_directories(tmp_path: Path) -> None:
    s3_place = job.open_location("s3://lake-bucket/some/prefix/", s3=object())
    assert isinstance(s3_place, job.S3Location)
    assert (s3_place.bucket, s3_place.prefix) == ("lake-bucket", "some/prefix/")
    assert s3_place.uri("dim_staff/") == "s3://lake-bucket/some/prefix/dim_staff/"
    bare = job.open_location("s3://lake-bucket", s3=object())
    assert isinstance(bare, job.S3Location) and bare.prefix == ""
    local = job.open_location(str(tmp_path))
    assert isinstance(local, job.LocalLocation) and local.root == tmp_path


def test_pending_batches_are_the_ingest_manifests_after_the_last_processed_one(
    tmp_path: Path,
) -> None:
    ingest = job.LocalLocation(tmp_path / "in")
    for batch in (B1, B2, B3):
        write_json(ingest.root, f"_manifests/{batch}.json", ingest_manifest(batch))
    write_json(ingest.root, "_manifests/notes.json", {"not": "a manifest"})
    assert [m.batch_id for m in job.list_pending_batches(ingest, "")] == [B1, B2, B3]
    assert [m.batch_id for m in job.list_pending_batches(ingest, B1)] == [B2, B3]
    assert job.list_pending_batches(ingest, B3) == []


def test_a_manifest_that_breaks_the_contract_stops_the_job(tmp_path: Path) -> None:
    ingest = job.LocalLocation(tmp_path)
    write_json(tmp_path, f"_manifests/{B1}.json", {**ingest_manifest(B1), "format_version": 2})
    with pytest.raises(job.ManifestError, match=B1):
        job.list_pending_batches(ingest, "")


def test_an_unfinished_pass_is_redone_with_exactly_its_batches(tmp_path: Path) -> None:
    ingest = job.LocalLocation(tmp_path / "in")
    processed = job.LocalLocation(tmp_path / "out")
    for batch in (B1, B2, B3):
        write_json(ingest.root, f"_manifests/{batch}.json", ingest_manifest(batch))
    processed.write_json(job.INFLIGHT_KEY, {"batch_id": B2, "ingest_batches": [B2]})
    assert [b.batch_id for b in job.plan_batches(processed, ingest, B1)] == [B2]
    # Once B2 is committed the record is stale and everything after it is pending.
    assert [b.batch_id for b in job.plan_batches(processed, ingest, B2)] == [B3]


def test_latest_processed_manifest_is_the_newest_batch(tmp_path: Path) -> None:
    processed = job.LocalLocation(tmp_path)
    assert job.latest_processed_manifest(processed) is None
    for batch in (B2, B1):
        processed.write_json(f"_manifests/{batch}.json", processed_manifest(batch))
    processed.write_json(job.INFLIGHT_KEY, {"batch_id": B3})
    latest = job.latest_processed_manifest(processed)
    assert latest is not None and latest.to_json() == processed_manifest(B2)


def test_catalog_table_input_uses_the_written_schema_and_parquet_serde() -> None:
    schema = T.StructType(
        [
            T.StructField("sales_order_id", T.IntegerType()),
            T.StructField("created_date", T.DateType()),
            T.StructField("unit_price", T.DecimalType(10, 2)),
            T.StructField("paid", T.BooleanType()),
            T.StructField("created_time", T.StringType()),
        ]
    )
    columns = job.catalog_columns(schema, exclude=["created_date"])
    assert columns == [
        {"Name": "sales_order_id", "Type": "int"},
        {"Name": "unit_price", "Type": "decimal(10,2)"},
        {"Name": "paid", "Type": "boolean"},
        {"Name": "created_time", "Type": "string"},
    ]
    table = job.table_input(
        "fact_sales_order",
        columns,
        "s3://lake/fact_sales_order/",
        [{"Name": "created_date", "Type": "date"}],
    )
    assert table == {
        "Name": "fact_sales_order",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "parquet",
            "EXTERNAL": "TRUE",
            "parquet.compression": "SNAPPY",
        },
        "PartitionKeys": [{"Name": "created_date", "Type": "date"}],
        "StorageDescriptor": {
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {
                "SerializationLibrary": (
                    "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                ),
                "Parameters": {"serialization.format": "1"},
            },
            "Compressed": True,
            "Columns": columns,
            "Location": "s3://lake/fact_sales_order/",
        },
    }


def test_job_arguments_are_all_required_and_say_where_the_catalog_points() -> None:
    args = {
        "ingest_location": "/tmp/in",
        "processed_location": "/tmp/out",
        "database": "totesys_lake",
        "ingest_bucket": "ingest-b",
        "processed_bucket": "processed-b",
    }
    assert job.JobArgs.from_mapping(args).catalog_root == "s3://processed-b"
    on_glue = {**args, "processed_location": "s3://processed-b/lake/"}
    assert job.JobArgs.from_mapping(on_glue).catalog_root == "s3://processed-b/lake"
    with pytest.raises(job.StarSchemaError, match="database"):
        job.JobArgs.from_mapping({**args, "database": ""})


def test_concurrent_writes_give_results_in_order_and_raise_the_first_error() -> None:
    assert job.concurrently([lambda n=n: n * n for n in range(7)]) == [n * n for n in range(7)]

    def fails(message: str) -> Any:
        raise RuntimeError(message)

    with pytest.raises(RuntimeError, match=r"^second$"):
        job.concurrently([lambda: 1, lambda: fails("second"), lambda: fails("third")])


def test_concurrent_writes_run_in_the_callers_job_group(spark: Any) -> None:
    """The runner and the bench count a pass's Spark jobs by its job group: the threads'
    jobs must be in it (without inheritable_thread_target they are in none)."""
    from local.spark import counted_jobs

    frame = spark.range(10)
    with counted_jobs(spark, "one") as one:
        frame.count()
    with counted_jobs(spark, "concurrent") as jobs:
        counts = job.concurrently([frame.count for _ in range(3)])
    assert counts == [10, 10, 10]
    assert one["jobs"] > 0
    assert jobs["jobs"] == 3 * one["jobs"]


def test_local_location_prunes_empty_parents_while_another_writer_prunes_them(
    tmp_path: Path,
) -> None:
    """Four tables' temporary prefixes under one pass's _tmp/ removed at once: all go, and the
    empty parents with them, whoever got there first (the race fails a round in about five
    with a check-then-remove of each parent; 25 rounds)."""
    for round_ in range(25):
        root = tmp_path / str(round_)
        location = job.LocalLocation(root)
        prefixes = [f"_tmp/p/{table}/" for table in ("a", "b", "c", "d")]
        for prefix in prefixes:
            location.write_json(f"{prefix}part-0.json", {})
        job.concurrently([partial(location.delete_prefix, p) for p in prefixes])
        assert list(root.iterdir()) == []


def test_a_pass_lists_its_tables_in_one_order_whatever_order_they_finished_in() -> None:
    entries = {"fact_payment": 3, "dim_date": 4, "dim_staff": 1, "other": 5, "fact_sales_order": 2}
    ordered = job._ordered(entries, job.STAR_TABLE_ORDER)
    assert list(ordered) == ["dim_staff", "fact_sales_order", "fact_payment", "dim_date", "other"]

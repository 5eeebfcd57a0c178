"""--state-dir carries buckets and catalog across runs: mirrors, restore, catalog round trip."""

from __future__ import annotations

from pathlib import Path

import boto3

from local import moto_state, staging
from local.services import LOCAL_REGION

TABLE = {
    "Name": "fact_sales_order",
    "TableType": "EXTERNAL_TABLE",
    "Parameters": {"classification": "parquet"},
    "PartitionKeys": [{"Name": "created_month", "Type": "string"}],
    "StorageDescriptor": {
        "Columns": [
            {"Name": "sales_order_id", "Type": "int"},
            {"Name": "unit_price", "Type": "decimal(10,2)"},
        ],
        "Location": "s3://lake-local/fact_sales_order/",
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
        },
    },
}


def _partition(month: str) -> dict:
    return {
        "Values": [month],
        "StorageDescriptor": {
            **TABLE["StorageDescriptor"],
            "Location": f"s3://lake-local/fact_sales_order/created_month={month}/",
        },
    }


def test_catalog_survives_a_dump_and_a_fresh_moto(moto_server, aws: str) -> None:
    glue = boto3.client("glue")
    glue.create_database(DatabaseInput={"Name": "lake_db", "Description": "the lake"})
    glue.create_table(DatabaseName="lake_db", TableInput=TABLE)
    glue.batch_create_partition(
        DatabaseName="lake_db",
        TableName="fact_sales_order",
        PartitionInputList=[_partition("2024-11"), _partition("2024-10")],
    )
    dumped = moto_state.dump_catalog(glue, "lake_db")

    moto_server.reset()
    assert moto_state.dump_catalog(glue, "lake_db")["database"] is None
    assert moto_state.restore_catalog(glue, dumped) == 1

    again = moto_state.dump_catalog(glue, "lake_db")
    assert again == dumped
    assert again["database"]["Description"] == "the lake"
    [entry] = again["tables"]
    assert entry["table"]["StorageDescriptor"]["Location"] == "s3://lake-local/fact_sales_order/"
    assert [p["Values"] for p in entry["partitions"]] == [["2024-10"], ["2024-11"]]


def test_restore_uploads_only_the_named_prefixes(aws: str, tmp_path: Path) -> None:
    s3 = boto3.client("s3")
    moto_state.create_bucket(s3, "landing-local", LOCAL_REGION)
    for key, body in {
        "_state/ingest/watermarks.json": b'{"batch_id": "b1"}',
        "_manifests/b1.json": b"{}",
        "sales_order/batch=b1/part-00000.csv.gz": b"csv",
    }.items():
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(body)

    etags = moto_state.restore_prefixes(s3, "landing-local", tmp_path, ("_state/", "_manifests/"))

    assert sorted(etags) == ["_manifests/b1.json", "_state/ingest/watermarks.json"]
    assert staging.list_etags(s3, "landing-local") == etags


def test_download_changed_copies_new_and_rewritten_objects_only(aws: str, tmp_path: Path) -> None:
    s3 = boto3.client("s3")
    moto_state.create_bucket(s3, "landing-local", LOCAL_REGION)
    s3.put_object(Bucket="landing-local", Key="_state/w.json", Body=b"one")
    known: dict[str, str] = {}
    assert staging.download_changed(s3, "landing-local", tmp_path, known) == ["_state/w.json"]
    assert staging.download_changed(s3, "landing-local", tmp_path, known) == []

    s3.put_object(Bucket="landing-local", Key="_state/w.json", Body=b"two")
    s3.put_object(Bucket="landing-local", Key="a/b.csv.gz", Body=b"new")

    assert staging.download_changed(s3, "landing-local", tmp_path, known) == [
        "_state/w.json",
        "a/b.csv.gz",
    ]
    assert (tmp_path / "_state/w.json").read_bytes() == b"two"
    assert (tmp_path / "a/b.csv.gz").read_bytes() == b"new"


def test_manifests_go_last_and_spark_side_files_are_not_objects(tmp_path: Path) -> None:
    for name in (
        "_manifests/p1.json",
        "dim_staff/snapshot=p1/part-0.snappy.parquet",
        "dim_staff/snapshot=p1/.part-0.snappy.parquet.crc",
        "dim_staff/snapshot=p1/_SUCCESS",
        "_changes/dim_staff/batch=p1/part-0.snappy.parquet",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")

    keys = staging.file_signatures(tmp_path)

    assert staging.manifests_last(keys) == [
        "_changes/dim_staff/batch=p1/part-0.snappy.parquet",
        "dim_staff/snapshot=p1/part-0.snappy.parquet",
        "_manifests/p1.json",
    ]

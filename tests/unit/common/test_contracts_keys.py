"""Keys of both buckets follow docs/contracts.md sections 1-2, and batch ids sort by time."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline_common.contracts.batch import (
    BatchIdError,
    TimestampFormatError,
    batch_id_for,
    batch_time,
    check_batch_id,
    format_timestamp,
    parse_timestamp,
)
from pipeline_common.contracts.keys import (
    batch_id_of_manifest_key,
    dimension_changes_prefix,
    dimension_snapshot_prefix,
    fact_object_key,
    ingest_part_key,
    manifest_key,
    quarantine_prefix,
    scratch_prefix,
    state_prefix,
)


def test_batch_id_is_fixed_width_utc_time() -> None:
    assert batch_id_for(dt.datetime(2024, 11, 15, 14, 41, 0, 123456)) == "20241115T144100123456Z"
    assert batch_id_for(dt.datetime(2024, 11, 15, 14, 41)) == "20241115T144100000000Z"
    aware = dt.datetime(2024, 11, 15, 15, 41, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert batch_id_for(aware) == "20241115T144100000000Z"


def test_batch_ids_and_manifest_keys_sort_by_time() -> None:
    times = [
        dt.datetime(2024, 11, 15, 9, 0, 0, 999999),
        dt.datetime(2024, 11, 15, 10, 0),
        dt.datetime(2025, 1, 1, 0, 0, 0, 1),
    ]
    keys = [manifest_key(batch_id_for(t)) for t in times]
    assert sorted(reversed(keys)) == keys


def test_keys() -> None:
    assert ingest_part_key("sales_order", "20241115T144100123456Z", 0) == (
        "sales_order/batch=20241115T144100123456Z/part-00000.csv.gz"
    )
    assert ingest_part_key("payment", "20241115T144100123456Z", 12) == (
        "payment/batch=20241115T144100123456Z/part-00012.csv.gz"
    )
    assert manifest_key("20241115T144100123456Z") == "_manifests/20241115T144100123456Z.json"


def test_manifest_keys_are_recognised_and_nothing_else() -> None:
    assert batch_id_of_manifest_key("_manifests/20241115T144100123456Z.json") == (
        "20241115T144100123456Z"
    )
    assert batch_id_of_manifest_key("_manifests/20241115T144100123456Z.json.tmp") is None
    assert batch_id_of_manifest_key("_manifests/notes.json") is None
    assert batch_id_of_manifest_key("_manifests/20241115T144100123456Z.json\n") is None


def test_a_bad_batch_id_never_becomes_a_key() -> None:
    with pytest.raises(BatchIdError):
        manifest_key("../20241115T144100123456Z")
    with pytest.raises(BatchIdError):
        ingest_part_key("staff", "2024-11-15", 0)


def test_a_batch_id_names_its_utc_time_and_nothing_else_passes() -> None:
    assert batch_time("20241115T144100123456Z") == dt.datetime(
        2024, 11, 15, 14, 41, 0, 123456, tzinfo=dt.UTC
    )
    for text in ("20241115T144100123456", "20241115T144100123456Z\n", "x20241115T144100123456Z"):
        with pytest.raises(BatchIdError, match="not a batch id"):
            check_batch_id(text)
    with pytest.raises(BatchIdError, match="not a batch id: 20241115"):
        check_batch_id(20241115)


def test_a_watermark_timestamp_is_exactly_six_fraction_digits_and_a_real_time() -> None:
    assert parse_timestamp("2024-11-15 14:41:00.123000") == dt.datetime(
        2024, 11, 15, 14, 41, 0, 123000
    )
    assert format_timestamp(dt.datetime(2024, 11, 15, 14, 41, tzinfo=dt.UTC)) == (
        "2024-11-15 14:41:00.000000"
    )
    for text in (
        "2024-11-15 14:41:00.123",
        "2024-11-15 14:41:00.123000\n",
        "2024-02-30 00:00:00.000000",
    ):
        with pytest.raises(TimestampFormatError):
            parse_timestamp(text)


def test_the_processed_bucket_keys() -> None:
    pid = "20241115T144100123456Z"
    assert dimension_snapshot_prefix("dim_staff", pid) == f"dim_staff/snapshot={pid}/"
    assert dimension_changes_prefix("dim_staff", pid) == f"_changes/dim_staff/batch={pid}/"
    assert fact_object_key("fact_payment", "2024-11", pid, 3) == (
        f"fact_payment/created_month=2024-11/batch-{pid}-00003.snappy.parquet"
    )
    assert state_prefix("address", pid) == f"_state/address/batch={pid}/"
    assert quarantine_prefix(pid, "sales_order") == f"_quarantine/{pid}/sales_order/"
    assert scratch_prefix(pid) == f"_tmp/{pid}/"
    with pytest.raises(BatchIdError):
        scratch_prefix("../x")

"""After a commit the job tags what it superseded (old _state/ and snapshot prefixes, the
previous pass's _changes/) superseded=true, the tag the lake's lifecycle rule expires after
RetentionDays; what the new manifest names is never tagged (moto S3 over HTTP)."""

from __future__ import annotations

from typing import Any

from glue_jobs import star_schema as job

B1, B2 = "20241115T144100000000Z", "20241115T144400000000Z"
PREVIOUS = {
    "batch_id": B1,
    "state": {"staff": f"_state/staff/batch={B1}/", "address": f"_state/address/batch={B1}/"},
    "snapshots": {"dim_staff": f"dim_staff/snapshot={B1}/", "dim_date": "dim_date/snapshot=x/"},
    "tables": {"dim_staff": {"kind": "dimension"}, "fact_sales_order": {"kind": "fact"}},
}
CURRENT = {
    "batch_id": B2,
    "state": {"staff": f"_state/staff/batch={B2}/", "address": f"_state/address/batch={B1}/"},
    "snapshots": {"dim_staff": f"dim_staff/snapshot={B2}/", "dim_date": "dim_date/snapshot=x/"},
    "tables": {"dim_staff": {"kind": "dimension"}},
}


def test_the_superseded_prefixes_are_exactly_what_the_new_manifest_replaced() -> None:
    assert job.superseded_prefixes(PREVIOUS, CURRENT) == [
        f"_changes/dim_staff/batch={B1}/",
        f"_state/staff/batch={B1}/",
        f"dim_staff/snapshot={B1}/",
    ]
    assert job.superseded_prefixes(None, CURRENT) == []


def test_superseded_objects_are_tagged_and_current_ones_are_not(s3: Any) -> None:
    s3.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    lake = job.S3Location("lake", "", s3)
    keys = [
        f"_state/staff/batch={B1}/part-0.parquet",
        f"_state/staff/batch={B2}/part-0.parquet",
        f"_state/address/batch={B1}/part-0.parquet",
        f"dim_staff/snapshot={B1}/part-0.parquet",
        f"dim_staff/snapshot={B2}/part-0.parquet",
        f"_changes/dim_staff/batch={B1}/part-0.parquet",
        f"_changes/dim_staff/batch={B2}/part-0.parquet",
        "dim_date/snapshot=x/part-0.parquet",
    ]
    for key in keys:
        s3.put_object(Bucket="lake", Key=key, Body=b"x")

    job.expire_superseded(lake, PREVIOUS, CURRENT)

    tagged = {
        key
        for key in keys
        if s3.get_object_tagging(Bucket="lake", Key=key)["TagSet"]
        == [{"Key": "superseded", "Value": "true"}]
    }
    assert tagged == {
        f"_state/staff/batch={B1}/part-0.parquet",
        f"dim_staff/snapshot={B1}/part-0.parquet",
        f"_changes/dim_staff/batch={B1}/part-0.parquet",
    }

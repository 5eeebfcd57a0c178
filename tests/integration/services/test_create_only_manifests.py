"""A manifest is written once: S3 (moto over HTTP) refuses a second write of its key, so a
committed batch can never be replaced, whichever stage writes it."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from glue_jobs import star_schema as job
from ingest.manifest import write_manifest
from pipeline_common.contracts.manifests import IngestManifest
from pipeline_common.s3objects import ObjectExistsError, read_json, write_json

BATCH = "20241115T144100000000Z"


@pytest.fixture
def bucket(s3: Any) -> str:
    s3.create_bucket(
        Bucket="manifests", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    return "manifests"


def _manifest(hi: str) -> IngestManifest:
    return IngestManifest(BATCH, "2024-11-15T14:41:00+00:00", 0, hi, {"staff": hi}, None, {})


def test_an_ingest_manifest_is_never_overwritten(s3: Any, bucket: str) -> None:
    first = "2024-11-15 14:41:00.000000"
    key = write_manifest(s3, bucket, _manifest(first))

    with pytest.raises(ObjectExistsError, match=f"s3://manifests/{key} exists"):
        write_manifest(s3, bucket, _manifest("2024-11-15 14:42:00.000000"))

    assert read_json(s3, bucket, key)["hi"] == first
    write_json(s3, bucket, "_state/ingest/watermarks.json", {"a": 1})  # a cache: rewritable
    write_json(s3, bucket, "_state/ingest/watermarks.json", {"a": 2})
    assert read_json(s3, bucket, "_state/ingest/watermarks.json") == {"a": 2}


def test_the_glue_job_writes_its_manifests_once_and_its_state_freely(s3: Any, bucket: str) -> None:
    lake = job.S3Location(bucket, "", s3)
    lake.write_json(f"_manifests/{BATCH}.json", {"kind": "processed", "n": 1})

    with pytest.raises(ClientError) as caught:
        lake.write_json(f"_manifests/{BATCH}.json", {"kind": "processed", "n": 2})

    assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
    assert lake.read_json(f"_manifests/{BATCH}.json") == {"kind": "processed", "n": 1}
    lake.write_json(job.INFLIGHT_KEY, {"batch_id": BATCH})
    lake.write_json(job.INFLIGHT_KEY, {"batch_id": "later"})
    assert lake.read_json(job.INFLIGHT_KEY) == {"batch_id": "later"}

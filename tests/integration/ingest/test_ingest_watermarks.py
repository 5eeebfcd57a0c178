"""Where a run starts: the watermark cache, unless a newer manifest says otherwise."""

from __future__ import annotations

import pytest

from ingest.watermarks import IngestState, read_watermarks, write_watermarks
from pipeline_common.contracts.keys import INGEST_STATE_KEY as STATE_KEY
from pipeline_common.contracts.manifests import IngestManifest, ManifestError
from pipeline_common.s3objects import write_json

A, B, C = "20241115T140000000000Z", "20241115T140300000000Z", "20241115T140600000000Z"
HI_A, HI_B, HI_C = (
    "2024-11-15 13:59:00.000000",
    "2024-11-15 14:02:00.000000",
    "2024-11-15 14:05:00.000000",
)


def _document(batch_id: str, watermarks: dict[str, str]) -> dict[str, object]:
    """An ingest manifest of a run that found no rows to list (its watermarks advance)."""
    return IngestManifest(
        batch_id,
        "2024-11-15T14:00:00.000000+00:00",
        0,
        max(watermarks.values(), default=HI_A),
        watermarks,
        None,
        {},
    ).to_json()


def _manifest(s3, bucket: str, batch_id: str, hi: str) -> None:
    write_json(
        s3, bucket, f"_manifests/{batch_id}.json", _document(batch_id, {"staff": hi, "address": hi})
    )


def test_nothing_yet_means_a_first_run(s3, bucket) -> None:
    assert read_watermarks(s3, bucket) == IngestState(None, {})


def test_cache_is_used_when_no_newer_manifest_exists(s3, bucket) -> None:
    _manifest(s3, bucket, A, HI_A)
    write_watermarks(s3, bucket, IngestState(A, {"staff": HI_A, "address": HI_A}))

    assert read_watermarks(s3, bucket) == IngestState(A, {"staff": HI_A, "address": HI_A})


def test_newest_manifest_after_the_cache_wins(s3, bucket) -> None:
    _manifest(s3, bucket, A, HI_A)
    write_watermarks(s3, bucket, IngestState(A, {"staff": HI_A}))
    _manifest(s3, bucket, B, HI_B)
    _manifest(s3, bucket, C, HI_C)
    write_json(s3, bucket, "_manifests/README.json", {"not": "a manifest"})

    assert read_watermarks(s3, bucket) == IngestState(C, {"staff": HI_C, "address": HI_C})


def test_manifests_alone_are_enough(s3, bucket) -> None:
    _manifest(s3, bucket, A, HI_A)
    _manifest(s3, bucket, B, HI_B)

    assert read_watermarks(s3, bucket) == IngestState(B, {"staff": HI_B, "address": HI_B})


def test_unreadable_cache_falls_back_to_the_manifests(s3, bucket) -> None:
    _manifest(s3, bucket, A, HI_A)
    s3.put_object(Bucket=bucket, Key=STATE_KEY, Body=b"{half a json")

    assert read_watermarks(s3, bucket) == IngestState(A, {"staff": HI_A, "address": HI_A})


def test_a_manifest_with_bad_watermarks_is_an_error_not_a_guess(s3, bucket) -> None:
    document = _document(A, {"staff": HI_A})
    document["watermarks"] = {"staff": "yesterday'; drop table staff; --"}
    write_json(s3, bucket, f"_manifests/{A}.json", document)

    with pytest.raises(ManifestError) as raised:
        read_watermarks(s3, bucket)
    assert str(raised.value) == (
        f"ingest manifest _manifests/{A}.json: watermarks.staff: "
        'not a watermark timestamp: "yesterday\'; drop table staff; --"'
    )


def test_a_manifest_naming_another_batch_is_an_error(s3, bucket) -> None:
    write_json(s3, bucket, f"_manifests/{B}.json", _document(A, {"staff": HI_A}))

    with pytest.raises(ManifestError) as raised:
        read_watermarks(s3, bucket)
    assert str(raised.value) == (
        f"ingest manifest _manifests/{B}.json: batch_id: '{A}' does not match the key"
    )

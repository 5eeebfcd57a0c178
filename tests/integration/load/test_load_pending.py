"""Pending batches are the manifests after the newest loaded one, listed without a full scan."""

from __future__ import annotations

from typing import Any

from loader.pending import list_pending_manifests

IDS = [
    "20241115T144100000000Z",
    "20241115T144400000000Z",
    "20241115T144700000000Z",
    "20241116T000000000000Z",
]


def put(s3: Any, bucket: str, keys: list[str]) -> None:
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}")


def listing_requests(s3: Any) -> list[dict[str, Any]]:
    """Record the parameters of every ListObjectsV2 call the client makes."""
    seen: list[dict[str, Any]] = []
    s3.meta.events.register(
        "provide-client-params.s3.ListObjectsV2", lambda params, **_: seen.append(dict(params))
    )
    return seen


def test_everything_is_pending_before_the_first_load_oldest_first(s3, processed_bucket) -> None:
    put(s3, processed_bucket, [f"_manifests/{i}.json" for i in reversed(IDS)])
    assert list_pending_manifests(s3, processed_bucket, None) == [
        f"_manifests/{i}.json" for i in IDS
    ]


def test_only_manifests_after_the_loaded_batch_are_listed_using_start_after(
    s3, processed_bucket
) -> None:
    put(s3, processed_bucket, [f"_manifests/{i}.json" for i in IDS])
    put(s3, processed_bucket, ["dim_staff/snapshot=x/part-0.parquet", "_state/address/x"])
    requests = listing_requests(s3)

    pending = list_pending_manifests(s3, processed_bucket, IDS[1])

    assert pending == [f"_manifests/{IDS[2]}.json", f"_manifests/{IDS[3]}.json"]
    assert requests == [
        {
            "Bucket": processed_bucket,
            "Prefix": "_manifests/",
            "StartAfter": f"_manifests/{IDS[1]}.json",
        }
    ]


def test_keys_that_are_not_batch_manifests_are_ignored(s3, processed_bucket) -> None:
    put(
        s3,
        processed_bucket,
        [
            f"_manifests/{IDS[0]}.json",
            f"_manifests/{IDS[1]}.json.tmp",
            "_manifests/latest.json",
            "_manifests/README",
        ],
    )
    assert list_pending_manifests(s3, processed_bucket, None) == [f"_manifests/{IDS[0]}.json"]


def test_nothing_is_pending_when_the_newest_manifest_is_loaded(s3, processed_bucket) -> None:
    put(s3, processed_bucket, [f"_manifests/{i}.json" for i in IDS])
    assert list_pending_manifests(s3, processed_bucket, IDS[-1]) == []

"""The job's S3 location (what runs on Glue) against moto: JSON, listing, moves, deletes."""

from __future__ import annotations

from typing import Any

from glue_jobs import star_schema as job


def test_s3_location_reads_writes_lists_moves_and_deletes_under_its_prefix(s3: Any) -> None:
    s3.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    place = job.open_location("s3://lake/star/", s3)
    assert isinstance(place, job.S3Location)
    assert place.read_json("_manifests/20241115T144100123456Z.json") is None

    place.write_json("_manifests/20241115T144100123456Z.json", {"b": 1, "a": "x"})
    body = s3.get_object(Bucket="lake", Key="star/_manifests/20241115T144100123456Z.json")
    assert body["Body"].read() == b'{\n "a": "x",\n "b": 1\n}'
    assert body["ContentType"] == "application/json"
    assert place.read_json("_manifests/20241115T144100123456Z.json") == {"a": "x", "b": 1}
    place.write_json("_manifests/20241115T144400000000Z.json", {})
    assert place.list_keys("_manifests/") == [
        "_manifests/20241115T144100123456Z.json",
        "_manifests/20241115T144400000000Z.json",
    ]
    assert place.list_keys("_manifests/", start_after="_manifests/20241115T144100123456Z.json") == [
        "_manifests/20241115T144400000000Z.json"
    ]

    for n in range(3):
        s3.put_object(Bucket="lake", Key=f"star/_tmp/p/f/d=1/part-{n}.parquet", Body=b"%d" % n)
    s3.put_object(Bucket="lake", Key="outside/keep.parquet", Body=b"keep")
    place.move(
        [
            (f"_tmp/p/f/d=1/part-{n}.parquet", f"f/d=1/batch-p-{n:05d}.snappy.parquet")
            for n in range(2)
        ]
    )
    assert place.list_keys("f/") == [
        "f/d=1/batch-p-00000.snappy.parquet",
        "f/d=1/batch-p-00001.snappy.parquet",
    ]
    got = s3.get_object(Bucket="lake", Key="star/f/d=1/batch-p-00001.snappy.parquet")
    assert got["Body"].read() == b"1"
    assert place.list_keys("_tmp/") == ["_tmp/p/f/d=1/part-2.parquet"]
    place.delete_prefix("_tmp/")
    assert place.list_keys("_tmp/") == []
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"]] == [
        "outside/keep.parquet",
        "star/_manifests/20241115T144100123456Z.json",
        "star/_manifests/20241115T144400000000Z.json",
        "star/f/d=1/batch-p-00000.snappy.parquet",
        "star/f/d=1/batch-p-00001.snappy.parquet",
    ]
    assert place.uri("dim_staff/snapshot=p/") == "s3://lake/star/dim_staff/snapshot=p/"

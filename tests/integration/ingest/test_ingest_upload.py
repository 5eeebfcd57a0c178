"""Gzip objects stream into S3 (moto over HTTP) in multipart parts, or abort cleanly."""

from __future__ import annotations

import gzip
import os
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from ingest.exceptions import UploadError, UploadRejectedError
from ingest.upload import GzipObjectWriter

MIB = 1 << 20


def _text(size: int) -> bytes:
    """Hex of random bytes: compresses about 2:1, so the object needs several parts."""
    return os.urandom(size // 2).hex().encode()


def _count(client: Any, operation: str) -> list[int]:
    calls: list[int] = []
    client.meta.events.register(f"before-send.s3.{operation}", lambda **_: calls.append(1) and None)
    return calls


def test_large_object_goes_up_in_parts_and_reads_back_exactly(s3, bucket) -> None:
    parts = _count(s3, "UploadPart")
    data = _text(16 * MIB)
    writer = GzipObjectWriter(s3, bucket, "t/big.csv.gz", part_bytes=5 * MIB)
    for start in range(0, len(data), MIB):
        writer.write(data[start : start + MIB])

    size = writer.close()

    assert len(parts) == 2
    body = s3.get_object(Bucket=bucket, Key="t/big.csv.gz")["Body"].read()
    assert len(body) == size == writer.bytes
    assert writer.csv_bytes == len(data)
    assert gzip.decompress(body) == data


def test_small_object_goes_up_in_one_put(s3, bucket) -> None:
    parts, puts = _count(s3, "UploadPart"), _count(s3, "PutObject")
    writer = GzipObjectWriter(s3, bucket, "t/small.csv.gz")
    writer.write(b"a,b\n1,2\n")

    writer.close()

    assert (len(parts), len(puts)) == (0, 1)
    body = s3.get_object(Bucket=bucket, Key="t/small.csv.gz")["Body"].read()
    assert gzip.decompress(body) == b"a,b\n1,2\n"


def test_failing_part_aborts_the_multipart_upload(s3, bucket) -> None:
    seen: list[int] = []

    def fail_second_part(request: Any, **_: Any) -> None:
        seen.append(1)
        if len(seen) >= 2:
            raise EndpointConnectionError(endpoint_url=request.url)

    s3.meta.events.register("before-send.s3.UploadPart", fail_second_part)
    writer = GzipObjectWriter(s3, bucket, "t/broken.csv.gz", part_bytes=5 * MIB)
    data = _text(16 * MIB)

    with pytest.raises(UploadError, match="UploadPart of s3://totesys-ingest-test/t/broken"):
        for start in range(0, len(data), MIB):
            writer.write(data[start : start + MIB])
        writer.close()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads")  # the upload is open...
    writer.abort()

    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []  # ...then gone
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_missing_bucket_is_refused_as_a_terminal_error(s3) -> None:
    writer = GzipObjectWriter(s3, "no-such-bucket-here", "t/x.csv.gz")
    writer.write(b"a\n")

    with pytest.raises(UploadRejectedError, match="refused: NoSuchBucket"):
        writer.close()

"""Reading an object from S3 (moto over HTTP): what a failure means for a retry."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_common.errors import TerminalError
from pipeline_common.s3objects import (
    MalformedObjectError,
    ObjectAccessError,
    ObjectNotFoundError,
    read_bytes,
    read_json,
)


@pytest.fixture
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket="reads", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    return "reads"


def test_an_object_is_read_whole(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a/b.json", Body=b'{"x": [1, 2]}')
    assert read_bytes(s3, bucket, "a/b.json") == b'{"x": [1, 2]}'
    assert read_json(s3, bucket, "a/b.json") == {"x": [1, 2]}


def test_a_missing_object_is_terminal_and_named(s3: Any, bucket: str) -> None:
    with pytest.raises(ObjectNotFoundError) as raised:
        read_json(s3, bucket, "_manifests/none.json")
    assert str(raised.value) == "s3://reads/_manifests/none.json does not exist"
    assert isinstance(raised.value, TerminalError)


def test_a_missing_bucket_is_a_refusal_not_worth_a_retry(s3: Any) -> None:
    with pytest.raises(ObjectAccessError) as raised:
        read_bytes(s3, "no-such-bucket-here", "k")
    assert str(raised.value) == "s3://no-such-bucket-here/k: S3 refused the read (NoSuchBucket)"
    assert not raised.value.transient


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{half", "s3://reads/k.json is not valid JSON: "),
        (b"[1, 2]", "s3://reads/k.json is not a JSON object"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_malformed(
    s3: Any, bucket: str, body: bytes, message: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k.json", Body=body)
    with pytest.raises(MalformedObjectError) as raised:
        read_json(s3, bucket, "k.json")
    assert str(raised.value).startswith(message)

"""Small JSON objects in S3 (manifests, state): read, write, list in key order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pipeline_common.errors import PipelineError, TerminalError, TransientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any


class ObjectNotFoundError(TerminalError):
    """An object that a manifest or state names does not exist."""


class MalformedObjectError(TerminalError):
    """An object exists but is not the JSON document its key promises."""


class ObjectExistsError(TerminalError):
    """A create-only write (a manifest, the commit of a batch) found the key taken."""


class ObjectAccessError(TerminalError):
    """S3 refused a read for a configuration reason (access denied, no such bucket)."""


_MISSING = ("NoSuchKey", "404", "NotFound")
_REFUSED = ("AccessDenied", "403", "NoSuchBucket", "InvalidAccessKeyId", "AllAccessDisabled")


def read_error(exc: ClientError, bucket: str, key: str) -> PipelineError:
    """What a failed GetObject means: a missing object or a refusal is terminal (a retry
    reads the same answer); anything else (throttling, a 5xx) is worth a retry."""
    code = exc.response.get("Error", {}).get("Code", "")
    if code in _MISSING:
        return ObjectNotFoundError(f"s3://{bucket}/{key} does not exist")
    if code in _REFUSED:
        return ObjectAccessError(f"s3://{bucket}/{key}: S3 refused the read ({code})")
    return TransientError(f"s3://{bucket}/{key}: S3 error {code}")


def read_bytes(s3: S3Client, bucket: str, key: str) -> bytes:
    """One object's bytes; errors as `read_error` says."""
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]
    except ClientError as exc:
        raise read_error(exc, bucket, key) from exc


def read_json(s3: S3Client, bucket: str, key: str) -> dict[str, Any]:
    """Read one JSON object; missing or malformed objects raise terminal errors."""
    body = read_bytes(s3, bucket, key)
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedObjectError(f"s3://{bucket}/{key} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedObjectError(f"s3://{bucket}/{key} is not a JSON object")
    return data


def write_json(
    s3: S3Client, bucket: str, key: str, data: dict[str, Any], *, create_only: bool = False
) -> None:
    """Write one JSON object (sorted keys, so equal content is equal bytes).

    `create_only` sends `If-None-Match: *`, so S3 refuses to overwrite (412): the bucket
    policies refuse any manifest write without it (S3 User Guide, "Enforce conditional
    writes on Amazon S3 buckets").
    """
    body = json.dumps(data, sort_keys=True, indent=1, default=str).encode()
    extra: dict[str, str] = {"IfNoneMatch": "*"} if create_only else {}
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **extra)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code", "") == "PreconditionFailed":
            raise ObjectExistsError(f"s3://{bucket}/{key} exists; it is never overwritten") from exc
        raise


def list_keys(s3: S3Client, bucket: str, prefix: str, start_after: str = "") -> Iterator[str]:
    """Keys under a prefix in lexicographic order, optionally after a given key."""
    paginator = s3.get_paginator("list_objects_v2")
    kwargs: dict[str, str] = {"Bucket": bucket, "Prefix": prefix}
    if start_after:
        kwargs["StartAfter"] = start_after
    for page in paginator.paginate(**kwargs):  # type: ignore[arg-type]
        for item in page.get("Contents", []):
            yield item["Key"]

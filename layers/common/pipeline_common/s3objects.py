"""Small JSON objects in S3 (manifests, state): read, write, list in key order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pipeline_common.errors import TerminalError, TransientError

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


def read_json(s3: S3Client, bucket: str, key: str) -> dict[str, Any]:
    """Read one JSON object; missing or malformed objects raise terminal errors."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            raise ObjectNotFoundError(f"s3://{bucket}/{key} does not exist") from exc
        raise TransientError(f"s3://{bucket}/{key}: S3 error {code}") from exc
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

"""Copy objects between moto's S3 and a bucket's directory mirror (same key layout).

Spark has no S3 connector locally, so the Glue job reads and writes the mirror; the
handlers read and write moto's S3 exactly as in AWS. Only what changed is copied.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline_common.contracts.keys import MANIFEST_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

# Written by Spark next to its output; not objects of the lake.
_IGNORED_NAMES = ("_SUCCESS",)
_IGNORED_SUFFIXES = (".crc",)


def _ignored(name: str) -> bool:
    return name in _IGNORED_NAMES or name.endswith(_IGNORED_SUFFIXES) or name.startswith(".")


def file_signatures(directory: Path, prefix: str = "") -> dict[str, tuple[int, int]]:
    """Key -> (size, mtime_ns) of every file under directory/prefix (keys use '/')."""
    found: dict[str, tuple[int, int]] = {}
    base = directory / prefix if prefix else directory
    if not base.exists():
        return found
    for root, _dirs, files in os.walk(base):
        for name in files:
            if _ignored(name):
                continue
            path = Path(root) / name
            stat = path.stat()
            found[path.relative_to(directory).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def manifests_last(keys: Iterable[str]) -> list[str]:
    """Keys in upload order: data first, `_manifests/` (each stage's commit) last."""
    ordered = sorted(keys)
    return [k for k in ordered if not k.startswith(MANIFEST_PREFIX)] + [
        k for k in ordered if k.startswith(MANIFEST_PREFIX)
    ]


def _put(s3: S3Client, bucket: str, directory: Path, key: str) -> str:
    with open(directory / key, "rb") as body:
        return str(s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"])


def upload_keys(
    s3: S3Client, bucket: str, directory: Path, keys: Iterable[str], workers: int = 8
) -> dict[str, str]:
    """Upload mirror files as objects; returns key -> ETag.

    Data objects go up in parallel (a first batch writes thousands of small partition
    files); `_manifests/` keys only after every data object is in, one by one, in order.
    """
    ordered = list(keys)
    data = [k for k in ordered if not k.startswith(MANIFEST_PREFIX)]
    manifests = [k for k in ordered if k.startswith(MANIFEST_PREFIX)]
    etags: dict[str, str] = {}
    if data:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for key, etag in zip(
                data, pool.map(lambda k: _put(s3, bucket, directory, k), data), strict=True
            ):
                etags[key] = etag
    for key in manifests:
        etags[key] = _put(s3, bucket, directory, key)
    return etags


def list_etags(s3: S3Client, bucket: str, prefix: str = "") -> dict[str, str]:
    """Key -> ETag of every object under a prefix."""
    etags: dict[str, str] = {}
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            etags[item["Key"]] = str(item["ETag"])
    return etags


def download_changed(
    s3: S3Client, bucket: str, directory: Path, known: dict[str, str]
) -> list[str]:
    """Download the objects that are new or changed against `known` (key -> ETag).

    `known` is updated in place, so a second call copies only what changed since.
    """
    copied: list[str] = []
    for key, etag in sorted(list_etags(s3, bucket).items()):
        if known.get(key) == etag:
            continue
        path = directory / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")
        s3.download_file(bucket, key, str(tmp))
        os.replace(tmp, path)
        known[key] = etag
        copied.append(key)
    return copied

"""Which processed batches the warehouse still lacks: manifests after the newest loaded one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from pipeline_common.contracts.keys import MANIFEST_PREFIX, batch_id_of_manifest_key, manifest_key
from pipeline_common.s3objects import list_keys

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

logger = Logger(child=True)


def list_pending_manifests(s3: S3Client, bucket: str, after_batch_id: str | None) -> list[str]:
    """Manifest keys with batch_id > `after_batch_id`, oldest first.

    S3 lists keys in byte order and batch ids sort by time, so listing with StartAfter
    the last loaded manifest's key reads only what is new, however long the history.
    """
    start_after = manifest_key(after_batch_id) if after_batch_id else ""
    pending = []
    for key in list_keys(s3, bucket, MANIFEST_PREFIX, start_after=start_after):
        batch_id = batch_id_of_manifest_key(key)
        if batch_id is None:
            logger.warning("ignoring a key that is not a batch manifest", extra={"key": key})
            continue
        if after_batch_id is None or batch_id > after_batch_id:
            pending.append(key)
    return pending

"""Gzip CSV objects streamed into S3: COPY rows in, parts of at most PART_ROWS rows out.

Memory stays flat whatever the table size: rows are gathered into ~1 MB chunks, each
chunk is compressed at once, and compressed bytes go to S3 as multipart parts of about
8 MiB. Only an object that ends before its first part is full is sent with one PutObject.
Compression and uploads run in one thread per object, so the COPY keeps streaming while a
part uploads; at most QUEUED_CHUNKS chunks wait for that thread.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from ingest.exceptions import UploadError, UploadRejectedError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

logger = Logger(child=True)

CHUNK_BYTES = 1 << 20  # raw CSV bytes gathered before one compress call
PART_BYTES = 8 << 20  # compressed bytes per multipart part (S3's minimum is 5 MiB)
GZIP_WBITS = 31  # deflate with a gzip header and trailer
QUEUED_CHUNKS = 4  # raw chunks handed to an object's thread and not yet compressed
_REJECTED = {"NoSuchBucket", "AccessDenied", "AllAccessDisabled", "InvalidBucketName"}


class Compressor(Protocol):
    """What zlib's and isal's compress objects share."""

    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self, mode: int = ..., /) -> bytes: ...


def new_compressor() -> Compressor:
    """gzip level 1 with ISA-L when the layer carries it (about 1.3x zlib's speed), else zlib."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - isal ships in the common layer
        return zlib.compressobj(1, zlib.DEFLATED, GZIP_WBITS)
    return isal_zlib.compressobj(1, isal_zlib.DEFLATED, GZIP_WBITS)


@dataclass(frozen=True)
class PartInfo:
    """One object written: its key, data rows, gzip bytes and raw CSV bytes."""

    key: str
    rows: int
    bytes: int
    csv_bytes: int


class GzipObjectWriter:
    """One S3 object, gzip-compressed as it is written; abort() leaves nothing behind.

    write() hands chunks to the object's own thread, which compresses them in order and
    uploads a part whenever enough compressed bytes wait; finish() queues the end of the
    object there without waiting for it, close() waits. A failure there is raised by the
    next write() or by close(); after it the thread does nothing more.
    """

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        key: str,
        *,
        part_bytes: int = PART_BYTES,
        compressor_factory: Callable[[], Compressor] = new_compressor,
    ) -> None:
        self.bucket = bucket
        self.key = key
        self._s3 = s3
        self._part_bytes = part_bytes
        self._compressor = compressor_factory()
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._upload_id: str | None = None
        self._etags: list[dict[str, Any]] = []
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gzip-upload")
        self._queued: deque[Future[None]] = deque()
        self._failed = False
        self._finishing = False
        self.csv_bytes = 0
        self.bytes = 0

    def write(self, data: bytes) -> None:
        """Queue raw CSV bytes for compression (and an upload once a part is full)."""
        self.csv_bytes += len(data)
        self._submit(self._compress, data)

    def finish(self) -> None:
        """Queue the end of the gzip stream and of the upload; close() waits for it."""
        if not self._finishing:
            self._finishing = True
            self._submit(self._finish)

    def close(self) -> int:
        """Finish the gzip stream and the upload; returns the object's size in bytes."""
        self.finish()
        while self._queued:
            self._queued.popleft().result()  # a failure leaves the upload for abort()
        self._thread.shutdown()
        return self.bytes

    def abort(self) -> None:
        """Abort an open multipart upload so no half object and no stored parts remain."""
        self._failed = True
        for future in self._queued:
            future.cancel()
        self._thread.shutdown(wait=True)  # the task running now ends; none starts after it
        self._queued.clear()
        upload_id, self._upload_id = self._upload_id, None
        self._pending.clear()
        if upload_id is None:
            return
        try:
            self._s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)
        except (BotoCoreError, ClientError) as exc:
            # The original failure is what matters; a bucket lifecycle rule cleans up after.
            logger.warning(
                "could not abort multipart upload",
                extra={"key": self.key, "upload_id": upload_id, "error": str(exc)},
            )

    # -- the object's thread: _submit() queues work for it, the rest runs in it ----------

    def _submit(self, task: Callable[..., None], *args: Any) -> None:
        while len(self._queued) >= QUEUED_CHUNKS:
            self._queued.popleft().result()  # raises the thread's failure here
        self._queued.append(self._thread.submit(self._run, task, *args))

    def _run(self, task: Callable[..., None], *args: Any) -> None:
        if self._failed:
            return
        try:
            task(*args)
        except BaseException:
            self._failed = True
            raise

    def _compress(self, data: bytes) -> None:
        self._keep(self._compressor.compress(data))
        if self._pending_size >= self._part_bytes:
            self._upload_part()

    def _finish(self) -> None:
        self._keep(self._compressor.flush())
        if self._upload_id is None:
            body = self._take_pending()
            self._call("PutObject", self._s3.put_object, Body=body, ContentType="application/gzip")
            self.bytes = len(body)
            return
        if self._pending_size:
            self._upload_part()
        self._call(
            "CompleteMultipartUpload",
            self._s3.complete_multipart_upload,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._etags},
        )
        self._upload_id = None

    def _keep(self, compressed: bytes) -> None:
        if compressed:
            self._pending.append(compressed)
            self._pending_size += len(compressed)

    def _take_pending(self) -> bytes:
        body = b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        return body

    def _upload_part(self) -> None:
        if self._upload_id is None:
            response = self._call(
                "CreateMultipartUpload",
                self._s3.create_multipart_upload,
                ContentType="application/gzip",
            )
            self._upload_id = response["UploadId"]
        body = self._take_pending()
        number = len(self._etags) + 1
        response = self._call(
            "UploadPart",
            self._s3.upload_part,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
        )
        self._etags.append({"ETag": response["ETag"], "PartNumber": number})
        self.bytes += len(body)

    def _call(self, operation: str, method: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return method(Bucket=self.bucket, Key=self.key, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            where = f"s3://{self.bucket}/{self.key}"
            if code in _REJECTED:
                raise UploadRejectedError(f"{operation} of {where} refused: {code}") from exc
            raise UploadError(f"{operation} of {where} failed: {code or exc}") from exc
        except BotoCoreError as exc:
            raise UploadError(
                f"{operation} of s3://{self.bucket}/{self.key} failed: {exc}"
            ) from exc


class CsvPartWriter:
    """Where a table's COPY rows go (pipeline_common.copy hands them on in blocks, in order).

    The first row is the header. Every part starts with it; a part is opened at its first
    data row, so a window with no rows writes no object at all. Rows are counted as
    Postgres sends them, one CopyData message per CSV record, so a newline inside a
    quoted value never miscounts.

    A full part finishes uploading while the next one fills; the one before it is waited
    for first, so at most two parts of a table are in memory whatever its size.
    """

    def __init__(
        self,
        open_part: Callable[[int], GzipObjectWriter],
        *,
        part_rows: int,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        if part_rows < 1:
            raise ValueError("part_rows must be 1 or more")
        self._open_part = open_part
        self._part_rows = part_rows
        self._chunk_bytes = chunk_bytes
        self._header: bytes | None = None
        self._part: GzipObjectWriter | None = None
        self._rows_in_part = 0
        self._chunk: list[bytes] = []
        self._chunk_size = 0
        self._finishing: tuple[GzipObjectWriter, int] | None = None  # (part, rows)
        self.parts: list[PartInfo] = []  # finished and uploaded, in order

    @property
    def rows(self) -> int:
        """Data rows written so far (the header is not a row)."""
        finishing = self._finishing[1] if self._finishing else 0
        return sum(part.rows for part in self.parts) + finishing + self._rows_in_part

    def write_rows(self, rows: list[bytes]) -> None:
        """Take the next rows; start, fill and finish parts as the counts require."""
        start = 0
        if self._header is None and rows:
            self._header = bytes(rows[0])
            start = 1
        total = len(rows)
        while start < total:
            part = self._part
            if part is None:
                part = self._part = self._open_part(len(self.parts) + bool(self._finishing))
                self._add(self._header or b"")
            stop = min(total, start + self._part_rows - self._rows_in_part)
            self._add(b"".join(rows[start:stop]))
            self._rows_in_part += stop - start
            start = stop
            if self._rows_in_part >= self._part_rows:
                self._finish_part(part)
            elif self._chunk_size >= self._chunk_bytes:
                self._flush_chunk(part)

    def finish(self) -> None:
        """Finish the open part, if any, without waiting for its upload to end."""
        if self._part is not None:
            self._finish_part(self._part)

    def close(self) -> list[PartInfo]:
        """Finish the open part and wait for every upload; returns every part, in order."""
        self.finish()
        self._wait_finishing()
        return list(self.parts)

    def abort(self) -> None:
        """Abort every upload not yet complete: no half object and no stored parts remain.
        Parts already complete stay (no manifest names them)."""
        parts = [self._finishing[0]] if self._finishing else []
        if self._part is not None:
            parts.append(self._part)
        self._finishing = self._part = None
        self._chunk.clear()
        for part in parts:
            part.abort()

    def _add(self, data: bytes) -> None:
        self._chunk.append(data)
        self._chunk_size += len(data)

    def _flush_chunk(self, part: GzipObjectWriter) -> None:
        part.write(b"".join(self._chunk))
        self._chunk.clear()
        self._chunk_size = 0

    def _finish_part(self, part: GzipObjectWriter) -> None:
        self._flush_chunk(part)
        part.finish()
        self._wait_finishing()
        self._finishing = (part, self._rows_in_part)
        self._part = None
        self._rows_in_part = 0

    def _wait_finishing(self) -> None:
        if self._finishing is not None:
            part, rows = self._finishing
            size = part.close()  # raises the upload's failure; abort() then cleans up
            self._finishing = None
            self.parts.append(PartInfo(part.key, rows, size, part.csv_bytes))

"""Parquet objects of the lake as Arrow record batches in the star table's exact column types.

Decimals stay decimals and nullable ids stay integers: the types are Arrow's, never pandas'.
A small object (the common case: one fact partition of one batch) is downloaded and decoded
in a worker thread, and consecutive small objects are handed on together, so a batch of
many small objects costs few COPY chunks. A large object is spooled to a
temporary file and read a record batch at a time, so memory holds one batch whatever the
object's size.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from loader.exceptions import LakeSchemaError, RowCountMismatchError
from loader.manifest import LakeObject
from loader.schema import LakeType, StarTable
from pipeline_common.errors import TransientError
from pipeline_common.s3objects import ObjectNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

BATCH_ROWS = 50_000
"""Rows per Arrow record batch (and so per CSV chunk sent to COPY)."""

COPY_BUFFER_BYTES = 1 << 20
"""Bytes per read when spooling an object to disk."""

IN_MEMORY_BYTES = 8 << 20
"""Objects up to this size are read into memory instead of a temporary file."""

DECODE_AHEAD_ROWS = 10_000
"""Objects of at most this many rows are decoded in the fetch threads; larger ones are
decoded a batch at a time as the COPY takes them, so memory does not grow with them."""

ARROW_TYPES: dict[LakeType, pa.DataType] = {
    "int": pa.int32(),
    "decimal(10,2)": pa.decimal128(10, 2),
    "date": pa.date32(),
    "time": pa.string(),
    "string": pa.string(),
    "boolean": pa.bool_(),
}

_ACCEPTS: dict[LakeType, Callable[[pa.DataType], bool]] = {
    "int": pa.types.is_integer,
    "decimal(10,2)": pa.types.is_decimal,
    "date": lambda t: pa.types.is_date32(t) or pa.types.is_date64(t),
    "time": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    "boolean": pa.types.is_boolean,
}


def _s3_error(exc: ClientError, bucket: str, key: str) -> Exception:
    """A missing object is a terminal error; any other S3 error is worth a retry."""
    code = exc.response.get("Error", {}).get("Code", "")
    if code in ("NoSuchKey", "404", "NotFound"):
        return ObjectNotFoundError(f"s3://{bucket}/{key} does not exist")
    return TransientError(f"s3://{bucket}/{key}: S3 error {code}")


class ObjectReader:
    """An opened, schema-checked Parquet object of one star table.

    Every column comes from the file: a fact's partition (`created_month`) only places the
    object, `created_date` is in the file.
    """

    def __init__(
        self, source: IO[bytes] | pa.NativeFile, obj: LakeObject, table: StarTable
    ) -> None:
        self.key = obj.key
        self.table = table
        try:
            self._file = pq.ParquetFile(source)
        except (pa.ArrowException, OSError) as exc:
            raise LakeSchemaError(f"{obj.key} is not a readable Parquet object: {exc}") from exc
        self.num_rows = self._file.metadata.num_rows
        schema = self._file.schema_arrow
        problems = []
        for column in table.columns:
            index = schema.get_field_index(column.name)
            if index < 0:
                problems.append(f"{column.name} missing")
            elif not _ACCEPTS[column.lake_type](schema.field(index).type):
                problems.append(
                    f"{column.name} is {schema.field(index).type}, expected {column.lake_type}"
                )
        if problems:
            raise LakeSchemaError(f"{obj.key} ({table.name}): {'; '.join(problems)}")

    def iter_batches(self) -> Iterator[pa.RecordBatch]:
        """Record batches with exactly the table's columns, in order and canonical types."""
        names = list(self.table.column_names)
        try:
            for batch in self._file.iter_batches(
                batch_size=BATCH_ROWS, columns=names, use_threads=False
            ):
                yield self._shape(batch)
        except pa.ArrowException as exc:
            raise LakeSchemaError(f"{self.key} ({self.table.name}): {exc}") from exc

    def _shape(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        arrays = []
        for column in self.table.columns:
            target = ARROW_TYPES[column.lake_type]
            array = batch.column(column.name)
            arrays.append(array if array.type == target else array.cast(target, safe=True))
        return pa.RecordBatch.from_arrays(arrays, names=list(self.table.column_names))


PREFETCH_OBJECTS = 8
"""Objects fetched (and, when small, decoded) ahead of the COPY, in threads: S3 latency and
Parquet decoding (which releases the GIL) overlap the database's work."""


class FetchedObject:
    """One object, opened and schema-checked; a small one already decoded into batches."""

    def __init__(self, obj: LakeObject, table: StarTable, source: IO[bytes] | pa.NativeFile):
        self._source = source
        try:
            self.reader = ObjectReader(source, obj, table)
            if obj.rows is not None and self.reader.num_rows != obj.rows:
                raise RowCountMismatchError(
                    f"{obj.key}: {self.reader.num_rows} rows, manifest says {obj.rows}"
                )
            self.decoded: list[pa.RecordBatch] | None = None
            if self.reader.num_rows <= DECODE_AHEAD_ROWS:
                self.decoded = list(self.reader.iter_batches())
        except BaseException:
            self.close()
            raise

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self.decoded is not None:
            yield from self.decoded
        else:
            yield from self.reader.iter_batches()

    def close(self) -> None:
        self._source.close()


def read_table_batches(
    s3: S3Client, bucket: str, objects: Sequence[LakeObject], table: StarTable
) -> Iterator[pa.RecordBatch | pa.Table]:
    """All rows of a table's objects, in manifest order, in chunks of about BATCH_ROWS rows.

    Objects are fetched PREFETCH_OBJECTS ahead in threads (boto3 clients are thread-safe);
    small ones are decoded there too and gathered until a chunk holds BATCH_ROWS rows, so
    memory stays bounded whatever the object count.
    """
    with ThreadPoolExecutor(max_workers=PREFETCH_OBJECTS) as pool:
        pending: deque[Future[FetchedObject]] = deque()
        remaining = iter(objects)

        def submit_next() -> None:
            obj = next(remaining, None)
            if obj is not None:
                pending.append(pool.submit(_fetch, s3, bucket, obj, table))

        for _ in range(PREFETCH_OBJECTS):
            submit_next()
        gathered: list[pa.RecordBatch] = []
        gathered_rows = 0
        try:
            while pending:
                fetched = pending.popleft().result()
                submit_next()
                try:
                    for batch in fetched.batches():
                        gathered.append(batch)
                        gathered_rows += batch.num_rows
                        if gathered_rows >= BATCH_ROWS:
                            yield pa.Table.from_batches(gathered)
                            gathered, gathered_rows = [], 0
                finally:
                    fetched.close()
            if gathered:
                yield pa.Table.from_batches(gathered)
        finally:
            for future in pending:
                future.cancel()
                if future.done() and not future.cancelled() and future.exception() is None:
                    future.result().close()


def _fetch(s3: S3Client, bucket: str, obj: LakeObject, table: StarTable) -> FetchedObject:
    """Download one object (into memory when small, else a temporary file) and open it."""
    try:
        response = s3.get_object(Bucket=bucket, Key=obj.key)
    except ClientError as exc:
        raise _s3_error(exc, bucket, obj.key) from exc
    source: IO[bytes] | pa.NativeFile
    if response.get("ContentLength", IN_MEMORY_BYTES + 1) <= IN_MEMORY_BYTES:
        try:
            data = response["Body"].read()
        except ClientError as exc:
            raise _s3_error(exc, bucket, obj.key) from exc
        source = pa.BufferReader(data)
    else:
        source = tempfile.TemporaryFile(prefix="lake-")  # noqa: SIM115 - closed by the reader
        try:
            shutil.copyfileobj(response["Body"], source, COPY_BUFFER_BYTES)
            source.seek(0)
        except BaseException:
            source.close()
            raise
    return FetchedObject(obj, table, source)

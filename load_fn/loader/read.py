"""Parquet objects of the lake as Arrow record batches in the star table's exact column types.

Decimals stay decimals and nullable ids stay integers: the types are Arrow's, never pandas'.
An object is spooled to a temporary file and read a record batch at a time, so memory
holds one batch whatever the object's size.
"""

from __future__ import annotations

import datetime
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from loader.exceptions import LakeSchemaError, ManifestError, RowCountMismatchError
from loader.manifest import LakeObject
from loader.schema import Column, LakeType, StarTable
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


def download_object(s3: S3Client, bucket: str, key: str, target: IO[bytes]) -> None:
    """Copy one object into a local file; a missing object is a terminal error."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        shutil.copyfileobj(body, target, COPY_BUFFER_BYTES)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            raise ObjectNotFoundError(f"s3://{bucket}/{key} does not exist") from exc
        raise TransientError(f"s3://{bucket}/{key}: S3 error {code}") from exc
    target.seek(0)


class ObjectReader:
    """An opened, schema-checked Parquet object of one star table."""

    def __init__(self, source: IO[bytes], obj: LakeObject, table: StarTable) -> None:
        self.key = obj.key
        self.table = table
        try:
            self._file = pq.ParquetFile(source)
        except (pa.ArrowException, OSError) as exc:
            raise LakeSchemaError(f"{obj.key} is not a readable Parquet object: {exc}") from exc
        self.num_rows = self._file.metadata.num_rows
        schema = self._file.schema_arrow
        self._partition = {
            column.name: _partition_value(obj, column)
            for column in table.columns
            if column.name in obj.partition
        }
        self._file_columns = [c for c in table.columns if c.name not in self._partition]
        problems = []
        for column in self._file_columns:
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
        names = [column.name for column in self._file_columns]
        try:
            for batch in self._file.iter_batches(batch_size=BATCH_ROWS, columns=names):
                yield self._shape(batch)
        except pa.ArrowException as exc:
            raise LakeSchemaError(f"{self.key} ({self.table.name}): {exc}") from exc

    def _shape(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        arrays = []
        for column in self.table.columns:
            target = ARROW_TYPES[column.lake_type]
            if column.name in self._partition:
                value = self._partition[column.name]
                arrays.append(pa.array([value] * batch.num_rows, type=target))
            else:
                arrays.append(batch.column(column.name).cast(target, safe=True))
        return pa.RecordBatch.from_arrays(arrays, names=list(self.table.column_names))


def _partition_value(obj: LakeObject, column: Column) -> Any:
    """A Hive partition value from the object's path, in the column's Python type."""
    text = obj.partition[column.name]
    try:
        if column.lake_type == "date":
            return datetime.date.fromisoformat(text)
        if column.lake_type == "int":
            return int(text)
    except ValueError as exc:
        raise ManifestError(
            f"{obj.key}: partition {column.name}={text!r} is not a {column.lake_type}"
        ) from exc
    return text


PREFETCH_OBJECTS = 8
"""Objects downloaded ahead of the COPY, so S3 latency overlaps the database's work."""


def read_table_batches(
    s3: S3Client, bucket: str, objects: Sequence[LakeObject], table: StarTable
) -> Iterator[pa.RecordBatch]:
    """All record batches of a table's objects, in manifest order, for one COPY.

    Downloads run PREFETCH_OBJECTS ahead in threads (boto3 clients are thread-safe), each
    spooled to a temporary file, so memory stays bounded whatever the object count.
    """
    with ThreadPoolExecutor(max_workers=PREFETCH_OBJECTS) as pool:
        pending: deque[tuple[LakeObject, Future[IO[bytes]]]] = deque()
        remaining = iter(objects)

        def submit_next() -> None:
            obj = next(remaining, None)
            if obj is not None:
                pending.append((obj, pool.submit(_spool, s3, bucket, obj.key)))

        for _ in range(PREFETCH_OBJECTS):
            submit_next()
        try:
            while pending:
                obj, future = pending.popleft()
                submit_next()
                with future.result() as spool:
                    reader = ObjectReader(spool, obj, table)
                    if obj.rows is not None and reader.num_rows != obj.rows:
                        raise RowCountMismatchError(
                            f"{obj.key}: {reader.num_rows} rows, manifest says {obj.rows}"
                        )
                    yield from reader.iter_batches()
        finally:
            for _, future in pending:
                future.cancel()
                if future.done() and not future.cancelled() and future.exception() is None:
                    future.result().close()


def _spool(s3: S3Client, bucket: str, key: str) -> IO[bytes]:
    """Download one object into a temporary file (deleted when closed)."""
    spool = tempfile.TemporaryFile(prefix="lake-")  # noqa: SIM115 - closed by the reader
    try:
        download_object(s3, bucket, key, spool)
    except BaseException:
        spool.close()
        raise
    return spool

"""Parquet objects of the lake as Arrow record batches in the star table's exact column types.

Decimals stay decimals and nullable ids stay integers: the types are Arrow's, never pandas'.
A batch's objects are fetched in load order by one LakeReader, ahead of the COPY and across
table boundaries, so the next table's objects download while the database checks this
table's keys. A small object (the common case: one fact partition of one batch) is
downloaded and decoded in a worker thread, and consecutive small objects are handed on
together, so a batch of many small objects costs few COPY chunks. A large object is
decoded a record batch at a time as the COPY takes it (spooled to a temporary file when
big), so memory holds one batch whatever the object's size.
"""

from __future__ import annotations

import contextlib
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
from loader.manifest import LakeObject, TablePlan
from loader.schema import LakeType, StarTable
from pipeline_common.s3objects import read_error

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


FETCH_THREADS = 8
"""Objects downloaded (and, when small, decoded) at once, in threads: S3 latency and
Parquet decoding (which releases the GIL) overlap the database's work."""

AHEAD_ROWS = 250_000
"""How far a batch is fetched ahead of its COPY, in rows (the manifest's counts). Past
FETCH_THREADS objects, fetching stops here, so memory stays bounded; up to here it runs on
while the database checks one table's keys or merges a dimension, so the next table's
objects are ready when its COPY starts."""

AHEAD_OBJECTS = 64
"""And at most this many objects ahead, whatever their size."""


class LakeReader:
    """Reads a batch's objects, table after table, fetching ahead across table boundaries.

    Created with the batch's plans in load order; `table_batches(plan)` is then called for
    each plan in that order. Objects are fetched in that order in FETCH_THREADS threads
    (boto3 clients are thread-safe), at least FETCH_THREADS and at most AHEAD_OBJECTS
    objects or AHEAD_ROWS rows ahead of the COPY. A plan read again (the merge after a
    straight COPY met a known key) is fetched anew, with its own look-ahead.
    """

    def __init__(self, s3: S3Client, bucket: str, plans: Sequence[TablePlan]) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._todo: deque[tuple[StarTable, LakeObject, int]] = deque(
            (plan.table, obj, _rows(plan, obj)) for plan in plans for obj in plan.objects
        )
        self._ahead: dict[tuple[str, str], tuple[Future[FetchedObject], int]] = {}
        self._rows_ahead = 0
        self._pool = ThreadPoolExecutor(max_workers=FETCH_THREADS, thread_name_prefix="lake")
        self._fill()

    def __enter__(self) -> LakeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop fetching and release what was fetched and not read."""
        self._todo.clear()
        for future, _ in self._ahead.values():
            _discard(future)
        self._ahead.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def table_batches(self, plan: TablePlan) -> Iterator[pa.RecordBatch | pa.Table]:
        """All rows of a plan's objects, in manifest order, in chunks of about BATCH_ROWS rows."""
        table = plan.table
        if not plan.objects:
            return
        if (table.name, plan.objects[0].key) not in self._ahead:  # already read: fetch anew
            with LakeReader(self._s3, self._bucket, [plan]) as again:
                yield from again.table_batches(plan)
            return
        try:
            yield from _gather(self._take(table, obj) for obj in plan.objects)
        finally:
            self._forget(plan)

    def _forget(self, plan: TablePlan) -> None:
        """Drop a plan's objects not read (its COPY stopped early), so later tables go on."""
        keys = {(plan.table.name, obj.key) for obj in plan.objects}
        self._todo = deque(item for item in self._todo if (item[0].name, item[1].key) not in keys)
        for key in keys & self._ahead.keys():
            future, rows = self._ahead.pop(key)
            self._rows_ahead -= rows
            _discard(future)
        self._fill()

    def _take(self, table: StarTable, obj: LakeObject) -> FetchedObject:
        # Taken in the order submitted, and _fill keeps the next ones submitted.
        future, rows = self._ahead.pop((table.name, obj.key))
        self._rows_ahead -= rows
        self._fill()
        return future.result()

    def _fill(self) -> None:
        while self._todo and (
            len(self._ahead) < FETCH_THREADS
            or (len(self._ahead) < AHEAD_OBJECTS and self._rows_ahead < AHEAD_ROWS)
        ):
            self._submit()

    def _submit(self) -> None:
        table, obj, rows = self._todo.popleft()
        future = self._pool.submit(_fetch, self._s3, self._bucket, obj, table)
        self._ahead[(table.name, obj.key)] = (future, rows)
        self._rows_ahead += rows


def _rows(plan: TablePlan, obj: LakeObject) -> int:
    """An object's rows as the manifest gives them (a dimension's: its share of the table's)."""
    if obj.rows is not None:
        return obj.rows
    if plan.rows is not None:
        return -(-plan.rows // len(plan.objects))
    return BATCH_ROWS


def _discard(future: Future[FetchedObject]) -> None:
    """Cancel a fetch, or close what it fetched (a failed fetch has nothing to close)."""
    if future.cancel():
        return
    with contextlib.suppress(Exception):
        future.result().close()


def _gather(fetched: Iterator[FetchedObject]) -> Iterator[pa.RecordBatch | pa.Table]:
    """Consecutive small objects' batches gathered into chunks of about BATCH_ROWS rows."""
    gathered: list[pa.RecordBatch] = []
    gathered_rows = 0
    for obj in fetched:
        try:
            for batch in obj.batches():
                gathered.append(batch)
                gathered_rows += batch.num_rows
                if gathered_rows >= BATCH_ROWS:
                    yield pa.Table.from_batches(gathered)
                    gathered, gathered_rows = [], 0
        finally:
            obj.close()
    if gathered:
        yield pa.Table.from_batches(gathered)


def _fetch(s3: S3Client, bucket: str, obj: LakeObject, table: StarTable) -> FetchedObject:
    """Download one object (into memory when small, else a temporary file) and open it."""
    try:
        response = s3.get_object(Bucket=bucket, Key=obj.key)
    except ClientError as exc:
        raise read_error(exc, bucket, obj.key) from exc
    source: IO[bytes] | pa.NativeFile
    if response.get("ContentLength", IN_MEMORY_BYTES + 1) <= IN_MEMORY_BYTES:
        try:
            data = response["Body"].read()
        except ClientError as exc:
            raise read_error(exc, bucket, obj.key) from exc
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

"""The loader's LakeReader against moto S3: every row in manifest order, fetched ahead across
tables and no further than its bounds, and nothing left behind when a COPY stops early."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

import loader.read
from loader.manifest import LakeObject, TablePlan
from loader.read import LakeReader
from loader.schema import STAR_TABLES
from tests.integration.load.load_lake import parquet_bytes

CURRENCY = STAR_TABLES["dim_currency"]
STAFF = STAR_TABLES["dim_staff"]


class RecordingS3:
    """The boto3 client the reader is given, noting each GetObject's key (thread-safe)."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3
        self._lock = threading.Lock()
        self.gets: list[str] = []

    def get_object(self, **kwargs: Any) -> Any:
        with self._lock:
            self.gets.append(kwargs["Key"])
        return self._s3.get_object(**kwargs)


def currency_plan(s3: Any, bucket: str, name: str, ids: list[list[int]]) -> TablePlan:
    """A dim_currency plan of one object per list of ids."""
    objects = []
    for n, group in enumerate(ids):
        key = f"_changes/dim_currency/{name}/part-{n}.parquet"
        rows = [
            {"currency_id": i, "currency_code": f"C{i:02d}", "currency_name": None} for i in group
        ]
        s3.put_object(Bucket=bucket, Key=key, Body=parquet_bytes("dim_currency", rows))
        objects.append(LakeObject(key, {}, len(group)))
    return TablePlan(CURRENCY, tuple(objects), sum(map(len, ids)))


def staff_plan(s3: Any, bucket: str, ids: list[int]) -> TablePlan:
    key = "_changes/dim_staff/part-0.parquet"
    rows = [
        {
            "staff_id": i,
            "first_name": f"F{i}",
            "last_name": "L",
            "department_name": "D",
            "location": "Leeds",
            "email_address": f"s{i}@example.com",
        }
        for i in ids
    ]
    s3.put_object(Bucket=bucket, Key=key, Body=parquet_bytes("dim_staff", rows))
    return TablePlan(STAFF, (LakeObject(key, {}),), len(ids))


def ids_of(chunks: list[pa.RecordBatch | pa.Table], column: str) -> list[int]:
    return [i for chunk in chunks for i in chunk.column(column).to_pylist()]


def settles(count: Callable[[], int], expected: int) -> None:
    """Wait for the fetch threads to reach `expected`, then check they stop there."""
    deadline = time.monotonic() + 10
    while count() < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert count() == expected


def test_every_row_comes_in_manifest_order_and_the_next_table_is_fetched_meanwhile(
    s3: Any, processed_bucket: str
) -> None:
    currency = currency_plan(s3, processed_bucket, "a", [[3, 1], [2], [7, 5, 4]])
    staff = staff_plan(s3, processed_bucket, [9, 8])
    recorder = RecordingS3(s3)
    with LakeReader(recorder, processed_bucket, [currency, staff]) as lake:
        assert ids_of(list(lake.table_batches(currency)), "currency_id") == [3, 1, 2, 7, 5, 4]
        # While the database would be writing dim_currency, dim_staff is already fetched.
        settles(lambda: len(recorder.gets), 4)
        assert recorder.gets[-1] == staff.objects[0].key
        assert ids_of(list(lake.table_batches(staff)), "staff_id") == [9, 8]
    assert len(recorder.gets) == 4


def test_fetching_ahead_stops_at_its_row_and_object_bounds(
    s3: Any, processed_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader.read, "FETCH_THREADS", 2)
    monkeypatch.setattr(loader.read, "AHEAD_OBJECTS", 4)
    monkeypatch.setattr(loader.read, "AHEAD_ROWS", 5)
    monkeypatch.setattr(loader.read, "BATCH_ROWS", 2)  # a COPY chunk per object
    plan = currency_plan(s3, processed_bucket, "b", [[i, i + 100] for i in range(10)])
    recorder = RecordingS3(s3)
    with LakeReader(recorder, processed_bucket, [plan]) as lake:
        settles(lambda: len(recorder.gets), 3)  # 2 rows each: past 2 objects, up to 5 rows
        monkeypatch.setattr(loader.read, "AHEAD_ROWS", 1_000)
        chunks = lake.table_batches(plan)
        first = next(chunks)
        settles(lambda: len(recorder.gets), 1 + 4)  # one taken, AHEAD_OBJECTS more
        rest = list(chunks)
    assert ids_of([first, *rest], "currency_id") == [j for i in range(10) for j in (i, i + 100)]
    assert len(recorder.gets) == 10


def test_a_table_read_again_is_fetched_anew_and_gives_the_same_rows(
    s3: Any, processed_bucket: str
) -> None:
    currency = currency_plan(s3, processed_bucket, "c", [[1, 2], [3]])
    staff = staff_plan(s3, processed_bucket, [5])
    recorder = RecordingS3(s3)
    with LakeReader(recorder, processed_bucket, [currency, staff]) as lake:
        first = ids_of(list(lake.table_batches(currency)), "currency_id")
        again = ids_of(list(lake.table_batches(currency)), "currency_id")  # the merge path
        assert first == again == [1, 2, 3]
        assert ids_of(list(lake.table_batches(staff)), "staff_id") == [5]
    assert sorted(recorder.gets) == sorted(
        [*(o.key for o in currency.objects)] * 2 + [staff.objects[0].key]
    )


def test_a_copy_that_stops_early_drops_its_table_and_the_next_table_still_reads(
    s3: Any, processed_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader.read, "BATCH_ROWS", 2)
    currency = currency_plan(s3, processed_bucket, "d", [[1, 2], [3, 4], [5, 6], [7, 8]])
    staff = staff_plan(s3, processed_bucket, [9])
    with LakeReader(s3, processed_bucket, [currency, staff]) as lake:
        chunks = lake.table_batches(currency)
        assert ids_of([next(chunks)], "currency_id") == [1, 2]
        chunks.close()  # the COPY stopped (an error in the stream)
        assert ids_of(list(lake.table_batches(staff)), "staff_id") == [9]
        assert ids_of(list(lake.table_batches(currency)), "currency_id") == list(range(1, 9))

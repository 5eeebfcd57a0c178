"""COPY of one table's window `[lo, hi)`: exact bounds, key order, nothing for no rows."""

from __future__ import annotations

from functools import partial

from ingest.extract import extract_table
from ingest.source import describe_tables
from ingest.upload import GzipObjectWriter
from ingest.window import Window
from tests.integration.ingest.support import read_part

T0, T1, T2, T3, T4 = (
    "2024-11-15 14:00:00.000000",
    "2024-11-15 14:00:00.001000",
    "2024-11-15 14:00:00.002000",
    "2024-11-15 14:00:01.000000",
    "2024-11-15 14:00:02.000000",
)


def _extract(conn, s3, bucket, window: Window, tag: str):
    spec = describe_tables(conn, ("currency",))["currency"]

    def open_part(part: int) -> GzipObjectWriter:
        return GzipObjectWriter(s3, bucket, f"{tag}/part-{part:05d}.csv.gz")

    result = extract_table(conn, spec, window, partial(open_part), part_rows=100).wait()
    return result, [read_part(s3, bucket, part.key) for part in result.parts]


def test_window_takes_lo_and_leaves_hi_in_primary_key_order(empty_totesys, s3, bucket) -> None:
    conn = empty_totesys
    for currency_id, code, stamp in [(4, "D", T3), (3, "C", T2), (1, "A", T0), (2, "B", T1)]:
        conn.run(
            "INSERT INTO currency (currency_id, currency_code, created_at, last_updated) "
            "VALUES (:i, :c, CAST(:t AS timestamp), CAST(:t AS timestamp))",
            i=currency_id,
            c=code,
            t=stamp,
        )

    first, [first_rows] = _extract(conn, s3, bucket, Window(None, T1), "first")
    middle, [middle_rows] = _extract(conn, s3, bucket, Window(T1, T3), "middle")
    last, [last_rows] = _extract(conn, s3, bucket, Window(T3, T4), "last")

    header = ["currency_id", "currency_code", "created_at", "last_updated"]
    assert first_rows == [header, ["1", "A", "2024-11-15 14:00:00", "2024-11-15 14:00:00"]]
    assert middle_rows == [
        header,
        ["2", "B", "2024-11-15 14:00:00.001", "2024-11-15 14:00:00.001"],
        ["3", "C", "2024-11-15 14:00:00.002", "2024-11-15 14:00:00.002"],
    ]
    assert last_rows == [header, ["4", "D", "2024-11-15 14:00:01", "2024-11-15 14:00:01"]]
    assert (first.rows, middle.rows, last.rows) == (1, 2, 1)


def test_window_without_rows_writes_no_object(empty_totesys, s3, bucket) -> None:
    result, parts = _extract(empty_totesys, s3, bucket, Window(T0, T4), "none")
    empty, _ = _extract(empty_totesys, s3, bucket, Window(T4, T4), "empty")

    assert (result.rows, result.parts, parts) == (0, (), [])
    assert (empty.rows, empty.parts) == (0, ())
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0

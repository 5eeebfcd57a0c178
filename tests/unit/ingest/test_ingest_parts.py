"""COPY rows are split into parts of at most PART_ROWS rows, each starting with the header."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from ingest.upload import GZIP_WBITS, CsvPartWriter, new_compressor

HEADER = b"id,name\n"


class FakePart:
    """Stands in for GzipObjectWriter: keeps what it is given in memory."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.chunks: list[bytes] = []
        self.finished = self.closed = self.aborted = self.failed = False
        self.bytes = self.csv_bytes = 0

    def write(self, data: bytes) -> None:
        assert not self.finished
        self.chunks.append(data)
        self.csv_bytes += len(data)

    def finish(self) -> None:
        self.finished = True

    def close(self) -> int:
        assert self.finished
        if self.failed:
            raise OSError(f"upload of {self.key} failed")
        self.closed = True
        self.bytes = self.csv_bytes // 2
        return self.bytes

    def abort(self) -> None:
        self.aborted = True


def _writer(part_rows: int, chunk_bytes: int = 1 << 20) -> tuple[CsvPartWriter, list[FakePart]]:
    opened: list[FakePart] = []

    def open_part(n: int) -> FakePart:
        opened.append(FakePart(f"part-{n:05d}"))
        return opened[-1]

    return CsvPartWriter(open_part, part_rows=part_rows, chunk_bytes=chunk_bytes), opened


def _rows(n: int) -> list[bytes]:
    return [f'{i},"row\n{i}"\n'.encode() for i in range(1, n + 1)]


def test_rows_split_into_parts_each_with_the_header() -> None:
    writer, opened = _writer(part_rows=3)
    rows = _rows(7)
    writer.write_rows([HEADER, *rows[:2]])
    writer.write_rows(rows[2:])

    parts = writer.close()

    assert [(p.key, p.rows) for p in parts] == [
        ("part-00000", 3),
        ("part-00001", 3),
        ("part-00002", 1),
    ]
    assert [b"".join(p.chunks) for p in opened] == [
        HEADER + b"".join(rows[0:3]),
        HEADER + b"".join(rows[3:6]),
        HEADER + rows[6],
    ]
    assert all(p.closed for p in opened)
    assert [p.bytes for p in parts] == [p.bytes for p in opened]
    assert writer.rows == 7


def test_exact_multiple_of_part_rows_leaves_no_empty_part() -> None:
    writer, opened = _writer(part_rows=2)
    writer.write_rows([HEADER])
    writer.write_rows(_rows(4))

    assert [p.rows for p in writer.close()] == [2, 2]
    assert len(opened) == 2


def test_header_only_writes_no_part() -> None:
    writer, opened = _writer(part_rows=2)
    writer.write_rows([HEADER])
    writer.write_rows([])

    assert writer.close() == []
    assert opened == []


def test_rows_reach_the_part_in_chunks_not_one_by_one() -> None:
    writer, opened = _writer(part_rows=1000, chunk_bytes=40)
    writer.write_rows([HEADER])
    for row in _rows(20):
        writer.write_rows([row])
    writer.close()

    [part] = opened
    assert 1 < len(part.chunks) < 20
    assert all(len(chunk) >= 40 for chunk in part.chunks[:-1])


def test_a_full_part_uploads_while_the_next_fills_and_the_one_before_is_waited_for() -> None:
    writer, opened = _writer(part_rows=2)
    writer.write_rows([HEADER, *_rows(5)])

    # part 0 was waited for when part 1 finished; part 1 uploads while part 2 fills
    assert [(p.finished, p.closed) for p in opened] == [(True, True), (True, False), (False, False)]
    assert [p.rows for p in writer.parts] == [2]
    assert writer.rows == 5
    writer.finish()
    assert [(p.finished, p.closed) for p in opened] == [(True, True), (True, True), (True, False)]
    assert [p.rows for p in writer.close()] == [2, 2, 1]
    assert all(p.closed for p in opened)


def test_a_failed_upload_is_raised_when_the_next_part_finishes() -> None:
    writer, opened = _writer(part_rows=2)
    writer.write_rows([HEADER, *_rows(3)])
    opened[0].failed = True

    with pytest.raises(OSError, match="upload of part-00000 failed"):
        writer.write_rows(_rows(1))


def test_abort_aborts_every_upload_not_yet_complete() -> None:
    writer, opened = _writer(part_rows=2)
    writer.write_rows([HEADER, *_rows(5)])

    writer.abort()

    assert [(p.closed, p.aborted) for p in opened] == [(True, False), (False, True), (False, True)]


def test_part_rows_must_be_positive() -> None:
    with pytest.raises(ValueError, match="part_rows"):
        CsvPartWriter(lambda n: FakePart(str(n)), part_rows=0)


def test_compressor_writes_gzip_that_any_reader_opens() -> None:
    data = b"id,name\n" + b"".join(_rows(10_000))
    compressor = new_compressor()
    body = compressor.compress(data[:50_000]) + compressor.compress(data[50_000:])
    body += compressor.flush()

    assert body[:2] == b"\x1f\x8b"
    assert gzip.decompress(body) == data
    assert zlib.decompress(body, GZIP_WBITS) == data
    assert type(compressor).__module__.startswith("isal")  # the layer ships isal


@pytest.mark.parametrize("seed", range(5))
def test_any_row_sizes_split_exactly_at_part_rows_and_keep_every_byte(seed: int) -> None:
    rng = random.Random(seed)
    part_rows = rng.randint(1, 700)
    rows = [b"x" * rng.choice([1, 5, 80, 3000]) + b"\n" for _ in range(rng.randint(0, 3000))]
    writer, opened = _writer(part_rows=part_rows, chunk_bytes=rng.choice([40, 4096, 1 << 20]))
    stream = [HEADER, *rows]
    written = 0
    while written < len(stream):  # blocks as pipeline_common.copy hands them on, of any length
        size = rng.choice([0, 1, 2, 79, 1000])
        writer.write_rows(stream[written : written + size])
        written = min(len(stream), written + size)
        assert writer.rows == max(0, written - 1)
    writer.write_rows([])

    parts = writer.close()

    expected = [rows[i : i + part_rows] for i in range(0, len(rows), part_rows)]
    assert [p.rows for p in parts] == [len(e) for e in expected]
    assert [b"".join(p.chunks) for p in opened] == [HEADER + b"".join(e) for e in expected]

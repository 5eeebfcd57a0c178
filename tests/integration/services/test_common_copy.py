"""pipeline_common.copy on a real Postgres: COPY OUT read in blocks gives exactly the rows
pg8000 gives one by one, and COPY IN takes chunks, files and failures as a load needs."""

from __future__ import annotations

from typing import Any

import pytest
from pg8000.core import COPY_OUT_RESPONSE
from pg8000.exceptions import DatabaseError

from pipeline_common.copy import ChunkStream, copy_in, copy_rows_out

# Quotes, commas, newlines and CRs inside values, non-ASCII, NULLs and empty strings, and
# one value far longer than the socket file's 8 KiB buffer, among 20,000 short rows.
TRICKY_SQL = """
SELECT g AS id,
       CASE g % 7 WHEN 0 THEN 'say "hi", then' || chr(10) || 'go' WHEN 1 THEN NULL
                  WHEN 2 THEN '' WHEN 3 THEN 'Zoë ' || chr(13) || chr(10) || '€'
                  WHEN 4 THEN repeat('long,', CASE WHEN g = 11 THEN 40000 ELSE 3 END)
                  ELSE 'plain ' || g END AS note,
       (DATE '2024-11-15' + g)::text AS day
FROM generate_series(1, 20000) AS g ORDER BY g
"""


class Blocks:
    """A sink that keeps every block it is handed."""

    def __init__(self) -> None:
        self.blocks: list[list[bytes]] = []

    def write_rows(self, rows: list[bytes]) -> None:
        self.blocks.append(list(rows))

    @property
    def rows(self) -> list[bytes]:
        return [row for block in self.blocks for row in block]


class OneByOne:
    """pg8000's own way: one write per CopyData message."""

    def __init__(self) -> None:
        self.rows: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.rows.append(bytes(data))


class SinkFailed(Exception):
    pass


def _pg8000_rows(conn: Any, sql: str) -> list[bytes]:
    stream = OneByOne()
    conn.run(sql, stream=stream)
    return stream.rows


@pytest.fixture
def conn(postgres: Any) -> Any:
    connection = postgres.connect()
    yield connection
    connection.close()


def test_rows_are_exactly_pg8000s_own_in_blocks_of_many(conn: Any) -> None:
    sql = f"COPY ({TRICKY_SQL}) TO STDOUT (FORMAT csv, HEADER)"
    expected = _pg8000_rows(conn, sql)
    sink = Blocks()

    copy_rows_out(conn, sql, sink)

    assert sink.rows == expected
    assert len(expected) == 20_001
    assert expected[0] == b"id,note,day\n"
    assert expected[7] == b'7,"say ""hi"", then\ngo",2024-11-22\n'
    assert expected[11] == b'11,"' + b"long," * 40000 + b'",2024-11-26\n'
    assert max(len(block) for block in sink.blocks) > 50  # rows come in blocks, not one by one
    assert conn.run("SELECT 1") == [[1]]  # the connection is ready for the next statement


def test_a_text_copy_and_an_empty_result_come_through_unchanged(conn: Any) -> None:
    text_sql = f"COPY ({TRICKY_SQL}) TO STDOUT"
    empty_sql = "COPY (SELECT 1 AS one WHERE false) TO STDOUT (FORMAT csv, HEADER)"
    bare_sql = "COPY (SELECT 1 AS one WHERE false) TO STDOUT (FORMAT csv)"
    text, empty, bare = Blocks(), Blocks(), Blocks()

    copy_rows_out(conn, text_sql, text)
    copy_rows_out(conn, empty_sql, empty)
    copy_rows_out(conn, bare_sql, bare)

    assert text.rows == _pg8000_rows(conn, text_sql)
    assert empty.rows == [b"one\n"]
    assert bare.blocks == []


def test_notices_between_rows_reach_pg8000_and_no_row_is_lost(conn: Any) -> None:
    conn.run(
        "CREATE FUNCTION noisy(i int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN "
        "IF i % 1000 = 0 THEN RAISE NOTICE 'row %', i; END IF; RETURN i; END $$"
    )
    sink = Blocks()

    copy_rows_out(conn, "COPY (SELECT noisy(g) FROM generate_series(1, 5000) g) TO STDOUT", sink)

    assert sink.rows == [f"{i}\n".encode() for i in range(1, 5001)]
    notices = [notice[b"M"] for notice in conn.notices]
    assert notices == [f"row {i}".encode() for i in range(1000, 5001, 1000)]


def test_a_query_failing_mid_copy_raises_pg8000s_error_and_the_connection_stays_usable(
    conn: Any,
) -> None:
    sink = Blocks()
    sql = "COPY (SELECT 1 / (g - 15000) FROM generate_series(1, 20000) g) TO STDOUT"

    with pytest.raises(DatabaseError) as raised:
        copy_rows_out(conn, sql, sink)

    assert raised.value.args[0]["C"] == "22012"  # division_by_zero
    # every row before the failing one (Postgres's integer division truncates), none after
    assert sink.rows == [f"{int(1 / (g - 15000))}\n".encode() for g in range(1, 15000)]
    assert conn.run("SELECT 2") == [[2]]
    assert conn.message_types[COPY_OUT_RESPONSE] == conn.handle_COPY_OUT_RESPONSE


def test_a_failing_sink_propagates_and_pg8000s_handler_is_put_back(conn: Any) -> None:
    class Failing:
        def write_rows(self, rows: list[bytes]) -> None:
            raise SinkFailed("disk full")

    with pytest.raises(SinkFailed, match="disk full"):
        copy_rows_out(conn, f"COPY ({TRICKY_SQL}) TO STDOUT", Failing())

    assert conn.message_types[COPY_OUT_RESPONSE] == conn.handle_COPY_OUT_RESPONSE


def test_an_object_without_pg8000s_internals_is_refused() -> None:
    with pytest.raises(TypeError, match="pinned pg8000"):
        copy_rows_out(object(), "COPY (SELECT 1) TO STDOUT", Blocks())  # type: ignore[arg-type]


class CsvRows:
    """A sink that joins the rows back into one CSV document."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write_rows(self, rows: list[bytes]) -> None:
        self.parts.extend(rows)

    @property
    def csv(self) -> bytes:
        return b"".join(self.parts)


def _tricky_table(conn: Any, name: str) -> None:
    conn.run(f"CREATE TEMPORARY TABLE {name} (id int PRIMARY KEY, note text, day text)")


def test_rows_copied_out_come_back_in_unchanged_from_chunks_cut_anywhere(conn: Any) -> None:
    out = CsvRows()
    copy_rows_out(conn, f"COPY ({TRICKY_SQL}) TO STDOUT (FORMAT csv)", out)
    data = out.csv
    _tricky_table(conn, "copied")
    chunks = [data[i : i + 7777] for i in range(0, len(data), 7777)]  # rows cut mid-value

    rows = copy_in(conn, "COPY copied (id, note, day) FROM STDIN (FORMAT csv)", chunks)

    assert rows == 20_000
    again = CsvRows()
    copy_rows_out(conn, "COPY (SELECT * FROM copied ORDER BY id) TO STDOUT (FORMAT csv)", again)
    assert again.csv == data  # NULL vs '', quotes, CR/LF, non-ASCII and the 200 kB value
    assert conn.run("SELECT count(*) FROM copied WHERE note IS NULL") == [[2858]]


def test_a_binary_file_is_copied_in_as_pg8000_reads_it(conn: Any, tmp_path: Any) -> None:
    out = CsvRows()
    copy_rows_out(conn, f"COPY ({TRICKY_SQL}) TO STDOUT (FORMAT csv, HEADER)", out)
    path = tmp_path / "tricky.csv"
    path.write_bytes(out.csv)
    _tricky_table(conn, "from_file")

    with path.open("rb") as stream:
        rows = copy_in(conn, "COPY from_file FROM STDIN (FORMAT csv, HEADER)", stream)

    assert rows == 20_000
    assert conn.run("SELECT note FROM from_file WHERE id = 7") == [['say "hi", then\ngo']]


def test_an_error_producing_chunks_is_raised_after_the_copy_and_the_connection_stays_usable(
    conn: Any,
) -> None:
    class ReadFailed(Exception):
        pass

    def chunks() -> Any:
        yield b"1,a,x\n2,b,y\n"
        raise ReadFailed("the lake object went away")

    _tricky_table(conn, "partial")
    conn.run("START TRANSACTION")
    stream = ChunkStream(chunks())

    with pytest.raises(ReadFailed, match="went away"):
        copy_in(conn, "COPY partial FROM STDIN (FORMAT csv)", stream)

    assert isinstance(stream.error, ReadFailed)
    conn.run("ROLLBACK")  # what the caller does: the rows sent before the error go too
    assert conn.run("SELECT count(*) FROM partial") == [[0]]


def test_rows_the_table_refuses_raise_pg8000s_error_and_the_connection_stays_usable(
    conn: Any,
) -> None:
    _tricky_table(conn, "refusing")

    with pytest.raises(DatabaseError) as raised:
        copy_in(conn, "COPY refusing FROM STDIN (FORMAT csv)", [b"1,a,x\n", b"1,b,y\n"])

    assert raised.value.args[0]["C"] == "23505"  # unique_violation
    assert conn.run("SELECT count(*) FROM refusing") == [[0]]

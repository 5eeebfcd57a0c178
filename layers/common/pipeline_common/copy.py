"""COPY for both stages: rows out of a query in blocks (ingest), a stream of CSV chunks in
(the loader, the local ToteSys, the bench). The SQL of each COPY stays with its stage.

COPY TO STDOUT, read in blocks of rows instead of one Python call per row. Postgres sends
a COPY OUT as one CopyData message per row. pg8000 reads each through its generic message
loop (two socket reads, a header unpack, a handler lookup and a stream write per row): on
a million-order ToteSys (3.0M rows, 283 MB of CSV) that loop alone is 3.7 s of client
CPU, more than the server needs to produce the rows (1.9 s).

While a COPY runs, `copy_rows_out` takes pg8000's CopyOutResponse handler: it walks the
CopyData messages already in the connection's read buffer, takes them off it in one
read, and hands them on as a list of rows (1.3-1.6 s for the same rows). It stops at the
first message that is not CopyData (CopyDone, an ErrorResponse, a NoticeResponse) and
leaves it unread, so pg8000's own loop handles the end of the COPY and every error
exactly as it does without this module. Nothing past a CopyData message is ever consumed.

It relies on pg8000 internals: the buffered socket file (`_sock`), the message table
(`message_types`) and its exact-read helper (`_read`, which turns a short read or a socket
error into InterfaceError); the pg8000 pinned in this layer's requirements.txt has them,
and `copy_rows_out` raises at once if a version lacks the first two.

COPY FROM STDIN (`copy_in`) uses only pg8000's public `stream=`; what it adds is that an
error raised while producing the chunks ends the stream instead of escaping mid-COPY
(which would leave the connection inside the COPY protocol), and is raised once the COPY
has returned, so the caller's transaction still rolls back.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from io import IOBase
from typing import IO, Any, Protocol

import pg8000.native
from pg8000.core import COPY_OUT_RESPONSE, _read
from pg8000.exceptions import InterfaceError

COPY_DATA = ord("d")
_LENGTH = struct.Struct("!i")  # a message's length field counts itself, not the type byte
_BUFFER_BYTES = 1 << 16  # what one peek asks for; the socket file's buffer caps it (8 KiB)


class RowSink(Protocol):
    """Takes a COPY's rows in order, in blocks (the first row of a CSV HEADER COPY is the
    header); each row is one whole CSV record, newlines inside quotes included."""

    def write_rows(self, rows: list[bytes]) -> None: ...


def copy_rows_out(conn: pg8000.native.Connection, sql: str, sink: RowSink) -> None:
    """Run `sql` (a `COPY ... TO STDOUT`) on `conn`, handing its rows to `sink` in blocks.

    Errors are pg8000's own: a failing query raises DatabaseError with the connection
    still usable; a lost connection raises InterfaceError; an error raised by the sink
    propagates and leaves the COPY unread on the socket (the caller must close it).
    """
    handlers = getattr(conn, "message_types", None)
    sock = getattr(conn, "_sock", None)
    if not isinstance(handlers, dict) or not hasattr(sock, "peek"):
        raise TypeError(
            "this pg8000 has no buffered socket file or message table: "
            "pipeline_common.copy needs the pinned pg8000 (1.31)"
        )
    pg8000_handler: Callable[[bytes, Any], None] = handlers[COPY_OUT_RESPONSE]

    def copy_out_response(data: bytes, context: Any) -> None:
        pg8000_handler(data, context)  # checks the stream, as without this module
        _read_copy_data(sock, sink)

    handlers[COPY_OUT_RESPONSE] = copy_out_response
    try:
        conn.run(sql, stream=_OneRow(sink))
    finally:
        handlers[COPY_OUT_RESPONSE] = pg8000_handler


class _OneRow:
    """The binary stream pg8000 is given: a CopyData it reads itself is a block of one row."""

    def __init__(self, sink: RowSink) -> None:
        self._sink = sink

    def write(self, data: bytes) -> None:
        self._sink.write_rows([data])


def _read_copy_data(sock: Any, sink: RowSink) -> None:
    """Hand on every CopyData message from here on; return at the first other message."""
    unpack = _LENGTH.unpack_from
    while True:
        buffer = _peek(sock)
        end = len(buffer)
        position = 0
        rows = []
        while end - position >= 5 and buffer[position] == COPY_DATA:
            stop = position + 1 + unpack(buffer, position + 1)[0]
            if stop > end:
                break
            rows.append(buffer[position + 5 : stop])
            position = stop
        if rows:
            _read(sock, position)  # take off the buffer what was handed on
            sink.write_rows(rows)
        elif buffer[0] != COPY_DATA:
            return  # pg8000's loop reads it: CopyDone, then CommandComplete, or an error
        else:  # one CopyData longer than what is buffered: read it whole
            header = _read(sock, 5)
            sink.write_rows([_read(sock, unpack(header, 1)[0] - 4)])


def _peek(sock: Any) -> bytes:
    try:
        buffer: bytes = sock.peek(_BUFFER_BYTES)
    except OSError as exc:
        raise InterfaceError("network error") from exc
    if not buffer:
        raise InterfaceError("network error: the server closed the connection in a COPY")
    return buffer


class ChunkStream:
    """The chunks of a COPY FROM STDIN, as pg8000 iterates them; an error raised while
    producing them ends the stream early and is kept in `error` for the caller to raise
    after the COPY (see copy_in)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self.error: Exception | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        except Exception as exc:  # noqa: BLE001 - kept, and raised by copy_in
            self.error = exc


def copy_in(conn: pg8000.native.Connection, sql: str, source: Iterable[bytes] | IO[bytes]) -> int:
    """Run `sql` (a `COPY ... FROM STDIN`) with `source`'s bytes; returns the rows COPY took.

    `source` is a binary file (read by pg8000 in 8 KiB blocks) or an iterable of chunks,
    each any number of whole or partial rows. An error producing the chunks is raised
    after the COPY ends: the rows before it were sent, so run this inside a transaction
    and roll back on error. A failing COPY raises pg8000's DatabaseError.
    """
    if isinstance(source, IOBase):
        conn.run(sql, stream=source)
    else:
        stream = source if isinstance(source, ChunkStream) else ChunkStream(source)
        conn.run(sql, stream=stream)
        if stream.error is not None:
            raise stream.error
    return int(conn.row_count or 0)

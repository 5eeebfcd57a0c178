"""The commit fence: versions committed after the previous batch's snapshot, whatever their
`last_updated` (docs/adr/0007-commit-fence.md has the proof).

Each batch records its snapshot (`pg_current_snapshot()`: xmin, xmax, in-progress list) and
`seen_xids`: every transaction id at or after the snapshot's xmin that the snapshot saw
committed and that wrote a row the batch's windows covered. The next run takes, besides its
time window, the rows with `last_updated` before the old watermark whose `xmin` is at or
after the old snapshot's xmin and not in `seen_xids`: exactly the versions the old snapshot
could not see. Subtransaction ids (savepoints) are covered too, which
`pg_visible_in_snapshot` alone would not do (a snapshot's in-progress list holds only
top-level ids).

`xmin` is a 32-bit id; it is read as `age(xmin)`, its distance below the run's latest id
(stable for the whole transaction), which is exact for every row version less than 2^31
ids old. Only SELECT rights are needed: no replication slot, superuser or server setting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError

from ingest.exceptions import FenceError
from ingest.source import SOURCE_SCHEMA, WATERMARK_COLUMN, TableSpec, database_error
from ingest.window import timestamp_literal
from pipeline_common.contracts.manifests import Snapshot, SnapshotError
from pipeline_common.postgres import quote_identifier

# age() is an int4: distances of 2^31 or more cannot be told from wrapped ones.
MAX_SPAN = 2**31 - 2
# age(xid) for xid 3 (FirstNormalTransactionId) gives the transaction's stable latest id.
_FIRST_NORMAL_XID = 3

# Past this many new ids the check for one that became visible is not worth its cost.
_NEW_IDS_CHECKED = 10_000
# The snapshot, age()'s base, and whether any id visible now was not in the previous
# snapshot (:xip in progress then, or at or after :xmax): if none, nothing committed since
# and the fence is empty. pg_visible_in_snapshot() is true for an aborted id too, and for a
# subtransaction id whose parent is still running; both only make the fence run needlessly.
_SNAPSHOT_SQL = """
SELECT pg_snapshot_xmin(s)::text, pg_snapshot_xmax(s)::text,
       ARRAY(SELECT x::text FROM pg_snapshot_xip(s) AS x), age(CAST(:first AS text)::xid),
       EXISTS (SELECT FROM unnest(CAST(:xip AS text[])::xid8[]) AS x
               WHERE pg_visible_in_snapshot(x, s))
       OR pg_snapshot_xmax(s)::text::numeric - CAST(:xmax AS numeric) > CAST(:checked AS int)
       OR EXISTS (SELECT FROM generate_series(CAST(:xmax AS numeric),
                                              pg_snapshot_xmax(s)::text::numeric - 1) AS g
                  WHERE pg_visible_in_snapshot(g::text::xid8, s))
FROM pg_current_snapshot() AS s
"""


def snapshot_from_manifest(data: Any) -> Snapshot | None:
    """Parse a manifest's "snapshot" (None if absent: a batch written before the fence);
    a malformed one cannot fence this run."""
    try:
        return Snapshot.from_json(data)
    except SnapshotError as exc:
        raise FenceError(str(exc)) from exc


@dataclass(frozen=True)
class CurrentSnapshot:
    """This run's snapshot and `latest`, the 64-bit id that age() measures from."""

    xmin: int
    xmax: int
    xip: tuple[int, ...]
    latest: int
    committed_since: bool = True
    """Some id visible now was not in the previous batch's snapshot (True if none was given)."""

    def age_of(self, xid: int) -> int:
        """What age(xmin) returns in this transaction for a row written by `xid`."""
        return self.latest - xid


@dataclass(frozen=True)
class Fence:
    """Rows whose xmin is in [previous xmin, latest) and not one the previous batch saw."""

    span: int
    """age(xmin) <= span: xmin at or after the previous snapshot's xmin."""
    seen_ages: tuple[int, ...]
    """age() of each of the previous snapshot's seen_xids (committed before it: excluded)."""

    def sql_condition(self) -> str:
        """`age(xmin) BETWEEN 1 AND span [AND age(xmin) <> ALL('{...}')]`, integers only."""
        ages = [int(age) for age in self.seen_ages]  # ints formatted here: safe literals
        condition = f"age(xmin) BETWEEN 1 AND {int(self.span)}"
        if not ages:
            return condition
        return f"{condition} AND age(xmin) <> ALL('{{{','.join(map(str, ages))}}}'::int4[])"


def read_current_snapshot(
    conn: pg8000.native.Connection, previous: Snapshot | None = None
) -> CurrentSnapshot:
    """The transaction's snapshot, its stable latest id (fixed at the first age() call), and
    whether anything committed since `previous` (one statement)."""
    xip = [str(x) for x in previous.xip] if previous is not None else []
    since = str(previous.xmax) if previous is not None else "0"
    try:
        [[xmin, xmax, xip, age, committed]] = conn.run(
            _SNAPSHOT_SQL,
            first=str(_FIRST_NORMAL_XID),
            xip=xip,
            xmax=since,
            checked=_NEW_IDS_CHECKED,
        )
    except (InterfaceError, DatabaseError, OSError) as exc:
        raise database_error(exc, "reading the snapshot") from exc
    xmax8 = int(xmax)
    # age('3') = (int32)(latest32 - 3); latest is at or just after xmax, in xmax's epoch
    # or the next one: rebuild its 64 bits from xmax's.
    latest32 = (int(age) + _FIRST_NORMAL_XID) % 2**32
    latest = xmax8 + (latest32 - xmax8) % 2**32
    in_progress = tuple(sorted(int(x) for x in xip))
    return CurrentSnapshot(int(xmin), xmax8, in_progress, latest, previous is None or committed)


def fence_for(previous: Snapshot | None, current: CurrentSnapshot) -> Fence | None:
    """The fence over the previous batch's snapshot.

    None on a first run, after a manifest written before the fence, or when no transaction
    id became visible since the previous snapshot: then no version can be behind the fence,
    and the reads stay the plain windows (no per-row test).
    """
    if previous is None:
        return None
    span = current.age_of(previous.xmin)
    if span < 0:
        raise FenceError(
            f"the previous batch's snapshot (xmin {previous.xmin}) is ahead of this "
            f"database's transaction ids (latest {current.latest}): another database?"
        )
    if span > MAX_SPAN:
        raise FenceError(
            f"the previous batch's snapshot is {span} transaction ids old, more than 32-bit "
            "xmin can be compared over; re-ingest from an empty ingest bucket"
        )
    if not current.committed_since:
        return None
    return Fence(span, tuple(sorted(current.age_of(x) for x in previous.seen_xids)))


def seen_xids_sql(
    specs: Iterable[TableSpec], watermarks: Mapping[str, str], low: int, high: int
) -> str:
    """One statement: distinct age(xmin) in [low, high] of rows each table's watermark covers."""
    selects = []
    for spec in specs:
        table = f"{quote_identifier(SOURCE_SCHEMA)}.{quote_identifier(spec.name)}"
        column = quote_identifier(WATERMARK_COLUMN)
        hi = timestamp_literal(watermarks[spec.name])
        selects.append(
            f"SELECT age(xmin) FROM {table} WHERE {column} < {hi} "  # nosec: quoted above
            f"AND age(xmin) BETWEEN {int(low)} AND {int(high)}"
        )
    return " UNION ".join(selects)


def read_seen_xids(
    conn: pg8000.native.Connection,
    specs: Iterable[TableSpec],
    watermarks: Mapping[str, str],
    current: CurrentSnapshot,
) -> tuple[int, ...]:
    """Ids in [xmin, xmax) this snapshot saw commit rows below the new watermarks.

    None can exist when nothing was in progress (xmin = xmax): then no query is sent.
    """
    if current.xmin == current.xmax:
        return ()
    low, high = current.age_of(current.xmax - 1), current.age_of(current.xmin)
    sql = seen_xids_sql(specs, watermarks, low, high)
    try:
        rows = conn.run(sql)
    except (InterfaceError, DatabaseError, OSError) as exc:
        raise database_error(exc, "reading the ids the snapshot saw commit") from exc
    return tuple(sorted(current.latest - int(age) for [age] in rows))

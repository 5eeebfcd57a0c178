"""The commit fence: a version committed after a run's snapshot lands in the next batch
once, whatever its last_updated; nothing committed before it is read twice.

Each test holds a ToteSys transaction open on its own connection while ingest runs, as a
slow application would, and makes another change commit meanwhile so the run does write a
batch (a run with no change writes nothing and keeps its watermarks, hiding the problem).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.ingest.support import (
    NOW_UTC,
    change_rows,
    manifests,
    read_table,
    source_rows,
)

ORDER, PAYMENT = 5, 6


@pytest.fixture
def writer(totesys: Any, postgres: Any) -> Iterator[Any]:
    """A second ToteSys connection whose transactions the tests hold open."""
    conn = postgres.connect()
    try:
        yield conn
    finally:
        conn.close()


def _stamp_order_and_payment(writer: Any) -> None:
    """In the writer's open transaction: one sales order and one payment, stamped now()."""
    writer.run(
        f"UPDATE sales_order SET units_sold = units_sold + 1, last_updated = {NOW_UTC} "
        "WHERE sales_order_id = :id",
        id=ORDER,
    )
    writer.run(
        f"UPDATE payment SET paid = NOT paid, last_updated = {NOW_UTC} WHERE payment_id = :id",
        id=PAYMENT,
    )


def _versions(s3: Any, bucket: str, table: str) -> Counter[tuple[Any, ...]]:
    """Every row of `table` in every committed batch, counted (a row is a version)."""
    found: Counter[tuple[Any, ...]] = Counter()
    for manifest in manifests(s3, bucket):
        if table in manifest["tables"]:
            found.update(tuple(row) for row in read_table(s3, bucket, manifest, table)[1])
    return found


def _assert_every_version_once(s3: Any, bucket: str, totesys: Any) -> None:
    """Each current source row is in the lake's landing zone exactly once; none twice."""
    for table in ("sales_order", "payment", "address", "transaction"):
        found = _versions(s3, bucket, table)
        doubled = [row for row, n in found.items() if n > 1]
        assert doubled == [], (table, doubled)
        missing = [row for row in source_rows(totesys, table) if tuple(row) not in found]
        assert missing == [], (table, missing)


def _only(table_rows: list[list[Any]], wanted: list[int]) -> list[list[Any]]:
    return [row for row in table_rows if int(row[0]) in wanted]


def test_a_transaction_committed_after_a_run_that_wrote_a_batch_lands_once_in_the_next(
    totesys, writer, ingest, s3, bucket
) -> None:
    ingest()
    writer.run("BEGIN")
    _stamp_order_and_payment(writer)
    [[stamped]] = writer.run(f"SELECT to_char({NOW_UTC}, 'YYYY-MM-DD HH24:MI:SS.US')")
    change_rows(totesys, 2)  # commits while the writer's transaction is open

    during = ingest()

    assert during.batch_id is not None
    assert stamped < during.hi  # a window on last_updated alone has now passed these rows
    assert during.rows["sales_order"] == 1 and during.rows["payment"] == 2  # change_rows' only
    writer.run("COMMIT")

    after = ingest()

    batch = manifests(s3, bucket)[-1]
    assert batch["batch_id"] == after.batch_id
    assert sorted(batch["tables"]) == ["payment", "sales_order"]
    assert read_table(s3, bucket, batch, "sales_order")[1] == _only(
        source_rows(totesys, "sales_order"), [ORDER]
    )
    assert read_table(s3, bucket, batch, "payment")[1] == _only(
        source_rows(totesys, "payment"), [PAYMENT]
    )
    assert ingest().batch_id is None  # the fence's rows are not read again
    _assert_every_version_once(s3, bucket, totesys)


def test_a_transaction_open_across_three_runs_is_captured_once_on_the_run_after_its_commit(
    totesys, writer, ingest, s3, bucket
) -> None:
    ingest()
    writer.run("BEGIN")
    _stamp_order_and_payment(writer)
    for n in (2, 3, 4):
        change_rows(totesys, n)
        summary = ingest()
        assert summary.batch_id is not None
        assert summary.rows["sales_order"] == 1  # the new sale of change_rows only
        assert summary.rows["payment"] == 2
    writer.run("COMMIT")

    captured = ingest()
    change_rows(totesys, 5)
    later = ingest()

    assert captured.rows == {
        **dict.fromkeys(captured.rows, 0),
        "sales_order": 1,
        "payment": 1,
    }
    assert later.rows["sales_order"] == 1 and later.rows["payment"] == 2  # change_rows' only
    _assert_every_version_once(s3, bucket, totesys)


def test_a_row_written_in_a_savepoint_before_the_snapshot_is_fenced_with_its_transaction(
    totesys, writer, ingest, s3, bucket
) -> None:
    # A subtransaction's id is not in a snapshot's in-progress list, and an id below the
    # snapshot's xmax that is not in that list reads as committed to
    # pg_visible_in_snapshot(): the fence must not rely on that list alone.
    ingest()
    writer.run("BEGIN")
    writer.run(f"UPDATE address SET phone = 'top', last_updated = {NOW_UTC} WHERE address_id = 7")
    writer.run("SAVEPOINT inner_change")
    _stamp_order_and_payment(writer)
    writer.run("RELEASE SAVEPOINT inner_change")
    [[top]] = writer.run("SELECT pg_current_xact_id()::text")
    [[sub32]] = writer.run(
        "SELECT xmin::text FROM sales_order WHERE sales_order_id = :id", id=ORDER
    )
    sub = int(top) + (int(sub32) - int(top)) % 2**32  # the savepoint's id as an xid8
    change_rows(totesys, 2)  # a later id commits: the snapshot's xmax passes the savepoint's

    during = ingest()

    snap = manifests(s3, bucket)[-1]["snapshot"]
    assert sub > int(top) and int(top) in snap["xip"]
    assert sub < snap["xmax"] and sub not in snap["xip"]  # "committed" to that list alone
    assert during.rows["sales_order"] == 1
    writer.run("COMMIT")

    after = ingest()

    assert {t: n for t, n in after.rows.items() if n} == {
        "address": 1,
        "sales_order": 1,
        "payment": 1,
    }
    _assert_every_version_once(s3, bucket, totesys)


def test_a_backdated_change_committed_late_is_taken_once(
    totesys, writer, ingest, s3, bucket
) -> None:
    ingest()
    writer.run("BEGIN")
    writer.run(
        "UPDATE staff SET email_address = 'late@terrifictotes.com', "
        "last_updated = '2001-02-03 04:05:06.789' WHERE staff_id = 4"
    )
    change_rows(totesys, 2)
    ingest()
    writer.run("COMMIT")

    after = ingest()

    assert {t: n for t, n in after.rows.items() if n} == {"staff": 1}
    batch = manifests(s3, bucket)[-1]
    assert read_table(s3, bucket, batch, "staff")[1] == _only(source_rows(totesys, "staff"), [4])
    assert ingest().batch_id is None


def test_a_rolled_back_transaction_is_never_taken(totesys, writer, ingest) -> None:
    ingest()
    writer.run("BEGIN")
    _stamp_order_and_payment(writer)
    change_rows(totesys, 2)
    ingest()
    writer.run("ROLLBACK")

    assert ingest().batch_id is None


def test_frozen_rows_are_not_read_again(totesys, ingest, s3, bucket) -> None:
    # VACUUM FREEZE keeps a row's raw xmin (Postgres 9.4+ marks it frozen in the tuple's
    # infomask), so age(xmin) is unchanged and a frozen row stays behind the fence.
    ingest()
    totesys.run('VACUUM (FREEZE) sales_order, payment, address, "transaction"')
    changed = change_rows(totesys, 2)

    after = ingest()

    assert {t: n for t, n in after.rows.items() if n} == {t: len(i) for t, i in changed.items()}
    _assert_every_version_once(s3, bucket, totesys)


def test_the_snapshot_says_whether_anything_committed_since_the_previous_one(
    totesys, writer
) -> None:
    from ingest.fence import Snapshot, read_current_snapshot

    reader = writer  # a connection of its own, in one REPEATABLE READ transaction
    writer_two = totesys
    writer_two.run("BEGIN")
    writer_two.run(f"UPDATE staff SET last_updated = {NOW_UTC} WHERE staff_id = 2")
    reader.run("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    first = read_current_snapshot(reader)
    previous = Snapshot(first.xmin, first.xmax, first.xip)

    same = read_current_snapshot(reader, previous)  # the same snapshot: nothing new in it
    writer_two.run("COMMIT")
    still = read_current_snapshot(reader, previous)  # committed after this snapshot
    reader.run("ROLLBACK")
    later = read_current_snapshot(reader, previous)  # a new transaction, a new snapshot

    assert (first.committed_since, same.committed_since, still.committed_since) == (
        True,
        False,
        False,
    )
    assert later.committed_since

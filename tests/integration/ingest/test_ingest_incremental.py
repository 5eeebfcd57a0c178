"""Later runs carry exactly the changes since the last batch: no gaps, no repeats."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

from ingest.settings import TOTESYS_TABLES
from local.totesys.simulator import advance
from tests.integration.ingest.support import (
    NOW_UTC,
    all_keys,
    change_rows,
    column_names,
    ids,
    manifests,
    read_table,
    source_rows,
    state,
)


def _only(rows: list, wanted: list[int]) -> list:
    return [row for row in rows if int(row[0]) in wanted]


def test_next_run_carries_exactly_the_changed_rows(totesys, ingest, s3, bucket) -> None:
    ingest()
    changed = change_rows(totesys, 1)

    summary = ingest()

    first, second = manifests(s3, bucket)
    assert sorted(second["tables"]) == sorted(changed)
    for table, changed_ids in changed.items():
        _, rows = read_table(s3, bucket, second, table)
        assert ids(rows) == changed_ids, table
        assert rows == _only(source_rows(totesys, table), changed_ids), table
        assert second["tables"][table]["window"] == {"lo": first["hi"], "hi": second["hi"]}
    assert summary.rows == {table: len(changed.get(table, [])) for table in TOTESYS_TABLES}
    assert second["watermarks"] == {table: second["hi"] for table in TOTESYS_TABLES}
    assert state(s3, bucket) == {
        "batch_id": second["batch_id"],
        "watermarks": second["watermarks"],
        "snapshot": second["snapshot"],
    }
    _, payments = read_table(s3, bucket, second, "payment")
    assert payments[0][8] == "t"  # payment 1, now paid: the update's new value is carried


def test_after_advance_the_next_run_carries_exactly_the_rows_it_wrote(
    totesys, ingest, s3, bucket
) -> None:
    ingest()
    changes = advance(totesys, 24, 5)
    # every row advance writes carries this last_updated
    when = dt.datetime.fromisoformat(changes["last_updated"])
    touched = {
        table for table in TOTESYS_TABLES if changes["inserts"][table] + changes["updates"][table]
    }
    assert {"sales_order", "transaction", "payment"} <= touched

    summary = ingest()

    first, second = manifests(s3, bucket)
    assert sorted(second["tables"]) == sorted(touched)
    for table in touched:
        _, rows = read_table(s3, bucket, second, table)
        expected = source_rows(totesys, table, lo=first["hi"])
        assert rows == expected, table
        stamps = {row[_column(totesys, table, "last_updated")] for row in rows}
        assert {dt.datetime.fromisoformat(text) for text in stamps} == {when}
        inserted, updated = changes["inserts"][table], changes["updates"][table]
        assert inserted <= len(rows) <= inserted + updated, table
        assert summary.rows[table] == len(rows)


def test_many_runs_lose_and_repeat_nothing(totesys, ingest, s3, bucket) -> None:
    ingest()
    for round_ in range(4):
        advance(totesys, 12, 40 + round_)
        ingest()
    assert ingest().batch_id is None

    batches = manifests(s3, bucket)
    assert len(batches) == 5
    for table in TOTESYS_TABLES:
        updated_at = _column(totesys, table, "last_updated")
        versions: dict[tuple[str, str], list[str | None]] = {}
        latest: dict[str, list[str | None]] = {}
        for manifest in batches:
            if table not in manifest["tables"]:
                continue
            for row in read_table(s3, bucket, manifest, table)[1]:
                version = (row[0], row[updated_at])
                assert version not in versions, f"{table} {version} ingested twice"
                versions[version] = row
                latest[row[0]] = row
        current = source_rows(totesys, table)
        assert sorted(latest.values(), key=lambda r: int(r[0])) == current, table


def _column(conn, table: str, name: str) -> int:
    return column_names(conn, table).index(name)


def test_run_with_no_changes_writes_nothing(totesys, ingest, s3, bucket) -> None:
    ingest()
    keys = all_keys(s3, bucket)
    cached = state(s3, bucket)

    summary = ingest()

    assert summary.batch_id is None
    assert summary.manifest_key is None
    assert summary.rows == dict.fromkeys(TOTESYS_TABLES, 0)
    assert all_keys(s3, bucket) == keys
    assert state(s3, bucket) == cached


def test_run_on_an_empty_source_writes_nothing(empty_totesys, ingest, s3, bucket) -> None:
    summary = ingest()

    assert summary.batch_id is None
    assert all_keys(s3, bucket) == []


def test_rows_stamped_inside_the_commit_lag_wait_for_a_later_run(
    totesys, ingest, s3, bucket
) -> None:
    lag = 2
    ingest(commit_lag_seconds=lag)
    [[stamp]] = totesys.run(
        f"UPDATE staff SET last_updated = {NOW_UTC} WHERE staff_id = 3 RETURNING last_updated"
    )

    too_soon = ingest(commit_lag_seconds=lag)

    assert too_soon.batch_id is None
    assert too_soon.rows["staff"] == 0
    while totesys.run(f"SELECT {NOW_UTC} - interval '{lag} seconds' <= :s", s=stamp)[0][0]:
        time.sleep(0.2)

    later = ingest(commit_lag_seconds=lag)

    assert later.rows == {table: int(table == "staff") for table in TOTESYS_TABLES}
    _, rows = read_table(s3, bucket, manifests(s3, bucket)[-1], "staff")
    assert rows == _only(source_rows(totesys, "staff"), [3])


def test_row_stamped_exactly_at_the_previous_hi_is_taken_once(totesys, ingest, s3, bucket) -> None:
    first = ingest()
    # The boundary: run 1 read [.., hi) so a row at exactly hi belongs to run 2's [hi, ..).
    totesys.run(
        "UPDATE currency SET last_updated = CAST(:hi AS timestamp) WHERE currency_id = 2",
        hi=first.hi,
    )
    assert totesys.run(
        "SELECT last_updated = CAST(:hi AS timestamp) FROM currency WHERE currency_id = 2",
        hi=first.hi,
    ) == [[True]]

    second = ingest()
    change_rows(totesys, 2)
    third = ingest()

    _, m2, m3 = manifests(s3, bucket)
    _, rows = read_table(s3, bucket, m2, "currency")
    assert ids(rows) == [2]
    # Postgres prints timestamps without trailing zeros (".6" for ".600"): compare instants
    assert dt.datetime.fromisoformat(rows[0][-1]) == dt.datetime.fromisoformat(first.hi)
    assert second.rows["currency"] == 1
    assert third.rows["currency"] == 0
    assert "currency" not in m3["tables"]


def test_a_table_appears_only_in_the_manifests_of_runs_that_changed_it(
    totesys, ingest, s3, bucket
) -> None:
    ingest()
    totesys.run(f"UPDATE staff SET last_updated = {NOW_UTC} WHERE staff_id = 3")
    ingest()
    totesys.run(f"UPDATE sales_order SET last_updated = {NOW_UTC} WHERE sales_order_id = 5")
    ingest()
    assert ingest().batch_id is None
    totesys.run(f"UPDATE staff SET last_updated = {NOW_UTC} WHERE staff_id = 4")
    ingest()

    _, m2, m3, m4 = manifests(s3, bucket)
    assert [sorted(m["tables"]) for m in (m2, m3, m4)] == [["staff"], ["sales_order"], ["staff"]]
    assert ids(read_table(s3, bucket, m2, "staff")[1]) == [3]
    assert ids(read_table(s3, bucket, m3, "sales_order")[1]) == [5]
    assert ids(read_table(s3, bucket, m4, "staff")[1]) == [4]
    # staff's watermark moved on with run 3 although staff did not change in it
    assert m4["tables"]["staff"]["window"] == {"lo": m3["hi"], "hi": m4["hi"]}


def test_a_new_source_column_is_carried_and_recorded(totesys, ingest, s3, bucket) -> None:
    ingest()
    totesys.run("ALTER TABLE design ADD COLUMN colour text")
    totesys.run(f"UPDATE design SET colour = 'navy', last_updated = {NOW_UTC} WHERE design_id = 2")

    ingest()

    latest = manifests(s3, bucket)[-1]
    header, rows = read_table(s3, bucket, latest, "design")
    assert header[-1] == "colour"
    assert rows == _only(source_rows(totesys, "design"), [2])
    assert rows[0][-1] == "navy"
    assert latest["tables"]["design"]["columns"][-1] == {
        "name": "colour",
        "data_type": "text",
        "udt_name": "text",
        "nullable": True,
        "numeric_precision": None,
        "numeric_scale": None,
    }


def test_a_role_with_only_select_can_ingest(
    totesys, postgres, pg_server, secretsmanager, ingest, s3, bucket
) -> None:
    role = f"ingest_ro_{uuid.uuid4().hex[:8]}"
    totesys.run(f'CREATE ROLE "{role}" LOGIN')
    try:
        totesys.run(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        totesys.run(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
        secret = {**postgres.secret, "username": role}
        secretsmanager.create_secret(Name="totesys/readonly", SecretString=json.dumps(secret))

        summary = ingest(source_secret_id="totesys/readonly")

        [manifest] = manifests(s3, bucket)
        assert sorted(manifest["tables"]) == sorted(TOTESYS_TABLES)
        assert manifest["tables"]["payment"]["primary_key"] == "payment_id"
        assert summary.rows["sales_order"] == len(source_rows(totesys, "sales_order"))
    finally:
        totesys.run(f'DROP OWNED BY "{role}"')
        totesys.run(f'DROP ROLE "{role}"')

"""Every failure is a clear error that commits nothing; the next run makes up for it."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from ingest.exceptions import ClockError, SourceSchemaError, UploadError
from ingest.settings import TOTESYS_TABLES
from local.services import free_port
from pipeline_common.contracts.batch import batch_id_for
from pipeline_common.contracts.keys import INGEST_STATE_KEY as STATE_KEY
from pipeline_common.errors import (
    ConcurrentRunError,
    DatabaseUnavailableError,
    SecretError,
)
from pipeline_common.s3objects import write_json
from tests.integration.ingest.support import (
    NOW_UTC,
    all_keys,
    change_rows,
    ids,
    manifests,
    read_table,
    source_rows,
    state,
)

BROKEN_SECRET = "totesys/broken"  # nosec B105 - a secret's name


def _assert_catches_up(ingest, s3, bucket, totesys, changed: dict[str, list[int]]) -> None:
    """A good run after the failure carries exactly the changes the failed run missed."""
    before = manifests(s3, bucket)
    summary = ingest()
    after = manifests(s3, bucket)
    assert len(after) == len(before) + 1
    latest = after[-1]
    assert latest["batch_id"] == summary.batch_id
    assert sorted(latest["tables"]) == sorted(changed)
    for table, changed_ids in changed.items():
        _, rows = read_table(s3, bucket, latest, table)
        assert ids(rows) == changed_ids
        assert rows == [r for r in source_rows(totesys, table) if int(r[0]) in changed_ids]
        assert latest["tables"][table]["window"]["lo"] == before[-1]["hi"]
    assert state(s3, bucket) == {
        "batch_id": latest["batch_id"],
        "watermarks": latest["watermarks"],
        "snapshot": latest["snapshot"],
    }


@pytest.mark.parametrize(
    ("secret", "error", "message"),
    [
        ("unreachable", DatabaseUnavailableError, "cannot connect to Postgres at 127.0.0.1:"),
        (None, SecretError, "'totesys/broken' cannot be read: ResourceNotFoundException"),
        ("{not json", SecretError, "'totesys/broken' is not valid JSON"),
        ('{"engine": "postgres", "port": 5432}', SecretError, "lacks keys: host, dbname"),
        ('["a list"]', SecretError, "must be a JSON object"),
    ],
    ids=[
        "database-unreachable",
        "secret-missing",
        "secret-not-json",
        "secret-lacks-keys",
        "secret-not-object",
    ],
)
def test_source_faults_commit_nothing_and_the_rerun_catches_up(
    secret, error, message, totesys, postgres, ingest, s3, secretsmanager, bucket
) -> None:
    ingest()
    changed = change_rows(totesys, 1)
    if secret == "unreachable":
        secret = json.dumps({**postgres.secret, "host": "127.0.0.1", "port": free_port()})
    if secret is not None:
        secretsmanager.create_secret(Name=BROKEN_SECRET, SecretString=secret)
    keys, cached = all_keys(s3, bucket), state(s3, bucket)

    with pytest.raises(error, match=message):
        ingest(source_secret_id=BROKEN_SECRET)

    assert all_keys(s3, bucket) == keys
    assert state(s3, bucket) == cached
    _assert_catches_up(ingest, s3, bucket, totesys, changed)


def _fail_put_object(client: Any, *, after: int, only_key: str | None = None) -> list[str]:
    """Make the client's PutObject fail at the HTTP layer from the (after+1)-th object on."""
    attempts: list[str] = []

    def before_send(request: Any, **_: Any) -> None:
        key = request.url.split("?")[0].split("/", 4)[-1]
        if only_key is not None and not request.url.split("?")[0].endswith(only_key):
            return
        attempts.append(key)
        if len(set(attempts)) > after:
            raise EndpointConnectionError(endpoint_url=request.url)

    client.meta.events.register("before-send.s3.PutObject", before_send)
    return attempts


def test_upload_failing_half_way_commits_nothing_and_the_rerun_catches_up(
    totesys, ingest, s3, bucket, new_s3_client
) -> None:
    ingest()
    changed = _merge(change_rows(totesys, 1), change_rows(totesys, 2), change_rows(totesys, 3))
    keys, cached = all_keys(s3, bucket), state(s3, bucket)
    flaky = new_s3_client()
    _fail_put_object(flaky, after=3)

    with pytest.raises(UploadError, match=r"PutObject of s3://totesys-ingest-test/.* failed"):
        ingest(s3_client=flaky, part_rows=1)

    written = sorted(set(all_keys(s3, bucket)) - set(keys))
    assert len(written) == 3  # of the first table read; nothing names these
    assert len({key.split("/")[0] for key in written}) == 1
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert manifests(s3, bucket)[-1]["batch_id"] == cached["batch_id"]
    assert state(s3, bucket) == cached
    _assert_catches_up(ingest, s3, bucket, totesys, changed)


def test_one_tables_upload_failing_while_later_tables_are_read_commits_nothing(
    totesys, ingest, s3, bucket, new_s3_client
) -> None:
    """A table's objects finish uploading while the next tables are read: a failure there
    still fails the run, and no upload of any table is left open."""
    ingest()
    changed = _merge(change_rows(totesys, 1), change_rows(totesys, 2))
    totesys.run(f"UPDATE counterparty SET last_updated = {NOW_UTC}")
    changed["counterparty"] = ids(source_rows(totesys, "counterparty"))
    keys, cached = all_keys(s3, bucket), state(s3, bucket)
    flaky = new_s3_client()

    def fail_counterparty(request: Any, **_: Any) -> None:
        if "/counterparty/" in request.url:
            raise EndpointConnectionError(endpoint_url=request.url)

    flaky.meta.events.register("before-send.s3.PutObject", fail_counterparty)

    with pytest.raises(UploadError, match=r"PutObject of s3://totesys-ingest-test/counterparty/"):
        ingest(s3_client=flaky, part_rows=2)

    written = {key.split("/")[0] for key in set(all_keys(s3, bucket)) - set(keys)}
    assert written and "counterparty" not in written  # tables read before it: unnamed
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert manifests(s3, bucket)[-1]["batch_id"] == cached["batch_id"]
    assert state(s3, bucket) == cached
    _assert_catches_up(ingest, s3, bucket, totesys, changed)


def _merge(*changes: dict[str, list[int]]) -> dict[str, list[int]]:
    merged: dict[str, set[int]] = {}
    for change in changes:
        for table, table_ids in change.items():
            merged.setdefault(table, set()).update(table_ids)
    return {table: sorted(table_ids) for table, table_ids in merged.items()}


def test_death_between_manifest_and_cache_is_recovered_from_the_manifest(
    totesys, ingest, s3, bucket, new_s3_client
) -> None:
    ingest()
    change_rows(totesys, 1)
    flaky = new_s3_client()
    _fail_put_object(flaky, after=0, only_key=STATE_KEY)

    with pytest.raises(UploadError, match="writing the watermark cache failed"):
        ingest(s3_client=flaky)

    first, _second = manifests(s3, bucket)  # the manifest, the commit, exists
    assert state(s3, bucket)["batch_id"] == first["batch_id"]  # the cache is one batch behind
    changed = change_rows(totesys, 2)
    _assert_catches_up(ingest, s3, bucket, totesys, changed)  # window starts at second's hi


def test_connection_lost_mid_run_commits_nothing_and_the_rerun_catches_up(
    totesys, ingest, s3, bucket, new_s3_client, pg_server, postgres
) -> None:
    ingest()
    changed = change_rows(totesys, 1)
    keys, cached = all_keys(s3, bucket), state(s3, bucket)
    client = new_s3_client()
    admin = pg_server.connect(postgres.name)

    def kill_ingest_session(**_: Any) -> None:
        admin.run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'totesys-ingest' AND datname = current_database()"
        )

    client.meta.events.register("before-send.s3.PutObject", kill_ingest_session)
    try:
        with pytest.raises(DatabaseUnavailableError, match="while extracting"):
            ingest(s3_client=client)
    finally:
        admin.close()

    assert manifests(s3, bucket)[-1]["batch_id"] == cached["batch_id"]
    assert state(s3, bucket) == cached
    written = set(all_keys(s3, bucket)) - set(keys)
    # the object whose upload killed the session, and perhaps the next table's, read
    # before the kill took effect (its upload overlaps the COPY after it); nothing names them
    assert 1 <= len(written) <= 2
    assert not any(key.startswith("_") for key in written)
    _assert_catches_up(ingest, s3, bucket, totesys, changed)


def test_missing_source_table_is_a_clear_error_before_anything_is_written(
    totesys, ingest, s3, bucket
) -> None:
    totesys.run("DROP TABLE payment")

    with pytest.raises(SourceSchemaError, match=r"missing from schema 'public'.*: payment$"):
        ingest()

    assert all_keys(s3, bucket) == []


def test_second_run_while_one_holds_the_lock_fails_cleanly(
    totesys, ingest, s3, bucket, new_s3_client
) -> None:
    client = new_s3_client()
    first_put = threading.Event()
    release = threading.Event()

    def hold_first_run(**_: Any) -> None:
        first_put.set()
        assert release.wait(60)

    client.meta.events.register("before-send.s3.PutObject", hold_first_run)
    outcome: dict[str, Any] = {}

    def first_run() -> None:
        try:
            outcome["summary"] = ingest(s3_client=client)
        except BaseException as exc:  # reported to the main thread below
            outcome["error"] = exc

    thread = threading.Thread(target=first_run)
    thread.start()
    try:
        assert first_put.wait(60), "the first run never reached its first upload"

        with pytest.raises(ConcurrentRunError, match="another ingest run holds the source lock"):
            ingest()

        assert all_keys(s3, bucket) == []  # the second run wrote nothing
    finally:
        release.set()
        thread.join(60)
    assert "error" not in outcome
    [manifest] = manifests(s3, bucket)
    assert manifest["batch_id"] == outcome["summary"].batch_id
    assert sorted(manifest["tables"]) == sorted(TOTESYS_TABLES)
    for table in TOTESYS_TABLES:
        assert read_table(s3, bucket, manifest, table)[1] == source_rows(totesys, table)


def test_run_while_another_session_holds_the_lock_writes_nothing(
    totesys, ingest, s3, bucket, pg_server, postgres
) -> None:
    from ingest.source import RUN_LOCK_KEY

    other = pg_server.connect(postgres.name)
    try:
        assert other.run("SELECT pg_try_advisory_lock(:k)", k=RUN_LOCK_KEY) == [[True]]
        with pytest.raises(ConcurrentRunError):
            ingest()
        assert all_keys(s3, bucket) == []
    finally:
        other.close()
    assert ingest().batch_id is not None  # the lock went with the other session


def test_source_clock_behind_the_last_batch_is_refused(totesys, ingest, s3, bucket) -> None:
    # Within the allowed skew (ingest.state_guard); further ahead is a forged state
    # (test_ingest_forged_state.py).
    [[now]] = totesys.run("SELECT now() AT TIME ZONE 'UTC'")
    ahead = batch_id_for(now + dt.timedelta(minutes=2))
    write_json(s3, bucket, STATE_KEY, {"batch_id": ahead, "watermarks": {}})

    with pytest.raises(ClockError, match=f"not after the last batch {ahead}"):
        ingest()

    assert all_keys(s3, bucket) == [STATE_KEY]

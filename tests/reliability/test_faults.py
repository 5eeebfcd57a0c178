"""Faults at every boundary, each followed by a normal re-run and the oracle.

One pipeline for the module (a real source and warehouse, moto wired by the template's
rules, the Glue job on the session's SparkSession); each test changes the source, injects
one fault at a real boundary, checks that the failed cycle committed nothing it should not
have, then runs normally and checks warehouse = oracle, lake = warehouse, and every
ingested row accounted for. Faults are injected where they happen in life: a botocore
event hook raising on the Nth call, pg_terminate_backend from another session, one
internal step raising, an EventBridge rule disabled or given a second target.

PART_ROWS=5 makes every table of a change several objects, so an upload can fail after
some parts and the source can drop while COPY is still streaming.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

import glue_jobs.star_schema as star_schema
from local import wiring
from local.lambda_runtime import LambdaContext, load_handler
from local.runner import CycleReport
from local.statedir import NAMES
from local.totesys import advance
from pipeline_common.errors import ConcurrentRunError
from tests.reliability.changes import edit_dimensions
from tests.reliability.conftest import CAPTURED_OUTPUT
from tests.reliability.rig import Rig

pytestmark = [pytest.mark.slow, pytest.mark.spark]

WATERMARK_CACHE = "_state/ingest/watermarks.json"


@pytest.fixture(scope="module")
def rig(make_rig: Callable[..., Rig]) -> Rig:
    rig = make_rig(orders=30, seed_value=5, environment={"PART_ROWS": "5"})
    rig.cycle()
    rig.check()
    return rig


@pytest.fixture
def changed(rig: Rig, request: pytest.FixtureRequest) -> dict[str, Any]:
    """A few hours of business before the test's faulty cycle."""
    return advance(rig.source, hours=4, seed=zlib.crc32(request.node.name.encode()))


def _s3_keys(rig: Rig, bucket: str) -> set[str]:
    paginator = rig.pipeline.s3.get_paginator("list_objects_v2")
    return {
        item["Key"]
        for page in paginator.paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    }


def _lake_files(rig: Rig) -> dict[str, bytes]:
    return {
        p.relative_to(rig.lake).as_posix(): p.read_bytes()
        for p in rig.lake.rglob("*")
        if p.is_file() and not p.name.endswith(".crc")
    }


def _log_count(rig: Rig, message: str) -> int:
    return sum(
        1
        for path in (rig.state_dir / "logs").glob("*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
        if f'"message": "{message}"' in line or f'"message":"{message}"' in line
    )


@pytest.fixture
def unchanged(rig: Rig) -> Iterator[Callable[[], None]]:
    """Call it after a failed cycle: the warehouse must be exactly as before the test."""
    before = rig.warehouse_tables()

    def check() -> None:
        assert rig.warehouse_tables() == before

    yield check


# ---- ingest ------------------------------------------------------------------------------


def test_source_dropping_mid_extract_commits_nothing(
    rig: Rig, changed: dict[str, Any], unchanged: Callable[[], None]
) -> None:
    manifests = rig.ingest_manifests()
    killed: list[int] = []
    once = threading.Lock()  # uploads of two tables run at once, each in its own thread

    def kill_source_session(**_: Any) -> None:
        # The first part upload: the source goes away between two rows or two tables.
        with once:
            if not killed:
                killed.append(rig.terminate(rig.source_db, "totesys-ingest"))

    with rig.hook(rig.ingest_s3(), "before-send.s3.PutObject", kill_source_session):
        rig.failing_cycle("ingest", r"source (connection lost|failed) while extracting \w+")

    assert killed == [1]
    assert rig.ingest_manifests() == manifests
    unchanged()
    rig.cycle()
    rig.check()


def test_upload_failing_after_some_parts_commits_nothing(
    rig: Rig, changed: dict[str, Any], unchanged: Callable[[], None]
) -> None:
    manifests = rig.ingest_manifests()
    before = _s3_keys(rig, NAMES.ingest_bucket)
    attempted: list[str] = []

    def fail_third_object(request: Any, **_: Any) -> None:
        attempted.append(request.url.split("?")[0])
        if len(set(attempted)) > 2:
            raise EndpointConnectionError(endpoint_url=request.url)

    with rig.hook(rig.ingest_s3(), "before-send.s3.PutObject", fail_third_object):
        rig.failing_cycle("ingest", r"PutObject of s3://totesys-ingest-local/\S+ failed")

    orphans = _s3_keys(rig, NAMES.ingest_bucket) - before
    assert len(orphans) == 2 and all("/batch=" in key for key in orphans), orphans
    assert rig.ingest_manifests() == manifests
    unchanged()
    rig.cycle()
    listed = {
        part["key"] for t in rig.ingest_manifests()[-1]["tables"].values() for part in t["parts"]
    }
    assert not orphans & listed  # the re-run wrote a new batch; the orphans are never read
    rig.check()


def test_ingest_dying_between_manifest_and_watermarks_is_recovered_from_the_manifest(
    rig: Rig, changed: dict[str, Any], unchanged: Callable[[], None]
) -> None:
    def fail_cache(request: Any, **_: Any) -> None:
        if request.url.split("?")[0].endswith(WATERMARK_CACHE):
            raise EndpointConnectionError(endpoint_url=request.url)

    with rig.hook(rig.ingest_s3(), "before-send.s3.PutObject", fail_cache):
        rig.failing_cycle("ingest", "writing the watermark cache failed")

    committed = rig.ingest_manifests()[-1]
    cache = json.loads((rig.landing / WATERMARK_CACHE).read_text())
    assert cache["batch_id"] < committed["batch_id"]  # the cache is one batch behind
    unchanged()
    advance(rig.source, hours=2, seed=77)
    rig.cycle()
    latest = rig.ingest_manifests()[-1]
    # The next window starts where the committed manifest ended: no overlap, no gap.
    assert {t["window"]["lo"] for t in latest["tables"].values()} == {committed["hi"]}
    assert rig.processed_manifests()[-1]["ingest_batches"] == [
        committed["batch_id"],
        latest["batch_id"],
    ]
    rig.check()


# ---- the Glue job ------------------------------------------------------------------------


def test_glue_job_dying_before_its_manifest_is_redone_with_the_same_keys(
    rig: Rig, changed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    processed = rig.processed_manifests()
    real_write_fact = star_schema.FactWriter.write_fact
    calls: list[str] = []

    def dies_at_second_fact(self: Any, fact: str, frame: Any) -> Any:
        calls.append(fact)
        if len(calls) == 2:
            raise RuntimeError("Glue worker lost")
        return real_write_fact(self, fact, frame)

    monkeypatch.setattr(star_schema.FactWriter, "write_fact", dies_at_second_fact)
    rig.failing_cycle("transform", "RuntimeError: Glue worker lost")
    monkeypatch.undo()

    assert rig.processed_manifests() == processed
    inflight = json.loads((rig.lake / star_schema.INFLIGHT_KEY).read_text())
    first_fact = calls[0]
    # The first fact's files were already in place under the pass's batch id (no manifest).
    orphans = sorted(rig.lake.glob(f"{first_fact}/*/batch-{inflight['batch_id']}-*.parquet"))
    assert orphans
    rig.cycle()  # no source change: the pending manifest event is delivered again
    assert rig.processed_manifests()[-1]["batch_id"] == inflight["batch_id"]
    assert sorted(rig.lake.glob(f"{first_fact}/*/batch-{inflight['batch_id']}-*.parquet")) == (
        orphans
    )
    rig.check()


def test_a_batch_landing_while_a_failed_pass_waits_goes_in_the_same_run(
    rig: Rig, changed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The redo of a failed pass covers exactly its own batches (same keys); the same run
    then goes on with the batch that landed meanwhile, so no batch waits for the next
    source change (which may be hours away)."""

    def dies_at_first_fact(self: Any, fact: str, frame: Any) -> Any:
        raise RuntimeError("Glue worker lost")

    monkeypatch.setattr(star_schema.FactWriter, "write_fact", dies_at_first_fact)
    rig.failing_cycle("transform", "RuntimeError: Glue worker lost")
    monkeypatch.undo()
    failed = rig.ingest_manifests()[-1]["batch_id"]

    advance(rig.source, hours=2, seed=61)  # a new batch lands before the job runs again
    report = rig.cycle()
    meanwhile = rig.ingest_manifests()[-1]
    assert report.ingest_batches == [meanwhile["batch_id"]]
    assert report.processed_batches == [failed, meanwhile["batch_id"]]
    assert [m["ingest_batches"] for m in rig.processed_manifests()[-2:]] == [
        [failed],
        [meanwhile["batch_id"]],
    ]
    assert rig.loaded_batches()[-2:] == [failed, meanwhile["batch_id"]]
    assert report.warehouse_hi == meanwhile["hi"]  # freshness from what is loaded
    rig.check()
    assert rig.cycle().processed_batches == []  # nothing left pending


def test_a_manifest_landing_while_the_job_runs_goes_in_that_run_and_its_event_starts_nothing(
    rig: Rig, changed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingest runs on its schedule whatever the job does: a batch that lands during a run
    is taken by the same run (it lists the landing manifests again after each pass), and
    its event, which reaches a workflow already running, starts no second run."""
    write_fact = star_schema.FactWriter.write_fact
    landed: list[str] = []
    once = threading.Lock()  # the pass writes its facts concurrently

    def ingest_meanwhile(self: Any, fact: str, frame: Any) -> Any:
        with once:
            if not landed:
                rig.observe()  # the versions the first batch took, before the next hour
                advance(rig.source, hours=1, seed=71)
                landed.extend(rig.pipeline._ingest(CycleReport()))
        return write_fact(self, fact, frame)

    monkeypatch.setattr(star_schema.FactWriter, "write_fact", ingest_meanwhile)
    report = rig.cycle()
    monkeypatch.undo()
    [meanwhile] = landed
    batch = meanwhile.removeprefix("_manifests/").removesuffix(".json")
    assert report.processed_batches == [*report.ingest_batches, batch]
    assert report.events_refused == [meanwhile]
    assert report.loaded_batches[-1] == batch
    rig.check()
    assert rig.cycle().processed_batches == []  # the spent event starts nothing later


def test_a_lost_manifest_event_is_covered_by_the_transform_backstop(
    rig: Rig, changed: dict[str, Any]
) -> None:
    processed, loaded = rig.processed_manifests(), rig.loaded_batches()
    with rig.events_lost(wiring.MANIFEST_RULE):
        rig.failing_cycle("wiring", f"matched no {wiring.MANIFEST_RULE}")
    landed = rig.ingest_manifests()[-1]
    assert rig.processed_manifests() == processed and rig.loaded_batches() == loaded

    report = rig.cycle()  # no source change, so no manifest and no event: the backstop

    assert report.ingest_batches == []
    assert report.processed_batches == [landed["batch_id"]]
    assert rig.loaded_batches() == [*loaded, landed["batch_id"]]
    assert report.warehouse_hi == landed["hi"]
    rig.check()


def test_glue_job_dying_after_its_manifest_is_loaded_on_the_next_event(
    rig: Rig, changed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = rig.loaded_batches()
    real_delete = star_schema.LocalLocation.delete

    def dies_after_commit(self: Any, keys: Any) -> None:
        keys = list(keys)
        if star_schema.INFLIGHT_KEY in keys:
            raise RuntimeError("Glue driver lost after the commit")
        real_delete(self, keys)

    monkeypatch.setattr(star_schema.LocalLocation, "delete", dies_after_commit)
    rig.failing_cycle("transform", "Glue driver lost after the commit")
    monkeypatch.undo()

    committed = rig.processed_manifests()[-1]
    assert committed["ingest_batches"][-1] == rig.ingest_manifests()[-1]["batch_id"]
    assert rig.loaded_batches() == loaded  # no success event: nothing loaded yet
    files = _lake_files(rig)
    rig.cycle()  # the job runs again, finds nothing pending, succeeds; the loader catches up
    assert rig.loaded_batches() == [*loaded, committed["batch_id"]]
    assert {k: v for k, v in _lake_files(rig).items() if not k.startswith("_job/")} == {
        k: v for k, v in files.items() if not k.startswith("_job/")
    }
    rig.check()


# ---- events ------------------------------------------------------------------------------


@pytest.fixture
def second_target(rig: Rig) -> Iterator[Callable[[str], None]]:
    """Give a template rule a second target on its queue: every event arrives twice."""
    added: list[str] = []

    def add(logical_id: str) -> None:
        rule = rig.pipeline.rules[logical_id]
        arn = rig.pipeline.sqs.get_queue_attributes(
            QueueUrl=rule.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        rig.pipeline.events.put_targets(
            Rule=f"local-{logical_id}", Targets=[{"Id": "delivered-again", "Arn": arn}]
        )
        added.append(logical_id)

    yield add
    for logical_id in added:
        rig.pipeline.events.remove_targets(Rule=f"local-{logical_id}", Ids=["delivered-again"])


def test_manifest_event_delivered_twice_processes_the_batch_once(
    rig: Rig, changed: dict[str, Any], second_target: Callable[[str], None]
) -> None:
    processed, loaded = rig.processed_manifests(), rig.loaded_batches()
    second_target(wiring.MANIFEST_RULE)
    received: list[dict[str, Any]] = []
    real_drain = wiring.drain

    def recording_drain(sqs: Any, rule: Any) -> list[dict[str, Any]]:
        events = real_drain(sqs, rule)
        if rule.spec.logical_id == wiring.MANIFEST_RULE:
            received.extend(events)
        return events

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wiring, "drain", recording_drain)
        rig.cycle()
    keys = [e["detail"]["object"]["key"] for e in received]
    assert len(keys) == 2 and len(set(keys)) == 1, keys
    assert len(rig.processed_manifests()) == len(processed) + 1
    assert len(rig.loaded_batches()) == len(loaded) + 1
    rig.check()

    # The same event once more, late (a redelivery after the batch was done): no change.
    tables, files = rig.warehouse_tables(), _lake_files(rig)
    rig.pipeline.sqs.send_message(
        QueueUrl=rig.pipeline.rules[wiring.MANIFEST_RULE].queue_url,
        MessageBody=json.dumps(received[0]),
    )
    report = rig.cycle()
    assert [s.stage for s in report.stages] == ["ingest", "transform", "load"]
    assert report.processed_batches == [] and report.loaded_batches == []
    assert rig.warehouse_tables() == tables
    assert {k: v for k, v in _lake_files(rig).items() if not k.startswith("_job/")} == {
        k: v for k, v in files.items() if not k.startswith("_job/")
    }
    rig.check()


def test_glue_success_event_delivered_twice_loads_the_batch_once(
    rig: Rig, changed: dict[str, Any], second_target: Callable[[str], None]
) -> None:
    loaded = rig.loaded_batches()
    started = _log_count(rig, "load run started")
    second_target(wiring.TRANSFORM_RULE)
    rig.cycle()
    assert _log_count(rig, "load run started") == started + 2  # the loader ran twice
    assert len(rig.loaded_batches()) == len(loaded) + 1  # and loaded the batch once
    rig.check()


def test_glue_success_event_never_delivered_is_picked_up_by_the_backstop(
    rig: Rig, changed: dict[str, Any]
) -> None:
    loaded = rig.loaded_batches()
    with rig.events_lost(wiring.TRANSFORM_RULE):
        rig.failing_cycle("wiring", f"matched no {wiring.TRANSFORM_RULE}")
    newest = rig.processed_manifests()[-1]["batch_id"]
    assert newest not in loaded and rig.loaded_batches() == loaded

    summary = rig.backstop()

    assert summary["batch_ids"] == [newest]
    rig.check()


# ---- the warehouse -----------------------------------------------------------------------


def test_warehouse_dropping_mid_load_keeps_nothing_and_the_event_is_redelivered(
    rig: Rig, changed: dict[str, Any], unchanged: Callable[[], None]
) -> None:
    gets: list[str] = []

    def drop_warehouse_on_second_read(**_: Any) -> None:
        gets.append("GetObject")
        # From the second read on: Lambda's retry (LoadFunction MaximumRetryAttempts 1) meets
        # the same outage, so the invocation fails and the event waits for the next run.
        if len(gets) >= 2:
            rig.terminate(rig.warehouse_db, "load_fn")

    with rig.hook(rig.load_s3(), "before-call.s3.GetObject", drop_warehouse_on_second_read):
        rig.failing_cycle("load", r"(connection|terminat|closed|network)")

    unchanged()
    assert json.loads((rig.state_dir / "pending-events.json").read_text())[wiring.TRANSFORM_RULE]
    report = rig.cycle()  # no source change; the success event is delivered again
    assert report.loaded_batches == [rig.processed_manifests()[-1]["batch_id"]]
    rig.check()


def test_load_interrupted_after_the_dimensions_keeps_nothing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, unchanged: Callable[[], None]
) -> None:
    import loader.load

    edited = edit_dimensions(rig.source, step=3)
    advance(rig.source, hours=2, seed=31)
    real_write_facts = loader.load.write_facts
    written: list[str] = []

    def times_out_at_the_facts(conn: Any, *args: Any) -> Any:
        dims = conn.run("SELECT count(*) FROM dim_design WHERE design_name LIKE 'Renamed %'")
        written.append(str(dims[0][0]))
        raise RuntimeError("invocation interrupted after the dimensions")

    monkeypatch.setattr(loader.load, "write_facts", times_out_at_the_facts)
    rig.failing_cycle("load", "RuntimeError: invocation interrupted after the dimensions")
    monkeypatch.setattr(loader.load, "write_facts", real_write_facts)

    # each attempt (the invocation and Lambda's one retry) upserted the dimension in the batch...
    assert edited["design"] and written == ["1", "1"]
    unchanged()  # ...and rolled back with it
    rig.cycle()
    rig.check()


def test_source_dropping_while_a_large_copy_streams_commits_nothing(
    rig: Rig, unchanged: Callable[[], None]
) -> None:
    """20 MB in one table's window: far more than socket buffers hold, so when the source
    goes at the first part (PART_ROWS=5, 2.5 MB), most rows are still on the server."""
    rig.source.run(
        "INSERT INTO design (design_name, file_location, file_name, created_at, last_updated) "
        "SELECT repeat(md5(g::text), 16384), '/big', 'big-' || g || '.json', "
        "date_trunc('milliseconds', now() AT TIME ZONE 'UTC'), "
        "date_trunc('milliseconds', now() AT TIME ZONE 'UTC') FROM generate_series(1, 40) g"
    )
    manifests = rig.ingest_manifests()
    before = _s3_keys(rig, NAMES.ingest_bucket)
    killed: list[int] = []
    once = threading.Lock()  # a part uploads while the next one fills, in its own thread

    def kill_at_first_design_part(request: Any, **_: Any) -> None:
        with once:
            if "/design/" in request.url and not killed:
                killed.append(rig.terminate(rig.source_db, "totesys-ingest"))

    with rig.hook(rig.ingest_s3(), "before-send.s3.PutObject", kill_at_first_design_part):
        rig.failing_cycle("ingest", r"source (connection lost|failed) while extracting design")

    assert killed == [1]
    parts = sorted(
        k for k in _s3_keys(rig, NAMES.ingest_bucket) - before if k.startswith("design/")
    )
    assert 1 <= len(parts) < 8, parts  # the COPY of 8 parts stopped part-way
    assert rig.ingest_manifests() == manifests
    unchanged()
    rig.cycle()
    rig.check()


# ---- concurrency -------------------------------------------------------------------------


def test_second_ingest_while_one_runs_fails_cleanly_and_corrupts_nothing(
    rig: Rig, changed: dict[str, Any]
) -> None:
    holding, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def hold_the_first_run(**_: Any) -> None:
        if threading.current_thread().name == "first-cycle":
            holding.set()
            assert release.wait(120)

    def first_cycle() -> None:
        try:
            outcome["report"] = rig.cycle()
        except BaseException as exc:  # reported by the assertions below
            outcome["error"] = exc

    with rig.hook(rig.ingest_s3(), "before-send.s3.PutObject", hold_the_first_run):
        thread = threading.Thread(target=first_cycle, name="first-cycle")
        thread.start()
        try:
            assert holding.wait(120), "the first run never reached its first upload"
            keys = _s3_keys(rig, NAMES.ingest_bucket)
            handler = load_handler("ingest_fn")
            with pytest.raises(ConcurrentRunError, match="another ingest run holds") as raised:
                handler(
                    {"id": "second", "time": "now"},
                    LambdaContext(function_name="totesys-local-ingest"),
                )
            rig.errors.append(repr(raised.value))
            assert _s3_keys(rig, NAMES.ingest_bucket) == keys  # the second wrote nothing
        finally:
            release.set()
            thread.join(600)

    assert "error" not in outcome, outcome.get("error")
    assert len(outcome["report"].loaded_batches) == 1
    newest = rig.ingest_manifests()[-1]
    cache = json.loads((rig.landing / WATERMARK_CACHE).read_text())
    assert cache == {
        "batch_id": newest["batch_id"],
        "watermarks": newest["watermarks"],
        "snapshot": newest["snapshot"],
    }
    rig.check()


# ---- security ----------------------------------------------------------------------------


def test_no_password_reaches_a_log_an_error_or_an_object(rig: Rig) -> None:
    # One more failure of its own, so the scan always covers an error path.
    advance(rig.source, hours=1, seed=99)

    def kill_source_session(**_: Any) -> None:  # None: botocore sends the request
        rig.terminate(rig.source_db, "totesys-ingest")

    with rig.hook(rig.ingest_s3(), "before-send.s3.PutObject", kill_source_session):
        rig.failing_cycle("ingest", "source")
    assert rig.errors and list((rig.state_dir / "logs").glob("*.jsonl"))
    assert not rig.leaks(CAPTURED_OUTPUT)

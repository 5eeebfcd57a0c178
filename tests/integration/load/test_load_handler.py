"""The load Lambda's handler on its real events, against moto S3/Secrets Manager and Postgres."""

from __future__ import annotations

import importlib
import json
import sys
import threading
from datetime import UTC, datetime, time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from loader.warehouse import LOADER_LOCK_KEY
from local.services import free_port
from pipeline_common.errors import ConcurrentRunError, DatabaseUnavailableError
from tests.integration.load.load_lake import (
    BATCH_1,
    BATCH_2,
    BATCH_3,
    PID_1,
    PID_2,
    PID_3,
    TABLES,
    expected,
    put_manifest,
    read_all,
    read_table,
    row_counts,
    write_batch,
)

EVENTS = Path(__file__).resolve().parents[3] / "events"
GLUE_EVENT = json.loads((EVENTS / "glue_job_succeeded.json").read_text())
BACKSTOP_EVENT = json.loads((EVENTS / "load_backstop.json").read_text())


def cold_start() -> ModuleType:
    """Import the handler module afresh, as a new container does: settings and clients are
    made at import, from the environment of that moment."""
    sys.modules.pop("load_fn.app", None)
    return importlib.import_module("load_fn.app")


@pytest.fixture
def app(load_env: None) -> ModuleType:
    """The handler module, imported once the environment is the template's."""
    return cold_start()


def emf_documents(text: str) -> list[dict[str, Any]]:
    """The CloudWatch EMF documents among the JSON lines a run printed."""
    documents = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


@pytest.mark.parametrize("event", [GLUE_EVENT, BACKSTOP_EVENT], ids=["glue-succeeded", "backstop"])
def test_two_pending_batches_load_in_order_in_one_invocation(
    event, s3, processed_bucket, app, lambda_context, wh_conn
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    write_batch(s3, processed_bucket, PID_2, BATCH_2)

    summary = app.lambda_handler(event, lambda_context)

    assert summary["batches_loaded"] == 2
    assert summary["batch_ids"] == [PID_1, PID_2]
    assert summary["rows_written"]["fact_sales_order"] == 4
    assert summary["rows_written"]["dim_staff"] == 3  # 2 new in batch 1, 1 moved in batch 2
    assert summary["batches"][1]["tables"]["dim_staff"] == {"read": 2, "written": 1}
    # loaded in order: batch 2's department move is what dim_staff holds
    for table in TABLES:
        assert read_table(wh_conn, table) == expected(table, BATCH_1, BATCH_2), table
    loaded = wh_conn.run("SELECT batch_id FROM etl_loaded_batch ORDER BY loaded_at")
    assert loaded == [[PID_1], [PID_2]]


def test_replaying_the_same_event_changes_nothing(
    s3, processed_bucket, app, lambda_context, wh_conn
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    app.lambda_handler(GLUE_EVENT, lambda_context)
    contents, counts = read_all(wh_conn), row_counts(wh_conn)
    xmin = wh_conn.run("SELECT xmin::text FROM dim_staff ORDER BY staff_id")

    summary = app.lambda_handler(GLUE_EVENT, lambda_context)

    assert summary == {"batches_loaded": 0, "batch_ids": [], "rows_written": {}, "batches": []}
    assert read_all(wh_conn) == contents
    assert row_counts(wh_conn) == counts
    assert wh_conn.run("SELECT xmin::text FROM dim_staff ORDER BY staff_id") == xmin


def test_a_later_batch_is_picked_up_after_the_loaded_one_by_the_backstop(
    s3, processed_bucket, app, lambda_context, wh_conn
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    write_batch(s3, processed_bucket, PID_2, BATCH_2)
    app.lambda_handler(GLUE_EVENT, lambda_context)
    write_batch(s3, processed_bucket, PID_3, BATCH_3)

    summary = app.lambda_handler(BACKSTOP_EVENT, lambda_context)

    assert summary["batch_ids"] == [PID_3]
    assert summary["rows_written"] == {"fact_sales_order": 1}
    assert read_table(wh_conn, "fact_sales_order") == expected(
        "fact_sales_order", BATCH_1, BATCH_2, BATCH_3
    )


def test_an_event_of_unknown_shape_still_loads_and_is_logged(
    s3, processed_bucket, app, lambda_context, wh_conn, caplog
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)

    summary = app.lambda_handler({"hello": "world"}, lambda_context)

    assert summary["batch_ids"] == [PID_1]
    [started] = [r for r in caplog.records if r.getMessage() == "load run started"]
    assert (started.trigger, started.keys) == ("unknown", ["hello"])


def test_the_handler_emits_batches_and_rows_per_table_as_emf_metrics(
    s3, processed_bucket, app, lambda_context, capsys
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    write_batch(s3, processed_bucket, PID_2, BATCH_2)

    app.lambda_handler(BACKSTOP_EVENT, lambda_context)

    documents = emf_documents(capsys.readouterr().out)
    rows = {doc["table"]: doc["RowsLoaded"] for doc in documents if "RowsLoaded" in doc}
    assert rows == {
        "dim_date": [61.0],
        "dim_staff": [3.0],
        "dim_location": [2.0],
        "dim_design": [2.0],
        "dim_currency": [3.0],
        "dim_counterparty": [2.0],
        "dim_payment_type": [4.0],
        "dim_transaction": [3.0],
        "fact_sales_order": [4.0],
        "fact_purchase_order": [1.0],
        "fact_payment": [3.0],
    }
    row_doc = next(doc for doc in documents if "RowsLoaded" in doc)
    assert row_doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "table"]]
    [batches] = [doc for doc in documents if "BatchesLoaded" in doc]
    assert batches["BatchesLoaded"] == [2.0]
    assert batches["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ToteSysPipelineTests"


def _newest_fact_change(*batches: dict[str, list[dict[str, Any]]]) -> datetime:
    """The newest last_updated among the batches' fact rows, from the test data itself."""
    return max(
        datetime.combine(row["last_updated_date"], time.fromisoformat(row["last_updated_time"]))
        for batch in batches
        for table, rows in batch.items()
        if table.startswith("fact_")
        for row in rows
    ).replace(tzinfo=UTC)


def _freshness(out: str) -> list[dict[str, Any]]:
    return [doc for doc in emf_documents(out) if "FreshnessSeconds" in doc]


def test_freshness_is_now_minus_the_newest_source_change_the_warehouse_holds(
    s3, processed_bucket, app, lambda_context, capsys
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    write_batch(s3, processed_bucket, PID_2, BATCH_2)
    newest = _newest_fact_change(BATCH_1, BATCH_2)

    before = datetime.now(UTC)
    app.lambda_handler(BACKSTOP_EVENT, lambda_context)
    after = datetime.now(UTC)

    [doc] = _freshness(capsys.readouterr().out)
    [value] = doc["FreshnessSeconds"]
    assert (before - newest).total_seconds() - 0.001 <= value
    assert value <= (after - newest).total_seconds() + 0.001
    metric = doc["_aws"]["CloudWatchMetrics"][0]
    assert {"Name": "FreshnessSeconds", "Unit": "Seconds"} in metric["Metrics"]
    assert (metric["Namespace"], metric["Dimensions"]) == ("ToteSysPipelineTests", [["service"]])


def test_freshness_counts_what_the_warehouse_holds_not_what_this_run_loaded(
    s3, processed_bucket, app, lambda_context, capsys, wh_conn
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    write_batch(s3, processed_bucket, PID_2, BATCH_2)
    app.lambda_handler(GLUE_EVENT, lambda_context)
    capsys.readouterr()
    # A newer payment change only in the warehouse (not in any manifest): it decides.
    wh_conn.run(
        "UPDATE fact_payment SET last_updated_date = DATE '2024-11-16', "
        "last_updated_time = TIME '09:30:00' WHERE payment_id = 3"
    )

    before = datetime.now(UTC)
    summary = app.lambda_handler(BACKSTOP_EVENT, lambda_context)
    after = datetime.now(UTC)

    assert summary["batches_loaded"] == 0
    [doc] = _freshness(capsys.readouterr().out)
    newest = datetime(2024, 11, 16, 9, 30, tzinfo=UTC)
    assert (before - newest).total_seconds() - 0.001 <= doc["FreshnessSeconds"][0]
    assert doc["FreshnessSeconds"][0] <= (after - newest).total_seconds() + 0.001


def test_an_empty_warehouse_emits_no_freshness_so_the_alarm_sees_missing_data(
    s3, processed_bucket, app, lambda_context, capsys
) -> None:
    summary = app.lambda_handler(BACKSTOP_EVENT, lambda_context)

    assert summary["batches_loaded"] == 0
    assert _freshness(capsys.readouterr().out) == []


def test_quarantined_rows_of_the_batches_loaded_are_one_metric_of_the_run(
    s3, processed_bucket, app, lambda_context, capsys
) -> None:
    for pid, batch, quarantine in (
        (PID_1, BATCH_1, {"sales_order": {"rows": 2}, "payment": {"rows": 1}}),
        (PID_2, BATCH_2, {"sales_order": {"rows": 4}}),
    ):
        manifest = write_batch(s3, processed_bucket, pid, batch)
        put_manifest(s3, processed_bucket, pid, {**manifest, "quarantine": quarantine})

    app.lambda_handler(BACKSTOP_EVENT, lambda_context)
    app.lambda_handler(BACKSTOP_EVENT, lambda_context)  # nothing new: nothing quarantined

    runs = [doc for doc in emf_documents(capsys.readouterr().out) if "QuarantinedRows" in doc]
    assert [doc["QuarantinedRows"] for doc in runs] == [[7.0], [0.0]]
    assert runs[0]["service"] == "tests"
    # The dimensions QuarantinedRowsAlarm names in template.yaml: service only.
    [directive] = runs[0]["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["service"]]


def test_a_terminal_failure_emits_load_failed_and_returns_without_a_function_error(
    s3, processed_bucket, load_env, lambda_context, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("WAREHOUSE_SECRET_ID", "totesys/no-such-secret")
    app = cold_start()

    response = app.lambda_handler(GLUE_EVENT, lambda_context)  # no raise: Lambda won't retry

    assert (response["status"], response["error"], response["transient"]) == (
        "failed",
        "SecretError",
        False,
    )
    [failed] = [doc for doc in emf_documents(capsys.readouterr().out) if "LoadFailed" in doc]
    assert failed["LoadFailed"] == [1.0]
    assert (failed["error"], failed["transient"]) == ("SecretError", "false")


def test_a_successful_run_counts_zero_load_failures_for_the_alarm(
    s3, processed_bucket, app, lambda_context, capsys
) -> None:
    app.lambda_handler(BACKSTOP_EVENT, lambda_context)

    [doc] = [doc for doc in emf_documents(capsys.readouterr().out) if "LoadFailed" in doc]
    assert doc["LoadFailed"] == [0.0]
    [directive] = doc["_aws"]["CloudWatchMetrics"]
    # LoadFailedAlarm in template.yaml: this namespace (POWERTOOLS_METRICS_NAMESPACE), service
    assert (directive["Namespace"], directive["Dimensions"]) == (
        "ToteSysPipelineTests",
        [["service"]],
    )


def test_a_missing_setting_is_logged_at_init_and_fails_every_invocation_terminally(
    s3, processed_bucket, load_env, lambda_context, monkeypatch, capsys
) -> None:
    monkeypatch.delenv("PROCESSED_BUCKET")
    app = cold_start()  # no traceback out of the init phase: kept for the invocations

    first = app.lambda_handler(GLUE_EVENT, lambda_context)
    second = app.lambda_handler(BACKSTOP_EVENT, lambda_context)

    assert (
        first
        == second
        == {
            "status": "failed",
            "error": "ConfigError",
            "transient": False,
            "message": "missing environment variables: PROCESSED_BUCKET",
        }
    )
    failed = [doc for doc in emf_documents(capsys.readouterr().out) if "LoadFailed" in doc]
    assert [(d["LoadFailed"], d["error"]) for d in failed] == [([1.0], "ConfigError")] * 2


def test_a_missing_secret_is_a_clear_error_and_loads_nothing(
    s3, processed_bucket, load_env, lambda_context, monkeypatch, wh_conn
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    monkeypatch.setenv("WAREHOUSE_SECRET_ID", "totesys/no-such-secret")
    app = cold_start()

    response = app.lambda_handler(GLUE_EVENT, lambda_context)

    assert response["error"] == "SecretError"
    assert "'totesys/no-such-secret' cannot be read" in response["message"]

    tables = wh_conn.run(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    )
    assert tables == [[0]]  # not even the schema was touched


def test_a_malformed_secret_is_a_clear_error_and_loads_nothing(
    s3, processed_bucket, warehouse, secretsmanager, app, lambda_context, wh_conn
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    secretsmanager.put_secret_value(
        SecretId=warehouse.secret_id,
        SecretString=json.dumps({"engine": "postgres", "host": "127.0.0.1", "port": 5432}),
    )

    response = app.lambda_handler(GLUE_EVENT, lambda_context)

    assert response["error"] == "SecretError"
    assert "lacks keys: dbname, username, password" in response["message"]

    tables = wh_conn.run(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    )
    assert tables == [[0]]


def test_an_unreachable_warehouse_is_a_transient_error_and_loads_nothing(
    s3, processed_bucket, warehouse, secretsmanager, app, lambda_context, wh_conn
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    closed_port = free_port()
    secretsmanager.put_secret_value(
        SecretId=warehouse.secret_id,
        SecretString=json.dumps(
            {
                "engine": "postgres",
                "host": "127.0.0.1",
                "port": closed_port,
                "dbname": warehouse.db.name,
                "username": "postgres",
                "password": "not-used",
                "sslmode": "prefer",
            }
        ),
    )

    with pytest.raises(DatabaseUnavailableError, match=f"127.0.0.1:{closed_port}") as caught:
        app.lambda_handler(GLUE_EVENT, lambda_context)

    assert caught.value.transient is True
    assert "not-used" not in str(caught.value)
    tables = wh_conn.run(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    )
    assert tables == [[0]]


def test_a_second_loader_waits_for_the_lock_then_gives_up_with_a_transient_error(
    s3, processed_bucket, settings, secretsmanager, warehouse, wh_conn
) -> None:
    from dataclasses import replace

    from loader.load import run

    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    run(replace(settings, lock_timeout_seconds=1), s3, secretsmanager)  # schema and batch 1
    write_batch(s3, processed_bucket, PID_2, BATCH_2)
    holder = warehouse.connect()
    holder.run("SELECT pg_advisory_lock(:key)", key=LOADER_LOCK_KEY)
    try:
        with pytest.raises(ConcurrentRunError, match="another loader holds the lock"):
            run(replace(settings, lock_timeout_seconds=1), s3, secretsmanager)
        assert row_counts(wh_conn)["etl_loaded_batch"] == 1
        # a loader that waits longer than the holder proceeds and loads what is pending
        release = threading.Timer(1.0, lambda: holder.run("SELECT pg_advisory_unlock_all()"))
        release.start()
        result = run(replace(settings, lock_timeout_seconds=30), s3, secretsmanager)
        release.join()
    finally:
        holder.close()
    assert [b.batch_id for b in result.batches] == [PID_2]
    assert row_counts(wh_conn)["etl_loaded_batch"] == 2

"""The Lambda handler, driven by the real scheduled event, against Postgres and moto."""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from ingest.settings import TOTESYS_TABLES
from tests.integration.ingest.support import all_keys, manifests, source_rows

EVENT = json.loads(
    (Path(__file__).resolve().parents[3] / "events" / "ingest_scheduled.json").read_text()
)
PASSWORD = "pw-that-must-never-be-logged-7d1"  # nosec B105 - trust auth ignores it


@dataclass
class LambdaContext:
    function_name: str = "totesys-ingest"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-2:123456789012:function:totesys-ingest"
    aws_request_id: str = "6f1b3e0c-2b57-4f5e-9a55-0f3d1f7a9d10"


def load_app() -> ModuleType:
    """Import the handler module afresh, as a Lambda cold start does."""
    sys.modules.pop("ingest_fn.app", None)
    return importlib.import_module("ingest_fn.app")


@pytest.fixture
def handler_env(monkeypatch, postgres, secretsmanager, bucket) -> None:
    secret = {**postgres.secret, "password": PASSWORD}
    secretsmanager.create_secret(Name="totesys/handler", SecretString=json.dumps(secret))
    monkeypatch.setenv("INGEST_BUCKET", bucket)
    monkeypatch.setenv("SOURCE_SECRET_ID", "totesys/handler")
    monkeypatch.setenv("COMMIT_LAG_SECONDS", "0")
    monkeypatch.delenv("TABLES", raising=False)
    monkeypatch.delenv("PART_ROWS", raising=False)


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_scheduled_event_runs_one_ingest_and_returns_a_summary(
    totesys, handler_env, s3, bucket, capsys
) -> None:
    app = load_app()
    # Powertools keeps one handler per service for the process; point it at this test's
    # captured stdout (a cold start in Lambda has exactly one).
    app.logger.logger_handler.setStream(sys.stdout)

    result = app.lambda_handler(EVENT, LambdaContext())

    [manifest] = manifests(s3, bucket)
    assert result["batch_id"] == manifest["batch_id"]
    assert result["manifest_key"] == f"_manifests/{manifest['batch_id']}.json"
    assert result["rows"] == {t: len(source_rows(totesys, t)) for t in TOTESYS_TABLES}
    assert json.loads(json.dumps(result)) == result
    output = capsys.readouterr().out
    assert PASSWORD not in output
    lines = _json_lines(output)
    extracted = {line["table"]: line for line in lines if line.get("message") == "table extracted"}
    assert sorted(extracted) == sorted(TOTESYS_TABLES)
    assert extracted["sales_order"]["rows"] == result["rows"]["sales_order"]
    assert extracted["sales_order"]["bytes"] == manifest["tables"]["sales_order"]["bytes"]
    assert {"seconds", "csv_bytes", "window", "level", "service"} <= set(extracted["address"])
    assert extracted["address"]["service"] == os.environ["POWERTOOLS_SERVICE_NAME"]
    emf = [line for line in lines if "_aws" in line]
    rows_metrics = {line["table"]: line["RowsIngested"] for line in emf if "RowsIngested" in line}
    assert rows_metrics == {t: [float(n)] for t, n in result["rows"].items()}
    [duration] = [line for line in emf if "RunDuration" in line]
    namespaces = {m["Namespace"] for line in emf for m in line["_aws"]["CloudWatchMetrics"]}
    assert namespaces == {"ToteSysPipelineTests"}
    assert duration["RunDuration"][0] > 0
    assert duration["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "RunDuration", "Unit": "Seconds"},
        {"Name": "StateRejected", "Unit": "Count"},
        {"Name": "IngestFailed", "Unit": "Count"},
    ]
    # StateRejectedAlarm's and IngestFailedAlarm's metrics have a datapoint on every accepted
    # run, not only on a refusal or a failure.
    assert (duration["StateRejected"], duration["IngestFailed"]) == ([0.0], [0.0])
    assert duration["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]


def test_warm_invocation_with_no_changes_returns_no_batch(totesys, handler_env, s3, bucket) -> None:
    app = load_app()
    app.lambda_handler(EVENT, LambdaContext())
    keys = all_keys(s3, bucket)

    result = app.lambda_handler(EVENT, LambdaContext())

    assert result["batch_id"] is None
    assert result["rows"] == dict.fromkeys(TOTESYS_TABLES, 0)
    assert all_keys(s3, bucket) == keys


def test_table_name_outside_the_allow_list_is_refused_before_any_sql(
    totesys, handler_env, monkeypatch, s3, bucket, capsys
) -> None:
    totesys.run("CREATE TABLE x (id int)")
    monkeypatch.setenv("TABLES", 'staff,sales_order"; drop table x; --')
    # Powertools keeps one handler per service for the process, still pointing at an earlier
    # test's (closed) stdout: point it at this one's before the import logs the error.
    for handler in logging.getLogger(os.environ["POWERTOOLS_SERVICE_NAME"]).handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.stream = sys.stdout
    app = load_app()  # the init phase does not fail: the error is kept for the invocation

    result = app.lambda_handler(EVENT, LambdaContext())

    # Terminal: no function error, so Lambda spends no retry; counted for IngestFailedAlarm.
    assert (result["status"], result["error"], result["transient"]) == (
        "failed",
        "ConfigError",
        False,
    )
    assert re.search(r"outside the ToteSys allow-list: \['sales_order\"", result["message"])
    lines = _json_lines(capsys.readouterr().out)
    [failed] = [line for line in lines if "IngestFailed" in line]
    assert (failed["IngestFailed"], failed["error"], failed["transient"]) == (
        [1.0],
        "ConfigError",
        "false",
    )
    errors = [(line["message"], line["error"]) for line in lines if line.get("level") == "ERROR"]
    assert errors == [
        ("configuration error at init", "ConfigError"),
        ("Ingest failed (terminal, not retried)", "ConfigError"),
    ]

    assert totesys.run("SELECT to_regclass('x') IS NOT NULL") == [[True]]
    sessions = totesys.run(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE application_name = 'totesys-ingest' AND datname = current_database()"
    )
    assert sessions == [[0]]
    assert all_keys(s3, bucket) == []

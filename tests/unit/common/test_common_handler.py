"""The handlers' error boundary: init guarded, failures logged and counted, terminal ones
returned (no retry), transient ones raised (Lambda retries them)."""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics

from pipeline_common.errors import ConfigError, DatabaseUnavailableError, TerminalError
from pipeline_common.handler import FailureResponse, init_guard, pipeline_handler

NAMESPACE = "HandlerTests"


def make_logger() -> tuple[Logger, io.StringIO]:
    """A Powertools logger of its own (a service per test) writing JSON lines to a buffer."""
    stream = io.StringIO()
    logger = Logger(
        service=f"handler-{uuid.uuid4().hex[:8]}", logger_handler=logging.StreamHandler(stream)
    )
    return logger, stream


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def failed_metrics(out: str, name: str) -> list[dict[str, Any]]:
    return [doc for doc in json_lines(out) if name in doc and "_aws" in doc]


def boundary(logger: Logger, error: Exception | None, calls: list[str]) -> Any:
    metrics = Metrics(namespace=NAMESPACE, service="ingest")

    @metrics.log_metrics
    @pipeline_handler("Ingest", logger=logger, metrics=metrics)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append("called")
        if error is not None:
            raise error
        return {"batch_id": "b1"}

    return handler


def test_a_success_returns_the_handlers_summary_and_counts_zero_failures(capsys) -> None:
    logger, _ = make_logger()
    handler = boundary(logger, None, [])

    assert handler({}, None) == {"batch_id": "b1"}

    [doc] = failed_metrics(capsys.readouterr().out, "IngestFailed")
    assert doc["IngestFailed"] == [0.0]
    [directive] = doc["_aws"]["CloudWatchMetrics"]
    assert (directive["Namespace"], directive["Dimensions"]) == (NAMESPACE, [["service"]])
    assert doc["service"] == "ingest"


def test_a_transient_error_is_logged_counted_and_raised_for_lambda_to_retry(capsys) -> None:
    logger, logs = make_logger()
    error = DatabaseUnavailableError("cannot connect to Postgres at db:5432")
    handler = boundary(logger, error, [])

    with pytest.raises(DatabaseUnavailableError) as raised:
        handler({}, None)

    assert raised.value is error
    [doc] = failed_metrics(capsys.readouterr().out, "IngestFailed")
    assert doc["IngestFailed"] == [1.0]
    assert (doc["error"], doc["transient"]) == ("DatabaseUnavailableError", "true")
    [line] = json_lines(logs.getvalue())
    assert (line["level"], line["error"], line["transient"]) == (
        "ERROR",
        "DatabaseUnavailableError",
        True,
    )


def test_an_exception_the_pipeline_did_not_classify_counts_as_transient(capsys) -> None:
    logger, logs = make_logger()
    handler = boundary(logger, KeyError("detail"), [])

    with pytest.raises(KeyError):
        handler({}, None)

    [doc] = failed_metrics(capsys.readouterr().out, "IngestFailed")
    assert (doc["error"], doc["transient"]) == ("KeyError", "true")
    assert json_lines(logs.getvalue())[0]["transient"] is True


def test_a_terminal_error_ends_without_a_function_error_and_says_why(capsys) -> None:
    logger, logs = make_logger()
    calls: list[str] = []
    handler = boundary(
        logger, ConfigError("INGEST_BUCKET 'Bad_Bucket' is not an S3 bucket name"), calls
    )

    response = handler({}, None)

    assert calls == ["called"]
    assert response == {
        "status": "failed",
        "error": "ConfigError",
        "transient": False,
        "message": "INGEST_BUCKET 'Bad_Bucket' is not an S3 bucket name",
    }
    assert json.loads(json.dumps(response)) == response  # what Lambda returns: plain JSON
    assert isinstance(response, FailureResponse) and isinstance(response.error, ConfigError)
    [doc] = failed_metrics(capsys.readouterr().out, "IngestFailed")
    assert (doc["IngestFailed"], doc["error"], doc["transient"]) == ([1.0], "ConfigError", "false")
    [line] = json_lines(logs.getvalue())
    assert line["level"] == "ERROR"
    assert (line["error"], line["transient"]) == ("ConfigError", False)
    assert line["message"] == "Ingest failed (terminal, not retried)"


def test_a_terminal_failure_body_carries_no_row_data_of_a_database_error() -> None:
    fields = {
        "S": "ERROR",
        "C": "22P02",
        "M": 'invalid input syntax for type integer: "secret-value-7"',
        "D": "Failing row contains (secret-value-7).",
        "t": "dim_staff",
    }

    body = FailureResponse(TerminalError(fields))

    assert body["message"] == "22P02 invalid input syntax for type integer (table dim_staff)"
    assert "secret-value-7" not in json.dumps(body)


def test_an_init_error_is_logged_once_and_raised_at_every_invocation() -> None:
    logger, logs = make_logger()

    def build() -> Any:
        raise ConfigError("missing environment variables: PROCESSED_BUCKET")

    init = init_guard(build, logger=logger)

    [line] = json_lines(logs.getvalue())
    assert (line["message"], line["error"], line["transient"]) == (
        "configuration error at init",
        "ConfigError",
        False,
    )
    depths = []
    for _ in range(3):
        with pytest.raises(ConfigError, match="PROCESSED_BUCKET") as raised:
            init.get()
        depth, tb = 0, raised.value.__traceback__
        while tb is not None:
            depth, tb = depth + 1, tb.tb_next
        depths.append(depth)
    assert depths[0] == depths[1] == depths[2]  # the kept traceback does not grow


def test_an_init_error_inside_the_boundary_is_counted_like_any_failure(capsys) -> None:
    logger, _ = make_logger()
    metrics = Metrics(namespace=NAMESPACE, service="load")

    def build() -> Any:
        raise ConfigError("missing environment variables: WAREHOUSE_SECRET_ID")

    init = init_guard(build, logger=logger)

    @metrics.log_metrics
    @pipeline_handler("Load", logger=logger, metrics=metrics)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"settings": init.get()}

    assert handler({}, None)["error"] == "ConfigError"
    assert handler({}, None)["error"] == "ConfigError"
    docs = failed_metrics(capsys.readouterr().out, "LoadFailed")
    assert [(d["LoadFailed"], d["service"]) for d in docs] == [([1.0], "load"), ([1.0], "load")]


def test_a_value_built_at_init_is_returned_every_time() -> None:
    logger, logs = make_logger()
    made = object()

    init = init_guard(lambda: made, logger=logger)

    assert init.get() is made and init.get() is made
    assert logs.getvalue() == ""

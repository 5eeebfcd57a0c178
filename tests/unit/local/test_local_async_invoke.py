"""The local runtime invokes as an asynchronous invocation runs: a raised error is retried up
to the template's MaximumRetryAttempts, a returned terminal failure is a failure once."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_lambda_powertools import Logger, Metrics

from local.lambda_runtime import (
    FunctionFailedError,
    LambdaContext,
    invoke_async,
    maximum_retry_attempts,
)
from local.stack import TEMPLATE_PATH
from pipeline_common.errors import DatabaseUnavailableError, SecretError
from pipeline_common.handler import pipeline_handler

LOGGER = Logger(service="async-invoke-test", logger_handler=logging.StreamHandler(io.StringIO()))
METRICS = Metrics(namespace="AsyncInvokeTests", service="load")


def counting_handler(error: Exception | None, calls: list[int]) -> Any:
    """A handler behind the real error boundary, counting its invocations."""

    @METRICS.log_metrics
    @pipeline_handler("Load", logger=LOGGER, metrics=METRICS)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(len(calls) + 1)
        if error is not None:
            raise error
        return {"batches_loaded": 0}

    return handler


def test_the_template_gives_ingest_no_retry_and_the_loader_one() -> None:
    assert maximum_retry_attempts(TEMPLATE_PATH, "ingest_fn") == 0
    assert maximum_retry_attempts(TEMPLATE_PATH, "load_fn/") == 1


@pytest.mark.parametrize("function_dir", ["ingest_fn", "load_fn"])
def test_a_transient_error_is_invoked_once_plus_the_templates_retries_then_raised(
    function_dir: str,
) -> None:
    retries = maximum_retry_attempts(TEMPLATE_PATH, function_dir)
    calls: list[int] = []
    retried: list[tuple[int, str]] = []
    handler = counting_handler(DatabaseUnavailableError("warehouse restarting"), calls)

    with pytest.raises(DatabaseUnavailableError, match="warehouse restarting"):
        invoke_async(
            handler,
            {},
            LambdaContext(function_name=function_dir),
            retries,
            lambda attempt, exc: retried.append((attempt, type(exc).__name__)),
        )

    assert len(calls) == 1 + retries
    assert retried == [(n, "DatabaseUnavailableError") for n in range(1, retries + 1)]


@pytest.mark.parametrize("function_dir", ["ingest_fn", "load_fn"])
def test_a_terminal_error_is_invoked_once_and_reported_as_a_failure(function_dir: str) -> None:
    retries = maximum_retry_attempts(TEMPLATE_PATH, function_dir)
    calls: list[int] = []
    error = SecretError("secret 'totesys/warehouse' cannot be read: AccessDeniedException")
    handler = counting_handler(error, calls)

    with pytest.raises(FunctionFailedError) as raised:
        invoke_async(handler, {}, LambdaContext(function_name=function_dir), retries)

    assert calls == [1]
    assert str(raised.value) == (
        "secret 'totesys/warehouse' cannot be read: AccessDeniedException "
        "[SecretError, terminal: not retried]"
    )
    assert raised.value.body["status"] == "failed"
    assert raised.value.__cause__ is error  # in process, the chain a traceback would show


def test_a_success_is_returned_after_a_retried_transient_error() -> None:
    calls: list[int] = []
    flaky = DatabaseUnavailableError("once")

    @METRICS.log_metrics
    @pipeline_handler("Load", logger=LOGGER, metrics=METRICS)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise flaky
        return {"batches_loaded": 1}

    assert invoke_async(handler, {}, None, retries=1) == {"batches_loaded": 1}
    assert len(calls) == 2


def test_retries_follow_the_template_and_lambdas_default_without_an_invoke_config(
    tmp_path: Path,
) -> None:
    template = {
        "Resources": {
            "Configured": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "a_fn/",
                    "EventInvokeConfig": {"MaximumRetryAttempts": 2},
                },
            },
            "Plain": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "b_fn/"}},
        }
    }
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template), encoding="utf-8")

    assert maximum_retry_attempts(path, "a_fn") == 2
    assert maximum_retry_attempts(path, "b_fn") == 2  # Lambda's default: two more attempts
    calls: list[int] = []
    with pytest.raises(DatabaseUnavailableError):
        invoke_async(counting_handler(DatabaseUnavailableError("x"), calls), {}, None, 2)
    assert len(calls) == 3
    with pytest.raises(KeyError, match="c_fn"):
        maximum_retry_attempts(path, "c_fn")

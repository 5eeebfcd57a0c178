"""Lambda handler: on a Glue job success or the scheduled backstop, load every pending batch."""

from __future__ import annotations

import contextlib
import functools
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import NoRegionError

from loader.load import run
from loader.metrics import record_freshness, record_load_failure, record_load_metrics
from loader.settings import Settings
from loader.trigger import describe_trigger

logger = Logger()
metrics = Metrics()


@functools.cache
def _clients(endpoint_url: str | None) -> tuple[Any, Any]:
    """S3 and Secrets Manager clients, made once per container (and per endpoint, for tests)."""
    return boto3.client("s3"), boto3.client("secretsmanager")


# Made during the container's init, outside the handler, as AWS advises for SDK clients (the
# handler reuses them); where no region is configured yet (a test importing this module
# before its fixtures set one), the first invocation makes them instead.
with contextlib.suppress(NoRegionError):
    _clients(os.environ.get("AWS_ENDPOINT_URL"))


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Any event is only a "when": what to load comes from the warehouse and the manifests."""
    logger.info("load run started", extra=describe_trigger(event))
    settings = Settings.from_env()
    s3, secretsmanager = _clients(os.environ.get("AWS_ENDPOINT_URL"))
    try:
        result = run(settings, s3, secretsmanager)
    except Exception as exc:
        logger.exception("load run failed", extra={"error": type(exc).__name__})
        record_load_failure(metrics, exc)
        raise
    record_load_metrics(metrics, result, settings)
    record_freshness(metrics, result, datetime.now(UTC))
    summary = result.summary()
    logger.info("load run finished", extra={"batches_loaded": summary["batches_loaded"]})
    return summary

"""Lambda handler: on a Glue job success or the scheduled backstop, load every pending batch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from loader.load import run
from loader.metrics import record_freshness, record_load_metrics
from loader.settings import Settings
from loader.trigger import describe_trigger
from pipeline_common.handler import Resources, init_guard, pipeline_handler

logger = Logger()
metrics = Metrics()
# Settings and clients once per container, during init as AWS advises for SDK clients; a
# bad setting is logged here and raised, counted as LoadFailed, at every invocation
# (pipeline_common.handler).
INIT = init_guard(
    lambda: Resources(Settings.from_env(), boto3.client("s3"), boto3.client("secretsmanager")),
    logger=logger,
)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@pipeline_handler("Load", logger=logger, metrics=metrics)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Any event is only a "when": what to load comes from the warehouse and the manifests."""
    logger.info("load run started", extra=describe_trigger(event))
    init = INIT.get()
    result = run(init.settings, init.s3, init.secretsmanager)
    record_load_metrics(metrics, result, init.settings)
    record_freshness(metrics, result, datetime.now(UTC))
    summary = result.summary()
    logger.info("load run finished", extra={"batches_loaded": summary["batches_loaded"]})
    return summary

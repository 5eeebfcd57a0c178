"""Lambda entry point for the scheduled ToteSys ingest: parse nothing, run once, summarise."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingest.run import run_ingest
from ingest.settings import Settings
from pipeline_common.handler import Resources, init_guard, pipeline_handler

logger = Logger()
metrics = Metrics()
# Settings and clients once per container; a bad setting is logged here and raised, counted
# as IngestFailed, at every invocation (pipeline_common.handler).
INIT = init_guard(
    lambda: Resources(Settings.from_env(), boto3.client("s3"), boto3.client("secretsmanager")),
    logger=logger,
)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@pipeline_handler("Ingest", logger=logger, metrics=metrics)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The schedule only says when: the run finds its own work from the bucket's state."""
    schedule = EventBridgeEvent(event)
    if "id" in schedule and "time" in schedule:  # a hand-made test invocation may carry neither
        logger.info("scheduled ingest", extra={"event_id": schedule.get_id, "time": schedule.time})
    else:
        logger.info("ingest invoked without a schedule event", extra={"keys": sorted(event)[:20]})
    init = INIT.get()
    summary = run_ingest(
        init.settings, s3=init.s3, secretsmanager=init.secretsmanager, metrics=metrics
    )
    return summary.to_dict()

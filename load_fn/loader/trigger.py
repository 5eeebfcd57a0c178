"""What started a run, for the log only: the event says *when* to load, never *what*."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

_ENVELOPE = ("source", "detail-type", "time", "resources", "detail")
"""Fields EventBridge puts in every event it delivers (the typed properties read them)."""


def describe_trigger(event: Any) -> dict[str, Any]:
    """A short, credential-free description of the invoking event (any shape is accepted)."""
    if not isinstance(event, dict):
        return {"trigger": "unknown", "event_type": type(event).__name__}
    typed = EventBridgeEvent(event)
    if all(key in event for key in _ENVELOPE) and isinstance(event["detail"], dict):
        if (typed.source, typed.detail_type) == ("aws.glue", "Glue Job State Change"):
            return {
                "trigger": "glue_job_state_change",
                "job_name": typed.detail.get("jobName"),
                "job_state": typed.detail.get("state"),
                "job_run_id": typed.detail.get("jobRunId"),
                "event_time": typed.time,
            }
        if (typed.source, typed.detail_type) == ("aws.events", "Scheduled Event"):
            return {
                "trigger": "schedule",
                "rule": next(iter(typed.resources or []), None),
                "event_time": typed.time,
            }
    return {
        "trigger": "unknown",
        "source": typed.get("source"),
        "detail_type": typed.get("detail-type"),
        "keys": sorted(str(key) for key in event)[:20],
    }

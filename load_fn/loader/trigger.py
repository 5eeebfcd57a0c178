"""What started a run, for the log only: the event says *when* to load, never *what*."""

from __future__ import annotations

from typing import Any


def describe_trigger(event: Any) -> dict[str, Any]:
    """A short, credential-free description of the invoking event (any shape is accepted)."""
    if not isinstance(event, dict):
        return {"trigger": "unknown", "event_type": type(event).__name__}
    source = event.get("source")
    detail_type = event.get("detail-type")
    detail: dict[str, Any] = event["detail"] if isinstance(event.get("detail"), dict) else {}
    if source == "aws.glue" and detail_type == "Glue Job State Change":
        return {
            "trigger": "glue_job_state_change",
            "job_name": detail.get("jobName"),
            "job_state": detail.get("state"),
            "job_run_id": detail.get("jobRunId"),
            "event_time": event.get("time"),
        }
    if source == "aws.events" and detail_type == "Scheduled Event":
        return {
            "trigger": "schedule",
            "rule": next(iter(event.get("resources") or []), None),
            "event_time": event.get("time"),
        }
    return {
        "trigger": "unknown",
        "source": source,
        "detail_type": detail_type,
        "keys": sorted(str(key) for key in event)[:20],
    }

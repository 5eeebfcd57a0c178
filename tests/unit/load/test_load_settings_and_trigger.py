"""Settings from the environment, and what the log says started a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loader.settings import Settings
from loader.trigger import describe_trigger
from pipeline_common.errors import ConfigError

EVENTS = Path(__file__).resolve().parents[3] / "events"


def test_settings_read_the_variables_the_template_wires() -> None:
    settings = Settings.from_env(
        {
            "PROCESSED_BUCKET": "processed",
            "WAREHOUSE_SECRET_ID": "totesys/warehouse",
            "POWERTOOLS_SERVICE_NAME": "load",
            "POWERTOOLS_METRICS_NAMESPACE": "ToteSys",
        }
    )
    assert settings == Settings("processed", "totesys/warehouse", "load", "ToteSys", 60, 600.0)


def test_settings_default_the_powertools_names() -> None:
    settings = Settings.from_env({"PROCESSED_BUCKET": "p", "WAREHOUSE_SECRET_ID": "s"})
    assert (settings.service_name, settings.metrics_namespace) == ("load_fn", "ToteSysPipeline")


def test_missing_settings_are_a_configuration_error_naming_them() -> None:
    with pytest.raises(ConfigError, match="PROCESSED_BUCKET, WAREHOUSE_SECRET_ID"):
        Settings.from_env({"PROCESSED_BUCKET": ""})


def test_a_glue_job_state_change_is_described_by_job_run_and_state() -> None:
    event = json.loads((EVENTS / "glue_job_succeeded.json").read_text())
    assert event["source"] == "aws.glue"
    assert event["detail-type"] == "Glue Job State Change"
    assert describe_trigger(event) == {
        "trigger": "glue_job_state_change",
        "job_name": "totesys-star-schema",
        "job_state": "SUCCEEDED",
        "job_run_id": event["detail"]["jobRunId"],
        "event_time": "2024-11-15T14:47:12Z",
    }


def test_the_scheduled_backstop_is_described_by_its_rule() -> None:
    event = json.loads((EVENTS / "load_backstop.json").read_text())
    assert describe_trigger(event) == {
        "trigger": "schedule",
        "rule": "arn:aws:events:eu-west-2:123456789012:rule/totesys-load-backstop",
        "event_time": "2024-11-15T15:00:00Z",
    }


@pytest.mark.parametrize(
    ("event", "described"),
    [
        ({}, {"trigger": "unknown", "source": None, "detail_type": None, "keys": []}),
        (
            {"source": "aws.s3", "detail-type": "Object Created", "detail": "x"},
            {
                "trigger": "unknown",
                "source": "aws.s3",
                "detail_type": "Object Created",
                "keys": ["detail", "detail-type", "source"],
            },
        ),
        (
            # a job state change without EventBridge's envelope is not read as one
            {"source": "aws.glue", "detail-type": "Glue Job State Change", "detail": {}},
            {
                "trigger": "unknown",
                "source": "aws.glue",
                "detail_type": "Glue Job State Change",
                "keys": ["detail", "detail-type", "source"],
            },
        ),
        ([1, 2], {"trigger": "unknown", "event_type": "list"}),
        (None, {"trigger": "unknown", "event_type": "NoneType"}),
    ],
)
def test_any_other_event_is_accepted_and_described_as_unknown(event, described) -> None:
    assert describe_trigger(event) == described

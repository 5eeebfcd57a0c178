"""The alarm-metric check itself: an alarm whose metric was never emitted is reported."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.alarm_metrics import alarms_without_a_metric, emitted_metrics


def emf(namespace: str, metric: str, **dimensions: str) -> str:
    return json.dumps(
        {
            "_aws": {
                "CloudWatchMetrics": [
                    {
                        "Namespace": namespace,
                        "Dimensions": [list(dimensions)],
                        "Metrics": [{"Name": metric, "Unit": "Count"}],
                    }
                ]
            },
            metric: [1.0],
            **dimensions,
        }
    )


# What the code emits for the template's custom-metric alarms (the e2e run checks the real
# lines): the loader's quarantine and freshness, ingest's refusal of a forged state, and each
# handler's failure count (pipeline_common.handler, 0 on a success).
EMITTED = [
    emf("ToteSysPipeline", "QuarantinedRows", service="load"),
    emf("ToteSysPipeline", "FreshnessSeconds", service="load"),
    emf("ToteSysPipeline", "StateRejected", service="ingest"),
    emf("ToteSysPipeline", "IngestFailed", service="ingest"),
    emf("ToteSysPipeline", "LoadFailed", service="load"),
]


def test_the_templates_alarms_are_fed_by_the_metrics_the_code_emits(
    template: dict[str, Any],
) -> None:
    lines = EMITTED
    assert alarms_without_a_metric(template, emitted_metrics(lines)) == []


def test_an_alarm_whose_metric_is_not_emitted_is_reported(template: dict[str, Any]) -> None:
    lines = [
        *EMITTED[1:],
        emf("ToteSysPipeline", "BatchesLoaded", service="load"),
        emf("ToteSysPipeline", "QuarantinedRows", service="ingest"),
        '{"level": "INFO", "message": "QuarantinedRows"}',
    ]
    assert alarms_without_a_metric(template, emitted_metrics(lines)) == [
        "QuarantinedRowsAlarm: ToteSysPipeline QuarantinedRows {'service': 'load'} "
        "was never emitted"
    ]


def test_a_service_metric_alarm_must_name_a_resource_of_that_service(
    template: dict[str, Any],
) -> None:
    broken = json.loads(json.dumps(template))
    broken["Resources"]["LoadErrorsAlarm"]["Properties"]["Dimensions"][0]["Value"] = {
        "Ref": "FailedEventsQueue"
    }
    lines = EMITTED
    assert alarms_without_a_metric(broken, emitted_metrics(lines)) == [
        "LoadErrorsAlarm: AWS/Lambda Errors names no FunctionName of the stack"
    ]

"""The freshness alarm and the dashboard watch the metrics the stages really emit."""

from __future__ import annotations

import json
import re
from typing import Any

from template_support import REPO_ROOT, props, ref

SUB_VARIABLE = re.compile(r"\$\{([A-Za-z0-9:.]+)\}")
PSEUDO = {"AWS::Region", "AWS::StackName", "AWS::AccountId", "AWS::Partition"}
CODE_DIRS = ("ingest_fn", "load_fn", "glue_jobs", "layers/common/pipeline_common")


def emitted_metric_names() -> set[str]:
    """Every metric name the deployed code emits (Powertools' `name="..."` with a unit)."""
    names: set[str] = set()
    for folder in CODE_DIRS:
        for path in (REPO_ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            names.update(re.findall(r'name="([A-Za-z]+)",\s*unit=MetricUnit', text))
    return names


def dashboard_body(resources: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's JSON with every ${...} replaced, after checking each one resolves."""
    text = props(resources, "PipelineDashboard")["DashboardBody"]["Fn::Sub"]
    for name in SUB_VARIABLE.findall(text):
        base = name.split(".")[0]
        assert name in PSEUDO or base in resources or base in parameters, name

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(parameters[name]["Default"]) if name in parameters else name

    return json.loads(SUB_VARIABLE.sub(value, text))


def metric_rows(body: dict[str, Any]) -> list[list[Any]]:
    return [row for widget in body["widgets"] for row in widget["properties"]["metrics"]]


def test_freshness_alarm_emails_above_the_parameter_and_when_no_load_reports(
    resources: dict[str, Any], template: dict[str, Any]
) -> None:
    alarm = props(resources, "FreshnessAlarm")
    parameter = template["Parameters"]["FreshnessAlarmSeconds"]
    assert (parameter["Type"], parameter["Default"]) == ("Number", 1800)
    assert alarm["Threshold"] == ref("FreshnessAlarmSeconds")
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["Statistic"] == "Maximum"
    assert alarm["AlarmActions"] == [ref("AlertTopic")]
    # the metric the loader emits: its namespace (Globals) and its service dimension
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]
    load_env = props(resources, "LoadFunction")["Environment"]["Variables"]
    assert alarm["Namespace"] == namespace["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["MetricName"] == "FreshnessSeconds"
    assert "FreshnessSeconds" in emitted_metric_names()
    service = load_env["POWERTOOLS_SERVICE_NAME"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": service}]


def test_freshness_alarm_spans_at_least_one_backstop_load(
    resources: dict[str, Any], template: dict[str, Any]
) -> None:
    alarm = props(resources, "FreshnessAlarm")
    backstop = template["Parameters"]["LoadBackstopSchedule"]["Default"]
    amount, unit = re.fullmatch(r"rate\((\d+) (minutes?|hours?)\)", backstop).groups()  # type: ignore[union-attr]
    backstop_seconds = int(amount) * (3600 if unit.startswith("hour") else 60)
    # each period may miss the backstop by jitter; the alarm needs every period to breach
    assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"] == 2
    assert backstop_seconds <= alarm["Period"]


def test_dashboard_shows_runs_failures_and_durations_of_every_stage(
    resources: dict[str, Any], template: dict[str, Any]
) -> None:
    rows = metric_rows(dashboard_body(resources, template["Parameters"]))
    plain = {tuple(v for v in row if not isinstance(v, dict)) for row in rows}
    for function in ("IngestFunction", "LoadFunction"):
        for metric in ("Invocations", "Errors", "Duration"):
            assert ("AWS/Lambda", metric, "FunctionName", function) in plain, (function, metric)
    assert ("AWS/Events", "TriggeredRules", "RuleName", "TransformSucceededRule") in plain
    assert ("AWS/Events", "TriggeredRules", "RuleName", "TransformFailedRule") in plain
    glue = ("Glue", "glue.driver.aggregate.elapsedTime", "JobName", "StarSchemaJob")
    assert (*glue, "JobRunId", "ALL", "Type", "count") in plain
    assert props(resources, "StarSchemaJob")["DefaultArguments"]["--enable-metrics"] == "true"


def test_dashboard_shows_freshness_rows_quarantine_and_failed_events(
    resources: dict[str, Any], template: dict[str, Any]
) -> None:
    body = dashboard_body(resources, template["Parameters"])
    rows = metric_rows(body)
    plain = {tuple(v for v in row if not isinstance(v, dict)) for row in rows}
    own = {row[1] for row in plain if row and row[0] == "ToteSysPipeline"}
    assert own == {"FreshnessSeconds", "BatchesLoaded", "QuarantinedRows"}
    searches = " ".join(row[0]["expression"] for row in rows if isinstance(row[0], dict))
    assert 'MetricName="RowsIngested"' in searches and 'MetricName="RowsLoaded"' in searches
    # every pipeline metric on the screen is one the code emits (no empty graphs)
    searched = set(re.findall(r'MetricName="([A-Za-z]+)"', searches))
    assert own | searched <= emitted_metric_names()
    queue = ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName")
    assert (*queue, "FailedEventsQueue.QueueName") in plain
    [freshness] = [w for w in body["widgets"] if "Freshness" in w["properties"]["title"]]
    assert freshness["properties"]["annotations"]["horizontal"][0]["value"] == 1800

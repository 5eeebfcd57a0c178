"""Which alarms in template.yaml watch a metric that a local run really emitted.

Custom-namespace alarms must match an EMF document (namespace, metric name, exact dimension
set and values) among the JSON lines the run logged; AWS-namespace alarms watch a metric
the service itself publishes, so their dimension must name a resource of that service in
the template. Anything else can never fire.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

# AWS namespace -> (dimension name, resource types whose metrics carry it).
SERVICE_METRICS = {
    "AWS/Lambda": ("FunctionName", {"AWS::Serverless::Function", "AWS::Lambda::Function"}),
    "AWS/SQS": ("QueueName", {"AWS::SQS::Queue"}),
}

Metric = tuple[str, str, frozenset[tuple[str, str]]]


def emitted_metrics(lines: Iterable[str]) -> set[Metric]:
    """(namespace, metric, dimensions) of every EMF metric among the logged lines."""
    found: set[Metric] = set()
    for line in lines:
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"].get("CloudWatchMetrics", []):
            for dimension_set in directive.get("Dimensions") or [[]]:
                dimensions = frozenset((d, str(document[d])) for d in dimension_set)
                for metric in directive.get("Metrics", []):
                    found.add((directive["Namespace"], metric["Name"], dimensions))
    return found


def _referenced(value: Any) -> str | None:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return None


def alarms_without_a_metric(template: dict[str, Any], emitted: set[Metric]) -> list[str]:
    """Each alarm that no emitted metric (or no service resource) can ever feed."""
    resources = template["Resources"]
    silent = []
    for name, resource in sorted(resources.items()):
        if resource.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        properties = resource["Properties"]
        namespace, metric = properties["Namespace"], properties["MetricName"]
        dimensions = properties.get("Dimensions") or []
        if namespace in SERVICE_METRICS:
            dimension, types = SERVICE_METRICS[namespace]
            owners = [_referenced(d["Value"]) for d in dimensions if d["Name"] == dimension]
            if not owners or any(
                o not in resources or resources[o]["Type"] not in types for o in owners
            ):
                silent.append(f"{name}: {namespace} {metric} names no {dimension} of the stack")
            continue
        wanted = frozenset((d["Name"], str(d["Value"])) for d in dimensions)
        if (namespace, metric, wanted) not in emitted:
            silent.append(f"{name}: {namespace} {metric} {dict(wanted)} was never emitted")
    return silent

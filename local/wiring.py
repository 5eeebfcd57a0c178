"""The template's EventBridge rules in moto, with an SQS queue as each rule's target.

In AWS the rules start the Glue workflow and invoke the loader. Locally each rule sends to
its own queue and the runner starts the stage whose queue received the event, so an event
that a template pattern no longer matches stops the local pipeline as it would in AWS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local.cfn import resolve, resources_of_type

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
else:
    EventBridgeClient = Any
    S3Client = Any
    SQSClient = Any

MANIFEST_RULE = "ManifestCreatedRule"
TRANSFORM_RULE = "TransformSucceededRule"
STAGE_RULES = (MANIFEST_RULE, TRANSFORM_RULE)


class WiringError(RuntimeError):
    """The template's rules cannot drive the local pipeline (missing, or not matching)."""


@dataclass(frozen=True)
class RuleSpec:
    """One EventBridge rule of the template, its pattern resolved to local names."""

    logical_id: str
    pattern: dict[str, Any]


@dataclass(frozen=True)
class LocalRule:
    """A rule created in moto and the queue its matches arrive on."""

    spec: RuleSpec
    queue_url: str


def read_rules(template: dict[str, Any], refs: dict[str, str]) -> dict[str, RuleSpec]:
    """The stage rules of the template, with `!Ref`s replaced by the local names."""
    rules = resources_of_type(template, "AWS::Events::Rule")
    found: dict[str, RuleSpec] = {}
    for logical_id in STAGE_RULES:
        resource = rules.get(logical_id)
        if resource is None:
            raise WiringError(f"template.yaml has no AWS::Events::Rule {logical_id}")
        pattern = (resource.get("Properties") or {}).get("EventPattern")
        if not isinstance(pattern, dict):
            raise WiringError(f"template.yaml rule {logical_id} has no EventPattern")
        try:
            found[logical_id] = RuleSpec(logical_id, resolve(pattern, refs))
        except KeyError as exc:
            raise WiringError(f"rule {logical_id}: {exc.args[0]}") from exc
    return found


def create_rules(
    events: EventBridgeClient, sqs: SQSClient, specs: dict[str, RuleSpec], prefix: str
) -> dict[str, LocalRule]:
    """Each rule in moto's default bus, targeting a queue of its own."""
    created: dict[str, LocalRule] = {}
    for logical_id, spec in specs.items():
        queue_url = sqs.create_queue(QueueName=f"{prefix}-{logical_id}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        rule_name = f"{prefix}-{logical_id}"
        events.put_rule(Name=rule_name, EventPattern=json.dumps(spec.pattern), State="ENABLED")
        events.put_targets(Rule=rule_name, Targets=[{"Id": "local-runner", "Arn": queue_arn}])
        created[logical_id] = LocalRule(spec, queue_url)
    return created


def enable_eventbridge_notifications(s3: S3Client, bucket: str) -> None:
    """S3 -> EventBridge for a bucket (the template's NotificationConfiguration does this)."""
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"EventBridgeConfiguration": {}},
    )


def drain(sqs: SQSClient, rule: LocalRule) -> list[dict[str, Any]]:
    """Every event waiting on a rule's queue, oldest first; received messages are deleted."""
    received: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=rule.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=rule.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return received


def glue_job_state_change(
    template_event: dict[str, Any], job_name: str, job_run_id: str
) -> dict[str, str]:
    """A PutEvents entry shaped like events/glue_job_succeeded.json, for the local job."""
    detail = dict(template_event.get("detail") or {})
    detail.update({"jobName": job_name, "jobRunId": job_run_id, "state": "SUCCEEDED"})
    return {
        "Source": str(template_event.get("source", "aws.glue")),
        "DetailType": str(template_event.get("detail-type", "Glue Job State Change")),
        "Detail": json.dumps(detail),
    }

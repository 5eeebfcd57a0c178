"""The template's rule patterns, proven against real events in moto (server mode).

The ingest bucket is made in moto with the template's NotificationConfiguration, so S3
itself emits "Object Created" to EventBridge. Each rule is created from the template's
EventPattern (resolved to local names) and routed to an SQS queue that the test reads.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.cfn import load_template, resolve

REPO_ROOT = Path(__file__).resolve().parents[3]
EVENTS = REPO_ROOT / "events"
BUCKET = "totesys-pipeline-ingestbucket-test"
MANIFEST_KEY = "_manifests/20241115T144100123456Z.json"
PART_KEY = "sales_order/batch=20241115T144100123456Z/part-00000.csv.gz"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(REPO_ROOT / "template.yaml")


@pytest.fixture
def clients(aws: str) -> dict[str, Any]:
    return {name: boto3.client(name) for name in ("s3", "events", "sqs")}


def _event_file(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def _rule_to_queue(
    clients: dict[str, Any], template: dict[str, Any], rule: str, refs: dict[str, str]
) -> str:
    """Create one template rule (pattern resolved with refs) in moto, targeting a new queue."""
    pattern = resolve(template["Resources"][rule]["Properties"]["EventPattern"], refs)
    queue_url = clients["sqs"].create_queue(QueueName=f"test-{rule}")["QueueUrl"]
    queue_arn = clients["sqs"].get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    clients["events"].put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
    clients["events"].put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url


def _received(clients: dict[str, Any], queue_url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        batch = (
            clients["sqs"]
            .receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            .get("Messages", [])
        )
        if not batch:
            return messages
        for message in batch:
            messages.append(json.loads(message["Body"]))
            clients["sqs"].delete_message(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"]
            )


def _notification_configuration(template: dict[str, Any]) -> dict[str, Any]:
    """The ingest bucket's NotificationConfiguration, in the S3 API's shape."""
    config = template["Resources"]["IngestBucket"]["Properties"].get(
        "NotificationConfiguration", {}
    )
    api: dict[str, Any] = {}
    if config.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled") is True:
        api["EventBridgeConfiguration"] = {}
    return api


def _make_ingest_bucket(clients: dict[str, Any], notification: dict[str, Any]) -> None:
    clients["s3"].create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    clients["s3"].put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration=notification
    )


def _land_a_batch(clients: dict[str, Any]) -> None:
    """What ingest writes: a data part by multipart upload, then the manifest last."""
    s3 = clients["s3"]
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=PART_KEY)
    body = gzip.compress(b"sales_order_id,units_sold\n1,10\n")
    part = s3.upload_part(
        Bucket=BUCKET, Key=PART_KEY, UploadId=upload["UploadId"], PartNumber=1, Body=body
    )
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key=PART_KEY,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    s3.put_object(Bucket=BUCKET, Key=MANIFEST_KEY, Body=b'{"kind": "ingest"}')


def test_s3_object_created_for_the_manifest_starts_the_transform_and_the_part_does_not(
    clients: dict[str, Any], template: dict[str, Any]
) -> None:
    _make_ingest_bucket(clients, _notification_configuration(template))
    queue = _rule_to_queue(clients, template, "ManifestCreatedRule", {"IngestBucket": BUCKET})

    _land_a_batch(clients)

    received = _received(clients, queue)
    assert [
        (
            event["source"],
            event["detail-type"],
            event["detail"]["bucket"]["name"],
            event["detail"]["object"]["key"],
        )
        for event in received
    ] == [("aws.s3", "Object Created", BUCKET, MANIFEST_KEY)]


def test_s3_emits_object_created_for_both_the_part_and_the_manifest(
    clients: dict[str, Any], template: dict[str, Any]
) -> None:
    # The same bucket with a catch-all rule: S3 does emit the part's event, so the
    # manifest-only result of the test above is the pattern's doing.
    _make_ingest_bucket(clients, _notification_configuration(template))
    queue = _rule_to_queue(
        clients,
        {"Resources": {"All": {"Properties": {"EventPattern": {"source": ["aws.s3"]}}}}},
        "All",
        {},
    )

    _land_a_batch(clients)

    # moto 5.2.5 also emits "Object Tags Added" for every put, and "Object Created" twice for
    # a completed multipart upload; what matters here is which keys had "Object Created".
    created = {
        event["detail"]["object"]["key"]
        for event in _received(clients, queue)
        if event["detail-type"] == "Object Created"
    }
    assert created == {MANIFEST_KEY, PART_KEY}


def test_without_the_templates_eventbridge_setting_no_event_reaches_the_rule(
    clients: dict[str, Any], template: dict[str, Any]
) -> None:
    _make_ingest_bucket(clients, {})
    queue = _rule_to_queue(clients, template, "ManifestCreatedRule", {"IngestBucket": BUCKET})

    _land_a_batch(clients)

    assert _received(clients, queue) == []


def test_manifest_rule_ignores_manifest_keys_of_another_bucket(
    clients: dict[str, Any], template: dict[str, Any]
) -> None:
    _make_ingest_bucket(clients, _notification_configuration(template))
    queue = _rule_to_queue(
        clients, template, "ManifestCreatedRule", {"IngestBucket": "some-other-bucket"}
    )

    _land_a_batch(clients)

    assert _received(clients, queue) == []


def _put(clients: dict[str, Any], event: dict[str, Any]) -> None:
    response = clients["events"].put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "Resources": event["resources"],
            }
        ]
    )
    assert response["FailedEntryCount"] == 0


def test_sample_s3_events_match_the_manifest_rule_as_the_real_ones_do(
    clients: dict[str, Any], template: dict[str, Any]
) -> None:
    manifest = _event_file("s3_manifest_created.json")
    bucket = manifest["detail"]["bucket"]["name"]
    queue = _rule_to_queue(clients, template, "ManifestCreatedRule", {"IngestBucket": bucket})

    _put(clients, _event_file("s3_part_created.json"))
    _put(clients, manifest)

    assert [event["detail"]["object"]["key"] for event in _received(clients, queue)] == [
        manifest["detail"]["object"]["key"]
    ]


def test_load_rule_matches_the_succeeded_sample_and_not_the_failed_one(
    clients: dict[str, Any], template: dict[str, Any]
) -> None:
    succeeded = _event_file("glue_job_succeeded.json")
    job = succeeded["detail"]["jobName"]
    queue = _rule_to_queue(clients, template, "TransformSucceededRule", {"StarSchemaJob": job})

    _put(clients, _event_file("glue_job_failed.json"))
    _put(clients, succeeded)

    assert [
        (e["detail"]["jobName"], e["detail"]["state"], e["detail"]["jobRunId"])
        for e in _received(clients, queue)
    ] == [(job, "SUCCEEDED", succeeded["detail"]["jobRunId"])]


def test_load_rule_ignores_another_jobs_success(
    clients: dict[str, Any], template: dict[str, Any]
) -> None:
    queue = _rule_to_queue(
        clients, template, "TransformSucceededRule", {"StarSchemaJob": "another-stack-star-schema"}
    )

    _put(clients, _event_file("glue_job_succeeded.json"))

    assert _received(clients, queue) == []


def test_failure_rule_matches_the_failed_sample_and_not_the_succeeded_one(
    clients: dict[str, Any], template: dict[str, Any]
) -> None:
    failed = _event_file("glue_job_failed.json")
    queue = _rule_to_queue(
        clients, template, "TransformFailedRule", {"StarSchemaJob": failed["detail"]["jobName"]}
    )

    _put(clients, _event_file("glue_job_succeeded.json"))
    _put(clients, failed)

    assert [e["detail"]["state"] for e in _received(clients, queue)] == ["FAILED"]

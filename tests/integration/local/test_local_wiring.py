"""The local wiring: template rules in moto route real S3 and Glue events to queues."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from local import wiring
from local.cfn import load_template, resolve
from local.moto_state import create_bucket
from local.services import LOCAL_REGION

TEMPLATE = """
Resources:
  IngestBucket:
    Type: AWS::S3::Bucket
  StarSchemaJob:
    Type: AWS::Glue::Job
  ManifestCreatedRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern:
        source: [aws.s3]
        detail-type: [Object Created]
        detail:
          bucket:
            name: [!Ref IngestBucket]
          object:
            key: [{prefix: _manifests/}]
      Targets:
        - Arn: !GetAtt StarSchemaJob.Arn
          Id: workflow
  TransformSucceededRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern:
        source: [aws.glue]
        detail-type: [Glue Job State Change]
        detail:
          jobName: [!Ref StarSchemaJob]
          state: [SUCCEEDED]
      Targets:
        - Arn: !Sub "arn:${AWS::Partition}:lambda:::function:${LoadFunction}"
          Id: loader
"""
REFS = {"IngestBucket": "landing-local", "StarSchemaJob": "job-local"}
EVENTS_DIR = Path(__file__).resolve().parents[3] / "events"


@pytest.fixture
def template(tmp_path: Path) -> dict:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE, encoding="utf-8")
    return load_template(path)


@pytest.fixture
def rules(aws: str, template: dict) -> dict[str, wiring.LocalRule]:
    s3 = boto3.client("s3")
    create_bucket(s3, "landing-local", LOCAL_REGION)
    wiring.enable_eventbridge_notifications(s3, "landing-local")
    specs = wiring.read_rules(template, REFS)
    return wiring.create_rules(boto3.client("events"), boto3.client("sqs"), specs, "t")


def test_cfn_short_tags_read_in_long_form(template: dict) -> None:
    rule = template["Resources"]["ManifestCreatedRule"]["Properties"]
    assert rule["EventPattern"]["detail"]["bucket"]["name"] == [{"Ref": "IngestBucket"}]
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["StarSchemaJob", "Arn"]}
    loader = template["Resources"]["TransformSucceededRule"]["Properties"]["Targets"][0]
    assert loader["Arn"] == {"Fn::Sub": "arn:${AWS::Partition}:lambda:::function:${LoadFunction}"}


def test_resolve_replaces_refs_and_refuses_what_it_cannot_name() -> None:
    assert resolve({"a": [{"Ref": "IngestBucket"}]}, REFS) == {"a": ["landing-local"]}
    assert resolve({"Fn::Sub": "${StarSchemaJob}-x"}, REFS) == "job-local-x"
    with pytest.raises(KeyError, match="LoadFunction"):
        resolve({"Ref": "LoadFunction"}, REFS)
    with pytest.raises(KeyError, match="Fn::GetAtt"):
        resolve({"Fn::GetAtt": ["X", "Arn"]}, REFS)


def test_read_rules_resolves_patterns_to_local_names(template: dict) -> None:
    specs = wiring.read_rules(template, REFS)
    assert specs["ManifestCreatedRule"].pattern == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": ["landing-local"]},
            "object": {"key": [{"prefix": "_manifests/"}]},
        },
    }
    assert specs["TransformSucceededRule"].pattern["detail"]["jobName"] == ["job-local"]


def test_read_rules_names_a_missing_rule(template: dict) -> None:
    del template["Resources"]["TransformSucceededRule"]
    with pytest.raises(wiring.WiringError, match="no AWS::Events::Rule TransformSucceededRule"):
        wiring.read_rules(template, REFS)


def test_only_manifest_objects_reach_the_manifest_queue(rules: dict) -> None:
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")
    s3.put_object(Bucket="landing-local", Key="sales_order/batch=1/part-00000.csv.gz", Body=b"x")
    s3.put_object(Bucket="landing-local", Key="_state/ingest/watermarks.json", Body=b"{}")
    s3.put_object(Bucket="landing-local", Key="_manifests/20241115T144100123456Z.json", Body=b"{}")

    received = wiring.drain(sqs, rules["ManifestCreatedRule"])

    assert [e["detail"]["object"]["key"] for e in received] == [
        "_manifests/20241115T144100123456Z.json"
    ]
    assert received[0]["source"] == "aws.s3"
    assert received[0]["detail-type"] == "Object Created"
    assert wiring.drain(sqs, rules["ManifestCreatedRule"]) == []
    assert wiring.drain(sqs, rules["TransformSucceededRule"]) == []


def test_glue_success_event_reaches_the_transform_queue_shaped_like_the_sample(
    rules: dict,
) -> None:
    sample = json.loads((EVENTS_DIR / "glue_job_succeeded.json").read_text())
    entry = wiring.glue_job_state_change(sample, "job-local", "jr_local_1")
    boto3.client("events").put_events(Entries=[entry])

    received = wiring.drain(boto3.client("sqs"), rules["TransformSucceededRule"])

    assert len(received) == 1
    assert received[0]["source"] == "aws.glue"
    assert received[0]["detail-type"] == "Glue Job State Change"
    assert received[0]["detail"] == {
        **sample["detail"],
        "jobName": "job-local",
        "jobRunId": "jr_local_1",
    }


def test_an_event_the_pattern_no_longer_matches_reaches_no_queue(aws: str, template: dict) -> None:
    pattern = template["Resources"]["TransformSucceededRule"]["Properties"]["EventPattern"]
    pattern["detail"]["state"] = ["SUCCEEDED_AND_VERIFIED"]
    specs = wiring.read_rules(template, REFS)
    rules = wiring.create_rules(boto3.client("events"), boto3.client("sqs"), specs, "t")
    sample = json.loads((EVENTS_DIR / "glue_job_succeeded.json").read_text())
    boto3.client("events").put_events(
        Entries=[wiring.glue_job_state_change(sample, "job-local", "jr_local_2")]
    )

    assert wiring.drain(boto3.client("sqs"), rules["TransformSucceededRule"]) == []

"""Only each bucket's writer stage may write it, no manifest is ever overwritten or deleted,
personal data expires, and Athena results are SSE-KMS: template.yaml read as data."""

from __future__ import annotations

from typing import Any

import pytest
from template_support import get_att, props, ref, sub

WRITERS = {"IngestBucket": "IngestFunctionRole", "ProcessedBucket": "StarSchemaJobRole"}
DELETES = ["s3:DeleteObject", "s3:DeleteObjectVersion"]


def statements(resources: dict[str, Any], bucket: str) -> dict[str, dict[str, Any]]:
    policy = props(resources, f"{bucket}Policy")["PolicyDocument"]
    return {statement["Sid"]: statement for statement in policy["Statement"]}


@pytest.mark.parametrize(("bucket", "writer"), WRITERS.items())
def test_only_the_writer_stage_and_the_deploy_role_may_write_or_delete(
    resources: dict[str, Any], bucket: str, writer: str
) -> None:
    assert statements(resources, bucket)["DenyWritesButTheWriter"] == {
        "Sid": "DenyWritesButTheWriter",
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["s3:PutObject", *DELETES],
        "Resource": sub("${" + bucket + ".Arn}/*"),
        "Condition": {
            "ArnNotLike": {
                "aws:PrincipalArn": {
                    "Fn::If": [
                        "HasDeployRole",
                        [get_att(writer, "Arn"), ref("DeployRoleArn")],
                        [get_att(writer, "Arn")],
                    ]
                }
            }
        },
    }


@pytest.mark.parametrize("bucket", WRITERS)
def test_nobody_overwrites_a_manifest_and_only_a_repair_deploy_deletes_one(
    resources: dict[str, Any], bucket: str
) -> None:
    found = statements(resources, bucket)
    manifests = sub("${" + bucket + ".Arn}/_manifests/*")
    assert found["DenyManifestOverwrite"] == {
        "Sid": "DenyManifestOverwrite",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": manifests,
        "Condition": {"Null": {"s3:if-none-match": "true"}},
    }
    assert found["DenyManifestDelete"] == {
        "Sid": "DenyManifestDelete",
        "Effect": "Deny",
        "Principal": "*",
        "Action": DELETES,
        "Resource": manifests,
        "Condition": {
            "Fn::If": [
                "CanRepairManifests",
                {"ArnNotLike": {"aws:PrincipalArn": ref("DeployRoleArn")}},
                ref("AWS::NoValue"),
            ]
        },
    }


def test_the_repair_exception_needs_a_deploy_role_and_the_flag(template: dict[str, Any]) -> None:
    conditions = template["Conditions"]
    assert conditions["HasDeployRole"] == {"Fn::Not": [{"Fn::Equals": [ref("DeployRoleArn"), ""]}]}
    assert conditions["CanRepairManifests"] == {
        "Fn::And": [
            {"Condition": "HasDeployRole"},
            {"Fn::Equals": [ref("AllowManifestRepair"), "true"]},
        ]
    }
    parameters = template["Parameters"]
    assert parameters["AllowManifestRepair"]["Default"] == "false"
    assert parameters["DeployRoleArn"]["Default"] == ""


def test_the_writers_have_the_grants_the_policies_leave_them(resources: dict[str, Any]) -> None:
    ingest = props(resources, "IngestFunction")["Policies"][0]["Statement"]
    [landing] = [s for s in ingest if s["Sid"] == "WriteLandingObjects"]
    assert "s3:PutObject" in landing["Action"]
    assert landing["Resource"] == sub("${IngestBucket.Arn}/*")
    job = props(resources, "StarSchemaJobRole")["Policies"][0]["PolicyDocument"]["Statement"]
    [lake] = [s for s in job if s["Sid"] == "ReadWriteLake"]
    assert "s3:PutObject" in lake["Action"]
    assert lake["Resource"] == sub("${ProcessedBucket.Arn}/*")


def test_superseded_lake_objects_expire_after_the_retention_parameter(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    rules = props(resources, "ProcessedBucket")["LifecycleConfiguration"]["Rules"]
    [superseded] = [rule for rule in rules if rule["Id"] == "ExpireSupersededSnapshots"]
    assert superseded["TagFilters"] == [{"Key": "superseded", "Value": "true"}]
    assert superseded["ExpirationInDays"] == ref("RetentionDays")
    assert template["Parameters"]["RetentionDays"] == {
        "Type": "Number",
        "Default": 30,
        "MinValue": 1,
        "Description": template["Parameters"]["RetentionDays"]["Description"],
    }


def test_athena_results_are_encrypted_with_kms(resources: dict[str, Any]) -> None:
    configuration = props(resources, "AthenaWorkGroup")["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    encryption = configuration["ResultConfiguration"]["EncryptionConfiguration"]
    assert encryption == {"EncryptionOption": "SSE_KMS"}

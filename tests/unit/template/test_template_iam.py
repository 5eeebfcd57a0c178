"""Least privilege in template.yaml: each part gets exactly the access its job needs."""

from __future__ import annotations

from typing import Any

import pytest
from template_support import as_list, get_att, grants, identity_statements, props, ref, sub

# Actions that have no resource-level permissions in IAM: "*" is the only possible resource.
ACTIONS_WITHOUT_RESOURCES = {"cloudwatch:PutMetricData"}

CATALOG = sub("arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog")
OWN_DATABASE = sub(
    "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:database/${GlueDatabase}"
)
OWN_TABLES = sub(
    "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/${GlueDatabase}/*"
)
DEFAULT_DATABASE = sub(
    "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:database/default"
)


def test_no_allow_statement_grants_every_action_of_a_service(resources: dict[str, Any]) -> None:
    broad = [
        (owner, action)
        for owner, statement in identity_statements(resources)
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
        if action == "*" or action.endswith(":*")
    ]
    assert broad == []


def test_wildcard_resources_only_for_actions_that_cannot_name_one(
    resources: dict[str, Any],
) -> None:
    wildcard = [
        (owner, action)
        for owner, statement in identity_statements(resources)
        if statement["Effect"] == "Allow" and "*" in as_list(statement["Resource"])
        for action in as_list(statement["Action"])
    ]
    assert {action for _, action in wildcard} <= ACTIONS_WITHOUT_RESOURCES
    # ... and even those are narrowed by a condition.
    for owner, statement in identity_statements(resources):
        if "*" in as_list(statement["Resource"]):
            assert statement.get("Condition"), owner


def test_ingest_writes_landing_objects_reads_only_its_state_and_its_secret(
    resources: dict[str, Any],
) -> None:
    objects = repr(sub("${IngestBucket.Arn}/*"))
    assert grants(resources, "IngestFunction") == {
        ("s3:PutObject", objects),
        ("s3:AbortMultipartUpload", objects),
        ("s3:ListMultipartUploadParts", objects),
        ("s3:GetObject", repr(sub("${IngestBucket.Arn}/_state/*"))),
        ("s3:GetObject", repr(sub("${IngestBucket.Arn}/_manifests/*"))),
        ("s3:ListBucket", repr(get_att("IngestBucket", "Arn"))),
        ("secretsmanager:GetSecretValue", repr(ref("SourceSecretArn"))),
    }


def test_loader_reads_manifests_and_star_tables_and_its_secret_and_writes_nothing(
    resources: dict[str, Any],
) -> None:
    assert grants(resources, "LoadFunction") == {
        ("s3:ListBucket", repr(get_att("ProcessedBucket", "Arn"))),
        ("s3:GetObject", repr(sub("${ProcessedBucket.Arn}/_manifests/*"))),
        ("s3:GetObject", repr(sub("${ProcessedBucket.Arn}/_changes/*"))),
        ("s3:GetObject", repr(sub("${ProcessedBucket.Arn}/dim_*"))),
        ("s3:GetObject", repr(sub("${ProcessedBucket.Arn}/fact_*"))),
        ("secretsmanager:GetSecretValue", repr(ref("WarehouseSecretArn"))),
    }


def test_job_reads_landing_writes_the_lake_and_deletes_only_what_a_pass_replaces(
    resources: dict[str, Any],
) -> None:
    job = grants(resources, "StarSchemaJobRole")
    s3 = {(action, resource) for action, resource in job if action.startswith("s3:")}
    landing = repr(sub("${IngestBucket.Arn}/*"))
    lake = repr(sub("${ProcessedBucket.Arn}/*"))
    assert s3 == {
        ("s3:GetObject", repr(sub("arn:${AWS::Partition}:s3:::${ArtifactBucketName}/*"))),
        ("s3:GetObject", landing),
        ("s3:ListBucket", repr(get_att("IngestBucket", "Arn"))),
        ("s3:ListBucket", repr(get_att("ProcessedBucket", "Arn"))),
        ("s3:GetBucketLocation", repr(get_att("IngestBucket", "Arn"))),
        ("s3:GetBucketLocation", repr(get_att("ProcessedBucket", "Arn"))),
        ("s3:ListBucketMultipartUploads", repr(get_att("ProcessedBucket", "Arn"))),
        ("s3:GetObject", lake),
        ("s3:PutObject", lake),
        ("s3:PutObjectTagging", lake),
        ("s3:AbortMultipartUpload", lake),
        ("s3:ListMultipartUploadParts", lake),
        ("s3:DeleteObject", repr(sub("${ProcessedBucket.Arn}/_tmp/*"))),
        ("s3:DeleteObject", repr(sub("${ProcessedBucket.Arn}/_job/inflight.json"))),
        ("s3:DeleteObject", repr(sub("${ProcessedBucket.Arn}/_state/*"))),
        ("s3:DeleteObject", repr(sub("${ProcessedBucket.Arn}/_changes/*"))),
        ("s3:DeleteObject", repr(sub("${ProcessedBucket.Arn}/_quarantine/*"))),
        ("s3:DeleteObject", repr(sub("${ProcessedBucket.Arn}/dim_*/snapshot=*"))),
    }


def test_job_touches_only_its_own_catalog_database(resources: dict[str, Any]) -> None:
    glue = {
        (action, resource)
        for action, resource in grants(resources, "StarSchemaJobRole")
        if action.startswith("glue:")
    }
    own = {repr(CATALOG), repr(OWN_DATABASE), repr(OWN_TABLES)}
    outside_own = {(a, r) for a, r in glue if r not in own}
    # Spark's Glue metastore client reads the "default" database at session start.
    assert outside_own == {("glue:GetDatabase", repr(DEFAULT_DATABASE))}
    assert not any(action.startswith("glue:Delete") for action, _ in glue)
    assert {a for a, _ in glue} >= {
        "glue:CreateTable",
        "glue:UpdateTable",
        "glue:BatchCreatePartition",
    }


def test_only_the_functions_read_secrets_each_its_own(resources: dict[str, Any]) -> None:
    readers = {
        (owner, repr(resource))
        for owner, statement in identity_statements(resources)
        if statement["Effect"] == "Allow"
        and any(action.startswith("secretsmanager:") for action in as_list(statement["Action"]))
        for resource in as_list(statement["Resource"])
    }
    assert readers == {
        ("IngestFunction", repr(ref("SourceSecretArn"))),
        ("LoadFunction", repr(ref("WarehouseSecretArn"))),
    }


def test_rule_role_is_assumable_only_by_eventbridge_in_this_account(
    resources: dict[str, Any],
) -> None:
    # EventBridge documents aws:SourceAccount on the role it assumes for a target.
    assert props(resources, "ManifestCreatedRuleRole")["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
        }
    ]


def test_job_role_trusts_glue_without_a_condition_glue_does_not_document(
    resources: dict[str, Any],
) -> None:
    assert props(resources, "StarSchemaJobRole")["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "glue.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]


def test_job_metrics_are_limited_to_two_namespaces(resources: dict[str, Any]) -> None:
    [metrics] = [
        statement
        for owner, statement in identity_statements(resources)
        if owner == "StarSchemaJobRole" and statement.get("Sid") == "JobMetrics"
    ]
    assert metrics["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": ["Glue", "ToteSysPipeline"]}
    }


def test_job_writes_logs_only_to_glue_job_log_groups(resources: dict[str, Any]) -> None:
    logs = {
        resource
        for action, resource in grants(resources, "StarSchemaJobRole")
        if action.startswith("logs:")
    }
    prefix = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws-glue/jobs/"
    assert logs == {repr(sub(prefix + "*")), repr(sub(prefix + "*:*"))}


@pytest.mark.parametrize(
    ("function", "secret"),
    [("IngestFunction", "SourceSecretArn"), ("LoadFunction", "WarehouseSecretArn")],
)
def test_with_a_customer_key_each_function_decrypts_only_its_own_secret(
    resources: dict[str, Any], function: str, secret: str
) -> None:
    conditional = [
        policy["Fn::If"]
        for policy in props(resources, function)["Policies"]
        if isinstance(policy, dict) and "Fn::If" in policy
    ]
    assert conditional == [
        [
            "HasSecretsKmsKey",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DecryptOwnSecret",
                        "Effect": "Allow",
                        "Action": "kms:Decrypt",
                        "Resource": ref("SecretsKmsKeyArn"),
                        "Condition": {
                            "StringEquals": {
                                "kms:ViaService": sub(
                                    "secretsmanager.${AWS::Region}.amazonaws.com"
                                ),
                                "kms:EncryptionContext:SecretARN": ref(secret),
                            }
                        },
                    }
                ],
            },
            ref("AWS::NoValue"),
        ]
    ]

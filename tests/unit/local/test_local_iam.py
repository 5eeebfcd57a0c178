"""The local stack's IAM decisions: conditions as IAM documents them, and the template's
bucket policies applied to a role's requests on top of its own policy."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from local import stack
from local.iam import AccessDeniedError, RolePolicy, bucket_policies, role_documents
from local.iam_conditions import UnknownConditionError, conditions_hold
from local.job_access import JOB_ROLE, job_policy
from local.statedir import NAMES

TEMPLATE = stack.load()
INGEST, PROCESSED = NAMES.ingest_bucket, NAMES.processed_bucket
WRITER = "arn:aws:iam::123456789012:role/IngestFunctionRole"


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        # a key absent: positive operators are false, negated ones true
        ({"StringEquals": {"s3:prefix": "a/"}}, {}, False),
        ({"StringNotEquals": {"s3:prefix": "a/"}}, {}, True),
        ({"ArnNotLike": {"aws:PrincipalArn": WRITER}}, {}, True),
        # a key's values are ORed; under a negated operator NORed
        ({"StringEquals": {"k": ["a", "b"]}}, {"k": "b"}, True),
        ({"ArnNotLike": {"aws:PrincipalArn": ["x", WRITER]}}, {"aws:PrincipalArn": WRITER}, False),
        ({"ArnNotLike": {"aws:PrincipalArn": ["x", "y"]}}, {"aws:PrincipalArn": WRITER}, True),
        # ARN wildcards: * and ? only; a bracket is literal
        (
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Ingest*"}},
            {"aws:PrincipalArn": WRITER},
            True,
        ),
        (
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::[0-9]*"}},
            {"aws:PrincipalArn": WRITER},
            False,
        ),
        # Null tests presence alone
        ({"Null": {"s3:if-none-match": "true"}}, {}, True),
        ({"Null": {"s3:if-none-match": "true"}}, {"s3:if-none-match": "*"}, False),
        ({"Null": {"s3:if-none-match": "false"}}, {"s3:if-none-match": "*"}, True),
        # Bool compares without case; operators and keys are ANDed
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}, False),
        (
            {"Bool": {"aws:SecureTransport": "TRUE"}, "StringEquals": {"k": "v"}},
            {"aws:SecureTransport": "true"},
            False,
        ),
    ],
)
def test_conditions_as_iam_documents_them(
    condition: dict[str, Any], context: dict[str, str], holds: bool
) -> None:
    assert conditions_hold(condition, context) is holds


def test_an_operator_not_implemented_raises_rather_than_guessing() -> None:
    with pytest.raises(UnknownConditionError, match="NumericLessThan is not evaluated"):
        conditions_hold({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"})


def test_why_conditions_are_not_left_to_moto() -> None:
    """moto 5.2.5 answers DENIED for a Deny whose condition does not hold (IAM: the statement
    does not apply). When this fails, moto is fixed and local.iam_conditions can go."""
    document = {
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "s3:PutObject",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
    }
    decision = IAMPolicy(json.dumps(document)).is_action_permitted(
        "s3:PutObject",
        "arn:aws:s3:::b/k",
        incoming_condition_values={"aws:SecureTransport": "true"},
    )
    assert decision == PermissionResult.DENIED


def over_granted(template: dict[str, Any] = TEMPLATE) -> dict[str, Any]:
    """The job role given a careless extra grant: every S3 action on the landing bucket."""
    changed = copy.deepcopy(template)
    policy = changed["Resources"][JOB_ROLE]["Properties"]["Policies"][0]["PolicyDocument"]
    policy["Statement"].append(
        {"Effect": "Allow", "Action": "s3:*", "Resource": {"Fn::Sub": "${IngestBucket.Arn}/*"}}
    )
    return changed


def without_bucket_statement(template: dict[str, Any], bucket: str, sid: str) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    document = changed["Resources"][f"{bucket}Policy"]["Properties"]["PolicyDocument"]
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != sid]
    return changed


def test_a_role_granted_another_stages_bucket_is_still_refused_by_its_policy() -> None:
    key = f"arn:aws:s3:::{INGEST}/sales_order/batch=20991231T000000000000Z/part-00000.csv.gz"
    policy = job_policy(over_granted(), NAMES)
    with pytest.raises(AccessDeniedError) as denied:
        policy.authorize("s3:PutObject", key)
    assert str(denied.value) == (
        f"AccessDenied: {JOB_ROLE} is not authorized to perform s3:PutObject on resource {key} "
        "with an explicit deny in a resource-based policy "
        "(IngestBucketPolicy DenyWritesButTheWriter)"
    )
    # The bucket policy is what refuses: without its statement the same grant is used.
    lenient = job_policy(
        without_bucket_statement(over_granted(), "IngestBucket", "DenyWritesButTheWriter"), NAMES
    )
    lenient.authorize("s3:PutObject", key)
    assert lenient.used == {"s3:PutObject": {key}}


def test_the_writer_itself_is_not_refused_by_its_bucket_policy() -> None:
    refs = stack.local_refs(TEMPLATE, NAMES)
    # The ingest role's writes, as the bucket policy sees them (its own grants are SAM's).
    writer = RolePolicy(
        "IngestFunctionRole",
        [{"Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}],
        resource_policies=bucket_policies(TEMPLATE, refs),
    )
    writer.authorize("s3:PutObject", f"arn:aws:s3:::{INGEST}/sales_order/batch=x/part-00000.csv.gz")
    writer.authorize(
        "s3:PutObject", f"arn:aws:s3:::{INGEST}/_manifests/x.json", **{"s3:if-none-match": "*"}
    )
    with pytest.raises(AccessDeniedError, match=r"IngestBucketPolicy DenyManifestOverwrite\)$"):
        writer.authorize("s3:PutObject", f"arn:aws:s3:::{INGEST}/_manifests/x.json")


def test_a_committed_manifest_is_neither_overwritten_nor_deleted_by_its_writer() -> None:
    policy = job_policy(TEMPLATE, NAMES)
    manifest = f"arn:aws:s3:::{PROCESSED}/_manifests/20241115T120000000000Z.json"
    policy.authorize("s3:PutObject", manifest, **{"s3:if-none-match": "*"})
    with pytest.raises(AccessDeniedError, match=r"ProcessedBucketPolicy DenyManifestOverwrite\)$"):
        policy.authorize("s3:PutObject", manifest)
    with pytest.raises(AccessDeniedError, match=r"ProcessedBucketPolicy DenyManifestDelete\)$"):
        policy.authorize("s3:DeleteObject", manifest)


def test_the_deploy_role_condition_resolves_with_the_parameters_defaults() -> None:
    """DeployRoleArn defaults to "": HasDeployRole is false, only the writer is excepted."""
    refs = stack.local_refs(TEMPLATE, NAMES)
    document = bucket_policies(TEMPLATE, refs)[PROCESSED].document
    [writes] = [s for s in document["Statement"] if s["Sid"] == "DenyWritesButTheWriter"]
    assert writes["Condition"] == {
        "ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::123456789012:role/StarSchemaJobRole"]}
    }
    with_deploy_role = {**refs, "DeployRoleArn": "arn:aws:iam::123456789012:role/deployer"}
    document = bucket_policies(TEMPLATE, with_deploy_role)[PROCESSED].document
    [writes] = [s for s in document["Statement"] if s["Sid"] == "DenyWritesButTheWriter"]
    assert writes["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == [
        "arn:aws:iam::123456789012:role/StarSchemaJobRole",
        "arn:aws:iam::123456789012:role/deployer",
    ]
    assert role_documents(TEMPLATE, JOB_ROLE, refs)  # the role resolves with the same refs

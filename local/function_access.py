"""The Lambda functions' AWS requests, authorized by their template roles before they are sent.

SAM gives a function without `Role` a generated role, `<Function>Role`, whose inline policies
are the function's `Policies` documents as written (the template uses no SAM policy
template; tests/integration/template/test_sam_roles.py holds this reading equal to
samtranslator's own translation). Each request a function's boto3 clients make is put to
that role's policy and to the bucket's policy (local.iam) in a `before-parameter-build`
hook of the session the handlers make their clients from, and refused as AWS refuses it:
a ClientError with code AccessDenied naming the action and the resource, which the stage
handles as it would in AWS. The check runs in the client rather than in moto's server: moto 5.2.5
evaluates neither bucket policies nor conditional Deny statements as AWS does, and decides
Secrets Manager requests on the resource "*" (docs/adr/0011).

Actions and resources per request, from "Actions, resources, and condition keys for
Amazon S3" (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html)
and "... for AWS Secrets Manager"; a request this table does not know is refused with a
clear error rather than guessed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from local import stack
from local.cfn import resources_of_type
from local.iam import (
    AccessDeniedError,
    RolePolicy,
    bucket_policies,
    resolve_policy,
    s3_bucket,
    s3_object,
    template_attributes,
)
from local.stack import LOCAL_ACCOUNT
from local.statedir import LocalNames

# S3 operation -> the action it needs on the object named by Bucket/Key.
_S3_OBJECT_ACTIONS = {
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "DeleteObject": "s3:DeleteObject",
}
# S3 operation -> the action it needs on the bucket.
_S3_BUCKET_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
}


def requests_of(
    service: str, operation: str, params: Mapping[str, Any], secret_arns: Mapping[str, str]
) -> list[tuple[str, str, dict[str, str]]]:
    """The (action, resource, condition keys) one API call is authorized on."""
    if service == "s3" and operation in _S3_OBJECT_ACTIONS:
        context: dict[str, str] = {}
        if params.get("IfNoneMatch"):
            context["s3:if-none-match"] = str(params["IfNoneMatch"])
        action = _S3_OBJECT_ACTIONS[operation]
        return [(action, s3_object(params["Bucket"], params["Key"]), context)]
    if service == "s3" and operation in _S3_BUCKET_ACTIONS:
        context = {"s3:prefix": str(params["Prefix"])} if "Prefix" in params else {}
        return [(_S3_BUCKET_ACTIONS[operation], s3_bucket(params["Bucket"]), context)]
    if service == "s3" and operation == "DeleteObjects":
        return [
            ("s3:DeleteObject", s3_object(params["Bucket"], item["Key"]), {})
            for item in params["Delete"]["Objects"]
        ]
    if service == "secretsmanager" and operation == "GetSecretValue":
        secret = str(params["SecretId"])
        return [("secretsmanager:GetSecretValue", secret_arns.get(secret, secret), {})]
    raise PermissionError(f"{service}:{operation} has no local authorization rule (add one)")


def function_policy(template: dict[str, Any], function: str, refs: Mapping[str, str]) -> RolePolicy:
    """`<Function>Role`'s policy (the function's Policies documents) and the buckets'."""
    properties = resources_of_type(template, "AWS::Serverless::Function")[function]["Properties"]
    if "Role" in properties:
        raise KeyError(f"{function} names its own role; read that role instead")
    attributes = template_attributes(template, refs)
    documents = resolve_policy(properties.get("Policies", []), refs, attributes, template)
    return RolePolicy(
        f"{function}Role",
        [document for document in documents if isinstance(document, dict)],
        {"s3:ResourceAccount": LOCAL_ACCOUNT},
        resource_policies=bucket_policies(template, refs),
    )


@dataclass
class FunctionAccess:
    """Which function is running, and its role; the hook every client of the session calls."""

    policies: Mapping[str, RolePolicy]
    secret_arns: dict[str, str] = field(default_factory=dict)
    """Secret name -> its ARN (IAM decides on the ARN, the functions pass the name)."""
    running: str | None = None
    checked: int = 0
    """Requests authorized so far (a run that made none was not checked at all)."""

    @contextlib.contextmanager
    def running_as(self, function: str) -> Iterator[RolePolicy]:
        """Authorize every request made meanwhile against `function`'s role."""
        previous, self.running = self.running, function
        checked = self.checked
        try:
            yield self.policies[function]
        finally:
            self.running = previous
        if self.checked == checked:
            raise RuntimeError(
                f"{function} ran without one request checked: its clients lack the IAM hook "
                "(made from another boto3 session?)"
            )

    def before_call(self, model: Any, params: Mapping[str, Any], **_: Any) -> None:
        if self.running is None:
            return  # the local stack's own set-up and bookkeeping: the administrator
        self.checked += 1
        policy = self.policies[self.running]
        service = model.service_model.endpoint_prefix
        for action, resource, context in requests_of(service, model.name, params, self.secret_arns):
            try:
                policy.authorize(action, resource, **context)
            except AccessDeniedError as denied:
                raise ClientError(
                    {"Error": {"Code": "AccessDenied", "Message": str(denied)}}, model.name
                ) from denied


@contextlib.contextmanager
def install(session: Any, access: FunctionAccess) -> Iterator[None]:
    """Register the hook on a boto3 session: clients made from it afterwards carry it."""
    unique = f"function-iam-{id(access)}"
    session.events.register("before-parameter-build", access.before_call, unique_id=unique)
    try:
        yield
    finally:
        session.events.unregister("before-parameter-build", unique_id=unique)


def function_policies(
    template: dict[str, Any],
    names: LocalNames,
    secret_arns: Mapping[str, str],
    code_uris: list[str],
) -> dict[str, RolePolicy]:
    """Function code directory -> its role's policy, the secret parameters resolved to the
    secrets the local stack made."""
    refs = {
        **stack.local_refs(template, names),
        "SourceSecretArn": secret_arns[names.source_secret_id],
        "WarehouseSecretArn": secret_arns[names.warehouse_secret_id],
    }
    return {
        code_uri: function_policy(template, stack.function_of(template, code_uri), refs)
        for code_uri in code_uris
    }

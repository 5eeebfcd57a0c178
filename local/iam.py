"""A template role's policies and the buckets' policies, resolved to local ARNs, deciding requests.

The Glue job's data I/O runs on directories locally, so no AWS endpoint sees it. Every S3
operation it makes (its own calls and what Glue's Spark does on a prefix) is put to the
role's policy, and to the bucket's policy, and refused as AWS refuses it: an AccessDenied
error naming the action and the resource. Actions and resources are matched by moto's own
statement evaluator (`moto.iam.access_control`, the one moto's server applies with IAM
authorization on); conditions by local.iam_conditions, as IAM documents them, since moto's
mistakes a condition that does not hold for a Deny. An explicit Deny in either policy wins;
otherwise the role's Allow is needed (the bucket policies grant nothing: "Policy evaluation
logic", IAM User Guide,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from local.cfn import condition_value, resources_of_type
from local.iam_conditions import conditions_hold
from local.report import format_table

_SUB_VARIABLE = re.compile(r"\$\{([A-Za-z0-9:._]+)\}")
_NO_VALUE = object()


class AccessDeniedError(PermissionError):
    """A role's policy does not allow a request (AWS: 403 AccessDenied)."""

    def __init__(self, role: str, action: str, resource: str, denied_by: str = "") -> None:
        because = f" with an explicit deny in {denied_by}" if denied_by else ""
        super().__init__(
            f"AccessDenied: {role} is not authorized to perform {action} "
            f"on resource {resource}{because}"
        )
        self.role, self.action, self.resource = role, action, resource
        self.denied_by = denied_by


def role_arn(logical_id: str) -> str:
    """A template role's ARN locally (the role's name is its logical id)."""
    from local.stack import LOCAL_ACCOUNT

    return f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{logical_id}"


def template_attributes(template: dict[str, Any], refs: Mapping[str, str]) -> dict[str, str]:
    """`${X.Arn}` / `!GetAtt X.Arn` values locally: the buckets' and the roles' ARNs (a SAM
    function without a Role gets `<Function>Role`, as SAM names the role it generates)."""
    attributes = {
        f"{logical_id}.Arn": f"arn:aws:s3:::{refs[logical_id]}"
        for logical_id in resources_of_type(template, "AWS::S3::Bucket")
        if logical_id in refs
    }
    roles = list(resources_of_type(template, "AWS::IAM::Role")) + [
        f"{logical_id}Role"
        for logical_id, function in resources_of_type(template, "AWS::Serverless::Function").items()
        if "Role" not in (function.get("Properties") or {})
    ]
    attributes.update({f"{role}.Arn": role_arn(role) for role in roles})
    return attributes


def resolve_policy(
    value: Any,
    refs: Mapping[str, str],
    attributes: Mapping[str, str],
    template: dict[str, Any] | None = None,
) -> Any:
    """A policy with Ref, GetAtt, Sub and If replaced by local values (anything else raises);
    `!If` needs the template, whose conditions decide it, and `!Ref AWS::NoValue` drops the
    property it stands for."""
    if isinstance(value, list):
        items = [resolve_policy(item, refs, attributes, template) for item in value]
        return [item for item in items if item is not _NO_VALUE]
    if not isinstance(value, dict):
        return value
    if value == {"Ref": "AWS::NoValue"}:
        return _NO_VALUE
    if set(value) == {"Ref"}:
        return refs[value["Ref"]]
    if set(value) == {"Fn::GetAtt"}:
        return attributes[".".join(value["Fn::GetAtt"])]
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):

        def local(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in attributes:
                return attributes[name]
            return refs[name]

        return _SUB_VARIABLE.sub(local, value["Fn::Sub"])
    if set(value) == {"Fn::If"} and template is not None:
        name, if_true, if_false = value["Fn::If"]
        chosen = if_true if condition_value(template, name, dict(refs)) else if_false
        return resolve_policy(chosen, refs, attributes, template)
    if any(key.startswith("Fn::") for key in value):
        raise KeyError(f"{next(iter(value))} is not resolvable locally")
    resolved = {
        key: resolve_policy(item, refs, attributes, template) for key, item in value.items()
    }
    return {key: item for key, item in resolved.items() if item is not _NO_VALUE}


def role_documents(
    template: dict[str, Any], role: str, refs: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The inline policy documents of an AWS::IAM::Role of the template, resolved."""
    resources = resources_of_type(template, "AWS::IAM::Role")
    if role not in resources:
        raise KeyError(f"template.yaml has no role {role}")
    attributes = template_attributes(template, refs)
    return [
        resolve_policy(policy["PolicyDocument"], refs, attributes, template)
        for policy in resources[role]["Properties"].get("Policies", [])
    ]


@dataclass(frozen=True)
class ResourcePolicy:
    """A bucket's policy (AWS::S3::BucketPolicy), resolved to local names."""

    name: str
    document: dict[str, Any]


def bucket_policies(template: dict[str, Any], refs: Mapping[str, str]) -> dict[str, ResourcePolicy]:
    """Bucket name -> its policy, for every AWS::S3::BucketPolicy of a local bucket."""
    attributes = template_attributes(template, refs)
    found: dict[str, ResourcePolicy] = {}
    for logical_id, resource in resources_of_type(template, "AWS::S3::BucketPolicy").items():
        properties = resource["Properties"]
        if properties["Bucket"].get("Ref") not in refs:
            continue  # a bucket the local stack does not have (Athena's results)
        bucket = resolve_policy(properties["Bucket"], refs, attributes, template)
        document = resolve_policy(properties["PolicyDocument"], refs, attributes, template)
        found[bucket] = ResourcePolicy(logical_id, document)
    return found


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _principal_matches(principal: Any, principal_arn: str) -> bool:
    """A resource policy's Principal against the caller (a role of this account)."""
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    named = principal.get("AWS", [])
    named = named if isinstance(named, list) else [named]
    account_root = principal_arn.split(":role/")[0] + ":root"
    return any(name in ("*", principal_arn, account_root) for name in named)


def statement_effect(
    statement: Mapping[str, Any],
    action: str,
    resource: str,
    context: Mapping[str, str],
    principal_arn: str | None = None,
) -> str:
    """ "Allow", "Deny" or "" (the statement does not apply) for one request."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    if "NotResource" in statement or "NotPrincipal" in statement:
        raise KeyError(f"statement {statement.get('Sid')}: NotResource/NotPrincipal not evaluated")
    if principal_arn is not None and not _principal_matches(
        statement.get("Principal"), principal_arn
    ):
        return ""
    if not conditions_hold(statement.get("Condition") or {}, context):
        return ""
    bare = {k: v for k, v in statement.items() if k not in ("Condition", "Principal", "Sid")}
    decision = IAMPolicyStatement(bare).is_action_permitted(action, resource)
    if decision == PermissionResult.NEUTRAL:
        return ""
    return "Deny" if decision == PermissionResult.DENIED else "Allow"


@dataclass
class RolePolicy:
    """One role's permissions (and the policies of the buckets it calls), and every request
    it was asked to allow."""

    role: str
    documents: list[dict[str, Any]]
    context: dict[str, str] = field(default_factory=dict)
    """Condition keys every request carries (s3:ResourceAccount, ...)."""
    used: dict[str, set[str]] = field(default_factory=dict)
    resource_policies: Mapping[str, ResourcePolicy] = field(default_factory=dict)
    """Bucket name -> its bucket policy."""

    @property
    def arn(self) -> str:
        return role_arn(self.role)

    def authorize(self, action: str, resource: str, **context: str) -> None:
        """Allow the request, or raise AccessDeniedError as AWS would (explicit deny wins)."""
        # Every request over TLS (the SDK's default) by this role: aws:SecureTransport and
        # aws:PrincipalArn, the global keys the bucket policies test.
        values = {
            "aws:SecureTransport": "true",
            "aws:PrincipalArn": self.arn,
            **self.context,
            **context,
        }
        effects = {
            statement_effect(statement, action, resource, values)
            for document in self.documents
            for statement in _statements(document)
        }
        bucket = resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
        policy = (
            self.resource_policies.get(bucket) if resource.startswith("arn:aws:s3:::") else None
        )
        if policy is not None:
            for statement in _statements(policy.document):
                if statement_effect(statement, action, resource, values, self.arn) == "Deny":
                    denied_by = f"a resource-based policy ({policy.name} {statement.get('Sid')})"
                    raise AccessDeniedError(self.role, action, resource, denied_by)
        if "Deny" in effects:
            raise AccessDeniedError(self.role, action, resource, "an identity-based policy")
        if "Allow" not in effects:
            raise AccessDeniedError(self.role, action, resource)
        self.used.setdefault(action, set()).add(resource)

    def granted(self) -> dict[str, list[str]]:
        """Action -> the resources Allow statements name for it."""
        found: dict[str, list[str]] = {}
        for document in self.documents:
            for statement in _statements(document):
                if statement.get("Effect") != "Allow":
                    continue
                actions = statement["Action"]
                resources = statement.get("Resource", "*")
                for action in actions if isinstance(actions, list) else [actions]:
                    found.setdefault(action, []).extend(
                        resources if isinstance(resources, list) else [resources]
                    )
        return found

    def table(self) -> str:
        """Actions granted against actions used (requests made, distinct resources)."""
        granted = self.granted()
        rows = [
            (action, "yes" if action in granted else "NO", len(self.used.get(action, ())))
            for action in sorted(set(granted) | set(self.used))
        ]
        header = ("action", "granted", "resources used")
        return f"{self.role}\n{format_table(header, rows)}"


@dataclass(frozen=True)
class RuleTarget:
    """A rule's target that EventBridge invokes with a role: the role, the target's ARN and
    the action the call needs (glue:notifyEvent for a workflow, "Amazon EventBridge targets":
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html)."""

    policy: RolePolicy
    arn: str
    action: str

    def authorize(self) -> None:
        self.policy.authorize(self.action, self.arn)


_TARGET_ACTIONS = {":glue:": "glue:notifyEvent"}


def rule_target(template: dict[str, Any], rule: str, refs: Mapping[str, str]) -> RuleTarget:
    """The first target of a rule that names a RoleArn, with that role's policy."""
    attributes = template_attributes(template, refs)
    targets = resources_of_type(template, "AWS::Events::Rule")[rule]["Properties"]["Targets"]
    target = next(t for t in targets if "RoleArn" in t)
    arn = resolve_policy(target["Arn"], refs, attributes, template)
    role = target["RoleArn"]["Fn::GetAtt"][0]
    action = next(a for marker, a in _TARGET_ACTIONS.items() if marker in arn)
    return RuleTarget(RolePolicy(role, role_documents(template, role, refs)), arn, action)


def s3_object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def s3_bucket(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"

"""A template role's policies, resolved to local ARNs, deciding each request as moto's IAM does.

The Glue job's data I/O runs on directories locally, so no AWS endpoint sees it. Every S3
operation it makes (its own calls and what Glue's Spark does on a prefix) is put to the
role's policy here with moto's own evaluator (`moto.iam.access_control.IAMPolicy`, the one
moto's server applies with IAM authorization on), and refused as AWS refuses it: an
AccessDenied error naming the action and the resource.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from local.cfn import resources_of_type
from local.report import format_table

_SUB_VARIABLE = re.compile(r"\$\{([A-Za-z0-9:._]+)\}")


class AccessDeniedError(PermissionError):
    """A role's policy does not allow a request (AWS: 403 AccessDenied)."""

    def __init__(self, role: str, action: str, resource: str) -> None:
        super().__init__(
            f"AccessDenied: {role} is not authorized to perform {action} on resource {resource}"
        )
        self.role, self.action, self.resource = role, action, resource


def template_attributes(template: dict[str, Any], refs: Mapping[str, str]) -> dict[str, str]:
    """`${X.Arn}` / `!GetAtt X.Arn` values locally (the buckets' ARNs)."""
    return {
        f"{logical_id}.Arn": f"arn:aws:s3:::{refs[logical_id]}"
        for logical_id in resources_of_type(template, "AWS::S3::Bucket")
        if logical_id in refs
    }


def resolve_policy(value: Any, refs: Mapping[str, str], attributes: Mapping[str, str]) -> Any:
    """A policy with Ref, GetAtt and Sub replaced by local values (anything else raises)."""
    if isinstance(value, list):
        return [resolve_policy(item, refs, attributes) for item in value]
    if not isinstance(value, dict):
        return value
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
    if any(key.startswith("Fn::") for key in value):
        raise KeyError(f"{next(iter(value))} is not resolvable locally")
    return {key: resolve_policy(item, refs, attributes) for key, item in value.items()}


def role_documents(
    template: dict[str, Any], role: str, refs: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The inline policy documents of an AWS::IAM::Role of the template, resolved."""
    resources = resources_of_type(template, "AWS::IAM::Role")
    if role not in resources:
        raise KeyError(f"template.yaml has no role {role}")
    attributes = template_attributes(template, refs)
    return [
        resolve_policy(policy["PolicyDocument"], refs, attributes)
        for policy in resources[role]["Properties"].get("Policies", [])
    ]


@dataclass
class RolePolicy:
    """One role's permissions, and every request it was asked to allow."""

    role: str
    documents: list[dict[str, Any]]
    context: dict[str, str] = field(default_factory=dict)
    """Condition keys every request carries (s3:ResourceAccount, ...)."""
    used: dict[str, set[str]] = field(default_factory=dict)

    def authorize(self, action: str, resource: str, **context: str) -> None:
        """Allow the request, or raise AccessDeniedError as AWS would (explicit deny wins)."""
        from moto.iam.access_control import IAMPolicy, PermissionResult

        values = {**self.context, **context}
        permitted = False
        for document in self.documents:
            decision = IAMPolicy(json.dumps(document)).is_action_permitted(
                action, resource, incoming_condition_values=values
            )
            if decision == PermissionResult.DENIED:
                permitted = False
                break
            permitted = permitted or decision == PermissionResult.PERMITTED
        if not permitted:
            raise AccessDeniedError(self.role, action, resource)
        self.used.setdefault(action, set()).add(resource)

    def granted(self) -> dict[str, list[str]]:
        """Action -> the resources Allow statements name for it."""
        found: dict[str, list[str]] = {}
        for document in self.documents:
            statements = document["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
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


def s3_object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def s3_bucket(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"

"""Helpers for reading template.yaml in tests: long-form intrinsics and IAM statements."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"


def props(resources: dict[str, dict[str, Any]], logical_id: str) -> dict[str, Any]:
    """The Properties of one resource (a missing resource fails the test with its name)."""
    assert logical_id in resources, f"template.yaml has no resource {logical_id}"
    return resources[logical_id].get("Properties") or {}


def as_list(value: Any) -> list[Any]:
    """IAM fields take a string or a list: always a list."""
    return value if isinstance(value, list) else [value]


def sub(text: str) -> dict[str, str]:
    """The long form of `!Sub text`."""
    return {"Fn::Sub": text}


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def get_att(logical_id: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def identity_statements(
    resources: dict[str, dict[str, Any]],
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(owner logical id, statement) for every identity-policy statement in the template.

    Covers inline policies of AWS::IAM::Role and AWS::IAM::Policy and the inline statements of
    AWS::Serverless::Function `Policies` (SAM turns them into the function role's policies).
    """
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        properties = resource.get("Properties") or {}
        documents: list[dict[str, Any]] = []
        if kind == "AWS::IAM::Role":
            documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        elif kind == "AWS::IAM::Policy":
            documents = [properties["PolicyDocument"]]
        elif kind == "AWS::Serverless::Function":
            documents = [
                policy
                for policy in as_list(properties.get("Policies", []))
                if isinstance(policy, dict) and "Statement" in policy
            ]
        for document in documents:
            for statement in as_list(document["Statement"]):
                yield logical_id, statement


def grants(resources: dict[str, dict[str, Any]], owner: str) -> set[tuple[str, str]]:
    """(action, resource) pairs an owner's Allow statements grant, resources as repr()."""
    pairs: set[tuple[str, str]] = set()
    for logical_id, statement in identity_statements(resources):
        if logical_id != owner or statement.get("Effect") != "Allow":
            continue
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                pairs.add((action, resource if isinstance(resource, str) else repr(resource)))
    return pairs

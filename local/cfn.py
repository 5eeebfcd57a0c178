"""Read template.yaml as data: CloudFormation's short tags (!Ref, !Sub ...) in long form.

The local toolkit builds its wiring from the template itself, so the two cannot drift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_SCALAR_TAGS = (
    "Base64",
    "Condition",
    "GetAZs",
    "ImportValue",
    "Ref",
    "Sub",
)
_SEQUENCE_TAGS = (
    "And",
    "Cidr",
    "Equals",
    "FindInMap",
    "If",
    "Join",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "GetAtt",
)


class CfnLoader(yaml.SafeLoader):
    """A safe YAML loader that knows the CloudFormation intrinsic-function tags."""


def _long_name(tag: str) -> str:
    return tag if tag in ("Ref", "Condition") else f"Fn::{tag}"


def _construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    tag = node.tag.lstrip("!")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {_long_name(tag): value}


for _tag in {*_SCALAR_TAGS, *_SEQUENCE_TAGS}:
    CfnLoader.add_constructor(f"!{_tag}", _construct)


def load_template(path: str | Path) -> dict[str, Any]:
    """The template as a plain dict, intrinsic functions in their long (JSON) form."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=CfnLoader)  # noqa: S506  # nosec B506 - a SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return data


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of one type, in template order."""
    return {
        logical_id: resource
        for logical_id, resource in (template.get("Resources") or {}).items()
        if isinstance(resource, dict) and resource.get("Type") == resource_type
    }


def resolve(value: Any, refs: dict[str, str]) -> Any:
    """Replace `Ref`s (and simple `Fn::Sub`s) by local names; anything else unresolved raises."""
    if isinstance(value, list):
        return [resolve(item, refs) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        name = value["Ref"]
        if name not in refs:
            raise KeyError(f"!Ref {name} has no local value")
        return refs[name]
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text = value["Fn::Sub"]
        for name, local in refs.items():
            text = text.replace("${" + name + "}", local)
        if "${" in text:
            raise KeyError(f"!Sub {value['Fn::Sub']!r} has no local value")
        return text
    if any(key.startswith("Fn::") for key in value):
        raise KeyError(f"{next(iter(value))} is not resolvable locally")
    return {key: resolve(item, refs) for key, item in value.items()}


def condition_value(template: dict[str, Any], name: str, refs: dict[str, str]) -> bool:
    """A template condition's value with the local parameter values (`Fn::If`'s choice).

    Fn::Equals, Not, And, Or, Condition, Ref and Join are evaluated, as CloudFormation does
    ("Condition functions", CloudFormation User Guide); anything else raises.
    """
    conditions = template.get("Conditions") or {}
    if name not in conditions:
        raise KeyError(f"template.yaml has no condition {name}")
    return bool(_condition_term(template, conditions[name], refs))


def _condition_term(template: dict[str, Any], value: Any, refs: dict[str, str]) -> Any:
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise KeyError(f"{value!r} is not a condition function")
    [(function, argument)] = value.items()

    def term(item: Any) -> Any:
        return _condition_term(template, item, refs)

    if function == "Condition":
        return condition_value(template, argument, refs)
    if function == "Ref":
        return resolve(value, refs)
    if function == "Fn::Equals":
        left, right = (term(item) for item in argument)
        return str(left) == str(right)
    if function == "Fn::Not":
        return not term(argument[0])
    if function == "Fn::And":
        return all(term(item) for item in argument)
    if function == "Fn::Or":
        return any(term(item) for item in argument)
    if function == "Fn::Join":
        separator, items = argument
        resolved = term(items)
        return separator.join(resolved if isinstance(resolved, list) else [str(resolved)])
    raise KeyError(f"{function} is not evaluated locally")

"""A policy statement's Condition block, evaluated as IAM documents it.

moto's evaluator (moto.iam.access_control, 5.2.5) answers DENIED for any statement whose
condition does not hold, Allow or Deny alike, so a bucket policy's conditional Deny (deny
writes unless the principal is the writer) would refuse every request. The local stack
therefore evaluates conditions here and leaves moto to match actions and resources.

The rules, from the IAM User Guide:
- "IAM JSON policy elements: Condition operators": a key absent from the request makes a
  condition false, except for negated operators (StringNotLike, ArnNotLike, ...), which are
  then true; Null tests presence alone;
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
- "Conditions with multiple context keys or values": operators and keys are ANDed, a key's
  values ORed, and NORed under a negated operator;
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
Only the operators the template uses are known; any other raises rather than guessing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any


def _like(pattern: str, value: str) -> bool:
    # IAM wildcards: * any run of characters, ? one character; nothing else is special.
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _equals(pattern: str, value: str) -> bool:
    return pattern == value


def _bool(pattern: str, value: str) -> bool:
    return pattern.lower() == value.lower()


# operator -> (how one policy value matches the request's value, negated)
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (_equals, False),
    "StringNotEquals": (_equals, True),
    "StringLike": (_like, False),
    "StringNotLike": (_like, True),
    "ArnEquals": (_like, False),  # ARN operators take wildcards in either form
    "ArnNotEquals": (_like, True),
    "ArnLike": (_like, False),
    "ArnNotLike": (_like, True),
    "Bool": (_bool, False),
}


class UnknownConditionError(KeyError):
    """A condition operator the local evaluator does not implement."""


def _values(raw: Any) -> list[str]:
    return [str(v) for v in raw] if isinstance(raw, list) else [str(raw)]


def conditions_hold(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """Whether a statement's Condition block holds for a request's context keys."""
    for operator, keys in condition.items():
        for key, raw in keys.items():
            expected = _values(raw)
            present = key in context
            if operator == "Null":
                if (expected[0].lower() == "true") == present:
                    return False
                continue
            if operator not in _OPERATORS:
                raise UnknownConditionError(f"condition operator {operator} is not evaluated")
            match, negated = _OPERATORS[operator]
            if not present:
                if not negated:
                    return False
                continue
            matched = any(match(pattern, context[key]) for pattern in expected)
            if matched == negated:
                return False
    return True

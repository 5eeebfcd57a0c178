"""The functions' roles the local stack enforces are the roles SAM generates: the template's
`Policies` documents read directly (local.function_access) equal samtranslator's output."""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404 - runs the tools environment's Python on a file of this repo
from pathlib import Path
from typing import Any

import pytest

from local import stack
from local.lambda_runtime import REPO_ROOT

SAM_PYTHON = REPO_ROOT / ".venv-sam" / "bin" / "python"
SCRIPT = Path(__file__).with_name("sam_roles.py")
TEMPLATE = stack.load()
ON_FAILURE_POLICY = "EventInvokeConfigOnFailureSQSPolicy"


@pytest.fixture(scope="module")
def sam_roles() -> dict[str, Any]:
    assert SAM_PYTHON.exists(), "needs the tools environment: make tools-environment"
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-west-2"}
    done = subprocess.run(  # nosec B603 - fixed arguments
        [str(SAM_PYTHON), str(SCRIPT), str(stack.TEMPLATE_PATH)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _documents(policies: list[dict[str, Any]]) -> list[Any]:
    """SAM's inline policies without their names (an !If keeps its condition)."""
    found: list[Any] = []
    for policy in policies:
        if "Fn::If" in policy:
            condition, chosen, otherwise = policy["Fn::If"]
            found.append({"Fn::If": [condition, chosen["PolicyDocument"], otherwise]})
        else:
            found.append(policy["PolicyDocument"])
    return found


@pytest.mark.parametrize("function", ["IngestFunction", "LoadFunction"])
def test_the_local_reading_of_a_functions_role_is_what_sam_generates(
    sam_roles: dict[str, Any], function: str
) -> None:
    role = sam_roles[f"{function}Role"]["Properties"]
    own = [p for p in role["Policies"] if not p.get("PolicyName", "").endswith(ON_FAILURE_POLICY)]
    expected = TEMPLATE["Resources"][function]["Properties"]["Policies"]
    assert _documents(own) == json.loads(json.dumps(expected))
    # What SAM adds: the on-failure destination's SendMessage (Lambda's service sends it;
    # locally the runner does) and the logging and VPC managed policies.
    [on_failure] = [p for p in role["Policies"] if p not in own]
    assert on_failure["PolicyDocument"]["Statement"] == [
        {
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": ["FailedEventsQueue", "Arn"]},
        }
    ]
    assert role["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    ]

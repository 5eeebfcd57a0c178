"""The GitHub workflows run what the README tells people to run, and deploy with OIDC only."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from local.cfn import load_template

REPO_ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = REPO_ROOT / ".github" / "workflows"


def workflow(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as True
    data["on"] = data.pop(True, data.get("on"))
    return data


def steps(data: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return data["jobs"][job]["steps"]


def commands(data: dict[str, Any]) -> list[str]:
    """Every shell line of every `run:` step, continuation lines joined."""
    lines = []
    for job in data["jobs"].values():
        for step in job["steps"]:
            text = step.get("run", "").replace("\\\n", " ")
            lines.extend(" ".join(line.split()) for line in text.splitlines() if line.strip())
    return lines


def makefile_targets() -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    variables = dict(re.findall(r"^([A-Z_]+) :?= (\S+)$", text, re.M))
    targets = set()
    for target in re.findall(r"^([^\s#:=][^:=]*?):(?!=)", text, re.M):
        for name in target.split():
            targets.add(
                re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), name)
            )
    return targets


def readme_quickstart() -> list[str]:
    """The commands of the README's "Quickstart" block."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def samconfig_envs() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "samconfig.toml").read_text(encoding="utf-8"))


def test_ci_runs_on_pull_requests_and_main_with_python_311_java_17_and_postgres() -> None:
    ci = workflow("ci.yml")
    assert ci["on"] == {"pull_request": None, "push": {"branches": ["main"]}}
    assert ci["permissions"] == {"contents": "read"}
    uses = {step.get("uses", "").split("@")[0]: step for step in steps(ci, "test")}
    assert uses["actions/setup-python"]["with"]["python-version"] == "3.11"
    assert uses["actions/setup-java"]["with"]["java-version"] == "17"
    cached = uses["actions/cache"]["with"]["path"].split()
    assert cached == [".venv", ".venv-sam", ".venv-checkov"]
    assert "hashFiles('requirements/*.txt')" in uses["actions/cache"]["with"]["key"]
    service = ci["jobs"]["test"]["services"]["postgres"]
    assert service["image"] == "postgres:15"
    assert ci["jobs"]["test"]["env"]["TEST_PG_DSN"].startswith(
        "postgresql://postgres@127.0.0.1:5432/"
    )


def test_ci_runs_the_readmes_commands_and_the_checks() -> None:
    ran = commands(workflow("ci.yml"))
    quickstart = readme_quickstart()
    assert quickstart == ["make demo", "make test"]
    for command in [*quickstart, "make run-checks"]:
        assert command in ran, command


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_every_make_target_a_workflow_calls_exists(name: str) -> None:
    targets = makefile_targets()
    called = [c.split()[1] for c in commands(workflow(name)) if c.startswith("make ")]
    assert called
    for target in called:
        assert target in targets, target


def test_deploy_uses_the_oidc_role_and_never_a_stored_key() -> None:
    deploy = workflow("deploy.yml")
    assert deploy["permissions"] == {"contents": "read", "id-token": "write"}
    text = (WORKFLOWS / "deploy.yml").read_text(encoding="utf-8")
    for needle in (
        "aws-access-key-id",
        "aws-secret-access-key",
        "AWS_SECRET_ACCESS_KEY",
        "secrets.",
    ):
        assert needle not in text, needle
    for job in ("deploy-staging", "deploy-production"):
        [login] = [
            s
            for s in steps(deploy, job)
            if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
        ]
        assert set(login["with"]) == {"role-to-assume", "aws-region"}


def test_main_deploys_staging_and_a_tag_or_manual_run_deploys_production_after_approval() -> None:
    deploy = workflow("deploy.yml")
    assert deploy["on"] == {
        "push": {"branches": ["main"], "tags": ["v*"]},
        "workflow_dispatch": None,
    }
    staging, production = deploy["jobs"]["deploy-staging"], deploy["jobs"]["deploy-production"]
    assert staging["if"] == "github.ref == 'refs/heads/main'"
    assert production["if"] == (
        "startsWith(github.ref, 'refs/tags/v') || github.event_name == 'workflow_dispatch'"
    )
    assert (staging["environment"], production["environment"]) == ("staging", "production")
    assert staging["needs"] == production["needs"] == "build"


def test_sam_is_called_with_the_config_environments_of_samconfig() -> None:
    config = samconfig_envs()
    deploys = [c for c in commands(workflow("deploy.yml")) if "sam deploy" in c]
    envs = [re.search(r"--config-env (\S+)", c).group(1) for c in deploys]  # type: ignore[union-attr]
    assert envs == ["staging", "default"]
    for env in envs:
        assert "deploy" in config[env] and "stack_name" in config[env]["global"]["parameters"], env
    builds = [c for c in commands(workflow("deploy.yml")) if "sam build" in c]
    assert builds == [".venv-sam/bin/sam build --template template.yaml"]


BOOTSTRAP = REPO_ROOT / "pipeline" / "bootstrap.yaml"


def test_bootstrap_deploy_role_trusts_only_this_repos_environment_through_oidc() -> None:
    resources = load_template(BOOTSTRAP)["Resources"]
    assert {r["Type"] for r in resources.values()} == {"AWS::IAM::OIDCProvider", "AWS::IAM::Role"}
    provider = resources["GitHubOidcProvider"]["Properties"]
    assert provider == {
        "Url": "https://token.actions.githubusercontent.com",
        "ClientIdList": ["sts.amazonaws.com"],
    }
    [trust] = resources["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": {
                "Fn::Sub": "repo:${GitHubOrg}/${GitHubRepo}:environment:${EnvironmentName}"
            },
        }
    }


def test_bootstrap_deploy_role_can_only_change_its_stack_and_pass_the_execution_role() -> None:
    resources = load_template(BOOTSTRAP)["Resources"]
    [policy] = resources["DeployRole"]["Properties"]["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    for statement in statements.values():
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert all("*" not in action for action in actions), statement["Sid"]
        if statement["Resource"] == "*":
            assert actions == ["cloudformation:ValidateTemplate"], statement["Sid"]
    assert statements["ChangeSetsOnThePipelineStack"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}"
        ":stack/${PipelineStackName}/*"
    }
    passing = statements["PassOnlyTheExecutionRoleToCloudFormation"]
    assert passing["Resource"] == {"Fn::GetAtt": ["CloudFormationExecutionRole", "Arn"]}
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}
    }
    [trust] = resources["CloudFormationExecutionRole"]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ]
    assert trust["Principal"] == {"Service": "cloudformation.amazonaws.com"}


def test_the_docs_name_the_stack_each_environment_deploys() -> None:
    docs = (REPO_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    config = samconfig_envs()
    for env, github_env in (("staging", "staging"), ("default", "production")):
        stack = config[env]["global"]["parameters"]["stack_name"]
        assert f"EnvironmentName={github_env} PipelineStackName={stack}" in docs

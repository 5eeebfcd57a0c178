"""The template's resources as the local AWS names them: refs, function settings, queries.

Reading these from template.yaml keeps the local pipeline configured as the deployed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.cfn import load_template, resolve, resources_of_type
from local.services import LOCAL_REGION
from local.statedir import NAMES, LocalNames

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
LOCAL_ACCOUNT = "123456789012"
LOCAL_STACK = "totesys-local"

_LOCAL_NAME_BY_TYPE = {
    "AWS::Glue::Job": "job_name",
    "AWS::Glue::Database": "database",
    "AWS::Glue::Workflow": "workflow_name",
}


@dataclass(frozen=True)
class NamedQuery:
    """An Athena named query of the template (a business question over the lake)."""

    logical_id: str
    name: str
    description: str
    sql: str


def load(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """template.yaml, parsed."""
    return load_template(path)


def local_refs(template: dict[str, Any], names: LocalNames = NAMES) -> dict[str, str]:
    """What `!Ref X` means locally: parameters' defaults, pseudo parameters, local names."""
    refs: dict[str, str] = {
        "AWS::Region": LOCAL_REGION,
        "AWS::AccountId": LOCAL_ACCOUNT,
        "AWS::StackName": LOCAL_STACK,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    for name, parameter in (template.get("Parameters") or {}).items():
        if isinstance(parameter, dict) and "Default" in parameter:
            refs[name] = str(parameter["Default"])
    for logical_id, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        if kind == "AWS::S3::Bucket":
            lowered = logical_id.lower()
            if "ingest" in lowered:
                refs[logical_id] = names.ingest_bucket
            elif "processed" in lowered or "lake" in lowered:
                refs[logical_id] = names.processed_bucket
        elif kind in _LOCAL_NAME_BY_TYPE:
            refs[logical_id] = getattr(names, _LOCAL_NAME_BY_TYPE[kind])
    return refs


def function_of(template: dict[str, Any], code_uri: str) -> str:
    """The logical id of the function whose CodeUri is a code directory."""
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        props = resource.get("Properties") or {}
        if str(props.get("CodeUri", "")).rstrip("/") == code_uri.rstrip("/"):
            return logical_id
    raise KeyError(f"template.yaml has no function with CodeUri {code_uri}")


def function_environment(
    template: dict[str, Any], code_uri: str, refs: dict[str, str]
) -> dict[str, str]:
    """A function's environment variables (Globals merged), resolvable values only.

    Values the local AWS cannot resolve (another resource's ARN, say) are left out; the
    runner sets the ones it owns (bucket names, secret ids) itself.
    """
    merged: dict[str, Any] = dict(
        ((template.get("Globals") or {}).get("Function") or {})
        .get("Environment", {})
        .get("Variables", {})
    )
    function = function_of(template, code_uri)
    props = template["Resources"][function].get("Properties") or {}
    merged.update((props.get("Environment") or {}).get("Variables") or {})
    env: dict[str, str] = {}
    for key, value in merged.items():
        try:
            resolved = resolve(value, refs)
        except KeyError:
            continue
        if isinstance(resolved, (str, int, float, bool)):
            env[key] = str(resolved).lower() if isinstance(resolved, bool) else str(resolved)
    return env


def named_queries(template: dict[str, Any], refs: dict[str, str]) -> list[NamedQuery]:
    """The template's AWS::Athena::NamedQuery resources, in template order."""
    queries: list[NamedQuery] = []
    for logical_id, resource in resources_of_type(template, "AWS::Athena::NamedQuery").items():
        props = resource.get("Properties") or {}
        try:
            sql = resolve(props.get("QueryString", ""), refs)
            name = resolve(props.get("Name", logical_id), refs)
            description = resolve(props.get("Description", ""), refs)
        except KeyError:
            continue
        if isinstance(sql, str) and sql.strip():
            queries.append(NamedQuery(logical_id, str(name), str(description), sql.strip()))
    return queries


def database_description(template: dict[str, Any]) -> str:
    """The catalog database's description, as the template declares it."""
    for resource in resources_of_type(template, "AWS::Glue::Database").values():
        database_input = (resource.get("Properties") or {}).get("DatabaseInput") or {}
        description = database_input.get("Description")
        if isinstance(description, str):
            return description
    return ""

"""The functions run under their template roles: each request of a local cycle is allowed by
`<Function>Role` and the bucket's policy, and a role without a statement it needs fails its
stage with AWS's AccessDenied, naming the action and the resource. The same for the rule
role EventBridge starts the workflow with."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from local import stack
from local.iam import RolePolicy
from local.lambda_runtime import REPO_ROOT
from local.runner import INGEST_DIR, LOAD_DIR, LocalPipeline, StageError
from local.statedir import NAMES
from tests.reliability.rig import error_chain

TEMPLATE = stack.load()
ACCOUNT = "123456789012"
INGEST, PROCESSED = NAMES.ingest_bucket, NAMES.processed_bucket


def _secret(name: str) -> str:
    return f"arn:aws:secretsmanager:eu-west-2:{ACCOUNT}:secret:{name}-"


def without(function: str, sid: str) -> dict[str, Any]:
    """The template with one statement of a function's Policies removed."""
    changed = copy.deepcopy(TEMPLATE)
    [document, *_] = changed["Resources"][function]["Properties"]["Policies"]
    kept = [s for s in document["Statement"] if s.get("Sid") != sid]
    assert len(kept) == len(document["Statement"]) - 1, f"{function} has no statement {sid}"
    document["Statement"] = kept
    return changed


@pytest.fixture
def open_pipeline(
    pipeline_over: Callable[..., LocalPipeline],
) -> Callable[..., LocalPipeline]:
    """A pipeline over the test's databases, with the template as given (default: the real one)."""

    def make(state: Path, template: dict[str, Any] | None = None) -> LocalPipeline:
        if template is None:
            return pipeline_over(state)
        path = state.parent / f"template-{len(list(state.parent.glob('template-*')))}.yaml"
        path.write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")
        return pipeline_over(state, path)

    return make


def change_an_order(databases: tuple[Any, Any]) -> None:
    conn = databases[0].connect()
    try:
        conn.run(
            "UPDATE sales_order SET units_sold = units_sold + 1, last_updated = now() "
            "WHERE sales_order_id = (SELECT min(sales_order_id) FROM sales_order)"
        )
    finally:
        conn.close()


def test_a_cycle_makes_only_requests_the_roles_allow(
    databases: tuple[Any, Any],
    open_pipeline: Callable[..., LocalPipeline],
    tmp_path: Path,
    spark: Any,
) -> None:
    del spark  # the runner's getOrCreate returns the session's
    with open_pipeline(tmp_path / "state") as pipeline:
        report = pipeline.run_cycle()
        policies: dict[str, RolePolicy] = dict(pipeline.function_access.policies)
    assert report.loaded_batches
    print()
    for policy in policies.values():
        print(policy.table())
    print(pipeline.workflow_target.policy.table())
    assert pipeline.workflow_target.policy.used == {
        "glue:notifyEvent": {
            f"arn:aws:glue:eu-west-2:{ACCOUNT}:workflow/totesys-star-schema-workflow-local"
        }
    }
    ingest, load = policies[INGEST_DIR], policies[LOAD_DIR]
    assert set(ingest.used) == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:ListBucket",
        "secretsmanager:GetSecretValue",
    }
    # Only a failed multipart upload aborts or lists its parts.
    assert set(ingest.granted()) - set(ingest.used) == {
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    }
    assert set(load.used) == set(load.granted())
    assert all(r.startswith(f"arn:aws:s3:::{INGEST}/") for r in ingest.used["s3:PutObject"])
    assert not [
        r for r in load.used["s3:GetObject"] if not r.startswith(f"arn:aws:s3:::{PROCESSED}/")
    ]


@pytest.mark.parametrize(
    ("sid", "action", "resource"),
    [
        ("ReadSourceSecret", "secretsmanager:GetSecretValue", _secret("totesys-local/source-db")),
        ("ReadOwnStateAndManifests", "s3:GetObject", f"arn:aws:s3:::{INGEST}/_state/"),
        ("ListLandingBucket", "s3:ListBucket", f"arn:aws:s3:::{INGEST}"),
        ("WriteLandingObjects", "s3:PutObject", f"arn:aws:s3:::{INGEST}/"),
    ],
)
def test_ingest_without_a_statement_it_needs_fails_with_access_denied(
    databases: tuple[Any, Any],
    open_pipeline: Callable[..., LocalPipeline],
    tmp_path: Path,
    sid: str,
    action: str,
    resource: str,
) -> None:
    state = tmp_path / "state"
    with (
        open_pipeline(state, without("IngestFunction", sid)) as pipeline,
        pytest.raises(StageError) as raised,
    ):
        pipeline.run_cycle()
    assert str(raised.value).startswith("ingest failed: ")
    # AWS's AccessDenied, as the stage's error chain (its log line) carries it
    chain = error_chain(raised.value)
    assert "An error occurred (AccessDenied)" in chain
    assert f"IngestFunctionRole is not authorized to perform {action} on resource {resource}" in (
        chain
    )
    assert not list((state / "buckets" / INGEST).rglob("_manifests/*.json"))


LOAD_NEEDS = [
    ("ReadManifestsAndStarTables", "s3:GetObject", f"arn:aws:s3:::{PROCESSED}/_manifests/"),
    ("ReadWarehouseSecret", "secretsmanager:GetSecretValue", _secret("totesys-local/warehouse-db")),
    ("ListLake", "s3:ListBucket", f"arn:aws:s3:::{PROCESSED}"),
]


def test_load_without_a_statement_it_needs_fails_with_access_denied(
    databases: tuple[Any, Any],
    open_pipeline: Callable[..., LocalPipeline],
    tmp_path: Path,
    spark: Any,
) -> None:
    """One state: a batch loaded, then a change transformed whose load is refused (the
    first statement), then the loader's backstop refused for each other statement."""
    del spark
    state = tmp_path / "state"
    with open_pipeline(state) as pipeline:
        loaded = pipeline.run_cycle().loaded_batches
    change_an_order(databases)
    backstop = json.loads((REPO_ROOT / "events" / "load_backstop.json").read_text())
    for turn, (sid, action, resource) in enumerate(LOAD_NEEDS):
        with (
            open_pipeline(state, without("LoadFunction", sid)) as pipeline,
            pytest.raises(Exception) as raised,  # StageError in a cycle, the stage's own else
        ):
            if turn == 0:
                pipeline.run_cycle()
            else:
                pipeline._invoke(LOAD_DIR, {**backstop, "id": f"backstop-{turn}"})
        chain = error_chain(raised.value)
        assert "An error occurred (AccessDenied)" in chain, sid
        assert (
            f"LoadFunctionRole is not authorized to perform {action} on resource {resource}"
            in chain
        ), sid
    assert loaded


def test_the_rule_role_without_notify_event_stops_the_pipeline_before_the_workflow(
    databases: tuple[Any, Any], open_pipeline: Callable[..., LocalPipeline], tmp_path: Path
) -> None:
    changed = copy.deepcopy(TEMPLATE)
    role = changed["Resources"]["ManifestCreatedRuleRole"]["Properties"]
    [document] = [p["PolicyDocument"] for p in role["Policies"]]
    document["Statement"] = [s for s in document["Statement"] if s["Sid"] != "NotifyWorkflow"]
    state = tmp_path / "state"
    with (
        open_pipeline(state, changed) as pipeline,
        pytest.raises(StageError) as raised,
    ):
        pipeline.run_cycle()
    workflow = f"arn:aws:glue:eu-west-2:{ACCOUNT}:workflow/totesys-star-schema-workflow-local"
    assert str(raised.value) == (
        "wiring failed: ManifestCreatedRule could not start the workflow: AccessDenied: "
        f"ManifestCreatedRuleRole is not authorized to perform glue:notifyEvent on resource "
        f"{workflow}"
    )
    assert list((state / "buckets" / INGEST / "_manifests").glob("*.json"))  # ingested
    assert not (state / "buckets" / PROCESSED / "_manifests").exists()  # never transformed

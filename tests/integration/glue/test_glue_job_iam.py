"""The Glue job under StarSchemaJobRole: every S3 and catalog request it makes is allowed.

The job runs on directories standing for the template's buckets; each request it would
make on Glue (its own S3 calls, what Spark lists, reads, writes and overwrites, its catalog
calls) is decided by moto's IAM evaluator against the role in template.yaml. One lake goes
through a first pass, a pass killed before its manifest and the re-run that redoes it (the
overwrites) and drains the rest; then the role minus one needed statement is refused with
an access-denied error naming the action and the resource.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

import boto3
import pytest
from glue_scenario import B1, B2, B3, INGEST_BUCKET, PROCESSED_BUCKET, land

from glue_jobs import star_schema as job
from local import stack
from local.iam import AccessDeniedError, RolePolicy
from local.job_access import JOB_ROLE, job_policy, run_as_job_role
from local.statedir import LocalNames

TEMPLATE = stack.load()


class SimulatedCrash(RuntimeError):
    """The job killed after writing everything but its manifest."""


def crash() -> None:
    raise SimulatedCrash("killed before the manifest")


def names(database: str) -> LocalNames:
    return LocalNames(
        ingest_bucket=INGEST_BUCKET, processed_bucket=PROCESSED_BUCKET, database=database
    )


def without(sid: str, template: dict[str, Any] = TEMPLATE) -> dict[str, Any]:
    """The template with one statement of the job role removed."""
    changed = copy.deepcopy(template)
    for policy in changed["Resources"][JOB_ROLE]["Properties"]["Policies"]:
        statements = policy["PolicyDocument"]["Statement"]
        kept = [s for s in statements if s.get("Sid") != sid]
        assert len(kept) == len(statements) - 1, f"no statement {sid}"
        policy["PolicyDocument"]["Statement"] = kept
    return changed


def run_job(spark: Any, root: Path, database: str, policy: RolePolicy, **kwargs: Any) -> Any:
    """One job run as the role; the catalog database exists first, as the stack creates it."""
    admin = boto3.client("glue")
    with contextlib.suppress(admin.exceptions.AlreadyExistsException):
        admin.create_database(DatabaseInput={"Name": database})
    ingest, processed = root / "ingest", root / "processed"
    args = {
        "ingest_location": str(ingest),
        "processed_location": str(processed),
        "database": database,
        "ingest_bucket": INGEST_BUCKET,
        "processed_bucket": PROCESSED_BUCKET,
    }
    return run_as_job_role(
        lambda **more: job.run(spark, args, **more),
        policy,
        {str(ingest): INGEST_BUCKET, str(processed): PROCESSED_BUCKET},
        str(processed),
        boto3.client("glue"),
        **kwargs,
    )


@pytest.fixture(scope="module")
def used(spark: Any, module_aws: str, tmp_path_factory: pytest.TempPathFactory) -> RolePolicy:
    root = tmp_path_factory.mktemp("iam")
    database = "totesys_lake_iam"
    policy = job_policy(TEMPLATE, names(database))
    land(root / "ingest", B1)
    run_job(spark, root, database, policy)
    land(root / "ingest", B2)
    with pytest.raises(SimulatedCrash):
        run_job(spark, root, database, policy, before_commit=crash)
    land(root / "ingest", B3)
    manifest = run_job(spark, root, database, policy)  # redoes B2 (overwrites), then B3
    assert manifest is not None and manifest["batch_id"] == B3
    print()
    print(policy.table())
    return policy


def lake(key: str) -> str:
    return f"arn:aws:s3:::{PROCESSED_BUCKET}/{key}"


def test_the_job_role_allows_every_request_a_crash_and_its_redo_make(used: RolePolicy) -> None:
    assert set(used.used) <= set(used.granted())
    deleted = used.used["s3:DeleteObject"]
    assert lake("_job/inflight.json") in deleted  # removed after each commit
    # The latest pointer is overwritten after each commit, never deleted (the role cannot).
    assert lake("_job/latest.json") in used.used["s3:PutObject"]
    assert lake("_job/latest.json") not in deleted
    # The redo of B2 overwrote the crashed pass's prefixes: Spark removed what they held.
    assert any(r.startswith(lake(f"_state/address/batch={B2}/")) for r in deleted)
    assert any(r.startswith(lake(f"_quarantine/{B2}/")) for r in deleted)
    assert any(r.startswith(lake(f"dim_staff/snapshot={B2}/")) for r in deleted)
    # Fact history is never deleted, and never needs to be.
    assert not any(r.startswith(lake("fact_")) for r in deleted)
    assert used.used["glue:CreateTable"]


def test_every_granted_action_is_used_or_is_glues_own(used: RolePolicy) -> None:
    """The role grants nothing the job does not use, but what Glue itself needs."""
    glue_itself = {
        "s3:GetObject",  # the script, from the artifact bucket
        "s3:GetBucketLocation",
        "s3:ListBucketMultipartUploads",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        "s3:PutObjectTagging",  # superseded snapshots (docs/deploy.md, lifecycle)
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "cloudwatch:PutMetricData",
        # Glue's Spark catalog client and partition upkeep
        "glue:GetTable",
        "glue:GetTables",
        "glue:GetPartition",
        "glue:GetPartitions",
        "glue:BatchGetPartition",
        "glue:CreatePartition",
        "glue:UpdatePartition",
        "glue:BatchUpdatePartition",
    }
    unused = set(used.granted()) - set(used.used) - glue_itself
    assert unused == set()


@pytest.mark.parametrize(
    ("sid", "action", "resource"),
    [
        ("ListBuckets", "s3:ListBucket", f"arn:aws:s3:::{PROCESSED_BUCKET}"),
        ("ReadLanding", "s3:GetObject", f"arn:aws:s3:::{INGEST_BUCKET}/_manifests/{B1}.json"),
        (
            "OwnCatalogDatabase",
            "glue:GetDatabase",
            "arn:aws:glue:eu-west-2:123456789012:database/totesys_lake_iam_denied",
        ),
        ("DeleteWhatAPassReplaces", "s3:DeleteObject", lake(f"_tmp/{B1}/")),
    ],
)
def test_the_role_without_a_needed_statement_is_refused_naming_action_and_resource(
    spark: Any,
    module_aws: str,
    tmp_path: Path,
    sid: str,
    action: str,
    resource: str,
) -> None:
    database = "totesys_lake_iam_denied"
    land(tmp_path / "ingest", B1)
    policy = job_policy(without(sid), names(database))
    with pytest.raises(Exception) as raised:  # the chain is checked below
        run_job(spark, tmp_path, database, policy)
    denied = access_denied(raised.value)
    assert denied.action == action
    assert denied.resource.startswith(resource), denied.resource
    # What the job reports names the action and the resource (a catalog refusal is wrapped
    # in the job's CatalogError, as a botocore AccessDeniedException would be on Glue).
    assert f"not authorized to perform {action} on resource {resource}" in str(raised.value)


def access_denied(error: BaseException) -> AccessDeniedError:
    """The AccessDeniedError an error is, or was raised from."""
    seen: BaseException | None = error
    while seen is not None and not isinstance(seen, AccessDeniedError):
        seen = seen.__cause__
    assert seen is not None, f"not an access-denied error: {error!r}"
    return seen


def test_the_released_roles_delete_rights_fail_the_run_after_its_commit(
    spark: Any, module_aws: str, tmp_path: Path
) -> None:
    """Before this fix the role could delete only under _tmp/: every run died deleting its
    in-flight record, after the manifest, so AWS reported it FAILED with no success event."""
    released = copy.deepcopy(TEMPLATE)
    for policy in released["Resources"][JOB_ROLE]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement.get("Sid") == "DeleteWhatAPassReplaces":
                statement["Resource"] = statement["Resource"][:1]  # ${ProcessedBucket.Arn}/_tmp/*
    database = "totesys_lake_iam_released"
    land(tmp_path / "ingest", B1)
    with pytest.raises(AccessDeniedError) as denied:
        run_job(spark, tmp_path, database, job_policy(released, names(database)))
    assert (denied.value.action, denied.value.resource) == (
        "s3:DeleteObject",
        lake("_job/inflight.json"),
    )
    assert (tmp_path / "processed" / "_manifests" / f"{B1}.json").exists()


def test_a_job_pointed_at_the_landing_bucket_is_refused_by_that_buckets_policy(
    spark: Any, module_aws: str, tmp_path: Path
) -> None:
    """A stray writer: the job's lake argument set to the landing bucket, its role carelessly
    granted every S3 action there. The landing bucket's policy refuses its first write, and
    the landing objects stay as they were."""
    from tests.unit.local.test_local_iam import over_granted

    database = "totesys_lake_iam_stray"
    admin = boto3.client("glue")
    with contextlib.suppress(admin.exceptions.AlreadyExistsException):
        admin.create_database(DatabaseInput={"Name": database})
    ingest, stray = tmp_path / "ingest", tmp_path / "stray"  # both stand for the landing bucket
    land(ingest, B1)
    before = sorted(p.relative_to(ingest) for p in ingest.rglob("*"))
    args = {
        "ingest_location": str(ingest),
        "processed_location": str(stray),
        "database": database,
        "ingest_bucket": INGEST_BUCKET,
        "processed_bucket": INGEST_BUCKET,
    }
    with pytest.raises(AccessDeniedError) as denied:
        run_as_job_role(
            lambda **more: job.run(spark, args, **more),
            job_policy(over_granted(), names(database)),
            {str(ingest): INGEST_BUCKET, str(stray): INGEST_BUCKET},
            str(stray),
            boto3.client("glue"),
        )
    assert denied.value.action == "s3:PutObject"
    assert denied.value.resource.startswith(f"arn:aws:s3:::{INGEST_BUCKET}/")
    assert denied.value.denied_by == (
        "a resource-based policy (IngestBucketPolicy DenyWritesButTheWriter)"
    )
    assert sorted(p.relative_to(ingest) for p in ingest.rglob("*")) == before
    assert not [p for p in stray.rglob("*") if p.is_file()]  # refused before it was written

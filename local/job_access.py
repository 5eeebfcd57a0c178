"""The Glue job's S3 and catalog requests, authorized by its template role before they run.

Locally the job reads and writes directories; these wrappers put each request it would make
on Glue to StarSchemaJobRole's policy first (local.iam), so a permission the template lacks
fails the local run as it would fail the job run in AWS, naming the action and the key:
- its own calls: manifests and state pointers (GetObject, PutObject), listings
  (ListBucket), moves (GetObject + PutObject + DeleteObject), deletes (DeleteObject);
- what Glue's Spark does on a prefix it is given: it lists the prefix (ListBucket) and
  reads what is there (GetObject); what it then writes (PutObject) and what an overwrite
  removes (DeleteObject) is checked from the lake's files after the run (`check_written`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local import stack
from local.iam import RolePolicy, bucket_policies, role_documents, s3_bucket, s3_object
from local.services import LOCAL_REGION
from local.stack import LOCAL_ACCOUNT
from local.statedir import LocalNames


@dataclass
class AuthorizedLocation:
    """A job Location (a directory standing for `bucket`) whose requests the role must allow."""

    inner: Any
    bucket: str
    policy: RolePolicy
    root: Path

    def _allow(self, action: str, key: str) -> None:
        self.policy.authorize(action, s3_object(self.bucket, key))

    def _allow_list(self, prefix: str) -> None:
        self.policy.authorize("s3:ListBucket", s3_bucket(self.bucket), **{"s3:prefix": prefix})

    def uri(self, key: str) -> str:
        # Spark lists what it is pointed at and reads the objects there.
        self._allow_list(key)
        for existing in self.inner.list_keys(key) if (self.root / key).is_dir() else []:
            self._allow("s3:GetObject", existing)
        if (self.root / key).is_file():
            self._allow("s3:GetObject", key)
        return str(self.inner.uri(key))

    def read_json(self, key: str) -> dict[str, Any] | None:
        self._allow("s3:GetObject", key)
        return self.inner.read_json(key)  # type: ignore[no-any-return]

    def write_json(self, key: str, data: Mapping[str, Any]) -> None:
        from glue_jobs.star_schema import put_conditions

        # The request's s3:if-none-match key, as the job's PutObject on S3 sends it.
        condition = put_conditions(key).get("IfNoneMatch")
        headers = {"s3:if-none-match": condition} if condition else {}
        self.policy.authorize("s3:PutObject", s3_object(self.bucket, key), **headers)
        self.inner.write_json(key, data)

    def list_keys(self, prefix: str, start_after: str = "") -> list[str]:
        self._allow_list(prefix)
        return list(self.inner.list_keys(prefix, start_after))

    def move(self, pairs: list[tuple[str, str]]) -> None:
        # S3 has no move: CopyObject (GetObject on the source, PutObject on the target),
        # then DeleteObject of the source.
        for source, target in pairs:
            self._allow("s3:GetObject", source)
            self._allow("s3:PutObject", target)
            self._allow("s3:DeleteObject", source)
        self.inner.move(pairs)

    def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        for key in keys:
            self._allow("s3:DeleteObject", key)
        self.inner.delete(keys)

    def delete_prefix(self, prefix: str) -> None:
        # Each object under the prefix is a DeleteObject; the inner location then removes the
        # prefix whole, leaving no empty directory behind (S3 has none).
        for key in self.list_keys(prefix):
            self._allow("s3:DeleteObject", key)
        self.inner.delete_prefix(prefix)


def check_written(
    policy: RolePolicy,
    bucket: str,
    before: Mapping[str, object],
    after: Mapping[str, object],
) -> None:
    """Spark's writes: each new or rewritten object is a PutObject, each removed a Delete
    (objects the job's own calls wrote were authorized as those calls were made)."""
    own = policy.used.get("s3:PutObject", set())
    for key in sorted(after):
        if before.get(key) != after[key] and s3_object(bucket, key) not in own:
            policy.authorize("s3:PutObject", s3_object(bucket, key))
    for key in sorted(set(before) - set(after)):
        policy.authorize("s3:DeleteObject", s3_object(bucket, key))


# The ARNs a Glue Data Catalog call is authorized on: the catalog, the database and, for a
# table or partition call, the table ("Specifying AWS Glue resource ARNs",
# https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html).
_GLUE_TABLE_CALLS = {
    "GetTable": "Name",
    "CreateTable": None,
    "UpdateTable": None,
    "GetPartition": "TableName",
    "GetPartitions": "TableName",
    "BatchGetPartition": "TableName",
    "CreatePartition": "TableName",
    "BatchCreatePartition": "TableName",
    "UpdatePartition": "TableName",
    "BatchUpdatePartition": "TableName",
}


def glue_resources(operation: str, params: Mapping[str, Any]) -> list[str]:
    """The catalog, database and table ARNs one Glue call needs permission on."""
    base = f"arn:aws:glue:{LOCAL_REGION}:{LOCAL_ACCOUNT}"
    catalog = f"{base}:catalog"
    if operation in ("GetDatabase", "CreateDatabase"):
        name = params.get("Name") or (params.get("DatabaseInput") or {}).get("Name")
        return [catalog, f"{base}:database/{name}"]
    database = params["DatabaseName"]
    if operation == "GetTables":
        return [catalog, f"{base}:database/{database}", f"{base}:table/{database}/*"]
    field_name = _GLUE_TABLE_CALLS.get(operation)
    table = params[field_name] if field_name else params["TableInput"]["Name"]
    return [catalog, f"{base}:database/{database}", f"{base}:table/{database}/{table}"]


def authorize_glue_calls(glue: Any, policy: RolePolicy) -> Callable[[], None]:
    """Check every call of a boto3 Glue client against the role first; returns the undo."""

    def before_call(model: Any, params: Mapping[str, Any], **_: Any) -> None:
        for resource in glue_resources(model.name, params):
            policy.authorize(f"glue:{model.name}", resource)

    unique = f"job-iam-{id(policy)}"
    glue.meta.events.register("before-parameter-build.glue.*", before_call, unique_id=unique)
    return lambda: glue.meta.events.unregister("before-parameter-build.glue.*", unique_id=unique)


JOB_ROLE = "StarSchemaJobRole"


def job_policy(template: dict[str, Any], names: LocalNames) -> RolePolicy:
    """StarSchemaJobRole's policy, and the buckets' policies, with the local (or a test's)
    bucket and database names."""
    refs = stack.local_refs(template, names)
    return RolePolicy(
        JOB_ROLE,
        role_documents(template, JOB_ROLE, refs),
        {"s3:ResourceAccount": LOCAL_ACCOUNT},
        resource_policies=bucket_policies(template, refs),
    )


def authorized_locations(
    policy: RolePolicy, directories: Mapping[str, str]
) -> Callable[[str, Any], AuthorizedLocation]:
    """The job's `locations` argument: each directory opened as the bucket it stands for."""

    def open_at(location: str, s3: Any) -> AuthorizedLocation:
        from glue_jobs.star_schema import open_location

        root = Path(location)
        return AuthorizedLocation(open_location(location, s3), directories[location], policy, root)

    return open_at


def run_as_job_role(
    job_run: Callable[..., Any],
    policy: RolePolicy,
    directories: Mapping[str, str],
    processed_dir: str,
    glue: Any,
    **kwargs: Any,
) -> Any:
    """`star_schema.run` with every S3 and catalog request checked against the job's role.

    Its own requests are checked as they are made (a refusal stops the job there, as on
    Glue); what Spark wrote or removed under the lake is checked when the run ends.
    """
    from local.staging import file_signatures

    lake = Path(processed_dir)
    before = file_signatures(lake)
    undo = authorize_glue_calls(glue, policy)
    try:
        result = job_run(glue=glue, locations=authorized_locations(policy, directories), **kwargs)
    finally:
        undo()
    check_written(policy, directories[processed_dir], before, file_signatures(lake))
    return result

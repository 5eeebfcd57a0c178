"""Carry what the local AWS holds (buckets, Glue catalog) across runs via --state-dir.

moto keeps everything in memory, so each run restores what the stages will read, and the
directory mirrors plus catalog.json are the durable copy. Only what the next stages need
goes back into moto: the landing zone's `_state/` and `_manifests/` (ingest reads them),
the lake's `_manifests/` (the loader reads them; pending batches' objects follow on demand)
and the catalog.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from local.staging import file_signatures, manifests_last, upload_keys

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_s3 import S3Client
else:
    GlueClient = Any
    S3Client = Any

CATALOG_FORMAT_VERSION = 1

_DATABASE_INPUT_KEYS = ("Name", "Description", "LocationUri", "Parameters")
_TABLE_INPUT_KEYS = (
    "Name",
    "Description",
    "Owner",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "ViewOriginalText",
    "ViewExpandedText",
    "TableType",
    "Parameters",
)
_PARTITION_INPUT_KEYS = ("Values", "StorageDescriptor", "Parameters")


def create_bucket(s3: S3Client, bucket: str, region: str) -> None:
    """Create a bucket in moto (idempotent)."""
    try:
        s3.create_bucket(
            Bucket=bucket,
            CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise


def restore_prefixes(
    s3: S3Client, bucket: str, directory: Path, prefixes: tuple[str, ...]
) -> dict[str, str]:
    """Upload the mirror's files under the given prefixes (manifests last); key -> ETag."""
    keys: list[str] = []
    for prefix in prefixes:
        keys.extend(file_signatures(directory, prefix))
    return upload_keys(s3, bucket, directory, manifests_last(keys))


def _pick(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: data[key] for key in keys if key in data}


def dump_catalog(glue: GlueClient, database: str) -> dict[str, Any]:
    """One database of the Glue catalog, with its tables and partitions, as JSON-able data."""
    try:
        db = glue.get_database(Name=database)["Database"]
    except glue.exceptions.EntityNotFoundException:
        return {"format_version": CATALOG_FORMAT_VERSION, "database": None, "tables": []}
    tables: list[dict[str, Any]] = []
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
        for table in page["TableList"]:
            partitions: list[dict[str, Any]] = []
            if table.get("PartitionKeys"):
                for part_page in glue.get_paginator("get_partitions").paginate(
                    DatabaseName=database, TableName=table["Name"]
                ):
                    partitions.extend(
                        _pick(dict(p), _PARTITION_INPUT_KEYS) for p in part_page["Partitions"]
                    )
            partitions.sort(key=lambda p: list(p.get("Values", [])))
            tables.append(
                {"table": _pick(dict(table), _TABLE_INPUT_KEYS), "partitions": partitions}
            )
    tables.sort(key=lambda t: t["table"]["Name"])
    return {
        "format_version": CATALOG_FORMAT_VERSION,
        "database": _pick(dict(db), _DATABASE_INPUT_KEYS),
        "tables": tables,
    }


def restore_catalog(glue: GlueClient, data: dict[str, Any]) -> int:
    """Recreate a dumped database, its tables and partitions in moto; returns the table count."""
    if not data.get("database"):
        return 0
    glue.create_database(DatabaseInput=data["database"])
    name = data["database"]["Name"]
    for entry in data.get("tables", []):
        table = entry["table"]
        glue.create_table(DatabaseName=name, TableInput=table)
        partitions = entry.get("partitions", [])
        for start in range(0, len(partitions), 100):
            response = glue.batch_create_partition(
                DatabaseName=name,
                TableName=table["Name"],
                PartitionInputList=partitions[start : start + 100],
            )
            if response.get("Errors"):
                raise RuntimeError(
                    f"restoring partitions of {table['Name']}: {response['Errors'][0]}"
                )
    return len(data.get("tables", []))


def ensure_database(glue: GlueClient, database: str, description: str = "") -> None:
    """Create the catalog database the template declares, if the restore did not."""
    try:
        glue.get_database(Name=database)
    except glue.exceptions.EntityNotFoundException:
        database_input: dict[str, Any] = {"Name": database}
        if description:
            database_input["Description"] = description
        glue.create_database(DatabaseInput=database_input)  # type: ignore[arg-type]

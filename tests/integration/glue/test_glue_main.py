"""main(): job arguments from awsglue's getResolvedOptions on Glue, from argv elsewhere.

`awsglue` exists only inside Glue, so the Glue path runs with a stand-in module that
records the call; everything after it (Spark, files, moto's catalog) is real.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import boto3
import pytest
from glue_landing import write_batch

from glue_jobs import star_schema as job

BATCH = "20241115T144100123456Z"
CURRENCY = [("1", "GBP", "2022-11-03 14:20:49.962", "2022-11-03 14:20:49.962")]


def argv_for(tmp_path: Path, database: str) -> list[str]:
    return [
        "star_schema.py",
        "--JOB_NAME",
        "totesys-star-schema",
        "--ingest_location",
        str(tmp_path / "ingest"),
        "--processed_location",
        str(tmp_path / "processed"),
        "--database",
        database,
        "--ingest_bucket",
        "ingest-b",
        "--processed_bucket",
        "processed-b",
    ]


def dim_currency_location(database: str) -> str:
    table = boto3.client("glue").get_table(DatabaseName=database, Name="dim_currency")
    return str(table["Table"]["StorageDescriptor"]["Location"])


def test_main_outside_glue_parses_arguments_and_runs_a_pass(
    spark: Any, module_aws: str, tmp_path: Path
) -> None:
    write_batch(tmp_path / "ingest", BATCH, {"currency": CURRENCY})
    job.main(argv_for(tmp_path, "totesys_main_local"))
    manifest = json.loads((tmp_path / "processed" / f"_manifests/{BATCH}.json").read_text())
    assert set(manifest["tables"]) == {"dim_currency"}
    assert dim_currency_location("totesys_main_local") == (
        f"s3://processed-b/dim_currency/snapshot={BATCH}/"
    )


def test_main_on_glue_takes_resolved_options_and_the_glue_session(
    spark: Any, module_aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[list[str], list[str]]] = []

    def get_resolved_options(argv: list[str], names: list[str]) -> dict[str, str]:
        calls.append((list(argv), list(names)))
        pairs = dict(zip(argv[1::2], argv[2::2], strict=True))
        return {name: pairs[f"--{name}"] for name in names}

    class GlueContext:
        def __init__(self, context: Any) -> None:
            self.spark_session = spark

    awsglue = types.ModuleType("awsglue")
    utils = types.ModuleType("awsglue.utils")
    utils.getResolvedOptions = get_resolved_options  # type: ignore[attr-defined]
    context = types.ModuleType("awsglue.context")
    context.GlueContext = GlueContext  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "awsglue", awsglue)
    monkeypatch.setitem(sys.modules, "awsglue.utils", utils)
    monkeypatch.setitem(sys.modules, "awsglue.context", context)

    write_batch(tmp_path / "ingest", BATCH, {"currency": CURRENCY})
    argv = argv_for(tmp_path, "totesys_main_glue")
    job.main(argv)
    assert calls == [(argv, list(job.ARGUMENTS))]
    assert (tmp_path / "processed" / f"_manifests/{BATCH}.json").is_file()
    assert dim_currency_location("totesys_main_glue") == (
        f"s3://processed-b/dim_currency/snapshot={BATCH}/"
    )
    # A second start with nothing pending writes nothing.
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "processed").rglob("*"))
    job.main(argv)
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "processed").rglob("*")) == before

"""The Glue job's held copies of the contracts equal the shared ones (docs/adr/0003).

SAM uploads only the job's `Command.ScriptLocation`, so the job cannot import the common
layer; it keeps copies of the batch-id format, the keys it shares, the ToteSys allow-list
and the manifest checks. These tests hold every copy equal to
`layers/common/pipeline_common/contracts/`, by value and by behaviour: the same documents
are accepted with the same content, and the same broken ones refused in the same words.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from glue_jobs import star_schema as job
from pipeline_common.contracts import batch, keys, source, star
from pipeline_common.contracts.manifests import (
    FORMAT_VERSION,
    IngestManifest,
    LandedPart,
    LandedTable,
    ManifestError,
    ProcessedManifest,
    SourceColumn,
)
from tests.manifest_documents import HI, KEY, PID, A
from tests.manifest_documents import processed_manifest as processed_document

NOW = dt.datetime(2024, 11, 15, 15, 0, tzinfo=dt.UTC)


def test_the_constants_are_the_shared_ones() -> None:
    assert job.BATCH_ID_PATTERN == batch.BATCH_ID_PATTERN
    assert job.FORMAT_VERSION == FORMAT_VERSION
    assert job.MANIFEST_PREFIX == keys.MANIFEST_PREFIX
    assert job.INFLIGHT_KEY == keys.INFLIGHT_KEY
    assert job.LATEST_KEY == keys.LATEST_KEY
    assert job.SOURCE_TABLES == source.TOTESYS_TABLES
    dimension_sources = {t for table in star.DIMENSIONS for t in table.sources}
    assert set(job.STATE_TABLES) == dimension_sources
    assert job.FACT_PARTITION_KEY == star.FACT_PARTITION_KEY


@pytest.mark.parametrize(
    "text",
    [
        PID,
        "20241115T144100123000",
        f"{PID}\n",
        f" {PID}",
        "2024111ST144100123000Z",
        "20241115T1441001230000Z",
        "",
    ],
)
def test_batch_ids_and_manifest_keys_are_told_apart_alike(text: str) -> None:
    assert (job.BATCH_ID.fullmatch(text) is not None) == batch.is_batch_id(text)
    for key in (f"_manifests/{text}.json", f"_manifests/{text}.json\n", f"x/{text}.json"):
        assert job.batch_id_of_manifest_key(key) == keys.batch_id_of_manifest_key(key)
    if batch.is_batch_id(text):
        assert job.manifest_key(text) == keys.manifest_key(text)


def ingest_document() -> dict[str, Any]:
    """An ingest manifest as ingest writes it, built by the shared contract."""
    column = SourceColumn("staff_id", "integer", "int4", False, 32, 0)
    updated = SourceColumn(
        "last_updated", "timestamp without time zone", "timestamp", False, None, None
    )
    created = SourceColumn(
        "created_at", "timestamp without time zone", "timestamp", False, None, None
    )
    part = LandedPart(f"staff/batch={PID}/part-00000.csv.gz", 2, 99)
    table = LandedTable(None, HI, "staff_id", (part,), (column, created, updated), 0.1)
    watermarks = dict.fromkeys(source.TOTESYS_TABLES, HI)
    return IngestManifest(
        PID, "2024-11-15T14:41:00.123000+00:00", 0, HI, watermarks, None, {"staff": table}
    ).to_json()


Change = Callable[[dict[str, Any]], Any]
HEADER_CHANGES: list[Change] = [
    lambda m: m.update(kind="other"),
    lambda m: m.update(format_version=2),
    lambda m: m.pop("format_version"),
    lambda m: m.update(batch_id=A),
    lambda m: m.update(batch_id="yesterday"),
    lambda m: m.update(batch_id=None),
]


def test_an_ingest_manifest_reads_the_same_to_the_job() -> None:
    document = ingest_document()
    shared = IngestManifest.from_json(copy.deepcopy(document), KEY)
    held = job.IngestBatch.from_json(copy.deepcopy(document), KEY, now=NOW)
    assert held.batch_id == shared.batch_id
    assert {t: e.rows for t, e in held.tables.items()} == shared.rows
    assert [c["name"] for c in held.tables["staff"].columns] == [
        c.name for c in shared.tables["staff"].columns
    ]
    assert [p.key for p in held.tables["staff"].parts] == [
        p.key for p in shared.tables["staff"].parts
    ]


@pytest.mark.parametrize("change", HEADER_CHANGES)
def test_a_broken_ingest_header_is_refused_in_the_same_words(change: Change) -> None:
    document = ingest_document()
    change(document)
    with pytest.raises(ManifestError) as shared:
        IngestManifest.from_json(copy.deepcopy(document), KEY)
    with pytest.raises(job.ManifestError) as held:
        job.IngestBatch.from_json(copy.deepcopy(document), KEY, now=NOW)
    assert str(held.value) == str(shared.value)


def test_a_processed_manifest_reads_and_writes_the_same_in_both() -> None:
    document = processed_document()
    shared = ProcessedManifest.from_json(copy.deepcopy(document), KEY)
    held = job.PassManifest.from_json(copy.deepcopy(document), KEY)
    assert held.to_json() == shared.to_json() == document
    assert held.key == shared.key


PROCESSED_CHANGES: list[Change] = [
    *HEADER_CHANGES,
    lambda m: m.update(tables=[]),
    lambda m: m["tables"].update(dim_secrets={}),
    lambda m: m["tables"]["dim_staff"].update(kind="fact"),
    lambda m: m["tables"]["dim_staff"].update(rows=-1),
    lambda m: m["tables"]["dim_staff"].update(changed_objects="a.parquet"),
    lambda m: m["tables"]["dim_staff"]["objects"].append(m["tables"]["dim_staff"]["objects"][0]),
    lambda m: m["tables"]["fact_sales_order"].update(partition_keys=["year"]),
    lambda m: m["tables"]["fact_sales_order"]["objects"][0].update(partition={}),
    lambda m: m["tables"]["fact_sales_order"]["objects"][0].pop("key"),
    lambda m: m.update(ingest_batches=[PID, A]),
    lambda m: m.update(ingest_batches=[]),
    lambda m: m.pop("ingest_batches"),
    lambda m: m.update(date_range={"min": "2024-12-01", "max": "2024-11-01"}),
    lambda m: m.update(quarantine=[]),
    lambda m: m["quarantine"]["sales_order"].update(rows="2"),
    lambda m: m.update(state={"staff": 3}),
    lambda m: m.update(state_rows={"staff": -3}),
    lambda m: m.update(warnings={"dim_currency": {"unknown_currency_code": "x"}}),
]


@pytest.mark.parametrize("change", PROCESSED_CHANGES)
def test_a_broken_processed_manifest_is_refused_in_the_same_words(change: Change) -> None:
    document = processed_document()
    change(document)
    with pytest.raises(ManifestError) as shared:
        ProcessedManifest.from_json(copy.deepcopy(document), KEY)
    with pytest.raises(job.ManifestError) as held:
        job.PassManifest.from_json(copy.deepcopy(document), KEY)
    assert str(held.value) == str(shared.value)

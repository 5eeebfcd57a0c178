"""Crash and re-run: the manifest is the commit, and the same pending work gives the same lake.

One lake takes B1, then a pass over B2 + B3 together that dies just before its manifest;
B4 lands meanwhile; the re-run redoes exactly B2 + B3 (same keys) and, in the same run, goes
on with B4, so nothing is left pending for an event that may never come.
A second lake takes B1 on its own, to compare the same work done twice.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from glue_scenario import B1, B2, B3, B4, Lake, Pass, catalog_of, land, read_rows

from glue_jobs import star_schema as job


class SimulatedCrash(RuntimeError):
    """Raised where the Glue job could be killed: everything written but the manifest."""


def crash() -> None:
    raise SimulatedCrash("killed before the manifest")


@pytest.fixture(scope="module")
def lake(spark: Any, module_aws: str, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    import boto3

    lake = Lake(spark, tmp_path_factory.mktemp("recovery"), "totesys_lake_recovery")
    land(lake.ingest_dir, B1)
    lake.run()
    land(lake.ingest_dir, B2)
    land(lake.ingest_dir, B3)
    with pytest.raises(SimulatedCrash):
        lake.run(before_commit=crash)
    lake.passes.append(Pass(None, lake.files(), catalog_of(boto3.client("glue"), lake.database)))
    land(lake.ingest_dir, B4)
    lake.run()  # redoes B2 + B3, then B4
    lake.run()  # nothing pending
    return lake


@pytest.fixture(scope="module")
def twin(spark: Any, module_aws: str, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The same first batch processed again in a fresh lake."""
    lake = Lake(spark, tmp_path_factory.mktemp("twin"), "totesys_lake_twin")
    land(lake.ingest_dir, B1)
    lake.run()
    return lake


def test_a_crash_before_the_manifest_leaves_the_last_commit_intact(lake: Lake) -> None:
    committed, crashed = lake.passes[0], lake.passes[1]
    assert committed.manifest is not None and crashed.manifest is None
    assert sorted(k for k in crashed.files if k.startswith("_manifests/")) == [
        f"_manifests/{B1}.json"
    ]
    # Every object the last commit names is still there, byte for byte.
    for key, body in committed.files.items():
        assert crashed.files[key] == body, key
    # The unfinished pass recorded what it was doing.
    inflight = json.loads(crashed.files[job.INFLIGHT_KEY])
    assert inflight == {"batch_id": B3, "ingest_batches": [B2, B3]}
    # The loader's view (the newest manifest) is still B1, and so is the job's progress.
    assert json.loads(crashed.files[f"_manifests/{B1}.json"]) == committed.manifest


def redone(lake: Lake) -> dict[str, Any]:
    """The manifest the re-run committed for the crashed pass's batches."""
    return json.loads(lake.passes[2].files[f"_manifests/{B3}.json"])


def test_the_rerun_redoes_exactly_the_unfinished_batches_at_the_same_keys(lake: Lake) -> None:
    crashed, rerun = lake.passes[1], lake.passes[2]
    manifest = redone(lake)
    assert manifest["batch_id"] == B3
    assert manifest["ingest_batches"] == [B2, B3]  # not B4, which landed meanwhile
    # Facts: the crashed pass already wrote the final keys; the re-run wrote the same bytes.
    for table in ("fact_sales_order", "fact_payment"):
        for obj in manifest["tables"][table]["objects"]:
            assert crashed.files[obj["key"]] == rerun.files[obj["key"]], obj["key"]
    # Dimensions: the same snapshot prefix, the same bytes.
    for table, entry in manifest["tables"].items():
        if entry["kind"] == "dimension":
            crashed_snapshot = sorted(
                body for key, body in crashed.files.items() if key.startswith(entry["location"])
            )
            assert crashed_snapshot == sorted(rerun.files[k] for k in entry["objects"]), table
    assert not (lake.processed_dir / job.INFLIGHT_KEY).exists()
    assert not (lake.processed_dir / "_tmp").exists()


def test_no_orphan_fact_files_after_a_crash_and_rerun(lake: Lake) -> None:
    final = lake.passes[-1]
    named = set()
    for key, body in final.files.items():
        if key.startswith("_manifests/"):
            for entry in json.loads(body)["tables"].values():
                if entry["kind"] == "fact":
                    named.update(o["key"] for o in entry["objects"])
    assert {k for k in final.files if k.startswith("fact_")} == named


def test_several_batches_in_one_pass_equal_one_pass_per_batch(lake: Lake) -> None:
    """B2 + B3 together give what B2 then B3 give (test_glue_job_passes expects those rows)."""
    rerun = redone(lake)
    assert set(rerun["tables"]) == {
        "dim_location",
        "dim_counterparty",
        "dim_staff",
        "dim_transaction",
        "fact_sales_order",
        "fact_payment",
    }
    email = {1: "jeremie.franey@terrifictotes.com", 2: "deron.beier@terrifictotes.com"}
    email[3] = "ana.erdman@terrifictotes.com"
    assert lake.rows(rerun, "dim_staff") == [
        (1, "Jeremie", "Franey", "Sales", "Leeds", email[1]),
        (2, "Deron", "Beier-Smith", "Purchasing", "Leeds", email[2]),
        (3, "Ana", "Erdman", "Sales", "Leeds", email[3]),
    ]
    assert [r[0] for r in lake.rows(rerun, "fact_sales_order")] == [1, 4]
    assert rerun["quarantine"]["sales_order"]["rows"] == 2


def test_the_same_run_goes_on_with_the_batch_that_landed_meanwhile(lake: Lake) -> None:
    manifest = lake.passes[2].manifest  # the run returns its last commit
    assert manifest is not None
    assert manifest["batch_id"] == B4 and manifest["ingest_batches"] == [B4]
    assert sorted(k for k in lake.passes[2].files if k.startswith("_manifests/")) == [
        f"_manifests/{B1}.json",
        f"_manifests/{B3}.json",
        f"_manifests/{B4}.json",
    ]
    assert set(manifest["tables"]) == {"dim_design"}
    assert lake.rows(manifest, "dim_design") == [
        (1, "Wooden", "/usr", "wooden-20220717-npgz.json"),
        (2, "Bronze Mk2", "/private", "bronze-20221024-4dds.json"),
    ]
    assert lake.rows(manifest, "dim_design", changes=True) == [
        (2, "Bronze Mk2", "/private", "bronze-20221024-4dds.json"),
    ]
    assert lake.passes[3].manifest is None


def test_the_same_pending_work_gives_the_same_table_contents(lake: Lake, twin: Lake) -> None:
    first, again = lake.passes[0].manifest, twin.passes[0].manifest
    assert first is not None and again is not None
    assert first["tables"].keys() == again["tables"].keys()
    for table, entry in first["tables"].items():
        other = again["tables"][table]
        assert entry["rows"] == other["rows"], table
        if entry["kind"] == "fact":
            # Same keys, same bytes.
            assert entry["objects"] == other["objects"], table
            for obj in entry["objects"]:
                assert lake.passes[0].files[obj["key"]] == twin.passes[0].files[obj["key"]]
        else:
            ours = [lake.passes[0].files[k] for k in entry["objects"]]
            theirs = [twin.passes[0].files[k] for k in other["objects"]]
            assert ours == theirs, table
        assert read_rows(lake.processed_dir, entry) == read_rows(twin.processed_dir, other)
    assert first["quarantine"] == again["quarantine"]
    assert first["state"] == again["state"]
    assert first["date_range"] == again["date_range"]


def test_the_latest_pointer_follows_each_commit_and_a_crash_before_one_leaves_it(
    lake: Lake,
) -> None:
    committed, crashed, rerun, idle = lake.passes

    def pointer(files: dict[str, bytes]) -> Any:
        return json.loads(files[job.LATEST_KEY])

    assert pointer(committed.files) == {"batch_id": B1, "key": f"_manifests/{B1}.json"}
    assert pointer(crashed.files) == pointer(committed.files)  # no commit, no move
    assert pointer(rerun.files) == {"batch_id": B4, "key": f"_manifests/{B4}.json"}
    assert idle.files[job.LATEST_KEY] == rerun.files[job.LATEST_KEY]  # nothing pending

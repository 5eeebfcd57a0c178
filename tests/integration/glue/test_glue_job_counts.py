"""Counts taken as the job writes: a pass's Spark jobs, and a batch whose rows all fail.

The job counts rows while it writes them (no read-back), so a state table whose every row
is rejected is only known to be empty after its write: the pass must then keep the state,
and the dimension, that the previous pass left.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from glue_landing import write_batch
from glue_scenario import A0, B1, Lake, land

from local.spark import counted_jobs

B5 = "20241115T150000000000Z"
BAD_STAFF = ("9", "Nina", "Ortiz", "not-a-number", "nina.ortiz@terrifictotes.com", A0, A0)
GOOD_DESIGN = ("9", "Copper", "/private", "copper-20241115.json", A0, "2024-11-15 14:59:00.000")


@pytest.fixture(scope="module")
def lake(spark: Any, module_aws: str, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """B1, then B5: one staff row that fails validation and one good design row."""
    lake = Lake(spark, tmp_path_factory.mktemp("counts"), "totesys_lake_counts")
    land(lake.ingest_dir, B1)
    lake.run()
    write_batch(lake.ingest_dir, B5, {"staff": [BAD_STAFF], "design": [GOOD_DESIGN]})
    lake.run()
    return lake


def read_state(lake: Lake, manifest: dict[str, Any], table: str) -> list[tuple]:
    """A source table's state rows as a pass left them, by key."""
    import pyarrow.parquet as pq

    rows = pq.read_table(lake.processed_dir / manifest["state"][table]).to_pylist()
    return sorted(tuple(row.values()) for row in rows)


def test_counted_jobs_counts_exactly_the_jobs_run_inside_it(spark: Any) -> None:
    context = spark.sparkContext
    context.emptyRDD().count()  # before: not counted
    with counted_jobs(spark, "test") as jobs:
        context.emptyRDD().count()
        context.parallelize([1, 2, 3], 1).sum()
    context.emptyRDD().count()  # after: not counted
    assert jobs == {"jobs": 2}
    with counted_jobs(spark, "test") as nothing:
        pass
    assert nothing == {"jobs": 0}


def test_counted_jobs_leaves_other_threads_jobs_out(spark: Any) -> None:
    other = threading.Thread(target=lambda: spark.sparkContext.emptyRDD().count())
    with counted_jobs(spark, "test") as jobs:
        other.start()
        other.join()
        spark.sparkContext.emptyRDD().count()
    assert jobs == {"jobs": 1}


def test_a_state_table_whose_rows_all_fail_keeps_its_rows_and_dimension(lake: Lake) -> None:
    first, second = lake.passes[0].manifest, lake.passes[1].manifest
    assert first is not None and second is not None
    # The state is written again (its count comes with the write), holding the same rows.
    assert second["state"]["staff"] == f"_state/staff/batch={B5}/"
    assert second["state_rows"]["staff"] == 3
    assert read_state(lake, second, "staff") == read_state(lake, first, "staff")
    assert [row[0] for row in read_state(lake, second, "staff")] == [1, 2, 3]
    assert "dim_staff" not in second["tables"]
    assert second["snapshots"]["dim_staff"] == f"dim_staff/snapshot={B1}/"
    assert second["quarantine"] == {
        "staff": {
            "rows": 1,
            "prefix": f"_quarantine/{B5}/staff/",
            "reasons": {"department_id: not an integer": 1},
        }
    }


def test_the_good_rows_of_the_same_batch_land_with_exact_counts(lake: Lake) -> None:
    second = lake.passes[1].manifest
    assert second is not None
    assert second["state"]["design"] == f"_state/design/batch={B5}/"
    assert second["state_rows"]["design"] == 3  # B1's two designs and the new one
    entry = second["tables"]["dim_design"]
    assert (entry["rows"], entry["changed_rows"]) == (3, 1)
    assert lake.rows(second, "dim_design", changes=True) == [
        (9, "Copper", "/private", "copper-20241115.json")
    ]

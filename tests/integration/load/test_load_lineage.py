"""etl_loaded_batch records the ingest batches each processed batch covered, in order: the
step from a loaded batch to the ingest manifests and their source windows."""

from __future__ import annotations

from typing import Any

from loader.load import run
from loader.migrations import apply_migrations, read_migrations
from tests.integration.load.load_lake import (
    BATCH_1,
    BATCH_2,
    PID_1,
    PID_2,
    put_manifest,
    write_batch,
)

# Ingest batches before each processed batch's own id (a transform pass that took several).
INGEST_1 = ["20241115T143500000001Z", "20241115T143800000002Z", PID_1]
INGEST_2 = [PID_2]


def covering(s3: Any, bucket: str, pid: str, batch: Any, ingest_batches: list[str]) -> None:
    """A processed batch whose manifest names `ingest_batches` as the ones it consumed."""
    manifest = write_batch(s3, bucket, pid, batch)
    put_manifest(s3, bucket, pid, {**manifest, "ingest_batches": ingest_batches})


def test_each_loaded_batch_holds_exactly_its_manifests_ingest_batches_in_order(
    s3, processed_bucket, settings, secretsmanager, wh_conn
) -> None:
    covering(s3, processed_bucket, PID_1, BATCH_1, INGEST_1)
    covering(s3, processed_bucket, PID_2, BATCH_2, INGEST_2)

    result = run(settings, s3, secretsmanager)

    assert [b.batch_id for b in result.batches] == [PID_1, PID_2]
    rows = wh_conn.run("SELECT batch_id, ingest_batches FROM etl_loaded_batch ORDER BY batch_id")
    assert rows == [[PID_1, INGEST_1], [PID_2, INGEST_2]]


def test_a_batch_loaded_before_the_column_existed_keeps_an_empty_list(postgres) -> None:
    first, *later = read_migrations()
    conn = postgres.connect()
    try:
        apply_migrations(conn, [first])
        conn.run(
            "INSERT INTO etl_loaded_batch (batch_id, manifest_key, row_counts) "
            "VALUES (:b, :k, '{}')",
            b=PID_1,
            k=f"_manifests/{PID_1}.json",
        )

        assert [m.version for m in later] == ["0002_loaded_batch_ingest_batches"]
        assert apply_migrations(conn) == ["0002_loaded_batch_ingest_batches"]

        assert conn.run("SELECT ingest_batches FROM etl_loaded_batch") == [[[]]]
        column = conn.run(
            "SELECT data_type, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_name = 'etl_loaded_batch' AND column_name = 'ingest_batches'"
        )
        assert column == [["ARRAY", "NO", "'{}'::text[]"]]
    finally:
        conn.close()

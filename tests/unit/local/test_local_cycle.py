"""The freshness line reports what the warehouse holds, never what was only ingested."""

from __future__ import annotations

from datetime import UTC, datetime

from local.cycle import freshness_line
from local.runner import CycleReport

ENDED = datetime(2026, 1, 5, 12, 10, 0, tzinfo=UTC)


def test_freshness_is_the_hi_of_the_newest_batch_the_warehouse_holds() -> None:
    report = CycleReport(
        ingest_hi="2026-01-05T12:00:00", warehouse_hi="2026-01-05T12:00:00", finished_at=ENDED
    )
    assert freshness_line(report) == (
        "freshness: warehouse holds every source change committed and stamped before "
        "2026-01-05T12:00:00 UTC "
        "(600s before this cycle ended, commit lag included)"
    )


def test_changes_ingested_but_not_loaded_add_no_freshness() -> None:
    report = CycleReport(
        ingest_hi="2026-01-05T12:05:00", warehouse_hi="2026-01-05T11:00:00", finished_at=ENDED
    )
    assert freshness_line(report) == (
        "freshness: warehouse holds every source change committed and stamped before "
        "2026-01-05T11:00:00 UTC "
        "(4200s before this cycle ended, commit lag included); changes ingested up to "
        "2026-01-05T12:05:00 UTC are not loaded yet"
    )


def test_an_empty_warehouse_claims_no_freshness() -> None:
    report = CycleReport(ingest_hi="2026-01-05T12:05:00", finished_at=ENDED)
    assert freshness_line(report) == "freshness: the warehouse holds no source change yet"

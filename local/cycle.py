"""`python -m local run`: one cycle, its per-stage per-table summary, an exit code."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from local.dsn import DsnError
from local.report import Progress, format_table, one_line
from local.runner import CycleReport, LocalPipeline, StageError
from local.wiring import WiringError


def summary_table(report: CycleReport) -> str:
    """Rows per stage and table, with each stage's time."""
    rows: list[tuple[str, str, int | None, str]] = []
    for stage in report.stages:
        if not stage.tables:
            rows.append((stage.stage, "-", None, f"{stage.seconds:.1f}s"))
            continue
        for i, (table, count) in enumerate(sorted(stage.tables.items())):
            rows.append((stage.stage, table, count, f"{stage.seconds:.1f}s" if i == 0 else ""))
    return format_table(("stage", "table", "rows", "time"), rows, null="")


def freshness_line(report: CycleReport) -> str:
    """How far behind the source the warehouse is after this cycle, from what it holds."""
    if not report.warehouse_hi or report.finished_at is None:
        return "freshness: the warehouse holds no source change yet"
    hi = datetime.fromisoformat(report.warehouse_hi).replace(tzinfo=UTC)
    lag = (report.finished_at - hi).total_seconds()
    line = (
        # Stamped before hi is not enough: a change of a transaction still open at the
        # snapshot comes with the next batch (the commit fence, docs/adr/0007).
        f"freshness: warehouse holds every source change committed and stamped before "
        f"{report.warehouse_hi} UTC ({lag:.0f}s before this cycle ended, commit lag included)"
    )
    if report.ingest_hi and report.ingest_hi > report.warehouse_hi:
        line += f"; changes ingested up to {report.ingest_hi} UTC are not loaded yet"
    return line


def run_once(
    *, source_dsn: str, warehouse_dsn: str, state_dir: Path, commit_lag_seconds: int
) -> int:
    """One cycle; 0 on success, 1 with a one-line reason on stderr otherwise."""
    progress = Progress()
    try:
        with LocalPipeline(
            source_dsn=source_dsn,
            warehouse_dsn=warehouse_dsn,
            state_dir=state_dir,
            commit_lag_seconds=commit_lag_seconds,
            progress=progress,
        ) as pipeline:
            report = pipeline.run_cycle()
    except (StageError, WiringError, DsnError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the CLI's contract: one line, non-zero
        print(f"error: {type(exc).__name__}: {one_line(exc)}", file=sys.stderr)
        return 1
    progress.say()
    progress.say(summary_table(report))
    if report.quarantined:
        quarantined = ", ".join(f"{t} {n}" for t, n in sorted(report.quarantined.items()))
        progress.say(f"quarantined rows: {quarantined} (see _quarantine/ in the lake)")
    progress.say(freshness_line(report))
    progress.say(f"cycle completed in {report.seconds:.1f}s; state in {state_dir}")
    return 0

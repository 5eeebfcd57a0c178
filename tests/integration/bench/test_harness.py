"""The bench harness end to end at a tiny size: it must keep producing every figure.

Asserts the shape of results.json (every stage, method and figure present and numeric,
exactly the summary keys the issue names), never how fast anything is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from numbers import Number
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[3]
SUMMARY_KEYS = {
    "ingest_vs_copy",
    "ingest_vs_pandas",
    "load_vs_copy",
    "load_vs_to_sql",
    "transform_vs_duckdb",
    "ingest_peak_rss_mb",
    "load_peak_rss_mb",
    "noop_incremental_s",
    "transform_incremental_s",
    "spark_jobs_per_pass",
    "load_vs_copy_keys",
    "orders",
}
# (stage, method) -> the figures each must carry as a median/min/max spread
METHOD_FIGURES = {
    ("ingest", "project"): ("seconds", "rows_per_s", "peak_rss_mb"),
    ("ingest", "copy"): ("seconds", "rows_per_s", "peak_rss_mb"),
    ("ingest", "pandas"): ("seconds", "rows_per_s", "peak_rss_mb"),
    ("transform", "glue"): ("seconds", "rows_per_s"),
    ("transform", "duckdb"): ("seconds", "rows_per_s"),
    ("load", "project"): ("seconds", "rows_per_s", "peak_rss_mb"),
    ("load", "copy"): ("seconds", "rows_per_s", "peak_rss_mb"),
    ("load", "copy_keys"): ("seconds", "rows_per_s", "peak_rss_mb"),
    ("load", "to_sql"): ("seconds", "rows_per_s", "peak_rss_mb"),
    ("incremental", "changed"): ("seconds", "queries"),
    ("incremental", "noop"): ("seconds", "queries"),
}
STAR_TABLES = {
    "dim_date", "dim_staff", "dim_location", "dim_design", "dim_currency", "dim_counterparty",
    "dim_payment_type", "dim_transaction", "fact_sales_order", "fact_purchase_order",
    "fact_payment",
}  # fmt: skip


def _is_number(value: Any) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


# Few orders (few created_date partitions): the harness is exercised, not measured.
TINY_ORDERS = 60


def _assert_spread(entry: dict[str, Any], where: str) -> None:
    assert set(entry) == {"median", "min", "max", "runs"}, where
    assert all(_is_number(entry[k]) for k in ("median", "min", "max")), f"{where}: {entry}"
    assert entry["min"] <= entry["median"] <= entry["max"], f"{where}: {entry}"
    assert len(entry["runs"]) == 1, where  # --repeat 1


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """One tiny bench run (TINY_ORDERS orders, one repetition) in a temporary directory."""
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "results.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            str(REPO_ROOT / p) for p in ("", "layers/common", "ingest_fn", "load_fn")
        ),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--orders", str(TINY_ORDERS), "--repeat", "1",
         "--out", str(out), "--work-dir", str(tmp / "work")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text()), proc.stdout


def test_summary_has_exactly_the_issue_keys_all_numeric(bench_run: tuple[dict, str]) -> None:
    results, _ = bench_run
    summary = results["summary"]
    assert set(summary) == SUMMARY_KEYS
    assert summary["orders"] == TINY_ORDERS
    assert all(_is_number(v) and v > 0 for v in summary.values()), summary


def test_every_stage_and_method_has_its_figures(bench_run: tuple[dict, str]) -> None:
    results, _ = bench_run
    for (stage, method), figures in METHOD_FIGURES.items():
        entry = results[stage][method]
        for figure in figures:
            _assert_spread(entry[figure], f"{stage}.{method}.{figure}")
    assert results["ingest"]["project"]["rows"] == results["ingest"]["copy"]["rows"]
    assert results["ingest"]["project"]["rows"] == results["source"]["total_rows"]
    assert results["incremental"]["noop"]["rows"] == 0
    assert results["incremental"]["changed"]["rows"] > 0
    assert set(results["transform"]["tables"]) == STAR_TABLES
    assert results["load"]["project"]["rows"] == results["load"]["copy"]["rows"]
    assert results["load"]["project"]["rows"] == results["load"]["copy_keys"]["rows"]
    assert results["load"]["copy_keys"]["keys_added"] == 3 * 2 + 24 + 8  # facts' + dims' keys
    for figure in ("spark_jobs", "spark_floor"):
        assert figure in results["transform"]["glue"], figure
    for figure in ("empty_action_seconds", "tiny_parquet_seconds"):
        _assert_spread(results["transform"]["glue"]["spark_floor"][figure], figure)
    _assert_spread(results["transform"]["glue"]["spark_jobs"], "transform.glue.spark_jobs")
    incremental = results["transform_incremental"]
    assert incremental["input_rows"] > 0
    for figure in ("seconds", "spark_jobs"):
        _assert_spread(incremental["glue"][figure], f"transform_incremental.glue.{figure}")
    _assert_spread(results["end_to_end"]["cycle_seconds"], "end_to_end.cycle_seconds")
    assert all(a["changed_rows"] > 0 for a in results["end_to_end"]["advances"])
    assert _is_number(results["end_to_end"]["first_cycle_seconds"])


def test_machine_and_versions_are_recorded(bench_run: tuple[dict, str]) -> None:
    results, _ = bench_run
    assert _is_number(results["machine"]["cores"]) and results["machine"]["cores"] >= 1
    assert _is_number(results["machine"]["memory_mb"])
    for name in ("python", "pyspark", "duckdb", "postgres"):
        assert isinstance(results["versions"][name], str) and results["versions"][name], name


def test_table_is_printed_with_ratios(bench_run: tuple[dict, str]) -> None:
    _, stdout = bench_run
    for label in (
        "ingest_fn (project)",
        "bare COPY TO STDOUT (limit)",
        "Glue job",
        "awswrangler to_sql",
        "bare COPY + the warehouse's keys",
        "project/(COPY + the same keys)",
        "project/COPY",
        "project/pandas",
        "Glue/DuckDB",
        "Spark floor: empty action",
        "Glue full pass:",
        "Glue incremental pass:",
    ):
        assert label in stdout, label

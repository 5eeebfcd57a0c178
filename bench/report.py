"""results.json's summary and the printed side-by-side table."""

from __future__ import annotations

from typing import Any

from bench.measure import ratio

SUMMARY_KEYS = (
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
)


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """The medians the issue names: throughput ratios project/other, transform time ratio."""

    def rate(stage: str, method: str) -> Any:
        return _get(results, stage, method, "rows_per_s", "median")

    return {
        "ingest_vs_copy": ratio(rate("ingest", "project"), rate("ingest", "copy")),
        "ingest_vs_pandas": ratio(rate("ingest", "project"), rate("ingest", "pandas")),
        "load_vs_copy": ratio(rate("load", "project"), rate("load", "copy")),
        "load_vs_to_sql": ratio(rate("load", "project"), rate("load", "to_sql")),
        "transform_vs_duckdb": ratio(
            _get(results, "transform", "glue", "seconds", "median"),
            _get(results, "transform", "duckdb", "seconds", "median"),
        ),
        "ingest_peak_rss_mb": _get(results, "ingest", "project", "peak_rss_mb", "median"),
        "load_peak_rss_mb": _get(results, "load", "project", "peak_rss_mb", "median"),
        "noop_incremental_s": _get(results, "incremental", "noop", "seconds", "median"),
        "transform_incremental_s": _get(
            results, "transform_incremental", "glue", "seconds", "median"
        ),
        "spark_jobs_per_pass": _get(results, "transform", "glue", "spark_jobs", "median"),
        "load_vs_copy_keys": _load_vs_copy_keys(results),
        "orders": results.get("orders"),
    }


def _load_vs_copy_keys(results: dict[str, Any]) -> Any:
    """Throughput ratio of the loader to a bare COPY followed by adding the same keys."""
    return ratio(
        _get(results, "load", "project", "rows_per_s", "median"),
        _get(results, "load", "copy_keys", "rows_per_s", "median"),
    )


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and abs(value) < 100:
        return f"{value:.3g}{unit}"
    return f"{value:,.0f}{unit}"


def _seconds(spread: dict[str, Any] | None) -> str:
    if not spread or spread.get("median") is None:
        return "-"
    return f"{spread['median']:.3g} [{spread['min']:.3g}-{spread['max']:.3g}]"


_METHODS = (
    ("ingest", "project", "ingest_fn (project)"),
    ("ingest", "copy", "bare COPY TO STDOUT (limit)"),
    ("ingest", "pandas", "pandas read_sql+to_csv (alt.)"),
    ("transform", "glue", "Glue job, local[2] (project)"),
    ("transform", "duckdb", "DuckDB SQL, 2 threads (limit)"),
    ("load", "project", "load_fn (project)"),
    ("load", "copy", "bare COPY FROM STDIN (limit)"),
    ("load", "copy_keys", "bare COPY + the warehouse's keys"),
    ("load", "to_sql", "awswrangler to_sql (alt.)"),
    ("incremental", "changed", "ingest_fn after advance"),
    ("incremental", "noop", "ingest_fn, no change"),
)


def render_table(results: dict[str, Any]) -> str:
    """A plain-text table: one row per method, medians with [min-max], then the ratios."""
    header = (
        "stage",
        "method",
        "rows",
        "seconds median [min-max]",
        "rows/s",
        "peak RSS MB",
        "queries",
    )
    lines = [header]
    for stage, method, label in _METHODS:
        entry = _get(results, stage, method)
        if not entry:
            continue
        rows = entry.get("rows", entry.get("input_rows"))
        rss = entry.get("peak_rss_mb")
        rss_text = _num(rss.get("median") if isinstance(rss, dict) else rss)
        queries = _get(entry, "queries", "median")
        lines.append(
            (
                stage,
                label + (" [sampled]" if entry.get("sampled") else ""),
                _num(rows),
                _seconds(entry.get("seconds")),
                _num(_get(entry, "rows_per_s", "median")),
                rss_text,
                _num(queries),
            )
        )
    e2e = results.get("end_to_end")
    if e2e:
        lines.append(
            (
                "end_to_end",
                f"local run after {e2e['advance_hours']}h advance",
                "-",
                _seconds(e2e["cycle_seconds"]),
                "-",
                "-",
                "-",
            )
        )
        first = "catch-up cycle" if e2e.get("primed_from_stages") else "first (full) cycle"
        lines.append(
            (
                "end_to_end",
                f"local run, {first}",
                "-",
                _num(e2e["first_cycle_seconds"]),
                "-",
                "-",
                "-",
            )
        )
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    text = [
        "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in lines
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    summary = results.get("summary", {})
    text += [
        "",
        f"orders {results.get('orders'):,}, repeat {results.get('repeat')}, "
        f"{_get(results, 'machine', 'cores')} cores, "
        f"{_num(_get(results, 'machine', 'memory_mb'))} MB, wall {results.get('wall_seconds')}s",
        "ratios (medians): throughput project/other; transform time project/DuckDB",
        f"  ingest: project/COPY {_num(summary.get('ingest_vs_copy'))}  "
        f"project/pandas {_num(summary.get('ingest_vs_pandas'))}x  "
        f"peak RSS {_num(summary.get('ingest_peak_rss_mb'))} MB",
        f"  load:   project/COPY {_num(summary.get('load_vs_copy'))}  "
        f"project/to_sql {_num(summary.get('load_vs_to_sql'))}x  "
        f"peak RSS {_num(summary.get('load_peak_rss_mb'))} MB",
        f"          project/(COPY + the same keys) {_num(summary.get('load_vs_copy_keys'))}",
        f"  transform: Glue/DuckDB time {_num(summary.get('transform_vs_duckdb'))}x",
        *_spark_lines(results),
        f"  no-change incremental ingest: {_num(summary.get('noop_incremental_s'))} s",
        f"  commit fence: no-change reads of the 11 tables "
        f"{_num(_get(results, 'incremental', 'fence', 'plain_seconds', 'median'))} s without, "
        f"{_num(_get(results, 'incremental', 'fence', 'seconds', 'median'))} s with it; "
        f"seen_xids {_num(_get(results, 'incremental', 'fence', 'seen_xids_seconds', 'median'))} s",
    ]
    for note in results.get("notes", []):
        text.append(f"note: {note}")
    return "\n".join(text)


def _spark_lines(results: dict[str, Any]) -> list[str]:
    """Spark jobs per pass, and each pass's seconds as multiples of Spark's own fixed cost."""
    glue = _get(results, "transform", "glue") or {}
    empty = _get(glue, "spark_floor", "empty_action_seconds", "median")
    tiny = _get(glue, "spark_floor", "tiny_parquet_seconds", "median")
    passes = (
        ("full pass", _get(glue, "seconds", "median"), _get(glue, "spark_jobs", "median")),
        (
            "incremental pass",
            _get(results, "transform_incremental", "glue", "seconds", "median"),
            _get(results, "transform_incremental", "glue", "spark_jobs", "median"),
        ),
    )
    lines = [f"  Spark floor: empty action {_num(empty)} s, one tiny Parquet write {_num(tiny)} s"]
    for label, seconds, jobs in passes:
        if seconds is None:
            continue
        lines.append(
            f"  Glue {label}: {_num(seconds)} s, {_num(jobs)} Spark jobs = "
            f"{_num(ratio(seconds, empty))} empty actions = "
            f"{_num(ratio(seconds, tiny))} tiny Parquet writes"
        )
    return lines


def notes(results: dict[str, Any]) -> list[str]:
    """Plain statements a reader needs to read the figures right (sampling, what is timed)."""
    found = []
    for stage, method in (("ingest", "pandas"), ("load", "to_sql")):
        entry = _get(results, stage, method)
        if entry and entry.get("sampled"):
            found.append(
                f"{stage} {method} ran on a sample of {entry['rows']:,} rows (first rows of each "
                f"table by key, in proportion): its rows/s is measured on that sample and its "
                f"peak RSS is for the sample, not the full data"
            )
    if results.get("load"):
        found.append("load to_sql: the clock times to_sql only (frames read from Parquet before)")
    if results.get("transform"):
        found.append(
            "transform rows/s = landed input rows / seconds; the Glue figure excludes SparkSession "
            "start-up (reported apart) and Glue's start-up on AWS"
        )
    return found

"""The bench's own instruments: query counting, sampling, spreads and the summary."""

from __future__ import annotations

import io

from bench.measure import QueryCounter, spread
from bench.report import SUMMARY_KEYS, summarize
from bench.source import sample_limits


def test_query_counter_counts_every_statement_then_restores_pg8000(postgres) -> None:
    conn = postgres.connect()
    try:
        with QueryCounter() as counter:
            conn.run("CREATE TABLE t (x int)")
            conn.run("INSERT INTO t VALUES (:x)", x=1)
            conn.run("COPY t TO STDOUT", stream=io.BytesIO())
            statement = conn.prepare("SELECT x FROM t")
            assert statement.run() == [[1]]
        conn.run("SELECT 1")  # after uninstall: not counted
    finally:
        conn.close()
    assert counter.statements == [
        "CREATE TABLE t (x int)",
        "INSERT INTO t VALUES ($1)",
        "COPY t TO STDOUT",
        "SELECT x FROM t",
    ]


def test_sample_limits_keep_everything_under_the_cap_and_share_it_above() -> None:
    counts = {"a": 900, "b": 90, "c": 10}
    assert sample_limits(counts, 1000) == {"a": None, "b": None, "c": None}
    assert sample_limits(counts, None) == {"a": None, "b": None, "c": None}
    assert sample_limits(counts, 100) == {"a": 90, "b": 9, "c": 1}
    assert sample_limits(counts, 10) == {"a": 9, "b": 1, "c": 1}  # never 0 rows


def test_spread_reports_median_min_max_and_runs() -> None:
    assert spread([3.0, 1.0, 2.0]) == {
        "median": 2.0,
        "min": 1.0,
        "max": 3.0,
        "runs": [3.0, 1.0, 2.0],
    }
    assert spread([]) == {"median": None, "min": None, "max": None, "runs": []}


def _method(rows_per_s: float, rss: float | None = None, seconds: float = 1.0) -> dict:
    entry = {"rows_per_s": spread([rows_per_s]), "seconds": spread([seconds])}
    if rss is not None:
        entry["peak_rss_mb"] = spread([rss])
    return entry


def test_summary_divides_project_medians_by_the_others() -> None:
    results = {
        "orders": 1000,
        "ingest": {"project": _method(800.0, 40.0), "copy": _method(1000.0),
                   "pandas": _method(100.0)},
        "load": {"project": _method(500.0, 120.0), "copy": _method(2000.0),
                 "to_sql": _method(25.0), "copy_keys": _method(1000.0)},
        "transform": {"glue": _method(1.0, seconds=30.0), "duckdb": _method(1.0, seconds=6.0)},
        "transform_incremental": {"glue": _method(1.0, seconds=4.5)},
        "incremental": {"noop": _method(0.0, seconds=0.25)},
    }  # fmt: skip
    results["transform"]["glue"]["spark_jobs"] = spread([40.0, 44.0, 42.0])
    summary = summarize(results)
    assert tuple(summary) == SUMMARY_KEYS
    assert summary == {
        "ingest_vs_copy": 0.8,
        "ingest_vs_pandas": 8.0,
        "load_vs_copy": 0.25,
        "load_vs_to_sql": 20.0,
        "transform_vs_duckdb": 5.0,
        "ingest_peak_rss_mb": 40.0,
        "load_peak_rss_mb": 120.0,
        "noop_incremental_s": 0.25,
        "transform_incremental_s": 4.5,
        "spark_jobs_per_pass": 42.0,
        "load_vs_copy_keys": 0.5,
        "orders": 1000,
    }


def test_summary_of_a_missing_stage_is_none_not_zero() -> None:
    summary = summarize({"orders": 5})
    assert summary["ingest_vs_copy"] is None and summary["noop_incremental_s"] is None


def test_a_stage_brings_the_stages_whose_output_it_measures_on() -> None:
    from bench.harness import resolve_stages

    assert resolve_stages(("load",)) == ("ingest", "transform", "load")
    assert resolve_stages(("end_to_end", "incremental")) == ("ingest", "incremental", "end_to_end")
    assert resolve_stages(("ingest",)) == ("ingest",)


def test_each_method_goes_first_once_in_as_many_repetitions_keeping_their_order() -> None:
    from bench.harness import in_turn

    methods = ["project", "copy", "copy_keys", "to_sql"]

    orders = [in_turn(methods, rep) for rep in range(5)]  # type: ignore[arg-type]

    assert orders[0] == methods  # rep 0: the loader first, the baselines load its export
    assert [order[0] for order in orders] == ["project", "copy", "copy_keys", "to_sql", "project"]
    assert orders[2] == ["copy_keys", "to_sql", "project", "copy"]


def test_a_baseline_on_a_fresh_warehouse_makes_the_star_tables_then_its_scratch_copies(
    postgres,
) -> None:
    from bench.warehouse import STAR_TABLES, recreate_scratch_schema

    conn = postgres.connect()
    try:
        recreate_scratch_schema(conn, "bench_scratch")
        tables = conn.run(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_name = ANY(:names) ORDER BY 1, 2",
            names=list(STAR_TABLES),
        )
        scratch_keys = conn.run(
            "SELECT count(*) FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace "
            "WHERE n.nspname = 'bench_scratch' AND k.contype IN ('p', 'u', 'f')"
        )
    finally:
        conn.close()

    assert tables == [["bench_scratch", t] for t in sorted(STAR_TABLES)] + [
        ["public", t] for t in sorted(STAR_TABLES)
    ]
    assert scratch_keys == [[0]]  # LIKE ... INCLUDING DEFAULTS copies no keys


def test_the_copy_baselines_run_first_on_a_fresh_warehouse_with_every_key(
    make_database, tmp_path, monkeypatch
) -> None:
    """A repetition that runs the baselines before the loader finds no star tables yet."""
    import json

    from bench import load_copy
    from bench.warehouse import LOAD_ORDER, loadable_columns
    from loader.migrations import apply_migrations

    other, fresh = make_database(), make_database()
    conn = other.connect()
    try:
        apply_migrations(conn)
        for table in LOAD_ORDER:  # header-only CSV files: the tables are made, nothing loaded
            (tmp_path / f"{table}.csv").write_text(",".join(loadable_columns(conn, table)) + "\n")
    finally:
        conn.close()
    monkeypatch.setenv("BENCH_WAREHOUSE_SECRET", json.dumps(fresh.secret))
    results = {}
    for name, extra in (("copy_keys", ["--with-keys"]), ("copy", [])):
        out = tmp_path / f"{name}.json"
        load_copy.main(["--out", str(out), "--csv-dir", str(tmp_path), *extra])
        results[name] = json.loads(out.read_text())

    assert results["copy"]["rows"] == results["copy_keys"]["rows"] == 0
    assert results["copy"]["keys_added"] == 0
    assert results["copy_keys"]["keys_added"] == 3 * 2 + 24 + 8  # facts' + dims' keys

"""The whole local pipeline, driven as a user drives it: `python -m local run` and `query`.

One scenario over two fresh databases (ToteSys source, warehouse), each step a subprocess
on the same --state-dir: a first run loads everything; after the simulator advances, a
second run brings exactly the changes; a third run with no changes changes nothing; a run
whose source is unreachable fails with a one-line reason and the next good run catches up.
Every expectation is computed from the source database with SQL of its own, never from
the pipeline's code.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local import stack
from local.dialect import athena_to_postgres
from local.dsn import dsn_to_secret, secret_to_dsn
from local.statedir import NAMES
from local.totesys import advance, create_schema, seed
from tests.e2e.alarm_metrics import alarms_without_a_metric, emitted_metrics
from tests.integration.local.browser import dump_dom, screenshot
from tests.integration.local.test_report_browser import drawn_per_chart

pytestmark = [pytest.mark.slow, pytest.mark.spark]

REPO_ROOT = Path(__file__).resolve().parents[2]
ORDERS = 300

# Each star table's rows as the source defines them (the design's mapping), by id.
SOURCE_DIMENSIONS = {
    "dim_staff": (
        "SELECT s.staff_id, s.first_name, s.last_name, d.department_name, d.location, "
        "s.email_address FROM staff s JOIN department d USING (department_id)"
    ),
    "dim_location": (
        "SELECT address_id, address_line_1, address_line_2, district, city, postal_code, "
        "country, phone FROM address"
    ),
    "dim_design": "SELECT design_id, design_name, file_location, file_name FROM design",
    "dim_currency": "SELECT currency_id, currency_code FROM currency",
    "dim_counterparty": (
        "SELECT c.counterparty_id, c.counterparty_legal_name, a.address_line_1, "
        "a.address_line_2, a.district, a.city, a.postal_code, a.country, a.phone "
        "FROM counterparty c JOIN address a ON a.address_id = c.legal_address_id"
    ),
    "dim_payment_type": "SELECT payment_type_id, payment_type_name::text FROM payment_type",
    "dim_transaction": (
        "SELECT transaction_id, transaction_type::text, sales_order_id, purchase_order_id "
        "FROM transaction"
    ),
}
WAREHOUSE_DIMENSIONS = {
    "dim_staff": (
        "SELECT staff_id, first_name, last_name, department_name, location, email_address "
        "FROM dim_staff"
    ),
    "dim_location": (
        "SELECT location_id, address_line_1, address_line_2, district, city, postal_code, "
        "country, phone FROM dim_location"
    ),
    "dim_design": "SELECT design_id, design_name, file_location, file_name FROM dim_design",
    "dim_currency": "SELECT currency_id, currency_code FROM dim_currency",
    "dim_counterparty": (
        "SELECT counterparty_id, counterparty_legal_name, counterparty_legal_address_line_1, "
        "counterparty_legal_address_line_2, counterparty_legal_district, "
        "counterparty_legal_city, counterparty_legal_postal_code, counterparty_legal_country, "
        "counterparty_legal_phone_number FROM dim_counterparty"
    ),
    "dim_payment_type": "SELECT payment_type_id, payment_type_name FROM dim_payment_type",
    "dim_transaction": (
        "SELECT transaction_id, transaction_type, sales_order_id, purchase_order_id "
        "FROM dim_transaction"
    ),
}
# Every version of a fact's source row: (id, last_updated date, last_updated time).
SOURCE_FACT_VERSIONS = {
    "fact_sales_order": "SELECT sales_order_id, last_updated::date, last_updated::time(3) "
    "FROM sales_order",
    "fact_purchase_order": "SELECT purchase_order_id, last_updated::date, "
    "last_updated::time(3) FROM purchase_order",
    "fact_payment": "SELECT payment_id, last_updated::date, last_updated::time(3) FROM payment",
}
WAREHOUSE_FACT_VERSIONS = {
    "fact_sales_order": "SELECT sales_order_id, last_updated_date, last_updated_time "
    "FROM fact_sales_order",
    "fact_purchase_order": "SELECT purchase_order_id, last_updated_date, last_updated_time "
    "FROM fact_purchase_order",
    "fact_payment": "SELECT payment_id, last_updated_date, last_updated_time FROM fact_payment",
}
# The current version of every sales order, every column the fact carries.
SOURCE_SALES = (
    "SELECT sales_order_id, created_at::date, created_at::time(3), last_updated::date, "
    "last_updated::time(3), staff_id, counterparty_id, units_sold, unit_price, currency_id, "
    "design_id, agreed_payment_date::date, agreed_delivery_date::date, "
    "agreed_delivery_location_id FROM sales_order"
)
WAREHOUSE_LATEST_SALES = (
    "SELECT DISTINCT ON (sales_order_id) sales_order_id, created_date, created_time, "
    "last_updated_date, last_updated_time, sales_staff_id, counterparty_id, units_sold, "
    "unit_price, currency_id, design_id, agreed_payment_date, agreed_delivery_date, "
    "agreed_delivery_location_id FROM fact_sales_order "
    "ORDER BY sales_order_id, last_updated_date DESC, last_updated_time DESC"
)
STAR_TABLES = (
    "dim_date",
    *SOURCE_DIMENSIONS,
    *SOURCE_FACT_VERSIONS,
)
# Sales by month over every fact record (history included), in each engine's dialect.
LAKE_SALES_BY_MONTH = (
    "SELECT year(created_date) AS y, month(created_date) AS m, count(*) AS records, "
    "sum(units_sold) AS units, sum(units_sold * unit_price) AS revenue "
    "FROM fact_sales_order GROUP BY 1, 2 ORDER BY 1, 2"
)
WAREHOUSE_SALES_BY_MONTH = (
    "SELECT extract(year FROM created_date)::int, extract(month FROM created_date)::int, "
    "count(*), sum(units_sold), sum(units_sold * unit_price) "
    "FROM fact_sales_order GROUP BY 1, 2 ORDER BY 1, 2"
)


def _rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    return sorted((tuple(row) for row in conn.run(sql)), key=repr)


@dataclass
class Run:
    """One `python -m local ...` invocation."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Snapshot:
    """What the two consumers hold at one moment."""

    dims: dict[str, list[tuple[Any, ...]]]
    fact_versions: dict[str, list[tuple[Any, ...]]]
    warehouse_rows: dict[str, list[tuple[Any, ...]]]
    lake_files: dict[str, tuple[int, int]]
    catalog: str
    loaded_batches: list[str]


@dataclass
class Scenario:
    """Everything the scenario observed, for the tests to assert on."""

    runs: dict[str, Run] = field(default_factory=dict)
    warehouse: dict[str, Snapshot] = field(default_factory=dict)
    source: dict[str, dict[str, list[tuple[Any, ...]]]] = field(default_factory=dict)
    source_sales: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    advanced: dict[str, Any] = field(default_factory=dict)
    lake_counts: dict[str, int] = field(default_factory=dict)
    warehouse_counts: dict[str, int] = field(default_factory=dict)
    lake_by_month: list[tuple[str, ...]] = field(default_factory=list)
    warehouse_by_month: list[tuple[str, ...]] = field(default_factory=list)
    source_by_month: list[tuple[str, ...]] = field(default_factory=list)
    lake_latest_by_month: list[tuple[str, ...]] = field(default_factory=list)
    state_dir: Path | None = None
    connect_warehouse: Any = None
    warehouse_dsn: str = ""


def local_cli(*args: str) -> Run:
    """`python -m local ...` from the repository root, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [sys.executable, "-m", "local", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return Run(list(args), done.returncode, done.stdout, done.stderr)


def _csv(text: str) -> list[tuple[str, ...]]:
    rows = list(csv.reader(io.StringIO(text)))
    return [tuple(r) for r in rows[1:]]


def _dec(value: Any) -> str:
    """Numbers as both CSV and pg8000 print them, normalised (2.50 == 2.5)."""
    return format(Decimal(str(value)).normalize(), "f")


def _closed_port(dsn: str) -> str:
    """The DSN with its server moved to a loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return secret_to_dsn({**dsn_to_secret(dsn), "host": "127.0.0.1", "port": port})


def _lake_files(state_dir: Path) -> dict[str, tuple[int, int]]:
    lake = state_dir / "buckets" / "totesys-processed-local"
    return {
        p.relative_to(lake).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in lake.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def scenario(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    names = [pg_server.create_database("e2e_src"), pg_server.create_database("e2e_wh")]
    source_dsn, warehouse_dsn = (pg_server.dsn(n) for n in names)
    state_dir = tmp_path_factory.mktemp("local-state")
    found = Scenario(
        state_dir=state_dir,
        connect_warehouse=lambda: pg_server.connect(names[1]),
        warehouse_dsn=warehouse_dsn,
    )
    source = pg_server.connect(names[0])

    def snapshot(label: str) -> None:
        found.source[label] = {t: _rows(source, sql) for t, sql in SOURCE_DIMENSIONS.items()}
        found.source[label].update(
            {t: _rows(source, sql) for t, sql in SOURCE_FACT_VERSIONS.items()}
        )
        found.source_sales[label] = _rows(source, SOURCE_SALES)
        wh = pg_server.connect(names[1])
        try:
            found.warehouse[label] = Snapshot(
                dims={t: _rows(wh, sql) for t, sql in WAREHOUSE_DIMENSIONS.items()},
                fact_versions={t: _rows(wh, sql) for t, sql in WAREHOUSE_FACT_VERSIONS.items()},
                warehouse_rows={t: _rows(wh, f'SELECT * FROM "{t}"') for t in STAR_TABLES}
                | {"latest_sales": _rows(wh, WAREHOUSE_LATEST_SALES)},
                lake_files=_lake_files(state_dir),
                catalog=(state_dir / "catalog.json").read_text(),
                loaded_batches=[r[0] for r in _rows(wh, "SELECT batch_id FROM etl_loaded_batch")],
            )
        finally:
            wh.close()

    def run(label: str, source: str = source_dsn, warehouse: str = warehouse_dsn) -> None:
        found.runs[label] = local_cli(
            "run",
            "--source-dsn",
            source,
            "--warehouse-dsn",
            warehouse,
            "--state-dir",
            str(state_dir),
            "--commit-lag-seconds",
            "0",
        )
        failing = label in ("unreachable", "warehouse_down")
        assert found.runs[label].returncode == 0 or failing, found.runs[label]

    try:
        create_schema(source)
        seed(source, orders=ORDERS, seed=11)
        run("first")
        snapshot("first")
        found.advanced["second"] = advance(source, hours=8, seed=12)
        run("second")
        snapshot("second")
        run("third")
        snapshot("third")

        counts = local_cli(
            "query",
            "--state-dir",
            str(state_dir),
            "--format",
            "csv",
            " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in STAR_TABLES),
        )
        assert counts.returncode == 0, counts
        found.lake_counts = {t: int(n) for t, n in _csv(counts.stdout)}
        found.warehouse_counts = {
            t: len(found.warehouse["third"].warehouse_rows[t]) for t in STAR_TABLES
        }
        by_month = local_cli(
            "query", "--state-dir", str(state_dir), "--format", "csv", LAKE_SALES_BY_MONTH
        )
        assert by_month.returncode == 0, by_month
        found.lake_by_month = [tuple(_dec(v) for v in row) for row in _csv(by_month.stdout)]
        latest = local_cli(
            "query",
            "--state-dir",
            str(state_dir),
            "--format",
            "csv",
            "SELECT year(created_date), month(created_date), count(*), "
            "sum(units_sold * unit_price) FROM (SELECT *, row_number() OVER (PARTITION BY "
            "sales_order_id ORDER BY last_updated_date DESC, last_updated_time DESC) AS rn "
            "FROM fact_sales_order) WHERE rn = 1 GROUP BY 1, 2 ORDER BY 1, 2",
        )
        assert latest.returncode == 0, latest
        found.lake_latest_by_month = [tuple(_dec(v) for v in row) for row in _csv(latest.stdout)]
        wh = pg_server.connect(names[1])
        try:
            found.warehouse_by_month = [
                tuple(_dec(v) for v in row) for row in wh.run(WAREHOUSE_SALES_BY_MONTH)
            ]
        finally:
            wh.close()
        found.source_by_month = [
            tuple(_dec(v) for v in row)
            for row in source.run(
                "SELECT extract(year FROM created_at)::int, extract(month FROM created_at)::int, "
                "count(*), sum(units_sold * unit_price) FROM sales_order GROUP BY 1, 2 "
                "ORDER BY 1, 2"
            )
        ]

        run("unreachable", source=_closed_port(source_dsn))
        snapshot("unreachable")
        found.advanced["recovered"] = advance(source, hours=8, seed=13)
        run("recovered")
        snapshot("recovered")
        # The warehouse goes away after the transform: the loader's event waits for the
        # next run, which delivers it again even though the source has not changed.
        found.advanced["warehouse_down"] = advance(source, hours=8, seed=14)
        run("warehouse_down", warehouse=_closed_port(warehouse_dsn))
        snapshot("warehouse_down")
        run("redelivered")
        snapshot("redelivered")
        yield found
    finally:
        source.close()
        for name in names:
            pg_server.drop_database(name)


def _versions(snapshot: Snapshot, table: str) -> set[tuple[Any, ...]]:
    return set(snapshot.fact_versions[table])


def test_first_run_loads_every_source_row(scenario: Scenario) -> None:
    run = scenario.runs["first"]
    assert run.returncode == 0, run.stderr
    first = scenario.warehouse["first"]
    for table in SOURCE_DIMENSIONS:
        assert first.dims[table] == scenario.source["first"][table], table
    for table in SOURCE_FACT_VERSIONS:
        assert first.fact_versions[table] == scenario.source["first"][table], table
    assert first.warehouse_rows["latest_sales"] == scenario.source_sales["first"]
    assert len(scenario.source_sales["first"]) > 0
    for stage in ("ingest", "transform", "load"):
        assert f"\n{stage}" in "\n" + run.stdout, run.stdout


def test_second_run_brings_exactly_the_changes(scenario: Scenario) -> None:
    first, second = scenario.warehouse["first"], scenario.warehouse["second"]
    for table in SOURCE_FACT_VERSIONS:
        expected = _versions(first, table) | set(scenario.source["second"][table])
        assert set(second.fact_versions[table]) == expected, table
        # every version exactly once: no duplicates from re-delivery or overlap
        assert len(second.fact_versions[table]) == len(expected), table
    grown = [
        t
        for t in SOURCE_FACT_VERSIONS
        if len(second.fact_versions[t]) > len(first.fact_versions[t])
    ]
    assert grown, "advance changed no fact source rows"
    for table in SOURCE_DIMENSIONS:
        assert second.dims[table] == scenario.source["second"][table], table
    assert second.warehouse_rows["latest_sales"] == scenario.source_sales["second"]
    assert len(second.loaded_batches) == len(first.loaded_batches) + 1


def test_third_run_without_source_changes_changes_nothing(scenario: Scenario) -> None:
    run = scenario.runs["third"]
    assert run.returncode == 0, run.stderr
    second, third = scenario.warehouse["second"], scenario.warehouse["third"]
    assert third.warehouse_rows == second.warehouse_rows
    assert third.loaded_batches == second.loaded_batches
    assert third.lake_files == second.lake_files
    assert third.catalog == second.catalog
    assert "no changes" in run.stdout
    assert "transform" not in run.stdout and "\nload" not in run.stdout


def test_lake_query_agrees_with_the_warehouse(scenario: Scenario) -> None:
    assert scenario.lake_counts == scenario.warehouse_counts
    assert all(scenario.lake_counts[t] > 0 for t in STAR_TABLES), scenario.lake_counts
    assert scenario.lake_by_month == scenario.warehouse_by_month
    assert len(scenario.lake_by_month) > 1
    # the latest version of each order, from the lake, is the source as it stands
    assert scenario.lake_latest_by_month == scenario.source_by_month


def test_unreachable_source_fails_with_one_line_and_the_next_run_loses_nothing(
    scenario: Scenario,
) -> None:
    failed = scenario.runs["unreachable"]
    assert failed.returncode != 0
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith("error: ingest failed: cannot connect to Postgres at 127.0.0.1:")
    assert scenario.warehouse["unreachable"].warehouse_rows == (
        scenario.warehouse["third"].warehouse_rows
    )

    recovered = scenario.warehouse["recovered"]
    assert scenario.runs["recovered"].returncode == 0
    for table in SOURCE_DIMENSIONS:
        assert recovered.dims[table] == scenario.source["recovered"][table], table
    for table in SOURCE_FACT_VERSIONS:
        expected = _versions(scenario.warehouse["third"], table) | set(
            scenario.source["recovered"][table]
        )
        assert set(recovered.fact_versions[table]) == expected, table
        assert len(recovered.fact_versions[table]) == len(expected), table
    assert recovered.warehouse_rows["latest_sales"] == scenario.source_sales["recovered"]


def test_a_load_that_failed_is_delivered_again_by_the_next_run(scenario: Scenario) -> None:
    failed = scenario.runs["warehouse_down"]
    assert failed.returncode != 0
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith("error: load failed: cannot connect to Postgres at 127.0.0.1:")
    assert "transform" in failed.stdout  # the lake moved on; only the warehouse is behind

    again = scenario.runs["redelivered"]
    assert again.returncode == 0, again.stderr
    assert "no changes" in again.stdout
    assert "\nload" in again.stdout
    redelivered = scenario.warehouse["redelivered"]
    for table in SOURCE_DIMENSIONS:
        assert redelivered.dims[table] == scenario.source["redelivered"][table], table
    for table in SOURCE_FACT_VERSIONS:
        expected = _versions(scenario.warehouse["recovered"], table) | set(
            scenario.source["redelivered"][table]
        )
        assert set(redelivered.fact_versions[table]) == expected, table
        assert len(redelivered.fact_versions[table]) == len(expected), table
    assert redelivered.warehouse_rows["latest_sales"] == scenario.source_sales["redelivered"]
    assert (
        len(redelivered.loaded_batches) == len(scenario.warehouse["recovered"].loaded_batches) + 1
    )


def test_every_alarm_in_the_template_watches_a_metric_the_runs_emitted(
    scenario: Scenario,
) -> None:
    assert scenario.state_dir is not None
    logs = sorted((scenario.state_dir / "logs").glob("run-*.jsonl"))
    assert logs, "the runs logged nothing"
    lines = [line for path in logs for line in path.read_text(encoding="utf-8").splitlines()]
    template = stack.load()
    assert alarms_without_a_metric(template, emitted_metrics(lines)) == []


def _cell(value: Any) -> str:
    """A Postgres value as the query CLI's CSV prints it (numbers normalised)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float, Decimal)):
        return _dec(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _csv_cell(text: str) -> str:
    try:
        return _dec(text)
    except ArithmeticError:
        return text


def test_template_named_queries_answer_the_same_from_lake_and_warehouse(
    scenario: Scenario,
) -> None:
    template = stack.load()
    queries = stack.named_queries(template, stack.local_refs(template))
    assert len(queries) >= 3, [q.name for q in queries]
    wh = scenario.connect_warehouse()
    try:
        for query in queries:
            lake = local_cli(
                "query", "--state-dir", str(scenario.state_dir), "--format", "csv", query.sql
            )
            assert lake.returncode == 0, (query.name, lake.stderr)
            lake_rows = [tuple(_csv_cell(v) for v in row) for row in _csv(lake.stdout)]
            warehouse_rows = [
                tuple(_cell(v) for v in row)
                for row in wh.run(athena_to_postgres(query.sql, NAMES.database))
            ]
            assert lake_rows == warehouse_rows, query.name
            assert lake_rows, f"{query.name} has no answer to compare"
    finally:
        wh.close()


def _metric_lines(state_dir: Path, name: str) -> list[dict[str, Any]]:
    """The EMF documents holding `name` in the runs' logs, oldest run first."""
    found = []
    for path in sorted((state_dir / "logs").glob("run-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("{") and '"_aws"' in line and f'"{name}"' in line:
                found.append(json.loads(line))
    return found


def _newest_change(snapshot: Snapshot) -> datetime:
    """The newest (last_updated_date, last_updated_time) of any fact the warehouse held."""
    return max(
        datetime.combine(day, at)
        for versions in snapshot.fact_versions.values()
        for _, day, at in versions
    ).replace(tzinfo=UTC)


def test_each_load_emits_freshness_from_what_the_warehouse_holds(scenario: Scenario) -> None:
    assert scenario.state_dir is not None
    lines = _metric_lines(scenario.state_dir, "FreshnessSeconds")
    # every run whose loader ran and succeeded; "third" loaded nothing new but has no
    # Glue event (no loader run), "warehouse_down" failed
    loaded = ("first", "second", "recovered", "redelivered")
    assert len(lines) == len(loaded), [line["FreshnessSeconds"] for line in lines]
    for label, line in zip(loaded, lines, strict=True):
        emitted_at = datetime.fromtimestamp(line["_aws"]["Timestamp"] / 1000, UTC)
        expected = (emitted_at - _newest_change(scenario.warehouse[label])).total_seconds()
        [value] = line["FreshnessSeconds"]
        assert abs(value - expected) < 1.0, (label, value, expected)
        assert line["service"] == "load"


def test_the_report_of_the_whole_run_draws_every_chart_in_a_browser(
    scenario: Scenario, tmp_path: Path
) -> None:
    assert scenario.state_dir is not None
    page = tmp_path / "report.html"
    done = local_cli(
        "report",
        "--state-dir",
        str(scenario.state_dir),
        "--warehouse-dsn",
        scenario.warehouse_dsn,
        "--output",
        str(page),
    )
    assert (done.returncode, done.stdout.strip()) == (0, f"report written: {page}"), done.stderr

    charts = drawn_per_chart(dump_dom(page, tmp_path / "profile-dom"))

    queries = [f"query-{i}" for i in range(4)]  # the template's four named queries
    history = ["history-rows", "history-seconds", "history-freshness", "history-quarantine"]
    assert sorted(charts) == sorted(queries + history)
    for chart, (marks, drawn) in charts.items():
        assert marks > 0 and drawn == marks, (chart, marks, drawn)
    assert charts["history-freshness"][0] == 4  # one point per successful load run
    shot = screenshot(page, tmp_path / "profile-shot", tmp_path / "report.png", "1400,4200")
    print(f"screenshot: {shot}")

"""The real ingest output, then the job: generated ToteSys -> ingest_fn -> star schemas.

ToteSys is seeded by the generator; `run_ingest` lands batches in moto's S3; the batches are
mirrored to a directory (Spark has no S3 connector locally) and the job runs on them. The
expected star rows come from SQL over the source at the same moment (Postgres joins and
casts, not the Spark code under test).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from glue_scenario import PROCESSED_BUCKET, Lake, read_rows

from local.staging import download_changed
from local.totesys import advance, seed

INGEST_BUCKET = "totesys-ingest-e2e"
SECRET_ID = "totesys/source-e2e"  # nosec B105 - a secret's name, not a secret
ORDERS = 300

# Expected rows of each star table, as SQL over the source (the oracle).
ORACLE: dict[str, str] = {
    "dim_staff": "SELECT s.staff_id, s.first_name, s.last_name, d.department_name, d.location,"
    " s.email_address FROM staff s LEFT JOIN department d USING (department_id)",
    "dim_location": "SELECT address_id, address_line_1, address_line_2, district, city,"
    " postal_code, country, phone FROM address",
    "dim_counterparty": "SELECT c.counterparty_id, c.counterparty_legal_name,"
    " a.address_line_1, a.address_line_2, a.district, a.city, a.postal_code, a.country,"
    " a.phone FROM counterparty c LEFT JOIN address a ON a.address_id = c.legal_address_id",
    "dim_currency": "SELECT currency_id, currency_code, CASE currency_code"
    " WHEN 'GBP' THEN 'Pound Sterling' WHEN 'USD' THEN 'US Dollar' WHEN 'EUR' THEN 'Euro'"
    " END FROM currency",
    "dim_design": "SELECT design_id, design_name, file_location, file_name FROM design",
    "dim_payment_type": "SELECT payment_type_id, payment_type_name::text FROM payment_type",
    "dim_transaction": "SELECT transaction_id, transaction_type::text, sales_order_id,"
    " purchase_order_id FROM transaction",
    "fact_sales_order": "SELECT sales_order_id, created_at::date,"
    " to_char(created_at, 'HH24:MI:SS.MS'), last_updated::date,"
    " to_char(last_updated, 'HH24:MI:SS.MS'), staff_id, counterparty_id, units_sold,"
    " unit_price, currency_id, design_id, agreed_payment_date::date,"
    " agreed_delivery_date::date, agreed_delivery_location_id FROM sales_order"
    " WHERE agreed_delivery_date <> ''",
    "fact_purchase_order": "SELECT purchase_order_id, created_at::date,"
    " to_char(created_at, 'HH24:MI:SS.MS'), last_updated::date,"
    " to_char(last_updated, 'HH24:MI:SS.MS'), staff_id, counterparty_id, item_code,"
    " item_quantity, item_unit_price, currency_id, agreed_delivery_date::date,"
    " agreed_payment_date::date, agreed_delivery_location_id FROM purchase_order",
    "fact_payment": "SELECT payment_id, created_at::date, to_char(created_at, 'HH24:MI:SS.MS'),"
    " last_updated::date, to_char(last_updated, 'HH24:MI:SS.MS'), transaction_id,"
    " counterparty_id, payment_amount, currency_id, payment_type_id, paid,"
    " payment_date::date FROM payment",
}
DATE_RANGE_SQL = (
    "SELECT min(d), max(d) FROM ("
    " SELECT unnest(ARRAY[created_at::date, last_updated::date, agreed_payment_date::date,"
    "   agreed_delivery_date::date]) FROM sales_order WHERE agreed_delivery_date <> ''"
    " UNION ALL SELECT unnest(ARRAY[created_at::date, last_updated::date,"
    "   agreed_payment_date::date, agreed_delivery_date::date]) FROM purchase_order"
    " UNION ALL SELECT unnest(ARRAY[created_at::date, last_updated::date,"
    "   payment_date::date]) FROM payment) AS dates(d)"
)
NOW = "date_trunc('milliseconds', now() AT TIME ZONE 'UTC')"
# A sales order whose delivery date is the empty string: it cannot be typed.
BAD_ORDER_SQL = (
    "INSERT INTO sales_order (sales_order_id, created_at, last_updated, design_id, staff_id,"
    " counterparty_id, units_sold, unit_price, currency_id, agreed_delivery_date,"
    " agreed_payment_date, agreed_delivery_location_id) VALUES (900001,"
    " '2024-11-14 09:00:08.010', '2024-11-14 09:00:08.010', 1, 1, 1, 2, 0.10, 1, '',"
    " '2024-11-21', 2)"
)


def oracle(conn: Any) -> dict[str, set[tuple[Any, ...]]]:
    return {table: {tuple(row) for row in conn.run(sql)} for table, sql in ORACLE.items()}


class Pipeline:
    """ToteSys in Postgres, ingest into moto's S3, the landing mirror, the lake."""

    def __init__(self, conn: Any, lake: Lake, settings: Any, s3: Any, secrets: Any) -> None:
        self.conn, self.lake, self.settings, self.s3, self.secrets = (
            conn,
            lake,
            settings,
            s3,
            secrets,
        )
        self.known: dict[str, str] = {}
        self.truth: list[dict[str, set[tuple[Any, ...]]]] = []
        self.date_ranges: list[tuple[dt.date, dt.date]] = []
        self.ingest_manifests: list[dict[str, Any]] = []

    def cycle(self) -> None:
        from ingest.run import run_ingest

        summary = run_ingest(self.settings, s3=self.s3, secretsmanager=self.secrets)
        assert summary.batch_id is not None
        download_changed(self.s3, INGEST_BUCKET, self.lake.ingest_dir, self.known)
        self.ingest_manifests.append(
            json.loads((self.lake.ingest_dir / summary.manifest_key).read_text())
        )
        self.truth.append(oracle(self.conn))
        low, high = self.conn.run(DATE_RANGE_SQL)[0]
        self.date_ranges.append((low, high))
        self.lake.run()


@pytest.fixture(scope="module")
def pipeline(
    spark: Any, module_aws: str, pg_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    from ingest.settings import Settings

    name = pg_server.create_database()
    conn = pg_server.connect(name)
    try:
        seed(conn, ORDERS, 7)
        conn.run(BAD_ORDER_SQL)
        conn.run("SET TIME ZONE 'UTC'")
        s3 = boto3.client("s3")
        s3.create_bucket(
            Bucket=INGEST_BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        secrets = boto3.client("secretsmanager")
        secrets.create_secret(Name=SECRET_ID, SecretString=json.dumps(pg_server.secret(name)))
        settings = Settings(
            ingest_bucket=INGEST_BUCKET,
            source_secret_id=SECRET_ID,
            commit_lag_seconds=0,
            part_rows=200,
        )
        lake = Lake(spark, Path(tmp_path_factory.mktemp("from_ingest")), "totesys_lake_e2e")
        pipeline = Pipeline(conn, lake, settings, s3, secrets)
        pipeline.cycle()  # 1: everything
        advance(conn, 24, 7)
        conn.run(
            f"UPDATE sales_order SET units_sold = units_sold + 1, last_updated = {NOW}"
            " WHERE sales_order_id IN (1, 2)"
        )
        conn.run(f"UPDATE address SET city = 'Bath', last_updated = {NOW} WHERE address_id = 2")
        conn.run(
            f"UPDATE department SET location = 'Leeds', last_updated = {NOW}"
            " WHERE department_id = (SELECT department_id FROM staff WHERE staff_id = 1)"
            " AND location IS DISTINCT FROM 'Leeds'"
        )
        pipeline.cycle()  # 2: a day of trading, amendments, an address edit, a department move
        conn.run(
            f"UPDATE staff SET last_name = 'Beier-Smith', last_updated = {NOW} WHERE staff_id = 3"
        )
        pipeline.cycle()  # 3: only a staff change
        yield pipeline
    finally:
        conn.close()
        pg_server.drop_database(name)


def star_rows(pipeline: Pipeline, n: int, table: str, *, changes: bool = False) -> set[tuple]:
    manifest = pipeline.lake.passes[n].manifest
    assert manifest is not None
    rows = read_rows(pipeline.lake.processed_dir, manifest["tables"][table], changes=changes)
    assert len(rows) == len(set(rows)), f"{table}: duplicate rows"
    return set(rows)


def test_first_pass_builds_every_star_table_exactly_from_the_source(pipeline: Pipeline) -> None:
    manifest = pipeline.lake.passes[0].manifest
    assert manifest is not None
    assert manifest["ingest_batches"] == [pipeline.ingest_manifests[0]["batch_id"]]
    truth = pipeline.truth[0]
    for table in ORACLE:
        assert star_rows(pipeline, 0, table) == truth[table], table
    assert len(truth["fact_sales_order"]) > 150
    assert any(r[2] is None for r in truth["dim_location"])  # NULL address_line_2 survived
    assert any(r[2] == "" for r in truth["dim_location"])  # and so did ''
    low, high = pipeline.date_ranges[0]
    assert manifest["date_range"] == {"min": low.isoformat(), "max": high.isoformat()}
    assert manifest["tables"]["dim_date"]["rows"] == (high - low).days + 1


def test_the_bad_order_is_quarantined_and_the_rest_of_its_batch_lands(pipeline: Pipeline) -> None:
    manifest = pipeline.lake.passes[0].manifest
    assert manifest is not None
    assert manifest["quarantine"] == {
        "sales_order": {
            "rows": 1,
            "prefix": f"_quarantine/{manifest['batch_id']}/sales_order/",
            "reasons": {"agreed_delivery_date: not a date": 1},
        }
    }
    # The oracle leaves out only the bad order.
    assert manifest["tables"]["fact_sales_order"]["rows"] == len(
        pipeline.truth[0]["fact_sales_order"]
    )


def test_every_table_is_snappy_parquet_registered_with_matching_schema(
    pipeline: Pipeline,
) -> None:
    lake = pipeline.lake
    manifest, catalog = lake.passes[0].manifest, lake.passes[0].catalog
    assert manifest is not None
    arrow_to_glue = {
        "int32": "int",
        "string": "string",
        "date32[day]": "date",
        "decimal128(10, 2)": "decimal(10,2)",
        "bool": "boolean",
    }
    assert set(catalog) == set(manifest["tables"]) == {*ORACLE, "dim_date"}
    for table, entry in manifest["tables"].items():
        keys = entry["objects"] if entry["kind"] == "dimension" else [
            o["key"] for o in entry["objects"]
        ]  # fmt: skip
        registered = catalog[table]["table"]
        columns = [(c["Name"], c["Type"]) for c in registered["StorageDescriptor"]["Columns"]]
        for key in keys:
            parquet = pq.ParquetFile(lake.processed_dir / key)
            assert [(f.name, arrow_to_glue[str(f.type)]) for f in parquet.schema_arrow] == (
                columns
            ), key
            meta = parquet.metadata
            assert {
                meta.row_group(g).column(c).compression
                for g in range(meta.num_row_groups)
                for c in range(meta.num_columns)
            } == {"SNAPPY"}, key
        location = registered["StorageDescriptor"]["Location"]
        assert location == f"s3://{PROCESSED_BUCKET}/{entry['location']}"
        if entry["kind"] == "fact":
            assert registered["PartitionKeys"] == [{"Name": "created_month", "Type": "string"}]
            months = sorted({o["partition"]["created_month"] for o in entry["objects"]})
            assert catalog[table]["partitions"] == [
                ((month,), f"s3://{PROCESSED_BUCKET}/{table}/created_month={month}/")
                for month in months
            ]
            created = {r[1].strftime("%Y-%m") for r in pipeline.truth[0][table]}
            assert months == sorted(created)
            for obj in entry["objects"]:  # one file per month, holding only that month's rows
                dates = pq.read_table(lake.processed_dir / obj["key"], columns=["created_date"])
                assert {d.strftime("%Y-%m") for d in dates.column(0).to_pylist()} == {
                    obj["partition"]["created_month"]
                }, obj["key"]


def test_second_pass_adds_exactly_the_new_versions(pipeline: Pipeline) -> None:
    before, after = pipeline.truth[0], pipeline.truth[1]
    manifest = pipeline.lake.passes[1].manifest
    assert manifest is not None
    for table in ("fact_sales_order", "fact_purchase_order", "fact_payment"):
        new_versions = after[table] - before[table]
        if new_versions:
            assert star_rows(pipeline, 1, table) == new_versions, table
        else:
            assert table not in manifest["tables"], table
    # Orders amended by `advance` now have two records: the old version and the new one.
    first = star_rows(pipeline, 0, "fact_sales_order")
    second = star_rows(pipeline, 1, "fact_sales_order")
    amended = {r[0] for r in first} & {r[0] for r in second}
    assert {1, 2} <= amended
    for order_id in amended:
        records = [r for r in first | second if r[0] == order_id]
        assert len(records) == 2 and records[0][3:5] != records[1][3:5]


def test_second_pass_rebuilds_exactly_the_dimensions_whose_sources_changed(
    pipeline: Pipeline,
) -> None:
    before, after = pipeline.truth[0], pipeline.truth[1]
    manifest = pipeline.lake.passes[1].manifest
    assert manifest is not None
    landed = set(pipeline.ingest_manifests[1]["tables"])
    sources = {
        "dim_staff": {"staff", "department"},
        "dim_location": {"address"},
        "dim_counterparty": {"counterparty", "address"},
        "dim_currency": {"currency"},
        "dim_design": {"design"},
        "dim_payment_type": {"payment_type"},
        "dim_transaction": {"transaction"},
    }
    assert {"address", "department", "transaction"} <= landed
    for dim, tables in sources.items():
        if tables & landed:
            assert star_rows(pipeline, 1, dim) == after[dim], dim
            assert star_rows(pipeline, 1, dim, changes=True) == after[dim] - before[dim], dim
        else:
            assert dim not in manifest["tables"], dim
            assert after[dim] == before[dim], dim
    # The address edit shows in both dimensions that carry the address.
    assert any(r[0] == 2 and r[4] == "Bath" for r in star_rows(pipeline, 1, "dim_location"))
    legal_2 = {r[0] for r in pipeline.conn.run("SELECT counterparty_id FROM counterparty"
                                               " WHERE legal_address_id = 2")}  # fmt: skip
    for row in star_rows(pipeline, 1, "dim_counterparty"):
        assert (row[5] == "Bath") == (row[0] in legal_2)
    # The department move shows in dim_staff.location.
    assert [r[4] for r in star_rows(pipeline, 1, "dim_staff") if r[0] == 1] == ["Leeds"]


def test_a_batch_with_only_a_staff_change_rebuilds_only_dim_staff(pipeline: Pipeline) -> None:
    manifest = pipeline.lake.passes[2].manifest
    assert manifest is not None
    assert set(pipeline.ingest_manifests[2]["tables"]) == {"staff"}
    assert set(manifest["tables"]) == {"dim_staff"}
    assert star_rows(pipeline, 2, "dim_staff") == pipeline.truth[2]["dim_staff"]
    changed = star_rows(pipeline, 2, "dim_staff", changes=True)
    assert [(r[0], r[2]) for r in changed] == [(3, "Beier-Smith")]
    assert len(star_rows(pipeline, 2, "dim_staff")) == 20


def test_money_and_dates_keep_their_exact_types(pipeline: Pipeline) -> None:
    row = sorted(star_rows(pipeline, 0, "fact_payment"))[0]
    assert isinstance(row[7], Decimal) and row[7] == row[7].quantize(Decimal("0.01"))
    assert isinstance(row[11], dt.date)

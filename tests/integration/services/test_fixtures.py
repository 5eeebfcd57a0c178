"""The test services are real: Postgres, moto over HTTP, local Spark."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import awswrangler as wr
import boto3
import pandas as pd
import pytest

from local.services import PgServer, start_embedded_pg


def test_each_test_gets_a_fresh_empty_database(postgres, pg_server: PgServer) -> None:
    conn = postgres.connect()
    try:
        tables = conn.run(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        assert tables == [[0]]
        assert conn.run("SELECT current_database()") == [[postgres.name]]
    finally:
        conn.close()


def test_make_database_gives_separate_databases_that_drop_cleanly(
    make_database, pg_server: PgServer
) -> None:
    first, second = make_database(), make_database()
    assert first.name != second.name
    pg_server.drop_database(first.name)
    admin = pg_server.connect()
    try:
        names = [r[0] for r in admin.run("SELECT datname FROM pg_database")]
    finally:
        admin.close()
    assert first.name not in names
    assert second.name in names


def test_embedded_pgserver_fallback_runs_a_real_postgres(tmp_path) -> None:
    server = start_embedded_pg(str(tmp_path / "pg"))
    assert server.kind == "pgserver"
    assert str(server.admin_secret["host"]).startswith("/")
    name = server.create_database()
    conn = server.connect(name)
    try:
        conn.run("CREATE TABLE t (x numeric(10,2))")
        conn.run("INSERT INTO t VALUES (:v)", v=Decimal("2.50"))
        assert conn.run("SELECT x FROM t") == [[Decimal("2.50")]]
    finally:
        conn.close()
        server.drop_database(name)


def test_boto3_and_awswrangler_talk_http_to_moto(aws: str) -> None:
    s3 = boto3.client("s3")
    assert s3.meta.endpoint_url == aws
    s3.create_bucket(
        Bucket="fixture-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    s3.put_object(Bucket="fixture-bucket", Key="a/b.txt", Body=b"hello")
    assert wr.s3.list_objects("s3://fixture-bucket/a/") == ["s3://fixture-bucket/a/b.txt"]
    frame = pd.DataFrame({"id": [1, 2], "price": [Decimal("1.10"), Decimal("2.20")]})
    wr.s3.to_parquet(frame, "s3://fixture-bucket/p/x.parquet")
    back = wr.s3.read_parquet("s3://fixture-bucket/p/x.parquet")
    assert back["price"].tolist() == [Decimal("1.10"), Decimal("2.20")]


def test_moto_state_is_reset_between_tests(aws: str) -> None:
    assert boto3.client("s3").list_buckets()["Buckets"] == []


@pytest.mark.spark
def test_spark_session_is_local_and_utc(spark) -> None:
    assert spark.sparkContext.master == "local[2]"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    row = spark.sql(
        "SELECT to_timestamp('2024-11-15 14:40:01.123') AS ts, 1.10BD * 2 AS money"
    ).first()
    assert row.ts == dt.datetime(2024, 11, 15, 14, 40, 1, 123000)
    assert row.money == Decimal("2.20")

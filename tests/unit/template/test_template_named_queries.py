"""The Athena named queries of template.yaml answer their questions on hand-made star tables.

The tables are made from the one star-schema definition (contracts/star.py), so a query
naming a table or column the lake does not have fails here.

DuckDB stands in for Athena (the local toolkit's lake engine): the queries use only SQL that
both run. Facts hold every version of a source row, so each case has an amended row whose
stale version would change the answer if a query forgot to take the latest version.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from pipeline_common.contracts.star import (
    FACT_PARTITION_KEY,
    FACT_PARTITION_SOURCE,
    FACTS,
    STAR_TABLES,
)

DUCKDB_TYPES: dict[str, str] = {
    "int": "INTEGER",
    "decimal(10,2)": "DECIMAL(10, 2)",
    "date": "DATE",
    "time": "VARCHAR",  # `HH:MM:SS.fff`: Athena has no time type
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
}


def star_table_ddl() -> str:
    """Every star table with the columns its files hold (contracts/star.py), in order."""
    statements = []
    for table in STAR_TABLES.values():
        columns = ", ".join(f"{c.name} {DUCKDB_TYPES[c.lake_type]}" for c in table.columns)
        statements.append(f"CREATE TABLE {table.name} ({columns});")
    return "\n".join(statements)


def add_partition_keys(connection: Any) -> None:
    """Athena shows a fact's partition key as a last string column: created_date's month."""
    for fact in FACTS:
        for key in fact.partition_keys:
            connection.execute(f"ALTER TABLE {fact.name} ADD COLUMN {key} VARCHAR")
        month = f"strftime({FACT_PARTITION_SOURCE}, '%Y-%m')"
        connection.execute(f"UPDATE {fact.name} SET {FACT_PARTITION_KEY} = {month}")


# Rows in each table's column order, before the partition keys.
ROWS = """
INSERT INTO dim_currency VALUES (1, 'GBP', 'Pound Sterling'), (2, 'USD', 'US Dollar'),
                                (3, 'EUR', 'Euro');
INSERT INTO dim_design VALUES (10, 'Wooden', '/designs', 'wooden.json'),
                              (11, 'Steel', '/designs', 'steel.json'),
                              (12, 'Bronze', '/designs', 'bronze.json');
INSERT INTO dim_staff VALUES (1, 'Ann', 'Lee', 'Sales', 'Leeds', 'ann@example.com'),
                             (2, 'Bo', 'Ng', 'Sales', 'Manchester', 'bo@example.com');
INSERT INTO dim_counterparty (counterparty_id, counterparty_legal_name)
    VALUES (1, 'Acme Ltd'), (2, 'Bags Inc');
INSERT INTO dim_transaction VALUES (500, 'SALE', 100, NULL), (501, 'SALE', 101, NULL),
                                   (502, 'SALE', 102, NULL), (503, 'SALE', 103, NULL),
                                   (504, 'PURCHASE', NULL, 7);

-- Order 100 has three versions; the latest (same day as v2, later time) holds 20 units and
-- an agreed payment date of 2024-01-22.
INSERT INTO fact_sales_order VALUES
  (100, '2024-01-10', '09:00:00.000', '2024-01-10', '09:00:00.000', 1, 1, 10, 2.50, 1, 10,
   '2024-01-20', '2024-01-30', 1),
  (100, '2024-01-10', '09:00:00.000', '2024-01-12', '08:00:00.000', 1, 1, 12, 2.50, 1, 10,
   '2024-01-20', '2024-01-30', 1),
  (100, '2024-01-10', '09:00:00.000', '2024-01-12', '17:30:00.500', 1, 1, 20, 2.50, 1, 10,
   '2024-01-22', '2024-01-30', 1),
  (101, '2024-01-15', '10:00:00.000', '2024-01-15', '10:00:00.000', 2, 2, 5, 4.00, 2, 11,
   '2024-02-01', '2024-02-05', 1),
  (102, '2024-02-03', '11:00:00.000', '2024-02-03', '11:00:00.000', 1, 1, 7, 3.10, 1, 11,
   '2024-02-10', '2024-02-12', 1),
  (103, '2024-02-05', '12:00:00.000', '2024-02-05', '12:00:00.000', 2, 2, 1, 100.00, 1, 12,
   '2099-01-01', '2099-01-05', 1);

-- Payment 900 was recorded unpaid in the morning, then paid that afternoon: three days after
-- the order's current agreed payment date.
INSERT INTO fact_payment VALUES
  (900, '2024-01-11', '08:00:00.000', '2024-01-25', '09:00:00.000', 500, 1, 50.00, 1, 1,
   false, '2024-01-25'),
  (900, '2024-01-11', '08:00:00.000', '2024-01-25', '16:00:00.000', 500, 1, 50.00, 1, 1,
   true, '2024-01-25'),
  (901, '2024-01-16', '08:00:00.000', '2024-01-30', '08:00:00.000', 501, 2, 20.00, 2, 1,
   true, '2024-01-30'),
  (902, '2024-02-04', '08:00:00.000', '2024-02-04', '08:00:00.000', 502, 1, 21.70, 1, 1,
   false, '2024-02-15'),
  (903, '2024-02-06', '08:00:00.000', '2024-02-06', '08:00:00.000', 503, 2, 100.00, 1, 1,
   false, '2099-01-01'),
  (904, '2024-02-07', '08:00:00.000', '2024-02-07', '08:00:00.000', 504, 2, 99.00, 1, 2,
   false, '2024-02-08');
"""


def _named_queries(resources: dict[str, Any]) -> dict[str, str]:
    return {
        resource["Properties"]["Name"]: resource["Properties"]["QueryString"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Athena::NamedQuery"
    }


@pytest.fixture
def lake() -> Any:
    connection = duckdb.connect(":memory:")
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(star_table_ddl())
    connection.execute(ROWS)
    add_partition_keys(connection)
    yield connection
    connection.close()


def test_every_named_query_refers_only_to_star_tables_and_columns_that_exist(
    resources: dict[str, Any],
) -> None:
    """Bound (EXPLAIN) on empty tables made from star.py: an unknown table or column fails."""
    queries = _named_queries(resources)
    assert len(queries) >= 4
    connection = duckdb.connect(":memory:")
    try:
        connection.execute(star_table_ddl())
        add_partition_keys(connection)
        unbound = {}
        for name, sql in queries.items():
            try:
                connection.execute(f"EXPLAIN {sql}")
            except duckdb.Error as exc:
                unbound[name] = str(exc).splitlines()[0]
    finally:
        connection.close()
    assert unbound == {}


def _run(lake: Any, resources: dict[str, Any], name: str) -> list[tuple[Any, ...]]:
    return lake.execute(_named_queries(resources)[name]).fetchall()


def test_sales_by_month_and_currency_counts_each_order_once_at_its_latest_version(
    lake: Any, resources: dict[str, Any]
) -> None:
    assert _run(lake, resources, "sales-by-month-and-currency") == [
        (2024, 1, "GBP", 1, 20, Decimal("50.00")),
        (2024, 1, "USD", 1, 5, Decimal("20.00")),
        (2024, 2, "GBP", 2, 8, Decimal("121.70")),
    ]


def test_top_designs_ranks_by_units_sold(lake: Any, resources: dict[str, Any]) -> None:
    assert _run(lake, resources, "top-designs") == [
        (10, "Wooden", 1, 20),
        (11, "Steel", 2, 12),
        (12, "Bronze", 1, 1),
    ]


def test_revenue_by_staff_location_splits_by_currency(lake: Any, resources: dict[str, Any]) -> None:
    assert _run(lake, resources, "revenue-by-staff-location") == [
        ("Leeds", "GBP", 2, Decimal("71.70")),
        ("Manchester", "GBP", 1, Decimal("100.00")),
        ("Manchester", "USD", 1, Decimal("20.00")),
    ]


def test_late_payments_lists_paid_late_and_unpaid_overdue_sales_payments(
    lake: Any, resources: dict[str, Any]
) -> None:
    today = datetime.now(UTC).date()
    assert _run(lake, resources, "late-payments") == [
        (
            902,
            102,
            "Acme Ltd",
            Decimal("21.70"),
            "GBP",
            date(2024, 2, 10),
            date(2024, 2, 15),
            False,
            (today - date(2024, 2, 10)).days,
        ),
        (
            900,
            100,
            "Acme Ltd",
            Decimal("50.00"),
            "GBP",
            date(2024, 1, 22),
            date(2024, 1, 25),
            True,
            3,
        ),
    ]

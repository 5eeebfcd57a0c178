"""Processed batches for the loader tests, written the way the Glue job writes them.

docs/contracts.md section 2: snappy Parquet in Spark's types (int32, decimal(10,2), date32,
string, bool), dimensions as a snapshot plus `_changes/` objects, facts Hive-partitioned by
`created_month` (created_date stays in the file), the processed manifest written last. The rows are
hand-written here and are also the expected warehouse contents.
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

PID_1 = "20241115T144100123456Z"
PID_2 = "20241115T144400654321Z"
PID_3 = "20241115T144700000001Z"

INT, DEC, DATE, STR, BOOL = pa.int32(), pa.decimal128(10, 2), pa.date32(), pa.string(), pa.bool_()

FACT_HEAD = [
    ("created_date", DATE),
    ("created_time", STR),
    ("last_updated_date", DATE),
    ("last_updated_time", STR),
]

SCHEMAS: dict[str, list[tuple[str, pa.DataType]]] = {
    "dim_date": [
        ("date_id", DATE),
        ("year", INT),
        ("month", INT),
        ("day", INT),
        ("day_of_week", INT),
        ("day_name", STR),
        ("month_name", STR),
        ("quarter", INT),
    ],
    "dim_staff": [
        ("staff_id", INT),
        ("first_name", STR),
        ("last_name", STR),
        ("department_name", STR),
        ("location", STR),
        ("email_address", STR),
    ],
    "dim_location": [
        ("location_id", INT),
        ("address_line_1", STR),
        ("address_line_2", STR),
        ("district", STR),
        ("city", STR),
        ("postal_code", STR),
        ("country", STR),
        ("phone", STR),
    ],
    "dim_design": [
        ("design_id", INT),
        ("design_name", STR),
        ("file_location", STR),
        ("file_name", STR),
    ],
    "dim_currency": [("currency_id", INT), ("currency_code", STR), ("currency_name", STR)],
    "dim_counterparty": [
        ("counterparty_id", INT),
        ("counterparty_legal_name", STR),
        ("counterparty_legal_address_line_1", STR),
        ("counterparty_legal_address_line_2", STR),
        ("counterparty_legal_district", STR),
        ("counterparty_legal_city", STR),
        ("counterparty_legal_postal_code", STR),
        ("counterparty_legal_country", STR),
        ("counterparty_legal_phone_number", STR),
    ],
    "dim_payment_type": [("payment_type_id", INT), ("payment_type_name", STR)],
    "dim_transaction": [
        ("transaction_id", INT),
        ("transaction_type", STR),
        ("sales_order_id", INT),
        ("purchase_order_id", INT),
    ],
    "fact_sales_order": [
        ("sales_order_id", INT),
        *FACT_HEAD,
        ("sales_staff_id", INT),
        ("counterparty_id", INT),
        ("units_sold", INT),
        ("unit_price", DEC),
        ("currency_id", INT),
        ("design_id", INT),
        ("agreed_payment_date", DATE),
        ("agreed_delivery_date", DATE),
        ("agreed_delivery_location_id", INT),
    ],
    "fact_purchase_order": [
        ("purchase_order_id", INT),
        *FACT_HEAD,
        ("staff_id", INT),
        ("counterparty_id", INT),
        ("item_code", STR),
        ("item_quantity", INT),
        ("item_unit_price", DEC),
        ("currency_id", INT),
        ("agreed_delivery_date", DATE),
        ("agreed_payment_date", DATE),
        ("agreed_delivery_location_id", INT),
    ],
    "fact_payment": [
        ("payment_id", INT),
        *FACT_HEAD,
        ("transaction_id", INT),
        ("counterparty_id", INT),
        ("payment_amount", DEC),
        ("currency_id", INT),
        ("payment_type_id", INT),
        ("paid", BOOL),
        ("payment_date", DATE),
    ],
}

KEYS = {
    "dim_date": ("date_id",),
    "dim_staff": ("staff_id",),
    "dim_location": ("location_id",),
    "dim_design": ("design_id",),
    "dim_currency": ("currency_id",),
    "dim_counterparty": ("counterparty_id",),
    "dim_payment_type": ("payment_type_id",),
    "dim_transaction": ("transaction_id",),
    "fact_sales_order": ("sales_order_id", "last_updated_date", "last_updated_time"),
    "fact_purchase_order": ("purchase_order_id", "last_updated_date", "last_updated_time"),
    "fact_payment": ("payment_id", "last_updated_date", "last_updated_time"),
}
TABLES = tuple(KEYS)
DIMENSIONS = tuple(t for t in TABLES if t.startswith("dim_"))
FACTS = tuple(t for t in TABLES if t.startswith("fact_"))


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def dim_date_rows(first: str, last: str) -> list[dict[str, Any]]:
    """dim_date rows for [first, last] (inclusive): input data, checked value by value below."""
    rows, day = [], d(first)
    while day <= d(last):
        rows.append(
            {
                "date_id": day,
                "year": day.year,
                "month": day.month,
                "day": day.day,
                "day_of_week": day.isoweekday(),
                "day_name": calendar.day_name[day.weekday()],
                "month_name": calendar.month_name[day.month],
                "quarter": (day.month - 1) // 3 + 1,
            }
        )
        day += dt.timedelta(days=1)
    return rows


def sales(order_id: int, created: str, updated: str, **values: Any) -> dict[str, Any]:
    """A fact_sales_order row; `created`/`updated` are 'YYYY-MM-DD HH:MM:SS.fff'."""
    row = {
        "sales_order_id": order_id,
        **_when(created, updated),
        "sales_staff_id": 1,
        "counterparty_id": 1,
        "units_sold": 100,
        "unit_price": Decimal("2.50"),
        "currency_id": 1,
        "design_id": 1,
        "agreed_payment_date": d("2024-11-20"),
        "agreed_delivery_date": d("2024-11-18"),
        "agreed_delivery_location_id": 1,
    }
    row.update(values)
    return row


def _when(created: str, updated: str) -> dict[str, Any]:
    c_date, c_time = created.split(" ")
    u_date, u_time = updated.split(" ")
    return {
        "created_date": d(c_date),
        "created_time": c_time,
        "last_updated_date": d(u_date),
        "last_updated_time": u_time,
    }


# ---- batch 1: everything new ---------------------------------------------------------------

STAFF_1 = {
    "staff_id": 1,
    "first_name": "Jeremie",
    "last_name": "Franey",
    "department_name": "Purchasing",
    "location": "Manchester",
    "email_address": "jeremie.franey@terrifictotes.com",
}
STAFF_2 = {
    "staff_id": 2,
    "first_name": "Deron",
    "last_name": "Beier",
    "department_name": "Sales",
    "location": "Leeds",
    "email_address": "deron.beier@terrifictotes.com",
}
STAFF_2_MOVED = {**STAFF_2, "department_name": "Dispatch", "location": "Manchester"}

BATCH_1: dict[str, list[dict[str, Any]]] = {
    "dim_date": dim_date_rows("2024-11-01", "2024-12-31"),
    "dim_staff": [STAFF_1, STAFF_2],
    "dim_location": [
        {
            "location_id": 1,
            "address_line_1": "6826 Herzog Via",
            "address_line_2": None,
            "district": "Avon",
            "city": "New Patienceburgh",
            "postal_code": "28441",
            "country": "Turkey",
            "phone": "1803 637401",
        },
        {
            "location_id": 2,
            "address_line_1": "179 Alexie Cliffs",
            "address_line_2": "",  # an empty string, which must not become NULL
            "district": None,
            "city": "Aliso Viejo",
            "postal_code": "99305-7380",
            "country": "San Marino",
            "phone": '9621 "880720"',
        },
    ],
    "dim_design": [
        {
            "design_id": 1,
            "design_name": "Wooden",
            "file_location": "/usr",
            "file_name": "wooden-20220717-npgz.json",
        },
        {
            "design_id": 2,
            "design_name": "Bronze, Steel",
            "file_location": "/private",
            "file_name": "bronze-20221024-4dds.json",
        },
    ],
    "dim_currency": [
        {"currency_id": 1, "currency_code": "GBP", "currency_name": "Pound Sterling"},
        {"currency_id": 2, "currency_code": "USD", "currency_name": "US Dollar"},
        {"currency_id": 3, "currency_code": "XXQ", "currency_name": None},
    ],
    "dim_counterparty": [
        {
            "counterparty_id": 1,
            "counterparty_legal_name": "Fahey and Sons",
            "counterparty_legal_address_line_1": "605 Haskell Trafficway",
            "counterparty_legal_address_line_2": "Axel Freeway",
            "counterparty_legal_district": None,
            "counterparty_legal_city": "East Bobbie",
            "counterparty_legal_postal_code": "88253-4257",
            "counterparty_legal_country": "Heard Island and McDonald Islands",
            "counterparty_legal_phone_number": "9687 937447",
        },
        {
            "counterparty_id": 2,
            "counterparty_legal_name": "Leannon, Predovic and Morar",
            "counterparty_legal_address_line_1": "079 Horacio Landing",
            "counterparty_legal_address_line_2": None,
            "counterparty_legal_district": "Buckinghamshire",
            "counterparty_legal_city": "Utica",
            "counterparty_legal_postal_code": "93045",
            "counterparty_legal_country": "Austria",
            "counterparty_legal_phone_number": "7772 084705",
        },
    ],
    "dim_payment_type": [
        {"payment_type_id": 1, "payment_type_name": "SALES_RECEIPT"},
        {"payment_type_id": 2, "payment_type_name": "SALES_REFUND"},
        {"payment_type_id": 3, "payment_type_name": "PURCHASE_PAYMENT"},
        {"payment_type_id": 4, "payment_type_name": "PURCHASE_REFUND"},
    ],
    "dim_transaction": [
        {
            "transaction_id": 1,
            "transaction_type": "SALE",
            "sales_order_id": 1,
            "purchase_order_id": None,
        },
        {
            "transaction_id": 2,
            "transaction_type": "PURCHASE",
            "sales_order_id": None,
            "purchase_order_id": 1,
        },
    ],
    "fact_sales_order": [
        sales(1, "2024-11-14 09:12:30.001", "2024-11-14 09:12:30.001"),
        sales(
            2,
            "2024-11-15 14:30:00.500",
            "2024-11-15 14:30:00.500",
            sales_staff_id=2,
            counterparty_id=2,
            units_sold=47839,
            unit_price=Decimal("99999999.99"),
            currency_id=2,
            design_id=2,
            agreed_payment_date=d("2024-12-31"),
            agreed_delivery_date=d("2024-12-01"),
            agreed_delivery_location_id=2,
        ),
    ],
    "fact_purchase_order": [
        {
            "purchase_order_id": 1,
            **_when("2024-11-14 10:00:00.000", "2024-11-14 10:00:00.000"),
            "staff_id": 1,
            "counterparty_id": 2,
            "item_code": "ZDOI5EA",
            "item_quantity": 371,
            "item_unit_price": Decimal("361.39"),
            "currency_id": 1,
            "agreed_delivery_date": d("2024-11-19"),
            "agreed_payment_date": d("2024-11-21"),
            "agreed_delivery_location_id": 2,
        }
    ],
    "fact_payment": [
        {
            "payment_id": 1,
            **_when("2024-11-14 09:12:30.001", "2024-11-14 09:12:30.001"),
            "transaction_id": 1,
            "counterparty_id": 1,
            "payment_amount": Decimal("250.00"),
            "currency_id": 1,
            "payment_type_id": 1,
            "paid": False,
            "payment_date": d("2024-11-20"),
        },
        {
            "payment_id": 2,
            **_when("2024-11-14 10:00:00.000", "2024-11-14 10:00:00.000"),
            "transaction_id": 2,
            "counterparty_id": 2,
            "payment_amount": Decimal("-0.01"),
            "currency_id": 3,
            "payment_type_id": 3,
            "paid": True,
            "payment_date": d("2024-11-21"),
        },
    ],
}

# ---- batch 2: an amended order, a department move, a new order -----------------------------

ORDER_1_AMENDED = sales(1, "2024-11-14 09:12:30.001", "2024-11-15 14:42:10.250", units_sold=120)
ORDER_3 = sales(
    3,
    "2024-11-15 14:43:00.000",
    "2024-11-15 14:43:00.000",
    sales_staff_id=2,
    unit_price=Decimal("3.05"),
)

BATCH_2: dict[str, list[dict[str, Any]]] = {
    # staff 1 is re-delivered unchanged next to the real change: it must not be rewritten
    "dim_staff": [STAFF_1, STAFF_2_MOVED],
    "dim_transaction": [
        {
            "transaction_id": 3,
            "transaction_type": "SALE",
            "sales_order_id": 3,
            "purchase_order_id": None,
        }
    ],
    "fact_sales_order": [ORDER_1_AMENDED, ORDER_3],
    "fact_payment": [
        {
            "payment_id": 3,
            **_when("2024-11-15 14:43:00.000", "2024-11-15 14:43:00.000"),
            "transaction_id": 3,
            "counterparty_id": 1,
            "payment_amount": Decimal("305.00"),
            "currency_id": 1,
            "payment_type_id": 1,
            "paid": False,
            "payment_date": d("2024-11-20"),
        }
    ],
}

# ---- batch 3: one more new order (for "two pending batches") ------------------------------

ORDER_4 = sales(4, "2024-11-15 14:46:00.000", "2024-11-15 14:46:00.000", units_sold=7)
BATCH_3: dict[str, list[dict[str, Any]]] = {"fact_sales_order": [ORDER_4]}


# ---- writing --------------------------------------------------------------------------------


def parquet_bytes(table: str, rows: list[dict[str, Any]]) -> bytes:
    """Rows as one snappy Parquet file in the star table's Spark types."""
    schema = pa.schema(SCHEMAS[table])
    arrow = pa.Table.from_pylist(rows, schema=schema)
    buffer = io.BytesIO()
    pq.write_table(arrow, buffer, compression="snappy")
    return buffer.getvalue()


def write_batch(
    s3: Any,
    bucket: str,
    pid: str,
    tables: dict[str, list[dict[str, Any]]],
    *,
    empty: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Write a processed batch (objects, then the manifest last); returns the manifest.

    `empty` names tables listed in the manifest with no rows and no objects.
    """
    entries: dict[str, Any] = {}
    for table, rows in tables.items():
        if table.startswith("dim_"):
            snapshot = f"{table}/snapshot={pid}/part-00000-{pid}.snappy.parquet"
            changes = f"_changes/{table}/batch={pid}/part-00000-{pid}.snappy.parquet"
            body = parquet_bytes(table, rows)
            s3.put_object(Bucket=bucket, Key=snapshot, Body=body)
            s3.put_object(Bucket=bucket, Key=changes, Body=body)
            entries[table] = {
                "kind": "dimension",
                "location": f"{table}/snapshot={pid}/",
                "rows": len(rows),
                "objects": [snapshot],
                "changed_rows": len(rows),
                "changed_objects": [changes],
            }
        else:
            by_month: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for row in rows:
                by_month[row["created_date"].strftime("%Y-%m")].append(row)
            objects = []
            for month in sorted(by_month):
                key = f"{table}/created_month={month}/batch-{pid}-00000.snappy.parquet"
                body = parquet_bytes(table, by_month[month])
                s3.put_object(Bucket=bucket, Key=key, Body=body)
                objects.append(
                    {
                        "key": key,
                        "partition": {"created_month": month},
                        "rows": len(by_month[month]),
                    }
                )
            entries[table] = {
                "kind": "fact",
                "location": f"{table}/",
                "rows": len(rows),
                "partition_keys": ["created_month"],
                "objects": objects,
            }
    for table in empty:
        if table.startswith("dim_"):
            entries[table] = {
                "kind": "dimension",
                "location": f"{table}/snapshot={pid}/",
                "rows": 0,
                "objects": [],
                "changed_rows": 0,
                "changed_objects": [],
            }
        else:
            entries[table] = {
                "kind": "fact",
                "location": f"{table}/",
                "rows": 0,
                "partition_keys": ["created_month"],
                "objects": [],
            }
    manifest = {
        "format_version": 1,
        "kind": "processed",
        "batch_id": pid,
        "ingest_batches": [pid],
        "created_at": "2024-11-15T14:47:00.000000+00:00",
        "state": {},
        "date_range": {"min": "2024-11-01", "max": "2024-12-31"},
        "tables": entries,
        "quarantine": {},
        "warnings": {},
    }
    put_manifest(s3, bucket, pid, manifest)
    return manifest


def put_manifest(s3: Any, bucket: str, pid: str, manifest: dict[str, Any]) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=f"_manifests/{pid}.json",
        Body=json.dumps(manifest, sort_keys=True).encode(),
        ContentType="application/json",
    )


# ---- reading back and expectations ----------------------------------------------------------


def as_warehouse(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A lake row as Postgres returns it: `*_time` strings become datetime.time."""
    return {
        k: dt.time.fromisoformat(v) if k.endswith("_time") and isinstance(v, str) else v
        for k, v in row.items()
    }


def expected(table: str, *batches: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Warehouse contents after loading `batches`: dims latest per id, facts every version."""
    key = KEYS[table]
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for batch in batches:
        for row in batch.get(table, []):
            converted = as_warehouse(table, row)
            merged[tuple(converted[k] for k in key)] = converted
    return [merged[k] for k in sorted(merged)]


def read_table(conn: Any, table: str) -> list[dict[str, Any]]:
    """A star table's rows (without the serial record id), ordered by its key."""
    names = [name for name, _ in SCHEMAS[table]]
    columns = ", ".join(f'"{n}"' for n in names)
    rows = [
        dict(zip(names, row, strict=True)) for row in conn.run(f'SELECT {columns} FROM "{table}"')
    ]
    return sorted(rows, key=lambda row: tuple(row[k] for k in KEYS[table]))


def read_all(conn: Any) -> dict[str, list[dict[str, Any]]]:
    return {table: read_table(conn, table) for table in TABLES}


def row_counts(conn: Any) -> dict[str, int]:
    return {t: conn.run(f'SELECT count(*) FROM "{t}"')[0][0] for t in (*TABLES, "etl_loaded_batch")}

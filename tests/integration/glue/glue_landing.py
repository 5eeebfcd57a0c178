"""Landed ingest batches written by hand, per docs/contracts.md section 1 (CSV.gz + manifest).

Stands in for ingest_fn in the Glue job's own tests: the rows are hand-written and are also
what the tests expect to find in the star tables. The CSV is encoded as Postgres COPY
(FORMAT csv, HEADER) writes it: NULL is an unquoted empty field, the empty string is `""`.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

TS = ("timestamp without time zone", "timestamp")
INT = ("integer", "int4")
TEXT = ("text", "text")
MONEY = ("numeric", "numeric")
BOOL = ("boolean", "bool")


def _columns(*spec: tuple[str, tuple[str, str], bool]) -> list[dict[str, Any]]:
    columns = []
    for name, (data_type, udt), nullable in spec:
        precision, scale = (10, 2) if data_type == "numeric" else (None, None)
        if data_type == "integer":
            precision, scale = 32, 0
        columns.append(
            {
                "name": name,
                "data_type": data_type,
                "udt_name": udt,
                "nullable": nullable,
                "numeric_precision": precision,
                "numeric_scale": scale,
            }
        )
    return columns


# What information_schema.columns says about local/totesys/schema.sql, in ordinal order.
COLUMNS: dict[str, list[dict[str, Any]]] = {
    "address": _columns(
        ("address_id", INT, False),
        ("address_line_1", TEXT, False),
        ("address_line_2", TEXT, True),
        ("district", TEXT, True),
        ("city", TEXT, False),
        ("postal_code", TEXT, False),
        ("country", TEXT, False),
        ("phone", TEXT, False),
        ("created_at", TS, False),
        ("last_updated", TS, False),
    ),
    "counterparty": _columns(
        ("counterparty_id", INT, False),
        ("counterparty_legal_name", TEXT, False),
        ("legal_address_id", INT, False),
        ("commercial_contact", TEXT, True),
        ("delivery_contact", TEXT, True),
        ("created_at", TS, False),
        ("last_updated", TS, False),
    ),
    "currency": _columns(
        ("currency_id", INT, False),
        ("currency_code", ("character varying", "varchar"), False),
        ("created_at", TS, False),
        ("last_updated", TS, False),
    ),
    "department": _columns(
        ("department_id", INT, False),
        ("department_name", TEXT, False),
        ("location", TEXT, True),
        ("manager", TEXT, True),
        ("created_at", TS, False),
        ("last_updated", TS, False),
    ),
    "design": _columns(
        ("design_id", INT, False),
        ("design_name", TEXT, False),
        ("file_location", TEXT, False),
        ("file_name", TEXT, False),
        ("created_at", TS, False),
        ("last_updated", TS, False),
    ),
    "payment_type": _columns(
        ("payment_type_id", INT, False),
        ("payment_type_name", ("USER-DEFINED", "PaymentTypeName"), False),
        ("created_at", TS, False),
        ("last_updated", TS, False),
    ),
    "staff": _columns(
        ("staff_id", INT, False),
        ("first_name", TEXT, False),
        ("last_name", TEXT, False),
        ("department_id", INT, False),
        ("email_address", TEXT, False),
        ("created_at", TS, False),
        ("last_updated", TS, False),
    ),
    "sales_order": _columns(
        ("sales_order_id", INT, False),
        ("created_at", TS, False),
        ("last_updated", TS, False),
        ("design_id", INT, False),
        ("staff_id", INT, False),
        ("counterparty_id", INT, False),
        ("units_sold", INT, False),
        ("unit_price", MONEY, False),
        ("currency_id", INT, False),
        ("agreed_delivery_date", TEXT, False),
        ("agreed_payment_date", TEXT, False),
        ("agreed_delivery_location_id", INT, False),
    ),
    "purchase_order": _columns(
        ("purchase_order_id", INT, False),
        ("created_at", TS, False),
        ("last_updated", TS, False),
        ("staff_id", INT, False),
        ("counterparty_id", INT, False),
        ("item_code", TEXT, False),
        ("item_quantity", INT, False),
        ("item_unit_price", MONEY, False),
        ("currency_id", INT, False),
        ("agreed_delivery_date", TEXT, False),
        ("agreed_payment_date", TEXT, False),
        ("agreed_delivery_location_id", INT, False),
    ),
    "transaction": _columns(
        ("transaction_id", INT, False),
        ("transaction_type", ("USER-DEFINED", "TransactionType"), False),
        ("sales_order_id", INT, True),
        ("purchase_order_id", INT, True),
        ("created_at", TS, False),
        ("last_updated", TS, False),
    ),
    "payment": _columns(
        ("payment_id", INT, False),
        ("created_at", TS, False),
        ("last_updated", TS, False),
        ("transaction_id", INT, False),
        ("counterparty_id", INT, False),
        ("payment_amount", MONEY, False),
        ("currency_id", INT, False),
        ("payment_type_id", INT, False),
        ("paid", BOOL, False),
        ("payment_date", TEXT, False),
        ("company_ac_number", INT, False),
        ("counterparty_ac_number", INT, False),
    ),
}


def copy_csv_field(value: str | None) -> str:
    """One field as Postgres COPY (FORMAT csv) writes it."""
    if value is None:
        return ""
    if value == "" or any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def copy_csv(header: list[str], rows: list[tuple[str | None, ...]]) -> str:
    lines = [",".join(header)]
    lines += [",".join(copy_csv_field(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def write_batch(
    root: Path,
    batch_id: str,
    tables: dict[str, list[tuple[str | None, ...]]],
    part_rows: int = 2,
) -> dict[str, Any]:
    """Write parts (at most `part_rows` rows each), then the manifest; return the manifest."""
    entries: dict[str, Any] = {}
    for table, rows in tables.items():
        columns = COLUMNS[table]
        header = [c["name"] for c in columns]
        parts = []
        for n, start in enumerate(range(0, len(rows), part_rows)):
            chunk = rows[start : start + part_rows]
            assert all(len(r) == len(header) for r in chunk), table
            key = f"{table}/batch={batch_id}/part-{n:05d}.csv.gz"
            body = gzip.compress(copy_csv(header, chunk).encode())
            path = root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
            parts.append({"key": key, "rows": len(chunk), "bytes": len(body)})
        entries[table] = {
            "window": {"lo": None, "hi": "2024-11-15 14:40:00.000000"},
            "primary_key": f"{table}_id",
            "rows": len(rows),
            "bytes": sum(p["bytes"] for p in parts),
            "seconds": 0.01,
            "parts": parts,
            "columns": columns,
        }
    manifest = {
        "format_version": 1,
        "kind": "ingest",
        "batch_id": batch_id,
        "created_at": "2024-11-15T14:41:00.123456+00:00",
        "commit_lag_seconds": 60,
        "hi": "2024-11-15 14:40:00.000000",
        "watermarks": {t: "2024-11-15 14:40:00.000000" for t in COLUMNS},
        "tables": entries,
    }
    path = root / "_manifests" / f"{batch_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=1))
    return manifest

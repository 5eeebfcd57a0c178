"""Helpers for the ingest tests: read what ingest wrote, and what the source holds, as text."""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any

import pg8000.native

from pipeline_common.contracts.keys import INGEST_STATE_KEY as STATE_KEY
from pipeline_common.contracts.keys import MANIFEST_PREFIX

Row = list[str | None]


def parse_copy_csv(data: bytes) -> list[Row]:
    """RFC 4180 rows as Postgres COPY writes them; an unquoted empty field is None (NULL).

    Python 3.11's csv module cannot tell NULL (`,,`) from the empty string (`,"",`), so
    this small parser keeps that difference, and its values are checked against the csv
    module's reading of the same text.
    """
    text = data.decode("utf-8")
    assert text == "" or text.endswith("\n"), "COPY ends every row with a newline"
    rows: list[Row] = []
    row: Row = []
    i = 0
    while i < len(text):
        if text[i] == '"':
            value, i = _quoted(text, i + 1)
            row.append(value)
        else:
            j = i
            while text[j] not in ",\n":
                j += 1
            row.append(text[i:j] or None)
            i = j
        if text[i] == "\n":
            rows.append(row)
            row = []
        elif text[i] != ",":
            raise ValueError(f"unexpected character {text[i]!r} at {i}")
        i += 1
    by_csv_module = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    assert by_csv_module == [[value or "" for value in r] for r in rows]
    return rows


def _quoted(text: str, i: int) -> tuple[str, int]:
    """A quoted field's value from just after its opening quote; returns the index after it."""
    value = []
    while True:
        j = text.index('"', i)
        value.append(text[i:j])
        if text[j + 1 : j + 2] == '"':
            value.append('"')
            i = j + 2
        else:
            return "".join(value), j + 1


def read_part(s3: Any, bucket: str, key: str) -> list[Row]:
    """One part object, gunzipped and parsed (header first)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return parse_copy_csv(gzip.decompress(body))


def read_table(s3: Any, bucket: str, manifest: dict[str, Any], table: str) -> tuple[Row, list[Row]]:
    """Header and data rows of a table in a batch; every part must repeat the same header."""
    header: Row | None = None
    rows: list[Row] = []
    for part in manifest["tables"][table]["parts"]:
        part_rows = read_part(s3, bucket, part["key"])
        if header is None:
            header = part_rows[0]
        assert part_rows[0] == header
        assert len(part_rows) - 1 == part["rows"]
        rows.extend(part_rows[1:])
    assert header is not None
    return header, rows


def read_json_object(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def all_keys(s3: Any, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return sorted(keys)


def manifests(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """Every manifest in the bucket, oldest first."""
    keys = [key for key in all_keys(s3, bucket) if key.startswith(MANIFEST_PREFIX)]
    return [read_json_object(s3, bucket, key) for key in keys]


def state(s3: Any, bucket: str) -> dict[str, Any] | None:
    if STATE_KEY not in all_keys(s3, bucket):
        return None
    return read_json_object(s3, bucket, STATE_KEY)


def column_names(conn: pg8000.native.Connection, table: str) -> list[str]:
    rows = conn.run(
        "SELECT column_name::text FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = :t ORDER BY ordinal_position",
        t=table,
    )
    return [r[0] for r in rows]


def source_rows(
    conn: pg8000.native.Connection,
    table: str,
    *,
    lo: str | None = None,
    hi: str | None = None,
) -> list[Row]:
    """The source's rows as Postgres prints them (`::text`), ordered by `<table>_id`.

    Booleans print as `true`/`false` through `::text` but as `t`/`f` in COPY's output, so
    boolean columns are mapped; everything else is Postgres's own text form.
    """
    names = column_names(conn, table)
    types = dict(
        conn.run(
            "SELECT column_name::text, data_type::text FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = :t",
            t=table,
        )
    )
    select = ", ".join(f'"{name}"::text' for name in names)
    where, params = [], {}
    if lo is not None:
        where.append("last_updated >= CAST(:lo AS timestamp)")
        params["lo"] = lo
    if hi is not None:
        where.append("last_updated < CAST(:hi AS timestamp)")
        params["hi"] = hi
    sql = f'SELECT {select} FROM "{table}"'
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f' ORDER BY "{table}"."{table}_id"'  # the column, not the ::text output of it
    rows = conn.run(sql, **params)
    bools = {i for i, name in enumerate(names) if types[name] == "boolean"}
    mapped = {"true": "t", "false": "f", None: None}
    return [[mapped[v] if i in bools else v for i, v in enumerate(row)] for row in rows]


def ids(rows: list[Row]) -> list[int]:
    """The ids of rows (every ToteSys table's primary key is its first column)."""
    return [int(row[0]) for row in rows if row[0] is not None]


NOW_UTC = "(now() AT TIME ZONE 'UTC')"


def change_rows(conn: pg8000.native.Connection, n: int = 1) -> dict[str, list[int]]:
    """Insert and update rows as ToteSys does (last_updated = now()); returns ids per table.

    Round `n` inserts one sale (sales_order, transaction, payment) and updates address `n`
    and payment `n` (marks it paid).
    """
    [[order_id]] = conn.run(
        "INSERT INTO sales_order (created_at, last_updated, design_id, staff_id, "
        "counterparty_id, units_sold, unit_price, currency_id, agreed_delivery_date, "
        f"agreed_payment_date, agreed_delivery_location_id) VALUES ({NOW_UTC}, {NOW_UTC}, "
        "1, 1, 1, :units, 2.75, 1, '2024-12-01', '2024-12-02', 1) RETURNING sales_order_id",
        units=100 + n,
    )
    [[transaction_id]] = conn.run(
        'INSERT INTO "transaction" (transaction_type, sales_order_id, created_at, '
        f"last_updated) VALUES ('SALE', :o, {NOW_UTC}, {NOW_UTC}) RETURNING transaction_id",
        o=order_id,
    )
    [[payment_id]] = conn.run(
        "INSERT INTO payment (created_at, last_updated, transaction_id, counterparty_id, "
        "payment_amount, currency_id, payment_type_id, paid, payment_date, "
        f"company_ac_number, counterparty_ac_number) VALUES ({NOW_UTC}, {NOW_UTC}, :t, 1, "
        "275.00, 1, 1, false, '2024-12-02', 1, 2) RETURNING payment_id",
        t=transaction_id,
    )
    conn.run(
        f"UPDATE address SET phone = :p, last_updated = {NOW_UTC} WHERE address_id = :id",
        p=f"0{n} 1234",
        id=n,
    )
    conn.run(
        f"UPDATE payment SET paid = true, last_updated = {NOW_UTC} WHERE payment_id = :id",
        id=n,
    )
    return {
        "sales_order": [order_id],
        "transaction": [transaction_id],
        "payment": sorted({n, payment_id}),
        "address": [n],
    }

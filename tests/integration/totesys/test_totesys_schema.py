"""The created schema matches issue 2's list column by column, read back from pg_catalog."""

from __future__ import annotations

import pytest

from local.totesys import create_schema
from local.totesys.exceptions import SchemaExistsError

TS = "timestamp(3) without time zone"
ID = "integer"
STAMPS = [("created_at", TS, True), ("last_updated", TS, True)]

# (column, type as format_type prints it, NOT NULL), in table order, from issue 2.
EXPECTED_COLUMNS: dict[str, list[tuple[str, str, bool]]] = {
    "address": [
        ("address_id", ID, True),
        ("address_line_1", "text", True),
        ("address_line_2", "text", False),
        ("district", "text", False),
        ("city", "text", True),
        ("postal_code", "text", True),
        ("country", "text", True),
        ("phone", "text", True),
        *STAMPS,
    ],
    "counterparty": [
        ("counterparty_id", ID, True),
        ("counterparty_legal_name", "text", True),
        ("legal_address_id", ID, True),
        ("commercial_contact", "text", False),
        ("delivery_contact", "text", False),
        *STAMPS,
    ],
    "currency": [
        ("currency_id", ID, True),
        ("currency_code", "character varying(3)", True),
        *STAMPS,
    ],
    "department": [
        ("department_id", ID, True),
        ("department_name", "text", True),
        ("location", "text", False),
        ("manager", "text", False),
        *STAMPS,
    ],
    "design": [
        ("design_id", ID, True),
        ("design_name", "text", True),
        ("file_location", "text", True),
        ("file_name", "text", True),
        *STAMPS,
    ],
    "payment_type": [
        ("payment_type_id", ID, True),
        ("payment_type_name", '"PaymentTypeName"', True),
        *STAMPS,
    ],
    "staff": [
        ("staff_id", ID, True),
        ("first_name", "text", True),
        ("last_name", "text", True),
        ("department_id", ID, True),
        ("email_address", "text", True),
        *STAMPS,
    ],
    "sales_order": [
        ("sales_order_id", ID, True),
        *STAMPS,
        ("design_id", ID, True),
        ("staff_id", ID, True),
        ("counterparty_id", ID, True),
        ("units_sold", ID, True),
        ("unit_price", "numeric(10,2)", True),
        ("currency_id", ID, True),
        ("agreed_delivery_date", "text", True),
        ("agreed_payment_date", "text", True),
        ("agreed_delivery_location_id", ID, True),
    ],
    "purchase_order": [
        ("purchase_order_id", ID, True),
        *STAMPS,
        ("staff_id", ID, True),
        ("counterparty_id", ID, True),
        ("item_code", "text", True),
        ("item_quantity", ID, True),
        ("item_unit_price", "numeric(10,2)", True),
        ("currency_id", ID, True),
        ("agreed_delivery_date", "text", True),
        ("agreed_payment_date", "text", True),
        ("agreed_delivery_location_id", ID, True),
    ],
    "transaction": [
        ("transaction_id", ID, True),
        ("transaction_type", '"TransactionType"', True),
        ("sales_order_id", ID, False),
        ("purchase_order_id", ID, False),
        *STAMPS,
    ],
    "payment": [
        ("payment_id", ID, True),
        *STAMPS,
        ("transaction_id", ID, True),
        ("counterparty_id", ID, True),
        ("payment_amount", "numeric(10,2)", True),
        ("currency_id", ID, True),
        ("payment_type_id", ID, True),
        ("paid", "boolean", True),
        ("payment_date", "text", True),
        ("company_ac_number", ID, True),
        ("counterparty_ac_number", ID, True),
    ],
}

# (table, column) -> (referenced table, referenced column)
EXPECTED_FOREIGN_KEYS = {
    ("counterparty", "legal_address_id"): ("address", "address_id"),
    ("staff", "department_id"): ("department", "department_id"),
    ("sales_order", "design_id"): ("design", "design_id"),
    ("sales_order", "staff_id"): ("staff", "staff_id"),
    ("sales_order", "counterparty_id"): ("counterparty", "counterparty_id"),
    ("sales_order", "currency_id"): ("currency", "currency_id"),
    ("sales_order", "agreed_delivery_location_id"): ("address", "address_id"),
    ("purchase_order", "staff_id"): ("staff", "staff_id"),
    ("purchase_order", "counterparty_id"): ("counterparty", "counterparty_id"),
    ("purchase_order", "currency_id"): ("currency", "currency_id"),
    ("purchase_order", "agreed_delivery_location_id"): ("address", "address_id"),
    ("transaction", "sales_order_id"): ("sales_order", "sales_order_id"),
    ("transaction", "purchase_order_id"): ("purchase_order", "purchase_order_id"),
    ("payment", "transaction_id"): ("transaction", "transaction_id"),
    ("payment", "counterparty_id"): ("counterparty", "counterparty_id"),
    ("payment", "currency_id"): ("currency", "currency_id"),
    ("payment", "payment_type_id"): ("payment_type", "payment_type_id"),
}
EXPECTED_UNIQUE = {
    ("transaction", "sales_order_id"),
    ("transaction", "purchase_order_id"),
    ("payment", "transaction_id"),
}


@pytest.fixture(scope="module")
def schema(pg_server):
    """A database holding only the created schema, read-only for this module."""
    name = pg_server.create_database("schema")
    conn = pg_server.connect(name)
    try:
        create_schema(conn)
        yield conn
    finally:
        conn.close()
        pg_server.drop_database(name)


def _columns(conn, table):
    return [
        (name, type_, notnull)
        for name, type_, notnull in conn.run(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
            "FROM pg_attribute a WHERE a.attrelid = CAST(:t AS regclass) "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            t=f'public."{table}"',
        )
    ]


def _constraint_columns(conn, kind):
    rows = conn.run(
        "SELECT c.conrelid::regclass::text, a.attname, "
        "c.confrelid::regclass::text, fa.attname "
        "FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
        "LEFT JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = ANY(c.confkey) "
        "WHERE c.contype = :kind AND c.connamespace = 'public'::regnamespace",
        kind=kind,
    )
    return [(t.strip('"'), col, (ft or "").strip('"'), fcol) for t, col, ft, fcol in rows]


def test_every_table_has_the_listed_columns_types_and_nullability(schema):
    for table, expected in EXPECTED_COLUMNS.items():
        assert _columns(schema, table) == expected, table


def test_every_table_has_its_id_as_primary_key_from_a_sequence(schema):
    keys = {(t, c) for t, c, _, _ in _constraint_columns(schema, "p")}
    assert keys == {(t, f"{t}_id") for t in EXPECTED_COLUMNS} | {("_prisma_migrations", "id")}
    for table in EXPECTED_COLUMNS:
        default = schema.run(
            "SELECT column_default FROM information_schema.columns "
            "WHERE table_name = :t AND column_name = :c",
            t=table,
            c=f"{table}_id",
        )[0][0]
        assert default.startswith("nextval("), table
        created_default = schema.run(
            "SELECT column_default FROM information_schema.columns "
            "WHERE table_name = :t AND column_name = 'created_at'",
            t=table,
        )[0][0]
        assert created_default == "now()", table


def test_foreign_keys_are_exactly_the_listed_ones(schema):
    keys = {(t, c): (ft, fc) for t, c, ft, fc in _constraint_columns(schema, "f")}
    assert keys == EXPECTED_FOREIGN_KEYS


def test_unique_constraints_are_the_one_to_one_links(schema):
    assert {(t, c) for t, c, _, _ in _constraint_columns(schema, "u")} == EXPECTED_UNIQUE


def test_enums_have_the_listed_labels_in_order(schema):
    rows = schema.run(
        "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) "
        "FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid GROUP BY t.typname"
    )
    assert dict((name, labels) for name, labels in rows) == {
        "PaymentTypeName": [
            "SALES_RECEIPT",
            "SALES_REFUND",
            "PURCHASE_PAYMENT",
            "PURCHASE_REFUND",
        ],
        "TransactionType": ["SALE", "PURCHASE"],
    }


def test_an_unrelated_prisma_table_exists_beside_the_eleven(schema):
    tables = {
        row[0]
        for row in schema.run(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    }
    assert tables == set(EXPECTED_COLUMNS) | {"_prisma_migrations"}


def test_create_refuses_a_database_that_already_has_the_tables(schema):
    with pytest.raises(SchemaExistsError, match="ToteSys tables already exist: address, "):
        create_schema(schema)

"""The oracle: the expected star schema computed straight from ToteSys with SQL.

Independent of the project's transform code on purpose: if the Glue job or the loader get a
join, a type or a history rule wrong, the two disagree. Every value is compared as text in
one canonical form (dates 'YYYY-MM-DD', times 'HH24:MI:SS.MS', numerics as Postgres prints
numeric(10,2), NULL as None).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pg8000.native

# The three currencies ToteSys uses, named as ISO 4217 names them (an independent list).
ISO_NAMES = {"GBP": "Pound Sterling", "USD": "US Dollar", "EUR": "Euro"}

_T = "to_char({c}, 'HH24:MI:SS.MS')"
_D = "({c})::date::text"


def _ts_parts(col: str) -> str:
    return f"{_D.format(c=col)}, {_T.format(c=col)}"


EXPECTED_DIMENSIONS: dict[str, str] = {
    "dim_staff": """
        SELECT s.staff_id::text, s.first_name, s.last_name, d.department_name, d.location,
               s.email_address
        FROM staff s JOIN department d USING (department_id)""",
    "dim_location": """
        SELECT address_id::text, address_line_1, address_line_2, district, city,
               postal_code, country, phone
        FROM address""",
    "dim_design": """
        SELECT design_id::text, design_name, file_location, file_name FROM design""",
    "dim_currency": """
        SELECT currency_id::text, currency_code, NULL FROM currency""",
    "dim_counterparty": """
        SELECT c.counterparty_id::text, c.counterparty_legal_name, a.address_line_1,
               a.address_line_2, a.district, a.city, a.postal_code, a.country, a.phone
        FROM counterparty c JOIN address a ON a.address_id = c.legal_address_id""",
    "dim_payment_type": """
        SELECT payment_type_id::text, payment_type_name::text FROM payment_type""",
    "dim_transaction": """
        SELECT transaction_id::text, transaction_type::text, sales_order_id::text,
               purchase_order_id::text
        FROM "transaction" """,
}

WAREHOUSE_DIMENSIONS: dict[str, str] = {
    "dim_staff": """SELECT staff_id::text, first_name, last_name, department_name, location,
                           email_address FROM dim_staff""",
    "dim_location": """SELECT location_id::text, address_line_1, address_line_2, district,
                              city, postal_code, country, phone FROM dim_location""",
    "dim_design": """SELECT design_id::text, design_name, file_location, file_name
                     FROM dim_design""",
    "dim_currency": """SELECT currency_id::text, currency_code, currency_name
                       FROM dim_currency""",
    "dim_counterparty": """SELECT counterparty_id::text, counterparty_legal_name,
                counterparty_legal_address_line_1, counterparty_legal_address_line_2,
                counterparty_legal_district, counterparty_legal_city,
                counterparty_legal_postal_code, counterparty_legal_country,
                counterparty_legal_phone_number FROM dim_counterparty""",
    "dim_payment_type": """SELECT payment_type_id::text, payment_type_name
                           FROM dim_payment_type""",
    "dim_transaction": """SELECT transaction_id::text, transaction_type,
                                 sales_order_id::text, purchase_order_id::text
                          FROM dim_transaction""",
}

SOURCE_FACT_VERSIONS: dict[str, str] = {
    "fact_sales_order": f"""
        SELECT sales_order_id::text, {_ts_parts("created_at")}, {_ts_parts("last_updated")},
               staff_id::text, counterparty_id::text, units_sold::text, unit_price::text,
               currency_id::text, design_id::text, agreed_payment_date::date::text,
               agreed_delivery_date::date::text, agreed_delivery_location_id::text
        FROM sales_order""",
    "fact_purchase_order": f"""
        SELECT purchase_order_id::text, {_ts_parts("created_at")},
               {_ts_parts("last_updated")}, staff_id::text, counterparty_id::text, item_code,
               item_quantity::text, item_unit_price::text, currency_id::text,
               agreed_delivery_date::date::text, agreed_payment_date::date::text,
               agreed_delivery_location_id::text
        FROM purchase_order""",
    "fact_payment": f"""
        SELECT payment_id::text, {_ts_parts("created_at")}, {_ts_parts("last_updated")},
               transaction_id::text, counterparty_id::text, payment_amount::text,
               currency_id::text, payment_type_id::text, paid::text,
               payment_date::date::text
        FROM payment""",
}

WAREHOUSE_FACTS: dict[str, str] = {
    "fact_sales_order": f"""
        SELECT sales_order_id::text, created_date::text, {_T.format(c="created_time")},
               last_updated_date::text, {_T.format(c="last_updated_time")},
               sales_staff_id::text, counterparty_id::text, units_sold::text,
               unit_price::text, currency_id::text, design_id::text,
               agreed_payment_date::text, agreed_delivery_date::text,
               agreed_delivery_location_id::text
        FROM fact_sales_order""",
    "fact_purchase_order": f"""
        SELECT purchase_order_id::text, created_date::text, {_T.format(c="created_time")},
               last_updated_date::text, {_T.format(c="last_updated_time")}, staff_id::text,
               counterparty_id::text, item_code, item_quantity::text,
               item_unit_price::text, currency_id::text, agreed_delivery_date::text,
               agreed_payment_date::text, agreed_delivery_location_id::text
        FROM fact_purchase_order""",
    "fact_payment": f"""
        SELECT payment_id::text, created_date::text, {_T.format(c="created_time")},
               last_updated_date::text, {_T.format(c="last_updated_time")},
               transaction_id::text, counterparty_id::text, payment_amount::text,
               currency_id::text, payment_type_id::text, paid::text, payment_date::text
        FROM fact_payment""",
}

# Every date column of every fact, for the dim_date check.
FACT_DATES: dict[str, tuple[str, ...]] = {
    "fact_sales_order": (
        "created_date",
        "last_updated_date",
        "agreed_payment_date",
        "agreed_delivery_date",
    ),
    "fact_purchase_order": (
        "created_date",
        "last_updated_date",
        "agreed_payment_date",
        "agreed_delivery_date",
    ),
    "fact_payment": ("created_date", "last_updated_date", "payment_date"),
}


def _rows(conn: pg8000.native.Connection, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.run(sql)]


def expected_dimensions(source: pg8000.native.Connection) -> dict[str, set[tuple[Any, ...]]]:
    """Each dimension as the source says it should be now."""
    expected = {name: set(_rows(source, sql)) for name, sql in EXPECTED_DIMENSIONS.items()}
    expected["dim_currency"] = {
        (cid, code, ISO_NAMES.get(code)) for cid, code, _ in expected["dim_currency"]
    }
    return expected


def warehouse_dimensions(warehouse: pg8000.native.Connection) -> dict[str, set[tuple[Any, ...]]]:
    return {name: set(_rows(warehouse, sql)) for name, sql in WAREHOUSE_DIMENSIONS.items()}


def source_fact_versions(source: pg8000.native.Connection) -> dict[str, set[tuple[Any, ...]]]:
    """The (id, last_updated) versions of fact source rows the source shows right now."""
    return {name: set(_rows(source, sql)) for name, sql in SOURCE_FACT_VERSIONS.items()}


def warehouse_facts(warehouse: pg8000.native.Connection) -> dict[str, Counter[tuple[Any, ...]]]:
    """Facts as multisets of their columns, without the serial record id."""
    return {name: Counter(_rows(warehouse, sql)) for name, sql in WAREHOUSE_FACTS.items()}


@dataclass
class Oracle:
    """Remembers every fact version the source has shown across cycles."""

    versions: dict[str, set[tuple[Any, ...]]] = field(
        default_factory=lambda: {name: set() for name in SOURCE_FACT_VERSIONS}
    )

    def observe(self, source: pg8000.native.Connection) -> None:
        """Record the source's current versions (call right after each pipeline cycle)."""
        for name, rows in source_fact_versions(source).items():
            self.versions[name] |= rows

    def differences(
        self, source: pg8000.native.Connection, warehouse: pg8000.native.Connection
    ) -> list[str]:
        """Human-readable differences between the warehouse and the oracle (empty = equal)."""
        problems: list[str] = []
        want_dims = expected_dimensions(source)
        have_dims = warehouse_dimensions(warehouse)
        for name, want in want_dims.items():
            have = have_dims[name]
            if want != have:
                missing = sorted(want - have)[:3]
                extra = sorted(have - want)[:3]
                problems.append(f"{name}: missing {missing} extra {extra}")
        for name, have_counter in warehouse_facts(warehouse).items():
            doubled = [row for row, n in have_counter.items() if n > 1][:3]
            if doubled:
                problems.append(f"{name}: duplicated records {doubled}")
            want = self.versions[name]
            have = set(have_counter)
            if want != have:
                problems.append(
                    f"{name}: missing {sorted(want - have)[:3]} extra {sorted(have - want)[:3]}"
                )
        problems.extend(_dim_date_problems(warehouse))
        return problems


def _dim_date_problems(warehouse: pg8000.native.Connection) -> list[str]:
    """Every date a fact references is in dim_date, with ISO attributes computed here."""
    problems: list[str] = []
    for fact, columns in FACT_DATES.items():
        for column in columns:
            missing = warehouse.run(
                f"SELECT count(*) FROM {fact} f LEFT JOIN dim_date d ON d.date_id = f.{column} "
                f"WHERE f.{column} IS NOT NULL AND d.date_id IS NULL"
            )[0][0]
            if missing:
                problems.append(f"dim_date lacks {missing} dates of {fact}.{column}")
    wrong = warehouse.run(
        """SELECT count(*) FROM dim_date WHERE
             year <> extract(year FROM date_id) OR month <> extract(month FROM date_id)
             OR day <> extract(day FROM date_id) OR day_of_week <> extract(isodow FROM date_id)
             OR day_name <> trim(to_char(date_id, 'Day'))
             OR month_name <> trim(to_char(date_id, 'Month'))
             OR quarter <> extract(quarter FROM date_id)"""
    )[0][0]
    if wrong:
        problems.append(f"dim_date has {wrong} rows with wrong attributes")
    return problems

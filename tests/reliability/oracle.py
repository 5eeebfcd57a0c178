"""The oracle: the expected star schema computed straight from ToteSys with SQL.

Independent of the project's transform code on purpose: if the Glue job or the loader get a
join, a type, a validation or a history rule wrong, the two disagree. Every value is
compared as text in one canonical form (dates 'YYYY-MM-DD', times 'HH24:MI:SS.MS', numerics
as Postgres prints numeric(10,2), booleans 'true'/'false', NULL as None).

What the pipeline can have seen is bounded by the newest committed ingest batch's `hi`: a
row whose `last_updated` is at or after it has not been extracted yet (a far-future
timestamp stays beyond every `hi` until its time comes). So the oracle observes the source
"as of hi" after every cycle:
- facts: every (id, last_updated) version with last_updated < hi joins the expected set
  (the set only grows: the warehouse keeps history);
- dimensions: every row whose own last_updated < hi replaces the expected row of its id
  (a row edited to a future timestamp keeps the values observed before);
- fact versions that break the contract (a NULL where the ToteSys schema of record forbids
  one, a text date that is not an ISO date, a negative quantity or price) are expected in
  quarantine, not in the warehouse.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pg8000.native

# The currencies ToteSys uses, named as ISO 4217 names them (an independent list). A code
# outside it is expected with a NULL name (tests use codes ISO 4217 does not assign).
ISO_NAMES = {"GBP": "Pound Sterling", "USD": "US Dollar", "EUR": "Euro"}

_T = "to_char({c}, 'HH24:MI:SS.MS')"
_D = "({c})::date::text"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Every timestamp compares with `hi` as ingest does: last_updated < hi (window [lo, hi)).
_BEFORE_HI = "last_updated < CAST(:hi AS timestamp)"


def _ts_parts(col: str) -> str:
    return f"{_D.format(c=col)}, {_T.format(c=col)}"


# Each dimension's rows as the design defines them, filtered to what ingest has seen.
EXPECTED_DIMENSIONS: dict[str, str] = {
    "dim_staff": f"""
        SELECT s.staff_id::text, s.first_name, s.last_name, d.department_name, d.location,
               s.email_address
        FROM staff s LEFT JOIN department d ON d.department_id = s.department_id
        WHERE s.{_BEFORE_HI}""",
    "dim_location": f"""
        SELECT address_id::text, address_line_1, address_line_2, district, city,
               postal_code, country, phone
        FROM address WHERE {_BEFORE_HI}""",
    "dim_design": f"""
        SELECT design_id::text, design_name, file_location, file_name FROM design
        WHERE {_BEFORE_HI}""",
    "dim_currency": f"""
        SELECT currency_id::text, currency_code, NULL FROM currency WHERE {_BEFORE_HI}""",
    "dim_counterparty": f"""
        SELECT c.counterparty_id::text, c.counterparty_legal_name, a.address_line_1,
               a.address_line_2, a.district, a.city, a.postal_code, a.country, a.phone
        FROM counterparty c LEFT JOIN address a ON a.address_id = c.legal_address_id
        WHERE c.{_BEFORE_HI}""",
    "dim_payment_type": f"""
        SELECT payment_type_id::text, payment_type_name::text FROM payment_type
        WHERE {_BEFORE_HI}""",
    "dim_transaction": f"""
        SELECT transaction_id::text, transaction_type::text, sales_order_id::text,
               purchase_order_id::text
        FROM "transaction" WHERE {_BEFORE_HI}""",
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


@dataclass(frozen=True)
class FactSource:
    """How one fact's rows come out of its source table, and the contract they must meet."""

    table: str
    select: str
    # Positions (in the select) of text dates, and of values that must not be negative.
    text_dates: tuple[int, ...]
    non_negative: tuple[int, ...]


# Columns in the fact's column order; positions 0 and 3-4 are the id and last_updated.
FACT_SOURCES: dict[str, FactSource] = {
    "fact_sales_order": FactSource(
        "sales_order",
        f"""SELECT sales_order_id::text, {_ts_parts("created_at")},
                   {_ts_parts("last_updated")}, staff_id::text, counterparty_id::text,
                   units_sold::text, unit_price::text, currency_id::text, design_id::text,
                   agreed_payment_date, agreed_delivery_date,
                   agreed_delivery_location_id::text,
                   to_char(last_updated, 'YYYY-MM-DD HH24:MI:SS.MS')
            FROM sales_order WHERE {_BEFORE_HI}""",
        text_dates=(11, 12),
        non_negative=(7, 8),
    ),
    "fact_purchase_order": FactSource(
        "purchase_order",
        f"""SELECT purchase_order_id::text, {_ts_parts("created_at")},
                   {_ts_parts("last_updated")}, staff_id::text, counterparty_id::text,
                   item_code, item_quantity::text, item_unit_price::text, currency_id::text,
                   agreed_delivery_date, agreed_payment_date,
                   agreed_delivery_location_id::text,
                   to_char(last_updated, 'YYYY-MM-DD HH24:MI:SS.MS')
            FROM purchase_order WHERE {_BEFORE_HI}""",
        text_dates=(11, 12),
        non_negative=(8, 9),
    ),
    "fact_payment": FactSource(
        "payment",
        f"""SELECT payment_id::text, {_ts_parts("created_at")}, {_ts_parts("last_updated")},
                   transaction_id::text, counterparty_id::text, payment_amount::text,
                   currency_id::text, payment_type_id::text, paid::text, payment_date,
                   to_char(last_updated, 'YYYY-MM-DD HH24:MI:SS.MS')
            FROM payment WHERE {_BEFORE_HI}""",
        text_dates=(11,),
        non_negative=(),
    ),
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


def iso_date(text: str | None) -> str | None:
    """The text if it is a real calendar date written 'YYYY-MM-DD', else None."""
    if text is None or not _ISO_DATE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        return None


def contract_problem(source: FactSource, row: tuple[Any, ...]) -> str | None:
    """Why a fact source row must be quarantined (None: it must be loaded).

    Every column a fact carries is NOT NULL in the ToteSys schema of record (and in the
    warehouse); text dates must be ISO dates; quantities and prices must not be negative.
    """
    for position in source.text_dates:
        if row[position] is not None and iso_date(row[position]) is None:
            return f"position {position}: not a date"
    if any(value is None for value in row):
        return "null"
    for position in source.non_negative:
        if row[position].startswith("-"):
            return f"position {position}: negative"
    return None


def _rows(conn: pg8000.native.Connection, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.run(sql, **params)]


def warehouse_dimensions(warehouse: pg8000.native.Connection) -> dict[str, set[tuple[Any, ...]]]:
    return {name: set(_rows(warehouse, sql)) for name, sql in WAREHOUSE_DIMENSIONS.items()}


def warehouse_facts(warehouse: pg8000.native.Connection) -> dict[str, Counter[tuple[Any, ...]]]:
    """Facts as multisets of their columns, without the serial record id."""
    return {name: Counter(_rows(warehouse, sql)) for name, sql in WAREHOUSE_FACTS.items()}


@dataclass
class Oracle:
    """Remembers what the source has shown as of each cycle's `hi`."""

    dims: dict[str, dict[str, tuple[Any, ...]]] = field(
        default_factory=lambda: {name: {} for name in EXPECTED_DIMENSIONS}
    )
    versions: dict[str, set[tuple[Any, ...]]] = field(
        default_factory=lambda: {name: set() for name in FACT_SOURCES}
    )
    # Fact source table -> {(id, 'YYYY-MM-DD HH24:MI:SS.MS' last_updated): reason}.
    quarantined: dict[str, dict[tuple[str, str], str]] = field(
        default_factory=lambda: {source.table: {} for source in FACT_SOURCES.values()}
    )

    def observe(self, source: pg8000.native.Connection, hi: str) -> None:
        """Record what the source holds before `hi` (call after every cycle, failed or not)."""
        for name, sql in EXPECTED_DIMENSIONS.items():
            for row in _rows(source, sql, hi=hi):
                if name == "dim_currency":
                    row = (row[0], row[1], ISO_NAMES.get(row[1]))
                self.dims[name][row[0]] = row
        for name, fact in FACT_SOURCES.items():
            for *values, version in _rows(source, fact.select, hi=hi):
                row = tuple(values)
                problem = contract_problem(fact, row)
                if problem is not None:
                    self.quarantined[fact.table][(row[0], version)] = problem
                    continue
                self.versions[name].add(
                    tuple(iso_date(v) if i in fact.text_dates else v for i, v in enumerate(row))
                )

    def differences(self, warehouse: pg8000.native.Connection) -> list[str]:
        """Human-readable differences between the warehouse and the oracle (empty = equal)."""
        problems: list[str] = []
        have_dims = warehouse_dimensions(warehouse)
        for name, by_id in self.dims.items():
            want, have = set(by_id.values()), have_dims[name]
            if want != have:
                missing = sorted(want - have, key=repr)[:3]
                extra = sorted(have - want, key=repr)[:3]
                problems.append(f"{name}: missing {missing} extra {extra}")
        for name, have_counter in warehouse_facts(warehouse).items():
            doubled = [row for row, n in have_counter.items() if n > 1][:3]
            if doubled:
                problems.append(f"{name}: duplicated records {doubled}")
            want = self.versions[name]
            have = set(have_counter)
            if want != have:
                problems.append(
                    f"{name}: missing {sorted(want - have, key=repr)[:3]} "
                    f"extra {sorted(have - want, key=repr)[:3]}"
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

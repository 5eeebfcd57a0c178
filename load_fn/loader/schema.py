"""The star schema as the loader knows it: the allow-list every SQL identifier comes from.

Column order and lake types follow docs/contracts.md section 3; the DDL that creates these
tables lives in loader/sql/ and a test checks the two agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

LakeType = Literal["int", "decimal(10,2)", "date", "time", "string", "boolean"]
"""Lake type of a column; "time" is a string `HH:MM:SS.fff` in the lake (Athena has no time)."""

PG_TYPES: dict[str, str] = {
    "int": "integer",
    "decimal(10,2)": "numeric(10,2)",
    "date": "date",
    "time": "time(3)",
    "string": "text",
    "boolean": "boolean",
}

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Column:
    """One star-table column with its lake type."""

    name: str
    lake_type: LakeType

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.lake_type]


@dataclass(frozen=True)
class StarTable:
    """One star table: dimensions upsert on their id, facts append on their natural key."""

    name: str
    kind: Literal["dimension", "fact"]
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    record_id: str | None = None
    partition_keys: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def value_columns(self) -> tuple[str, ...]:
        """Columns an upsert may change (everything but the key)."""
        return tuple(name for name in self.column_names if name not in self.key)


def _cols(spec: str) -> tuple[Column, ...]:
    """Columns from "name:type name:type ..." (kept compact so the schema reads as a table)."""
    columns = []
    for item in spec.split():
        name, _, lake_type = item.partition(":")
        columns.append(Column(name, lake_type))  # type: ignore[arg-type]
    return tuple(columns)


def _dim(name: str, id_column: str, spec: str) -> StarTable:
    return StarTable(name, "dimension", _cols(f"{id_column}:int {spec}"), (id_column,))


def _fact(name: str, record_id: str, source_id: str, spec: str) -> StarTable:
    columns = _cols(
        f"{source_id}:int created_date:date created_time:time "
        f"last_updated_date:date last_updated_time:time {spec}"
    )
    key = (source_id, "last_updated_date", "last_updated_time")
    return StarTable(name, "fact", columns, key, record_id, ("created_month",))


DIMENSIONS: tuple[StarTable, ...] = (
    StarTable(
        "dim_date",
        "dimension",
        _cols(
            "date_id:date year:int month:int day:int day_of_week:int day_name:string "
            "month_name:string quarter:int"
        ),
        ("date_id",),
    ),
    _dim(
        "dim_staff",
        "staff_id",
        "first_name:string last_name:string department_name:string location:string "
        "email_address:string",
    ),
    _dim(
        "dim_location",
        "location_id",
        "address_line_1:string address_line_2:string district:string city:string "
        "postal_code:string country:string phone:string",
    ),
    _dim("dim_design", "design_id", "design_name:string file_location:string file_name:string"),
    _dim("dim_currency", "currency_id", "currency_code:string currency_name:string"),
    _dim(
        "dim_counterparty",
        "counterparty_id",
        "counterparty_legal_name:string counterparty_legal_address_line_1:string "
        "counterparty_legal_address_line_2:string counterparty_legal_district:string "
        "counterparty_legal_city:string counterparty_legal_postal_code:string "
        "counterparty_legal_country:string counterparty_legal_phone_number:string",
    ),
    _dim("dim_payment_type", "payment_type_id", "payment_type_name:string"),
    _dim(
        "dim_transaction",
        "transaction_id",
        "transaction_type:string sales_order_id:int purchase_order_id:int",
    ),
)

FACTS: tuple[StarTable, ...] = (
    _fact(
        "fact_sales_order",
        "sales_record_id",
        "sales_order_id",
        "sales_staff_id:int counterparty_id:int units_sold:int unit_price:decimal(10,2) "
        "currency_id:int design_id:int agreed_payment_date:date agreed_delivery_date:date "
        "agreed_delivery_location_id:int",
    ),
    _fact(
        "fact_purchase_order",
        "purchase_record_id",
        "purchase_order_id",
        "staff_id:int counterparty_id:int item_code:string item_quantity:int "
        "item_unit_price:decimal(10,2) currency_id:int agreed_delivery_date:date "
        "agreed_payment_date:date agreed_delivery_location_id:int",
    ),
    _fact(
        "fact_payment",
        "payment_record_id",
        "payment_id",
        "transaction_id:int counterparty_id:int payment_amount:decimal(10,2) currency_id:int "
        "payment_type_id:int paid:boolean payment_date:date",
    ),
)

LOAD_ORDER: tuple[StarTable, ...] = DIMENSIONS + FACTS
"""Dimensions first (dim_date before all: every fact date refers to it), then facts."""

STAR_TABLES: dict[str, StarTable] = {table.name: table for table in LOAD_ORDER}


def quote_ident(name: str) -> str:
    """Quote an identifier that the allow-list produced; anything else is a programming error."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not an allowed SQL identifier: {name!r}")
    return f'"{name}"'


def column_list(names: tuple[str, ...] | list[str], prefix: str = "") -> str:
    """A comma-separated list of quoted identifiers, optionally qualified by `prefix.`."""
    qualifier = f"{quote_ident(prefix)}." if prefix else ""
    return ", ".join(f"{qualifier}{quote_ident(name)}" for name in names)

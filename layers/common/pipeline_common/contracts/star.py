"""The star schema's one definition (docs/contracts.md section 3), standard library only.

Tables, columns with their lake types, keys, NOT NULL, foreign-key targets, where each
column comes from (source tables, renames, derived columns) and the rules the transform
enforces on the way in (non-negative quantities and prices, dates that ToteSys holds as
text). Every other copy is checked against this one by a test:

- the Glue job's Spark schemas and rules, glue_jobs/star_schema.py (self-contained: SAM
  uploads only that file), by tests/unit/glue/test_glue_star_definition.py;
- the warehouse migrations, load_fn/loader/sql/ (hand-written SQL), by
  tests/integration/load/test_load_schema.py;
- the Athena named queries in template.yaml, by tests/unit/template/test_template_named_queries.py;
- the bench's DuckDB transform, bench/duckdb_star.sql, by
  tests/integration/bench/test_bench_duckdb_star.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LakeType = Literal["int", "decimal(10,2)", "date", "time", "string", "boolean"]
"""Lake type of a column; "time" is a string `HH:MM:SS.fff` in the lake (Athena has no time)."""

FACT_PARTITION_KEY = "created_month"
"""Facts are Hive-partitioned by created_date's month, a string "YYYY-MM" (docs/adr/0006);
the files keep created_date itself, so the partition key is not one of a fact's columns."""
FACT_PARTITION_SOURCE = "created_date"

FACT_TIMESTAMPS: dict[str, str] = {
    "created_date": "created_at",
    "created_time": "created_at",
    "last_updated_date": "last_updated",
    "last_updated_time": "last_updated",
}
"""Every fact splits the source row's two timestamps into a date and a time."""


@dataclass(frozen=True)
class Column:
    """One star-table column: its lake type, NOT NULL, the dimension it refers to, its rules."""

    name: str
    lake_type: LakeType
    required: bool = False
    """NOT NULL in the warehouse; the transform quarantines a source row that would break it."""
    references: tuple[str, str] | None = None
    """(table, column) of the foreign-key target: a dimension's key."""
    non_negative: bool = False
    """The transform quarantines a source row where it is negative."""
    text_date: bool = False
    """A date ToteSys stores as text 'YYYY-MM-DD': typed (and validated) on the way in."""


@dataclass(frozen=True)
class StarTable:
    """One star table: dimensions upsert on their id, facts append on their natural key."""

    name: str
    kind: Literal["dimension", "fact"]
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    record_id: str | None = None
    """A fact's warehouse serial (the warehouse's primary key; never in the lake)."""
    partition_keys: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    """The ToteSys tables it is built from; the first one gives it its key (dim_date: none)."""
    renames: tuple[tuple[str, str], ...] = ()
    """(star column, source column) where the names differ; other columns keep their name."""
    derived: tuple[tuple[str, str], ...] = ()
    """(star column, source column) computed from a source column rather than copied."""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def value_columns(self) -> tuple[str, ...]:
        """Columns an upsert may change (everything but the key)."""
        return tuple(name for name in self.column_names if name not in self.key)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)

    def source_column(self, name: str) -> str | None:
        """The source column a star column is copied or derived from (None: generated)."""
        if not self.sources:
            return None
        return dict(self.renames).get(name) or dict(self.derived).get(name) or name


def _dim_key(table: str) -> tuple[str, str]:
    """Every dimension's key is `<name without dim_>_id` (dim_staff -> staff_id)."""
    return table, f"{table.removeprefix('dim_')}_id"


def _cols(
    spec: str,
    required: bool = False,
    non_negative: tuple[str, ...] = (),
    text_dates: tuple[str, ...] = (),
) -> tuple[Column, ...]:
    """Columns from "name:type name:type>dim_target ..." (compact, so the schema reads as a
    table); `>dim_x` makes the column a foreign key to dim_x's key."""
    columns = []
    for item in spec.split():
        name, _, rest = item.partition(":")
        lake_type, _, target = rest.partition(">")
        columns.append(
            Column(
                name,
                lake_type,  # type: ignore[arg-type]
                required,
                _dim_key(target) if target else None,
                name in non_negative,
                name in text_dates,
            )
        )
    if not {*non_negative, *text_dates} <= {column.name for column in columns}:
        raise ValueError(f"a rule names a column not in {spec!r}")
    return tuple(columns)


def _dim(
    name: str,
    sources: tuple[str, ...],
    spec: str,
    renames: tuple[tuple[str, str], ...] = (),
    derived: tuple[tuple[str, str], ...] = (),
) -> StarTable:
    key = _dim_key(name)[1]
    columns = _cols(f"{key}:int", required=True) + _cols(spec)
    return StarTable(name, "dimension", columns, (key,), None, (), sources, renames, derived)


def _fact(
    name: str,
    record_id: str,
    source: str,
    spec: str,
    renames: tuple[tuple[str, str], ...] = (),
    non_negative: tuple[str, ...] = (),
    text_dates: tuple[str, ...] = (),
) -> StarTable:
    """Every fact column is NOT NULL; every date refers to dim_date."""
    source_id = f"{source}_id"
    columns = _cols(
        f"{source_id}:int created_date:date>dim_date created_time:time "
        f"last_updated_date:date>dim_date last_updated_time:time {spec}",
        required=True,
        non_negative=non_negative,
        text_dates=text_dates,
    )
    key = (source_id, "last_updated_date", "last_updated_time")
    derived = tuple(FACT_TIMESTAMPS.items())
    partition = (FACT_PARTITION_KEY,)
    return StarTable(name, "fact", columns, key, record_id, partition, (source,), renames, derived)


DIMENSIONS: tuple[StarTable, ...] = (
    StarTable(  # generated: every day any fact date references
        "dim_date",
        "dimension",
        _cols(
            "date_id:date year:int month:int day:int day_of_week:int day_name:string "
            "month_name:string quarter:int",
            required=True,
        ),
        ("date_id",),
    ),
    _dim(
        "dim_staff",
        ("staff", "department"),
        "first_name:string last_name:string department_name:string location:string "
        "email_address:string",
    ),
    _dim(
        "dim_location",
        ("address",),
        "address_line_1:string address_line_2:string district:string city:string "
        "postal_code:string country:string phone:string",
        renames=(("location_id", "address_id"),),
    ),
    _dim(
        "dim_design",
        ("design",),
        "design_name:string file_location:string file_name:string",
    ),
    _dim(
        "dim_currency",
        ("currency",),
        "currency_code:string currency_name:string",
        derived=(("currency_name", "currency_code"),),  # ISO 4217's name of the code
    ),
    _dim(
        "dim_counterparty",
        ("counterparty", "address"),  # the counterparty's legal address
        "counterparty_legal_name:string counterparty_legal_address_line_1:string "
        "counterparty_legal_address_line_2:string counterparty_legal_district:string "
        "counterparty_legal_city:string counterparty_legal_postal_code:string "
        "counterparty_legal_country:string counterparty_legal_phone_number:string",
        renames=(
            ("counterparty_legal_address_line_1", "address_line_1"),
            ("counterparty_legal_address_line_2", "address_line_2"),
            ("counterparty_legal_district", "district"),
            ("counterparty_legal_city", "city"),
            ("counterparty_legal_postal_code", "postal_code"),
            ("counterparty_legal_country", "country"),
            ("counterparty_legal_phone_number", "phone"),
        ),
    ),
    _dim("dim_payment_type", ("payment_type",), "payment_type_name:string"),
    _dim(
        "dim_transaction",
        ("transaction",),
        "transaction_type:string sales_order_id:int purchase_order_id:int",
    ),
)

FACTS: tuple[StarTable, ...] = (
    _fact(
        "fact_sales_order",
        "sales_record_id",
        "sales_order",
        "sales_staff_id:int>dim_staff counterparty_id:int>dim_counterparty units_sold:int "
        "unit_price:decimal(10,2) currency_id:int>dim_currency design_id:int>dim_design "
        "agreed_payment_date:date>dim_date agreed_delivery_date:date>dim_date "
        "agreed_delivery_location_id:int>dim_location",
        renames=(("sales_staff_id", "staff_id"),),
        non_negative=("units_sold", "unit_price"),
        text_dates=("agreed_payment_date", "agreed_delivery_date"),
    ),
    _fact(
        "fact_purchase_order",
        "purchase_record_id",
        "purchase_order",
        "staff_id:int>dim_staff counterparty_id:int>dim_counterparty item_code:string "
        "item_quantity:int item_unit_price:decimal(10,2) currency_id:int>dim_currency "
        "agreed_delivery_date:date>dim_date agreed_payment_date:date>dim_date "
        "agreed_delivery_location_id:int>dim_location",
        non_negative=("item_quantity", "item_unit_price"),
        text_dates=("agreed_delivery_date", "agreed_payment_date"),
    ),
    _fact(
        "fact_payment",
        "payment_record_id",
        "payment",
        "transaction_id:int>dim_transaction counterparty_id:int>dim_counterparty "
        "payment_amount:decimal(10,2) currency_id:int>dim_currency "
        "payment_type_id:int>dim_payment_type paid:boolean payment_date:date>dim_date",
        text_dates=("payment_date",),
    ),
)

LOAD_ORDER: tuple[StarTable, ...] = DIMENSIONS + FACTS
"""Dimensions first (dim_date before all: every fact date refers to it), then facts."""

STAR_TABLES: dict[str, StarTable] = {table.name: table for table in LOAD_ORDER}


def _check_definition() -> None:
    """Fail at import on a definition that contradicts itself (a typo in the table above)."""
    for table in LOAD_ORDER:
        names = set(table.column_names)
        named = {*table.key, *(star for star, _ in table.renames + table.derived)}
        if len(names) != len(table.columns) or not named <= names:
            raise ValueError(f"{table.name}: duplicate or unknown column names")
        for column in table.columns:
            target = column.references
            if target and (
                target[0] not in STAR_TABLES or STAR_TABLES[target[0]].key != target[1:]
            ):
                raise ValueError(f"{table.name}.{column.name} refers to no dimension key")


_check_definition()

"""ToteSys star schemas: landed CSV change batches -> snappy Parquet + Glue Data Catalog.

One self-contained Glue 5.x script (SAM uploads only this file), so it imports only pyspark,
boto3 and the standard library (`awsglue` only inside `main()`). It reads top to bottom:
constants and schemas, a tiny storage abstraction (S3 on Glue, a directory locally), pure
DataFrame -> DataFrame transforms, catalog registration, then the I/O: the manifests as
typed objects (`IngestBatch`, `PassManifest`) and the progress pointer, the pass in its parts
(read and validate, state, dimensions, facts, commit), `run()`, and `main()`.

Contracts: docs/contracts.md sections 1 (what it reads), 2 and 3 (what it writes).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from pyspark import inheritable_thread_target
from pyspark.sql import Column, DataFrame, Observation, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

# --------------------------------------------------------------------------------------
# Constants and schemas
# --------------------------------------------------------------------------------------

# Copies of the shared contracts (layers/common/pipeline_common/contracts/): SAM uploads only
# this script, so the job cannot import the layer (docs/adr/0003). Held equal to the shared
# definitions by tests/unit/glue/test_glue_contracts_equal.py.
FORMAT_VERSION = 1
BATCH_ID_PATTERN = r"\d{8}T\d{12}Z"
MANIFEST_PREFIX = "_manifests/"
INFLIGHT_KEY = "_job/inflight.json"
LATEST_KEY = "_job/latest.json"
MANIFEST_KEY = re.compile(rf"{MANIFEST_PREFIX}({BATCH_ID_PATTERN})\.json")  # fullmatch only
BATCH_ID = re.compile(BATCH_ID_PATTERN)  # fullmatch only: "$" would pass a trailing newline
# Adaptive rules the pass turns off (run(): they drop Observation metrics of empty plans).
AQE_RULES_OFF = "org.apache.spark.sql.execution.adaptive.AQEPropagateEmptyRelation"
ROWS_PER_FILE = 1_000_000
# Tables a pass writes at once (each step's tables are independent of each other).
CONCURRENT_TABLES = 4
# Postgres text can never hold NUL, so it marks a quoted empty field ("") on the way in:
# Spark's CSV reader would otherwise turn "" and an unquoted empty field both into NULL.
EMPTY_STRING_SENTINEL = "\u0000"
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # fullmatch only

SOURCE_TABLES: tuple[str, ...] = (
    "address",
    "counterparty",
    "currency",
    "department",
    "design",
    "payment_type",
    "staff",
    "sales_order",
    "purchase_order",
    "transaction",
    "payment",
)
# Dimension source tables: their current state is kept under _state/.
STATE_TABLES: tuple[str, ...] = (
    "address",
    "counterparty",
    "currency",
    "department",
    "design",
    "payment_type",
    "staff",
    "transaction",
)
DIMENSION_SOURCES: dict[str, tuple[str, ...]] = {
    "dim_staff": ("staff", "department"),
    "dim_location": ("address",),
    "dim_counterparty": ("counterparty", "address"),
    "dim_currency": ("currency",),
    "dim_design": ("design",),
    "dim_payment_type": ("payment_type",),
    "dim_transaction": ("transaction",),
}
FACT_SOURCES: dict[str, str] = {
    "fact_sales_order": "sales_order",
    "fact_purchase_order": "purchase_order",
    "fact_payment": "payment",
}
# The order of a processed manifest's tables (a pass writes them concurrently).
STAR_TABLE_ORDER: tuple[str, ...] = (*DIMENSION_SOURCES, *FACT_SOURCES, "dim_date")
# Dates stored as text 'YYYY-MM-DD' in ToteSys; typed (and validated) as dates on read.
TEXT_DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "sales_order": ("agreed_delivery_date", "agreed_payment_date"),
    "purchase_order": ("agreed_delivery_date", "agreed_payment_date"),
    "payment": ("payment_date",),
}
NON_NEGATIVE_COLUMNS: dict[str, tuple[str, ...]] = {
    "sales_order": ("units_sold", "unit_price"),
    "purchase_order": ("item_quantity", "item_unit_price"),
}
# Needed whatever the manifest says: the merge key and the version/partition columns.
REQUIRED_COLUMNS: tuple[str, ...] = ("created_at", "last_updated")
# Every column a fact carries is NOT NULL in the warehouse, so a NULL in one is quarantined
# even when the source has dropped its NOT NULL constraint (the manifest then says nullable,
# and a NULL let through would make the loader refuse the whole batch, again and again).
FACT_REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "sales_order": (
        "staff_id",
        "counterparty_id",
        "units_sold",
        "unit_price",
        "currency_id",
        "design_id",
        "agreed_payment_date",
        "agreed_delivery_date",
        "agreed_delivery_location_id",
    ),
    "purchase_order": (
        "staff_id",
        "counterparty_id",
        "item_code",
        "item_quantity",
        "item_unit_price",
        "currency_id",
        "agreed_delivery_date",
        "agreed_payment_date",
        "agreed_delivery_location_id",
    ),
    "payment": (
        "transaction_id",
        "counterparty_id",
        "payment_amount",
        "currency_id",
        "payment_type_id",
        "paid",
        "payment_date",
    ),
}

# A dimension source never ingested yet still joins (as an empty table of this shape).
EMPTY_SOURCE_SCHEMAS: dict[str, str] = {
    "address": "address_id INT, address_line_1 STRING, address_line_2 STRING, district STRING,"
    " city STRING, postal_code STRING, country STRING, phone STRING,"
    " created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ",
    "counterparty": "counterparty_id INT, counterparty_legal_name STRING,"
    " legal_address_id INT, commercial_contact STRING, delivery_contact STRING,"
    " created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ",
    "currency": "currency_id INT, currency_code STRING, created_at TIMESTAMP_NTZ,"
    " last_updated TIMESTAMP_NTZ",
    "department": "department_id INT, department_name STRING, location STRING,"
    " manager STRING, created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ",
    "design": "design_id INT, design_name STRING, file_location STRING, file_name STRING,"
    " created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ",
    "payment_type": "payment_type_id INT, payment_type_name STRING,"
    " created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ",
    "staff": "staff_id INT, first_name STRING, last_name STRING, department_id INT,"
    " email_address STRING, created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ",
    "transaction": "transaction_id INT, transaction_type STRING, sales_order_id INT,"
    " purchase_order_id INT, created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ",
}

_STAR_TYPES: dict[str, T.DataType] = {
    "int": T.IntegerType(),
    "string": T.StringType(),
    "date": T.DateType(),
    "money": T.DecimalType(10, 2),
    "boolean": T.BooleanType(),
}


def _star(*columns: tuple[str, str]) -> T.StructType:
    return T.StructType([T.StructField(name, _STAR_TYPES[kind], True) for name, kind in columns])


# Names and types fixed by the design (docs/contracts.md section 3).
STAR_SCHEMAS: dict[str, T.StructType] = {
    "dim_date": _star(
        ("date_id", "date"),
        ("year", "int"),
        ("month", "int"),
        ("day", "int"),
        ("day_of_week", "int"),
        ("day_name", "string"),
        ("month_name", "string"),
        ("quarter", "int"),
    ),
    "dim_staff": _star(
        ("staff_id", "int"),
        ("first_name", "string"),
        ("last_name", "string"),
        ("department_name", "string"),
        ("location", "string"),
        ("email_address", "string"),
    ),
    "dim_location": _star(
        ("location_id", "int"),
        ("address_line_1", "string"),
        ("address_line_2", "string"),
        ("district", "string"),
        ("city", "string"),
        ("postal_code", "string"),
        ("country", "string"),
        ("phone", "string"),
    ),
    "dim_design": _star(
        ("design_id", "int"),
        ("design_name", "string"),
        ("file_location", "string"),
        ("file_name", "string"),
    ),
    "dim_currency": _star(
        ("currency_id", "int"), ("currency_code", "string"), ("currency_name", "string")
    ),
    "dim_counterparty": _star(
        ("counterparty_id", "int"),
        ("counterparty_legal_name", "string"),
        ("counterparty_legal_address_line_1", "string"),
        ("counterparty_legal_address_line_2", "string"),
        ("counterparty_legal_district", "string"),
        ("counterparty_legal_city", "string"),
        ("counterparty_legal_postal_code", "string"),
        ("counterparty_legal_country", "string"),
        ("counterparty_legal_phone_number", "string"),
    ),
    "dim_payment_type": _star(("payment_type_id", "int"), ("payment_type_name", "string")),
    "dim_transaction": _star(
        ("transaction_id", "int"),
        ("transaction_type", "string"),
        ("sales_order_id", "int"),
        ("purchase_order_id", "int"),
    ),
    "fact_sales_order": _star(
        ("sales_order_id", "int"),
        ("created_date", "date"),
        ("created_time", "string"),
        ("last_updated_date", "date"),
        ("last_updated_time", "string"),
        ("sales_staff_id", "int"),
        ("counterparty_id", "int"),
        ("units_sold", "int"),
        ("unit_price", "money"),
        ("currency_id", "int"),
        ("design_id", "int"),
        ("agreed_payment_date", "date"),
        ("agreed_delivery_date", "date"),
        ("agreed_delivery_location_id", "int"),
    ),
    "fact_purchase_order": _star(
        ("purchase_order_id", "int"),
        ("created_date", "date"),
        ("created_time", "string"),
        ("last_updated_date", "date"),
        ("last_updated_time", "string"),
        ("staff_id", "int"),
        ("counterparty_id", "int"),
        ("item_code", "string"),
        ("item_quantity", "int"),
        ("item_unit_price", "money"),
        ("currency_id", "int"),
        ("agreed_delivery_date", "date"),
        ("agreed_payment_date", "date"),
        ("agreed_delivery_location_id", "int"),
    ),
    "fact_payment": _star(
        ("payment_id", "int"),
        ("created_date", "date"),
        ("created_time", "string"),
        ("last_updated_date", "date"),
        ("last_updated_time", "string"),
        ("transaction_id", "int"),
        ("counterparty_id", "int"),
        ("payment_amount", "money"),
        ("currency_id", "int"),
        ("payment_type_id", "int"),
        ("paid", "boolean"),
        ("payment_date", "date"),
    ),
}
FACT_PARTITION_KEY = "created_month"
"""Facts are Hive-partitioned by month of created_date ("YYYY-MM"; docs/adr/0006), and keep
created_date itself in the files."""
FACT_PARTITION_SOURCE = "created_date"
# Every date column of a fact: dim_date must cover all of them.
FACT_DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in schema.fields if isinstance(f.dataType, T.DateType))
    for name, schema in STAR_SCHEMAS.items()
    if name.startswith("fact_")
}

# ISO 4217 list one (active codes, with the official English names), so a currency added to
# ToteSys gets its name without a code change here. Unknown codes get NULL and a warning.
ISO_4217: tuple[tuple[str, str], ...] = (
    ("AED", "UAE Dirham"),
    ("AFN", "Afghani"),
    ("ALL", "Lek"),
    ("AMD", "Armenian Dram"),
    ("ANG", "Netherlands Antillean Guilder"),
    ("AOA", "Kwanza"),
    ("ARS", "Argentine Peso"),
    ("AUD", "Australian Dollar"),
    ("AWG", "Aruban Florin"),
    ("AZN", "Azerbaijan Manat"),
    ("BAM", "Convertible Mark"),
    ("BBD", "Barbados Dollar"),
    ("BDT", "Taka"),
    ("BGN", "Bulgarian Lev"),
    ("BHD", "Bahraini Dinar"),
    ("BIF", "Burundi Franc"),
    ("BMD", "Bermudian Dollar"),
    ("BND", "Brunei Dollar"),
    ("BOB", "Boliviano"),
    ("BOV", "Mvdol"),
    ("BRL", "Brazilian Real"),
    ("BSD", "Bahamian Dollar"),
    ("BTN", "Ngultrum"),
    ("BWP", "Pula"),
    ("BYN", "Belarusian Ruble"),
    ("BZD", "Belize Dollar"),
    ("CAD", "Canadian Dollar"),
    ("CDF", "Congolese Franc"),
    ("CHE", "WIR Euro"),
    ("CHF", "Swiss Franc"),
    ("CHW", "WIR Franc"),
    ("CLF", "Unidad de Fomento"),
    ("CLP", "Chilean Peso"),
    ("CNY", "Yuan Renminbi"),
    ("COP", "Colombian Peso"),
    ("COU", "Unidad de Valor Real"),
    ("CRC", "Costa Rican Colon"),
    ("CUC", "Peso Convertible"),
    ("CUP", "Cuban Peso"),
    ("CVE", "Cabo Verde Escudo"),
    ("CZK", "Czech Koruna"),
    ("DJF", "Djibouti Franc"),
    ("DKK", "Danish Krone"),
    ("DOP", "Dominican Peso"),
    ("DZD", "Algerian Dinar"),
    ("EGP", "Egyptian Pound"),
    ("ERN", "Nakfa"),
    ("ETB", "Ethiopian Birr"),
    ("EUR", "Euro"),
    ("FJD", "Fiji Dollar"),
    ("FKP", "Falkland Islands Pound"),
    ("GBP", "Pound Sterling"),
    ("GEL", "Lari"),
    ("GHS", "Ghana Cedi"),
    ("GIP", "Gibraltar Pound"),
    ("GMD", "Dalasi"),
    ("GNF", "Guinean Franc"),
    ("GTQ", "Quetzal"),
    ("GYD", "Guyana Dollar"),
    ("HKD", "Hong Kong Dollar"),
    ("HNL", "Lempira"),
    ("HTG", "Gourde"),
    ("HUF", "Forint"),
    ("IDR", "Rupiah"),
    ("ILS", "New Israeli Sheqel"),
    ("INR", "Indian Rupee"),
    ("IQD", "Iraqi Dinar"),
    ("IRR", "Iranian Rial"),
    ("ISK", "Iceland Krona"),
    ("JMD", "Jamaican Dollar"),
    ("JOD", "Jordanian Dinar"),
    ("JPY", "Yen"),
    ("KES", "Kenyan Shilling"),
    ("KGS", "Som"),
    ("KHR", "Riel"),
    ("KMF", "Comorian Franc"),
    ("KPW", "North Korean Won"),
    ("KRW", "Won"),
    ("KWD", "Kuwaiti Dinar"),
    ("KYD", "Cayman Islands Dollar"),
    ("KZT", "Tenge"),
    ("LAK", "Lao Kip"),
    ("LBP", "Lebanese Pound"),
    ("LKR", "Sri Lanka Rupee"),
    ("LRD", "Liberian Dollar"),
    ("LSL", "Loti"),
    ("LYD", "Libyan Dinar"),
    ("MAD", "Moroccan Dirham"),
    ("MDL", "Moldovan Leu"),
    ("MGA", "Malagasy Ariary"),
    ("MKD", "Denar"),
    ("MMK", "Kyat"),
    ("MNT", "Tugrik"),
    ("MOP", "Pataca"),
    ("MRU", "Ouguiya"),
    ("MUR", "Mauritius Rupee"),
    ("MVR", "Rufiyaa"),
    ("MWK", "Malawi Kwacha"),
    ("MXN", "Mexican Peso"),
    ("MXV", "Mexican Unidad de Inversion (UDI)"),
    ("MYR", "Malaysian Ringgit"),
    ("MZN", "Mozambique Metical"),
    ("NAD", "Namibia Dollar"),
    ("NGN", "Naira"),
    ("NIO", "Cordoba Oro"),
    ("NOK", "Norwegian Krone"),
    ("NPR", "Nepalese Rupee"),
    ("NZD", "New Zealand Dollar"),
    ("OMR", "Rial Omani"),
    ("PAB", "Balboa"),
    ("PEN", "Sol"),
    ("PGK", "Kina"),
    ("PHP", "Philippine Peso"),
    ("PKR", "Pakistan Rupee"),
    ("PLN", "Zloty"),
    ("PYG", "Guarani"),
    ("QAR", "Qatari Rial"),
    ("RON", "Romanian Leu"),
    ("RSD", "Serbian Dinar"),
    ("RUB", "Russian Ruble"),
    ("RWF", "Rwanda Franc"),
    ("SAR", "Saudi Riyal"),
    ("SBD", "Solomon Islands Dollar"),
    ("SCR", "Seychelles Rupee"),
    ("SDG", "Sudanese Pound"),
    ("SEK", "Swedish Krona"),
    ("SGD", "Singapore Dollar"),
    ("SHP", "Saint Helena Pound"),
    ("SLE", "Leone"),
    ("SLL", "Leone"),
    ("SOS", "Somali Shilling"),
    ("SRD", "Surinam Dollar"),
    ("SSP", "South Sudanese Pound"),
    ("STN", "Dobra"),
    ("SVC", "El Salvador Colon"),
    ("SYP", "Syrian Pound"),
    ("SZL", "Lilangeni"),
    ("THB", "Baht"),
    ("TJS", "Somoni"),
    ("TMT", "Turkmenistan New Manat"),
    ("TND", "Tunisian Dinar"),
    ("TOP", "Pa'anga"),
    ("TRY", "Turkish Lira"),
    ("TTD", "Trinidad and Tobago Dollar"),
    ("TWD", "New Taiwan Dollar"),
    ("TZS", "Tanzanian Shilling"),
    ("UAH", "Hryvnia"),
    ("UGX", "Uganda Shilling"),
    ("USD", "US Dollar"),
    ("USN", "US Dollar (Next day)"),
    ("UYI", "Uruguay Peso en Unidades Indexadas (UI)"),
    ("UYU", "Peso Uruguayo"),
    ("UYW", "Unidad Previsional"),
    ("UZS", "Uzbekistan Sum"),
    ("VED", "Bolívar Soberano"),
    ("VES", "Bolívar Soberano"),
    ("VND", "Dong"),
    ("VUV", "Vatu"),
    ("WST", "Tala"),
    ("XAF", "CFA Franc BEAC"),
    ("XAG", "Silver"),
    ("XAU", "Gold"),
    ("XBA", "Bond Markets Unit European Composite Unit (EURCO)"),
    ("XBB", "Bond Markets Unit European Monetary Unit (E.M.U.-6)"),
    ("XBC", "Bond Markets Unit European Unit of Account 9 (E.U.A.-9)"),
    ("XBD", "Bond Markets Unit European Unit of Account 17 (E.U.A.-17)"),
    ("XCD", "East Caribbean Dollar"),
    ("XCG", "Caribbean Guilder"),
    ("XDR", "SDR (Special Drawing Right)"),
    ("XOF", "CFA Franc BCEAO"),
    ("XPD", "Palladium"),
    ("XPF", "CFP Franc"),
    ("XPT", "Platinum"),
    ("XSU", "Sucre"),
    ("XTS", "Codes specifically reserved for testing purposes"),
    ("XUA", "ADB Unit of Account"),
    ("XXX", "The codes assigned for transactions where no currency is involved"),
    ("YER", "Yemeni Rial"),
    ("ZAR", "Rand"),
    ("ZMW", "Zambian Kwacha"),
    ("ZWG", "Zimbabwe Gold"),
    ("ZWL", "Zimbabwe Dollar"),
)

# --------------------------------------------------------------------------------------
# Errors and logging
# --------------------------------------------------------------------------------------


class StarSchemaError(Exception):
    """Base of the errors this job raises on purpose; `transient` says if a retry can help."""

    transient = False


class ManifestError(StarSchemaError):
    """An ingest or processed manifest is missing, malformed or breaks the contract."""


class CatalogError(StarSchemaError):
    """The Glue Data Catalog refused a table or partition."""

    transient = True


class StorageError(StarSchemaError):
    """An object could not be listed, read, copied or deleted."""

    transient = True


LOGGER = logging.getLogger("star_schema")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per log line (CloudWatch Logs Insights parses it)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        return json.dumps(entry, default=str)


def _log(message: str, level: int = logging.INFO, **fields: Any) -> None:
    LOGGER.log(level, message, extra={"fields": fields})


# --------------------------------------------------------------------------------------
# Locations: the same code on S3 (Glue) and on a local directory (local runs, tests)
# --------------------------------------------------------------------------------------


def put_conditions(key: str) -> dict[str, str]:
    """PutObject's conditional-write argument for a key: a manifest is a commit, written
    once, If-None-Match: * (S3 refuses an overwrite, and the bucket policy refuses a
    manifest write without the header)."""
    return {"IfNoneMatch": "*"} if key.startswith(MANIFEST_PREFIX) else {}


class Location(Protocol):
    """Where manifests, state and data live; keys are relative and use '/'."""

    def uri(self, key: str) -> str:
        """The URI Spark reads or writes for a key."""
        ...

    def read_json(self, key: str) -> dict[str, Any] | None:
        """A JSON object, or None if the key does not exist."""
        ...

    def write_json(self, key: str, data: Mapping[str, Any]) -> None:
        """Write a JSON object (sorted keys, so equal content is equal bytes)."""
        ...

    def list_keys(self, prefix: str, start_after: str = "") -> list[str]:
        """Keys under a prefix, in order, optionally after a key."""
        ...

    def move(self, pairs: list[tuple[str, str]]) -> None:
        """Move objects to new keys (overwriting)."""
        ...

    def delete(self, keys: Iterable[str]) -> None:
        """Delete keys (missing keys are fine)."""
        ...

    def delete_prefix(self, prefix: str) -> None:
        """Delete every key under a prefix."""
        ...


def _json_bytes(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, indent=1, default=str).encode()


@dataclass
class S3Location:
    """A bucket and optional prefix (on Glue; locally against moto)."""

    bucket: str
    prefix: str
    client: Any

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def read_json(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise StorageError(f"{self.uri(key)}: {exc}") from exc
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ManifestError(f"{self.uri(key)} is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ManifestError(f"{self.uri(key)} is not a JSON object")
        return data

    def write_json(self, key: str, data: Mapping[str, Any]) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self._key(key),
            Body=_json_bytes(data),
            ContentType="application/json",
            **put_conditions(key),
        )

    def list_keys(self, prefix: str, start_after: str = "") -> list[str]:
        kwargs: dict[str, str] = {"Bucket": self.bucket, "Prefix": self._key(prefix)}
        if start_after:
            kwargs["StartAfter"] = self._key(start_after)
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
            keys.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
        return keys

    def move(self, pairs: list[tuple[str, str]]) -> None:
        def copy(pair: tuple[str, str]) -> None:
            source, target = pair
            self.client.copy_object(
                Bucket=self.bucket,
                Key=self._key(target),
                CopySource={"Bucket": self.bucket, "Key": self._key(source)},
            )

        # Server-side copies, a few at a time: a fact has one file per month it touches.
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(copy, pairs))
        self.delete(source for source, _ in pairs)

    def delete(self, keys: Iterable[str]) -> None:
        batch: list[str] = []
        for key in keys:
            batch.append(self._key(key))
            if len(batch) == 1000:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, keys: list[str]) -> None:
        response = self.client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
        )
        if response.get("Errors"):
            raise StorageError(f"s3://{self.bucket}: delete failed: {response['Errors'][:3]}")

    def delete_prefix(self, prefix: str) -> None:
        self.delete(self.list_keys(prefix))


@dataclass
class LocalLocation:
    """A directory with the same key layout as the bucket (local runs and tests)."""

    root: Path

    def _path(self, key: str) -> Path:
        return self.root / key

    def uri(self, key: str) -> str:
        return f"file://{self.root.resolve()}/{key}"

    def read_json(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_bytes())
        except ValueError as exc:
            raise ManifestError(f"{path} is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ManifestError(f"{path} is not a JSON object")
        return data

    def write_json(self, key: str, data: Mapping[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(_json_bytes(data))
        os.replace(partial, path)

    def list_keys(self, prefix: str, start_after: str = "") -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        keys = []
        for directory, _dirs, files in os.walk(base):
            for name in files:
                key = (Path(directory) / name).relative_to(self.root).as_posix()
                if key > start_after:
                    keys.append(key)
        return sorted(keys)

    def move(self, pairs: list[tuple[str, str]]) -> None:
        for source, target in pairs:
            path = self._path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._path(source), path)

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        path = self._path(prefix)
        shutil.rmtree(path, ignore_errors=True)
        # Like S3, keep no empty directories behind (the local runner mirrors the tree).
        # Tables are written concurrently: another writer may fill or remove a parent first.
        parent = path.parent
        while parent != self.root:
            try:
                parent.rmdir()  # only an empty directory goes
            except OSError:  # not empty, or already gone
                break
            parent = parent.parent


def open_location(location: str, s3: Any = None) -> Location:
    """`s3://bucket[/prefix]` -> S3Location; anything else is a local directory."""
    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://") :].partition("/")
        prefix = prefix.strip("/")
        if s3 is None:
            import boto3

            s3 = boto3.client("s3")
        return S3Location(bucket, f"{prefix}/" if prefix else "", s3)
    path = location[len("file://") :] if location.startswith("file://") else location
    return LocalLocation(Path(path))


def _data_files(keys: Iterable[str]) -> list[str]:
    """Parquet/JSON data objects among the keys (not Spark's _SUCCESS or .crc files)."""
    return [
        k
        for k in keys
        if k.endswith((".parquet", ".json")) and not k.rsplit("/", 1)[-1].startswith(("_", "."))
    ]


# --------------------------------------------------------------------------------------
# Pure transforms: DataFrame -> DataFrame
# --------------------------------------------------------------------------------------


def _identifier(name: str) -> str:
    if not IDENTIFIER.fullmatch(name):
        raise ManifestError(f"column name {name!r} is not a plain identifier")
    return name


def source_type(column: Mapping[str, Any], text_date: bool = False) -> T.DataType:
    """The Spark type of a source column, from its Postgres type in the ingest manifest."""
    if text_date:
        return T.DateType()
    data_type = str(column.get("data_type", "")).lower()
    if data_type in ("integer", "smallint"):
        return T.IntegerType()
    if data_type == "bigint":
        return T.LongType()
    if data_type == "numeric":
        precision, scale = column.get("numeric_precision"), column.get("numeric_scale")
        if precision:
            return T.DecimalType(int(precision), int(scale or 0))
        return T.DecimalType(38, 18)
    if data_type == "boolean":
        return T.BooleanType()
    if data_type.startswith("timestamp"):
        # Postgres `timestamp without time zone` is a wall clock: no session zone may shift it.
        return T.TimestampNTZType()
    if data_type == "date":
        return T.DateType()
    return T.StringType()


def raw_schema(columns: list[Mapping[str, Any]]) -> T.StructType:
    """Every column as text: the CSV is read untyped, then typed with validation."""
    return T.StructType(
        [T.StructField(_identifier(str(c["name"])), T.StringType(), True) for c in columns]
    )


def _type_phrase(data_type: T.DataType) -> str:
    if isinstance(data_type, T.DecimalType):
        return f"a decimal({data_type.precision},{data_type.scale})"
    return {
        "int": "an integer",
        "bigint": "a bigint",
        "boolean": "a boolean",
        "timestamp_ntz": "a timestamp",
        "date": "a date",
    }.get(data_type.simpleString(), data_type.simpleString())


def _typed(name: str, data_type: T.DataType) -> Column:
    if isinstance(data_type, T.StringType):
        return F.col(name)
    cast = F.expr(f"try_cast(`{name}` AS {data_type.simpleString().upper()})")
    if isinstance(data_type, T.DateType):
        # Only 'YYYY-MM-DD' (Spark's cast alone accepts '2024-11-15 anything').
        return F.when(F.col(name).rlike(r"^\d{4}-\d{2}-\d{2}$"), cast)
    return cast


def validate_rows(raw: DataFrame, columns: list[Mapping[str, Any]], table: str) -> DataFrame:
    """Typed columns plus `_raw` (the text), `_batch_id` and `_reason` (NULL = valid).

    A row is invalid when a value does not parse as its column's type, a NOT NULL column
    (or the key, created_at, last_updated, or a column a fact carries) is NULL, or a
    quantity or price is negative.
    """
    text_dates = TEXT_DATE_COLUMNS.get(table, ())
    non_negative = NON_NEGATIVE_COLUMNS.get(table, ())
    primary_key = f"{table}_id"
    names = [_identifier(str(c["name"])) for c in columns]
    text = raw.select(
        *[
            F.when(F.col(n) == EMPTY_STRING_SENTINEL, F.lit("")).otherwise(F.col(n)).alias(n)
            for n in names
        ],
        F.col("_batch_id"),
    )
    typed: list[Column] = []
    reasons: list[Column] = []
    for column, name in zip(columns, names, strict=True):
        data_type = source_type(column, name in text_dates)
        value = _typed(name, data_type)
        typed.append(value.cast(data_type).alias(name))
        if not isinstance(data_type, T.StringType):
            reasons.append(
                F.when(
                    F.col(name).isNotNull() & value.isNull(),
                    F.lit(f"{name}: not {_type_phrase(data_type)}"),
                )
            )
        required = (
            column.get("nullable") is False
            or name in (primary_key, *REQUIRED_COLUMNS)
            or name in FACT_REQUIRED_COLUMNS.get(table, ())
        )
        if required:
            reasons.append(F.when(F.col(name).isNull(), F.lit(f"{name}: null")))
        if name in non_negative:
            reasons.append(F.when(value < 0, F.lit(f"{name}: negative")))
    joined = F.concat_ws("; ", *reasons) if reasons else F.lit("")
    return text.select(
        *typed,
        F.struct(*[F.col(n) for n in names]).alias("_raw"),
        F.col("_batch_id"),
        F.when(joined != "", joined).alias("_reason"),
    )


def valid_rows(validated: DataFrame) -> DataFrame:
    """The typed rows that passed validation, with their `_batch_id`."""
    return validated.where(F.col("_reason").isNull()).drop("_raw", "_reason")


def quarantine_rows(validated: DataFrame) -> DataFrame:
    """The rejected rows: every source column as text, `_batch_id`, `_reason`."""
    return validated.where(F.col("_reason").isNotNull()).select("_raw.*", "_batch_id", "_reason")


def merge_state(previous: DataFrame | None, changes: DataFrame, primary_key: str) -> DataFrame:
    """Latest row per key: the newest `last_updated` wins; on a tie, the later batch.

    `changes` carries `_batch_id`; the previous state is older than any pending batch.
    """
    rows = changes if "_batch_id" in changes.columns else changes.withColumn("_batch_id", F.lit(""))
    if previous is not None:
        rows = previous.withColumn("_batch_id", F.lit("")).unionByName(
            rows, allowMissingColumns=True
        )
    order = Window.partitionBy(primary_key).orderBy(
        F.col("last_updated").desc_nulls_last(), F.col("_batch_id").desc()
    )
    return (
        rows.withColumn("_rank", F.row_number().over(order))
        .where(F.col("_rank") == 1)
        .drop("_rank", "_batch_id")
    )


def conform(frame: DataFrame, table: str) -> DataFrame:
    """Exactly the star table's columns, in order, with its types."""
    return frame.select(
        *[F.col(f.name).cast(f.dataType).alias(f.name) for f in STAR_SCHEMAS[table].fields]
    )


def build_dim_staff(staff: DataFrame, department: DataFrame) -> DataFrame:
    """Staff joined to their department (a move shows up as a new location)."""
    s, d = staff.alias("s"), department.alias("d")
    joined = s.join(d, F.col("s.department_id") == F.col("d.department_id"), "left")
    return conform(
        joined.select(
            "s.staff_id",
            "s.first_name",
            "s.last_name",
            "d.department_name",
            "d.location",
            "s.email_address",
        ),
        "dim_staff",
    )


def build_dim_location(address: DataFrame) -> DataFrame:
    """Addresses as delivery locations."""
    return conform(address.withColumnRenamed("address_id", "location_id"), "dim_location")


def build_dim_counterparty(counterparty: DataFrame, address: DataFrame) -> DataFrame:
    """Counterparties with their legal address (an address edit shows up here too)."""
    c, a = counterparty.alias("c"), address.alias("a")
    joined = c.join(a, F.col("c.legal_address_id") == F.col("a.address_id"), "left")
    return conform(
        joined.select(
            "c.counterparty_id",
            "c.counterparty_legal_name",
            F.col("a.address_line_1").alias("counterparty_legal_address_line_1"),
            F.col("a.address_line_2").alias("counterparty_legal_address_line_2"),
            F.col("a.district").alias("counterparty_legal_district"),
            F.col("a.city").alias("counterparty_legal_city"),
            F.col("a.postal_code").alias("counterparty_legal_postal_code"),
            F.col("a.country").alias("counterparty_legal_country"),
            F.col("a.phone").alias("counterparty_legal_phone_number"),
        ),
        "dim_counterparty",
    )


def build_dim_design(design: DataFrame) -> DataFrame:
    """Designs."""
    return conform(design, "dim_design")


def currency_names() -> Column:
    """A literal map code -> ISO 4217 name (an expression: no join, no UDF)."""
    return F.create_map(*[F.lit(x) for pair in ISO_4217 for x in pair])


def build_dim_currency(currency: DataFrame) -> DataFrame:
    """Currencies named from ISO 4217 (NULL name for a code not in the list)."""
    return conform(
        currency.withColumn(
            "currency_name", currency_names()[F.upper(F.trim(F.col("currency_code")))]
        ),
        "dim_currency",
    )


def build_dim_payment_type(payment_type: DataFrame) -> DataFrame:
    """Payment types."""
    return conform(payment_type, "dim_payment_type")


def build_dim_transaction(transaction: DataFrame) -> DataFrame:
    """Transactions (each points at a sales or a purchase order)."""
    return conform(transaction, "dim_transaction")


def bound_columns(table: str) -> dict[str, Column]:
    """Aggregates of a fact: rows, and min_date/max_date over every date column."""
    dates = [F.col(c) for c in FACT_DATE_COLUMNS[table]]
    return {
        "rows": F.count(F.lit(1)),
        "min_date": F.min(F.least(*dates)),
        "max_date": F.max(F.greatest(*dates)),
    }


def date_bounds(fact: DataFrame, table: str, *by: Column | str) -> DataFrame:
    """Per group (default: one row): rows, and min_date/max_date over every date column."""
    return fact.groupBy(*by).agg(*[c.alias(n) for n, c in bound_columns(table).items()])


def build_dim_date(bounds: DataFrame) -> DataFrame:
    """Every day from min_date to max_date: ISO day of week (Monday = 1), English names."""
    days = bounds.select(F.explode(F.sequence("min_date", "max_date")).alias("date_id"))
    return conform(
        days.select(
            "date_id",
            F.year("date_id").alias("year"),
            F.month("date_id").alias("month"),
            F.dayofmonth("date_id").alias("day"),
            ((F.dayofweek("date_id") + 5) % 7 + 1).alias("day_of_week"),
            F.date_format("date_id", "EEEE").alias("day_name"),
            F.date_format("date_id", "MMMM").alias("month_name"),
            F.quarter("date_id").alias("quarter"),
        ),
        "dim_date",
    )


def distinct_versions(rows: DataFrame, primary_key: str) -> DataFrame:
    """One row per (key, last_updated): a version delivered twice counts once (latest batch)."""
    if "_batch_id" not in rows.columns:
        rows = rows.withColumn("_batch_id", F.lit(""))
    order = Window.partitionBy(primary_key, "last_updated").orderBy(F.col("_batch_id").desc())
    return (
        rows.withColumn("_rank", F.row_number().over(order))
        .where(F.col("_rank") == 1)
        .drop("_rank", "_batch_id")
    )


def _date_time(column: str, prefix: str) -> list[Column]:
    return [
        F.to_date(F.col(column)).alias(f"{prefix}_date"),
        F.date_format(F.col(column), "HH:mm:ss.SSS").alias(f"{prefix}_time"),
    ]


def build_fact_sales_order(sales_order: DataFrame) -> DataFrame:
    """One record per sales order version."""
    rows = distinct_versions(sales_order, "sales_order_id")
    return conform(
        rows.select(
            "*",
            *_date_time("created_at", "created"),
            *_date_time("last_updated", "last_updated"),
            F.col("staff_id").alias("sales_staff_id"),
        ),
        "fact_sales_order",
    )


def build_fact_purchase_order(purchase_order: DataFrame) -> DataFrame:
    """One record per purchase order version."""
    rows = distinct_versions(purchase_order, "purchase_order_id")
    return conform(
        rows.select(
            "*", *_date_time("created_at", "created"), *_date_time("last_updated", "last_updated")
        ),
        "fact_purchase_order",
    )


def build_fact_payment(payment: DataFrame) -> DataFrame:
    """One record per payment version."""
    rows = distinct_versions(payment, "payment_id")
    return conform(
        rows.select(
            "*", *_date_time("created_at", "created"), *_date_time("last_updated", "last_updated")
        ),
        "fact_payment",
    )


FACT_BUILDERS: dict[str, Callable[[DataFrame], DataFrame]] = {
    "fact_sales_order": build_fact_sales_order,
    "fact_purchase_order": build_fact_purchase_order,
    "fact_payment": build_fact_payment,
}


def build_dimension(dim: str, states: Mapping[str, DataFrame]) -> DataFrame:
    """The named dimension from the current state of its source tables."""
    if dim == "dim_staff":
        return build_dim_staff(states["staff"], states["department"])
    if dim == "dim_location":
        return build_dim_location(states["address"])
    if dim == "dim_counterparty":
        return build_dim_counterparty(states["counterparty"], states["address"])
    if dim == "dim_currency":
        return build_dim_currency(states["currency"])
    if dim == "dim_design":
        return build_dim_design(states["design"])
    if dim == "dim_payment_type":
        return build_dim_payment_type(states["payment_type"])
    if dim == "dim_transaction":
        return build_dim_transaction(states["transaction"])
    raise ValueError(f"unknown dimension {dim!r}")


def changed_rows(current: DataFrame, previous: DataFrame | None) -> DataFrame:
    """Rows of the new snapshot that are new or differ from the previous snapshot."""
    if previous is None or previous.dtypes != current.dtypes:
        return current
    return current.exceptAll(previous)


# --------------------------------------------------------------------------------------
# Glue Data Catalog
# --------------------------------------------------------------------------------------

PARQUET_STORAGE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
    "Compressed": True,
}


def hive_type(data_type: T.DataType) -> str:
    """The Glue/Athena column type of a Spark type (int, decimal(10,2), date, string...)."""
    if isinstance(data_type, T.TimestampNTZType):
        return "timestamp"
    return data_type.simpleString()


def catalog_columns(schema: T.StructType, exclude: Iterable[str] = ()) -> list[dict[str, str]]:
    """Catalog columns from the schema of the written files."""
    skip = set(exclude)
    return [
        {"Name": f.name, "Type": hive_type(f.dataType)} for f in schema.fields if f.name not in skip
    ]


def table_input(
    name: str,
    columns: list[dict[str, str]],
    location: str,
    partition_keys: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A Glue TableInput for an external snappy Parquet table."""
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "parquet",
            "EXTERNAL": "TRUE",
            "parquet.compression": "SNAPPY",
        },
        "PartitionKeys": partition_keys or [],
        "StorageDescriptor": {**PARQUET_STORAGE, "Columns": columns, "Location": location},
    }


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def ensure_database(glue: Any, database: str) -> None:
    """Create the catalog database unless it exists (the template normally creates it)."""
    try:
        glue.get_database(Name=database)
    except Exception as exc:
        if _error_code(exc) != "EntityNotFoundException":
            raise CatalogError(f"catalog database {database}: {exc}") from exc
        try:
            glue.create_database(DatabaseInput={"Name": database})
        except Exception as create_exc:
            if _error_code(create_exc) != "AlreadyExistsException":
                raise CatalogError(f"create database {database}: {create_exc}") from create_exc


def upsert_table(glue: Any, database: str, table: dict[str, Any]) -> None:
    """Create the table, or replace its definition (columns, location) if it exists."""
    try:
        glue.create_table(DatabaseName=database, TableInput=table)
    except Exception as exc:
        if _error_code(exc) != "AlreadyExistsException":
            raise CatalogError(f"create table {database}.{table['Name']}: {exc}") from exc
        try:
            glue.update_table(DatabaseName=database, TableInput=table, SkipArchive=True)
        except Exception as update_exc:
            raise CatalogError(
                f"update table {database}.{table['Name']}: {update_exc}"
            ) from update_exc


def add_partitions(
    glue: Any,
    database: str,
    table: dict[str, Any],
    partitions: list[tuple[list[str], str]],
) -> None:
    """Register partitions (values, location); ones that already exist are fine."""
    inputs = [
        {
            "Values": values,
            "StorageDescriptor": {**table["StorageDescriptor"], "Location": location},
        }
        for values, location in partitions
    ]
    for start in range(0, len(inputs), 100):
        response = glue.batch_create_partition(
            DatabaseName=database,
            TableName=table["Name"],
            PartitionInputList=inputs[start : start + 100],
        )
        errors = [
            e
            for e in response.get("Errors", [])
            if e.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"
        ]
        if errors:
            raise CatalogError(f"partitions of {database}.{table['Name']}: {errors[:3]}")


# --------------------------------------------------------------------------------------
# I/O: pending work, reading, writing, the pass, the commit
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobArgs:
    """The job's arguments (Glue job parameters or command-line flags)."""

    ingest_location: str
    processed_location: str
    database: str
    ingest_bucket: str
    processed_bucket: str

    @classmethod
    def from_mapping(cls, args: Mapping[str, Any]) -> JobArgs:
        names = [f.name for f in cls.__dataclass_fields__.values()]
        missing = [n for n in names if not str(args.get(n) or "").strip()]
        if missing:
            raise StarSchemaError(f"missing job arguments: {', '.join(missing)}")
        return cls(**{n: str(args[n]).strip() for n in names})

    @property
    def catalog_root(self) -> str:
        """Where the catalog says the lake is: the S3 location, or the bucket it mirrors."""
        if self.processed_location.startswith("s3://"):
            return self.processed_location.rstrip("/")
        return f"s3://{self.processed_bucket}"


# -- the manifests, typed -------------------------------------------------------------
# A copy of the checks of layers/common/pipeline_common/contracts/manifests.py the job needs,
# in the same words (docs/adr/0003: the job cannot import the layer).


class _Doc:
    """One JSON object's fields, raising ManifestError with where it is: the manifest's
    kind and key, then the path to the field (`tables.dim_staff.rows`)."""

    def __init__(self, where: str, data: Any, path: str = "") -> None:
        self.where, self.path = where, path
        if not isinstance(data, dict):
            self.fail("must be an object")
        self.data: dict[str, Any] = data

    def fail(self, problem: str, name: str | None = None) -> Any:
        path = ".".join(p for p in (self.path, name) if p)
        raise ManifestError(
            f"{self.where}: {path}: {problem}" if path else f"{self.where}: {problem}"
        )

    def has(self, name: str) -> bool:
        return name in self.data and self.data[name] is not None

    def raw(self, name: str) -> Any:
        if name not in self.data:
            self.fail("missing", name)
        return self.data[name]

    def child(self, name: str) -> _Doc:
        return _Doc(self.where, self.raw(name), ".".join(p for p in (self.path, name) if p))

    def children(self, name: str) -> dict[str, _Doc]:
        node = self.child(name)
        return {str(k): node.child(str(k)) for k in node.data}

    def items(self, name: str, *, empty: bool = False) -> list[_Doc]:
        """A list of objects (non-empty unless `empty`)."""
        values = self.raw(name)
        if not isinstance(values, list) or not (values or empty):
            self.fail("must be a list" if empty else "must be a non-empty list", name)
        prefix = ".".join(p for p in (self.path, name) if p)
        return [_Doc(self.where, value, f"{prefix}[{i}]") for i, value in enumerate(values)]

    def text(self, name: str, *, nullable: bool = False) -> Any:
        value = self.raw(name)
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value:
            self.fail(f"must be a non-empty text, not {value!r}", name)
        return value

    def count(self, name: str, *, nullable: bool = False) -> Any:
        value = self.raw(name)
        if value is None and nullable:
            return None
        if type(value) is not int or value < 0:
            self.fail(f"must be a count (an integer >= 0), not {value!r}", name)
        return value

    def texts(self, name: str) -> tuple[str, ...]:
        values = self.raw(name)
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            self.fail("must be a list of non-empty texts", name)
        return tuple(values)

    def text_map(self, name: str) -> dict[str, str]:
        node = self.child(name)
        return {str(k): node.text(str(k)) for k in node.data}

    def count_map(self, name: str) -> dict[str, int]:
        node = self.child(name)
        return {str(k): node.count(str(k)) for k in node.data}


def manifest_key(batch_id: str) -> str:
    """`_manifests/<batch_id>.json` (either bucket)."""
    return f"{MANIFEST_PREFIX}{batch_id}.json"


def batch_id_of_manifest_key(key: str) -> str | None:
    """The batch id a manifest key names, or None for any other key."""
    match = MANIFEST_KEY.fullmatch(key)
    return match.group(1) if match else None


def _header(doc: _Doc, kind: str, key: str | None) -> str:
    """Check format_version, kind and batch_id (against the key, when read from one)."""
    if doc.raw("format_version") != FORMAT_VERSION:
        doc.fail(f"must be {FORMAT_VERSION}, not {doc.data['format_version']!r}", "format_version")
    if doc.raw("kind") != kind:
        doc.fail(f"must be {kind!r}, not {doc.data['kind']!r}", "kind")
    batch_id = doc.raw("batch_id")
    if not isinstance(batch_id, str) or not BATCH_ID.fullmatch(batch_id):
        doc.fail(f"not a batch id: {batch_id!r}", "batch_id")
    if key is not None and batch_id_of_manifest_key(key) != batch_id:
        doc.fail(f"{batch_id!r} does not match the key", "batch_id")
    return str(batch_id)


@dataclass(frozen=True)
class IngestPart:
    """One landed CSV part: its key in the ingest bucket and its rows."""

    key: str
    rows: int


@dataclass(frozen=True)
class IngestTable:
    """A table's entry in an ingest manifest, as far as the job reads it: its columns (the
    CSV header's, as information_schema describes them) and its parts."""

    columns: tuple[Mapping[str, Any], ...]
    parts: tuple[IngestPart, ...]

    @property
    def rows(self) -> int:
        """Rows the parts hold, as the manifest counts them (sizes files before a count)."""
        return sum(part.rows for part in self.parts)


@dataclass(frozen=True)
class IngestBatch:
    """An ingest manifest the job reads (docs/contracts.md section 1): its tables with parts."""

    batch_id: str
    tables: Mapping[str, IngestTable]

    @classmethod
    def from_json(
        cls, data: Any, key: str | None = None, now: datetime | None = None
    ) -> IngestBatch:
        """Parse and check one before anything is read or written (check_ingest_manifest)."""
        doc = _Doc(f"ingest manifest {key or '(unsaved)'}", data)
        batch_id = _header(doc, "ingest", key)
        check_ingest_manifest(doc.data, now)
        tables: dict[str, IngestTable] = {}
        for name, entry in (doc.children("tables") if doc.has("tables") else {}).items():
            parts = entry.items("parts", empty=True)
            if not parts:
                continue
            columns = entry.items("columns")
            for column in columns:
                column.text("name")
            tables[name] = IngestTable(
                tuple(column.data for column in columns),
                tuple(IngestPart(part.text("key"), part.count("rows")) for part in parts),
            )
        return cls(batch_id, tables)


@dataclass(frozen=True)
class PassManifest:
    """A processed manifest (docs/contracts.md section 2): the job's commit and its state.

    Immutable: a pass reads the previous one and derives the next from it and what it wrote
    (`following`), so no dictionary is shared and filled in by the pass's threads.
    """

    batch_id: str
    ingest_batches: tuple[str, ...]
    created_at: str | None
    state: Mapping[str, str]
    state_rows: Mapping[str, int]
    snapshots: Mapping[str, str]
    date_range: Mapping[str, str] | None
    tables: Mapping[str, Mapping[str, Any]]
    quarantine: Mapping[str, Mapping[str, Any]]
    warnings: Mapping[str, Mapping[str, int]]

    @property
    def key(self) -> str:
        """Where it is committed: `_manifests/<batch_id>.json`."""
        return manifest_key(self.batch_id)

    def to_json(self) -> dict[str, Any]:
        """The manifest document, its fields and its tables in the contract's order."""
        return {
            "format_version": FORMAT_VERSION,
            "kind": "processed",
            "batch_id": self.batch_id,
            "ingest_batches": list(self.ingest_batches),
            "created_at": self.created_at,
            "state": dict(self.state),
            "state_rows": dict(self.state_rows),
            "snapshots": dict(self.snapshots),
            "date_range": None if self.date_range is None else dict(self.date_range),
            "tables": _ordered(copy.deepcopy(dict(self.tables)), STAR_TABLE_ORDER),
            "quarantine": _ordered(copy.deepcopy(dict(self.quarantine)), SOURCE_TABLES),
            "warnings": {name: dict(counts) for name, counts in self.warnings.items()},
        }

    @classmethod
    def from_json(cls, data: Any, key: str | None = None) -> PassManifest:
        """Check a document against docs/contracts.md section 2 (key: where it was read); a
        field off the contract is a ManifestError naming the key and the field."""
        doc = _Doc(f"processed manifest {key or '(unsaved)'}", data)
        batch_id = _header(doc, "processed", key)
        ingest_batches = doc.texts("ingest_batches")
        if not ingest_batches or not all(BATCH_ID.fullmatch(b) for b in ingest_batches):
            doc.fail(
                f"must be a non-empty list of batch ids: {list(ingest_batches)}", "ingest_batches"
            )
        if list(ingest_batches) != sorted(set(ingest_batches)) or ingest_batches[-1] != batch_id:
            doc.fail(
                "must be in order, each once, ending with the batch's own id", "ingest_batches"
            )
        tables = {name: _table_entry(name, entry) for name, entry in doc.children("tables").items()}
        return cls(
            batch_id=batch_id,
            ingest_batches=ingest_batches,
            created_at=doc.text("created_at") if doc.has("created_at") else None,
            state=doc.text_map("state") if doc.has("state") else {},
            state_rows=doc.count_map("state_rows") if doc.has("state_rows") else {},
            snapshots=doc.text_map("snapshots") if doc.has("snapshots") else {},
            date_range=_date_range(doc) if doc.has("date_range") else None,
            tables=tables,
            quarantine=_quarantine(doc) if doc.has("quarantine") else {},
            warnings=_warnings(doc) if doc.has("warnings") else {},
        )

    @classmethod
    def following(
        cls,
        previous: PassManifest | None,
        batches: Sequence[IngestBatch],
        written: PassWrites,
        created_at: str,
    ) -> PassManifest:
        """The next pass's manifest: what it wrote, over the state pointers, snapshots and
        date range it carries forward from the previous one (docs/contracts.md section 2)."""
        return cls(
            batch_id=batches[-1].batch_id,
            ingest_batches=tuple(b.batch_id for b in batches),
            created_at=created_at,
            state={**(previous.state if previous else {}), **written.state},
            state_rows={**(previous.state_rows if previous else {}), **written.state_rows},
            snapshots={**(previous.snapshots if previous else {}), **written.snapshots},
            date_range=written.date_range or (previous.date_range if previous else None),
            tables=dict(written.tables),
            quarantine=dict(written.quarantine),
            warnings=dict(written.warnings),
        )


def _table_entry(name: str, doc: _Doc) -> dict[str, Any]:
    """A star table's entry, checked as contracts.manifests' DimensionEntry / FactEntry."""
    kind = "dimension" if name.startswith("dim_") else "fact"
    if name not in STAR_SCHEMAS:
        doc.fail("not a star table")
    if doc.raw("kind") != kind:
        doc.fail(f"must be {kind!r}, not {doc.data['kind']!r}", "kind")
    if kind == "dimension":
        doc.text("location")
        doc.count("rows")
        _unique(doc, "objects", doc.texts("objects"))
        if doc.has("changed_objects") or doc.has("changed_rows"):
            doc.count("changed_rows")
            _unique(doc, "changed_objects", doc.texts("changed_objects"))
        return copy.deepcopy(doc.data)
    keys = (FACT_PARTITION_KEY,)
    named = doc.texts("partition_keys") if doc.has("partition_keys") else keys
    if named != keys:
        doc.fail(f"{list(named)} != {list(keys)}", "partition_keys")
    objects = []
    for obj in doc.items("objects", empty=True):
        if set(obj.text_map("partition")) != set(keys):
            obj.fail(f"must name exactly {list(keys)}", "partition")
        if "rows" in obj.data:
            obj.count("rows", nullable=True)
        objects.append(obj.text("key"))
    _unique(doc, "objects", tuple(objects))
    doc.text("location")
    doc.count("rows")
    return copy.deepcopy(doc.data)


def _unique(doc: _Doc, name: str, keys: tuple[str, ...]) -> tuple[str, ...]:
    twice = sorted(k for k in set(keys) if keys.count(k) > 1)
    if twice:
        doc.fail(f"listed twice: {twice}", name)
    return keys


def _date_range(doc: _Doc) -> dict[str, str]:
    dates = doc.child("date_range")
    low, high = dates.text("min"), dates.text("max")
    for name, value in (("min", low), ("max", high)):
        try:
            date.fromisoformat(value)
        except ValueError:
            dates.fail(f"must be a date YYYY-MM-DD, not {value!r}", name)
    if not low <= high:
        dates.fail(f"min {low} is after max {high}")
    return {"min": low, "max": high}


def _quarantine(doc: _Doc) -> dict[str, dict[str, Any]]:
    entries = {}
    for table, entry in doc.children("quarantine").items():
        entries[table] = {
            "rows": entry.count("rows"),
            "prefix": entry.text("prefix") if entry.has("prefix") else None,
            "reasons": entry.count_map("reasons") if entry.has("reasons") else {},
        }
    return entries


def _warnings(doc: _Doc) -> dict[str, dict[str, int]]:
    return {
        table: {str(k): entry.count(str(k)) for k in entry.data}
        for table, entry in doc.children("warnings").items()
    }


@dataclass(frozen=True)
class PassWrites:
    """What one pass wrote: the fields of its manifest that are not carried forward as they
    were (`date_range` None: unchanged)."""

    state: Mapping[str, str]
    state_rows: Mapping[str, int]
    snapshots: Mapping[str, str]
    date_range: Mapping[str, str] | None
    tables: Mapping[str, Mapping[str, Any]]
    quarantine: Mapping[str, Mapping[str, Any]]
    warnings: Mapping[str, Mapping[str, int]]


# -- the progress marker ---------------------------------------------------------------


def write_latest_pointer(processed: Location, manifest: PassManifest) -> None:
    """Point LATEST_KEY at a committed manifest (after it: a hint, never the commit)."""
    processed.write_json(LATEST_KEY, {"batch_id": manifest.batch_id, "key": manifest.key})


def read_latest_pointer(processed: Location) -> str | None:
    """The batch id LATEST_KEY points at; None if it is absent or malformed."""
    try:
        pointer = processed.read_json(LATEST_KEY)
    except ManifestError as exc:  # not a JSON object: the full listing finds the newest
        _log("ignoring a malformed latest pointer", logging.WARNING, error=str(exc))
        return None
    if pointer is None:
        return None
    batch_id = pointer.get("batch_id")
    if not (isinstance(batch_id, str) and BATCH_ID.fullmatch(batch_id)) or (
        pointer.get("key") != manifest_key(batch_id)
    ):
        _log("ignoring a malformed latest pointer", logging.WARNING, pointer=pointer)
        return None
    return batch_id


def _newest_manifest(keys: Iterable[str]) -> str | None:
    ids = [m.group(1) for k in keys if (m := MANIFEST_KEY.fullmatch(k))]
    return max(ids) if ids else None


def _read_processed(processed: Location, batch_id: str) -> PassManifest | None:
    """The processed manifest of a batch; None if there is no such object."""
    check_not_ahead("processed", batch_id)  # else every later batch would look done
    key = manifest_key(batch_id)
    data = processed.read_json(key)
    return None if data is None else PassManifest.from_json(data, key)


def latest_processed_manifest(processed: Location) -> PassManifest | None:
    """The newest processed manifest: the job's progress marker (None before the first).

    Listed from LATEST_KEY on (ListObjectsV2 StartAfter), so the cost does not grow with the
    history. The pointer is written after the manifest, so a manifest after it (a pass that
    died between the two) wins; an absent, malformed or dangling pointer (its manifest
    removed) means a full listing.
    """
    pointed = read_latest_pointer(processed)
    if pointed is not None:
        after = manifest_key(pointed)
        newest = _newest_manifest(processed.list_keys(MANIFEST_PREFIX, start_after=after))
        manifest = _read_processed(processed, newest or pointed)
        if manifest is not None:
            return manifest
        _log("the latest pointer names no manifest: listing them all", logging.WARNING)
    newest = _newest_manifest(processed.list_keys(MANIFEST_PREFIX))
    if newest is None:
        return None
    manifest = _read_processed(processed, newest)
    if manifest is None:
        raise StorageError(f"{manifest_key(newest)} was listed but cannot be read")
    return manifest


def list_pending_batches(ingest: Location, after: str) -> list[IngestBatch]:
    """Ingest manifests with batch_id > `after`, oldest first, each checked."""
    start = manifest_key(after) if after else ""
    ids = [
        m.group(1)
        for k in ingest.list_keys(MANIFEST_PREFIX, start_after=start)
        if (m := MANIFEST_KEY.fullmatch(k)) and m.group(1) > after
    ]
    return [
        IngestBatch.from_json(ingest.read_json(manifest_key(b)), manifest_key(b))
        for b in sorted(ids)
    ]


def plan_batches(processed: Location, ingest: Location, after: str) -> list[IngestBatch]:
    """The pending ingest batches for this pass (after the processed batch `after`), oldest
    first.

    Normally every ingest manifest newer than the last processed batch. If a pass died
    before its commit, it recorded its batches in INFLIGHT_KEY: redo exactly those, so the
    re-run writes the same keys (batch id) and leaves no orphan objects behind.
    """
    pending = list_pending_batches(ingest, after)
    inflight = processed.read_json(INFLIGHT_KEY)
    if inflight and str(inflight.get("batch_id", "")) > after:
        planned = list(inflight.get("ingest_batches") or [])
        if planned and [b.batch_id for b in pending[: len(planned)]] == planned:
            return pending[: len(planned)]
        _log("ignoring an in-flight record that no longer matches", logging.WARNING)
    return pending


def check_fact_columns(batches: Sequence[IngestBatch]) -> None:
    """Refuse, before anything is written, a batch whose fact source lacks a needed column.

    A column dropped at the source cannot be made up: a clear error beats a Spark one.
    """
    for batch in batches:
        for table, needed in FACT_REQUIRED_COLUMNS.items():
            entry = batch.tables.get(table)
            if entry is None:
                continue
            have = {str(c.get("name")) for c in entry.columns}
            missing = [name for name in needed if name not in have]
            if missing:
                raise ManifestError(
                    f"ingest batch {batch.batch_id}: {table} lacks "
                    f"{', '.join(missing)}, which its fact table needs "
                    "(a column dropped at the source?)"
                )


# Ingest names a batch by the source's now(): a batch id further after this job's clock
# than the skew is forged, and it would sort after (and stall) every real batch.
BATCH_CLOCK_SKEW = timedelta(minutes=5)


def check_not_ahead(kind: str, batch_id: str, now: datetime | None = None) -> None:
    """Refuse a batch id after this job's clock plus the skew (a forged manifest)."""
    clock = (now or datetime.now(UTC)).replace(tzinfo=None)
    if datetime.strptime(batch_id, "%Y%m%dT%H%M%S%fZ") > clock + BATCH_CLOCK_SKEW:
        raise ManifestError(
            f"{kind} batch {batch_id} is after this job's clock {clock:%Y-%m-%dT%H:%M:%S} "
            f"plus {BATCH_CLOCK_SKEW}: a forged manifest? remove it (docs/failure-modes.md)"
        )


def check_ingest_manifest(manifest: Mapping[str, Any], now: datetime | None = None) -> None:
    """Refuse a manifest no ingest run wrote, before anything is read or written: a batch
    id after the clock, a table off the allow-list, or a part key other than
    `<table>/batch=<its batch id>/part-<nnnnn>.csv.gz` (so no `../`, and no glob
    characters, which Hadoop's path reader would expand to other objects)."""
    batch_id = str(manifest["batch_id"])
    check_not_ahead("ingest", batch_id, now)
    for table, entry in (manifest.get("tables") or {}).items():
        if table not in SOURCE_TABLES:
            raise ManifestError(f"ingest batch {batch_id} lists {table!r}, not a source table")
        part = re.compile(rf"{table}/batch={batch_id}/part-\d{{5}}\.csv\.gz")
        for item in (entry or {}).get("parts") or []:
            key = item.get("key") if isinstance(item, Mapping) else None
            if not isinstance(key, str) or not part.fullmatch(key):
                raise ManifestError(
                    f"ingest batch {batch_id}: {table} part key {key!r} is not "
                    f"{table}/batch={batch_id}/part-<nnnnn>.csv.gz"
                )


def read_csv_parts(
    spark: SparkSession, paths: list[str], schema: T.StructType, batch_id: str
) -> DataFrame:
    """One ingest batch's CSV parts of a table as Postgres COPY writes them, all text, plus
    the `_batch_id` its manifest names (not one parsed from the object path).

    NULL (unquoted empty) stays NULL; "" arrives as EMPTY_STRING_SENTINEL (see above).
    """
    frame = (
        spark.read.options(
            header=True,
            enforceSchema=False,
            multiLine=True,
            quote='"',
            escape='"',
            emptyValue=EMPTY_STRING_SENTINEL,
            mode="PERMISSIVE",
        )
        .schema(schema)
        .csv(paths)
    )
    return frame.withColumn("_batch_id", F.lit(batch_id))


def read_source_rows(
    spark: SparkSession, ingest: Location, batches: Sequence[IngestBatch], table: str
) -> DataFrame | None:
    """A table's rows in the batches, validated: one scan per batch (its own columns and its
    id), unioned; None if no batch landed any."""
    frames = [
        validate_rows(
            read_csv_parts(
                spark,
                [ingest.uri(part.key) for part in entry.parts],
                raw_schema(list(entry.columns)),
                batch.batch_id,
            ),
            list(entry.columns),
            table,
        )
        for batch in batches
        if (entry := batch.tables.get(table)) is not None
    ]
    if not frames:
        return None
    validated = frames[0]
    for frame in frames[1:]:
        validated = validated.unionByName(frame, allowMissingColumns=True)
    return validated


def files_for(rows: int) -> int:
    """How many Parquet files for a table of this many rows."""
    return max(1, math.ceil(rows / ROWS_PER_FILE))


def write_parquet(frame: DataFrame, uri: str, files: int, sort_by: str) -> None:
    """Write a whole table as snappy Parquet, replacing what the prefix held.

    Sorted within each file rather than globally: the same rows give the same bytes
    without the extra sampling job a global sort costs.
    """
    (
        frame.coalesce(files)
        .sortWithinPartitions(sort_by)
        .write.mode("overwrite")
        .option("compression", "snappy")
        .parquet(uri)
    )


def observed(frame: DataFrame, **metrics: Column) -> tuple[DataFrame, Observation]:
    """The frame plus aggregates Spark computes while the write runs: counts with no re-read.

    pyspark.sql.Observation's values are ready once the action on the returned frame ends.
    """
    observation = Observation()
    return frame.observe(observation, *[c.alias(n) for n, c in metrics.items()]), observation


def parquet_rows(spark: SparkSession, uri: str) -> int:
    """Rows of one Parquet file, from its footer (no Spark job; the file's own row count)."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None  # nosec B101 - a live session always has its gateway
    hadoop = jvm.org.apache.hadoop
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    source = jvm.org.apache.parquet.hadoop.util.HadoopInputFile.fromPath(hadoop.fs.Path(uri), conf)
    reader = jvm.org.apache.parquet.hadoop.ParquetFileReader.open(source)
    try:
        return int(reader.getRecordCount())
    finally:
        reader.close()


@dataclass(frozen=True)
class SourceRows:
    """A source table's pending rows: all of them validated, the valid ones counted as read."""

    table: str
    validated: DataFrame  # every row with its `_reason` (NULL = valid)
    valid: DataFrame  # the valid rows, counting `counts` (rows, rejected) as a write reads them
    counts: Observation
    landed: int  # rows the ingest manifests list (sizes files before anything is counted)


@dataclass(frozen=True)
class Settled:
    """A source after the write that read it: its valid rows, its quarantine entry if any."""

    table: str
    valid_rows: int
    quarantine: Mapping[str, Any] | None


@dataclass(frozen=True)
class StateWrite:
    """A source table's new state: its prefix and rows."""

    table: str
    pointer: str
    rows: int


@dataclass(frozen=True)
class TableWrite:
    """A star table a pass wrote: its manifest entry (and a dimension's warnings)."""

    name: str
    entry: Mapping[str, Any]
    warnings: Mapping[str, int] | None = None
    date_bounds: tuple[date, date] | None = None  # a fact's, over every date column


@dataclass
class FrameCache:
    """Frames a pass uses more than once, cached until it ends."""

    frames: list[DataFrame] = field(default_factory=list)

    def persist(self, frame: DataFrame) -> DataFrame:
        frame = frame.persist()
        self.frames.append(frame)
        return frame

    def release(self) -> None:
        for frame in self.frames:
            frame.unpersist()
        self.frames.clear()


# -- reading and validation -----------------------------------------------------------


@dataclass
class SourceReader:
    """The pending batches' source rows, validated; rejects quarantined under the pass's id."""

    spark: SparkSession
    ingest: Location
    processed: Location
    batches: Sequence[IngestBatch]
    batch_id: str

    def read_source(self, table: str) -> SourceRows | None:
        """The table's rows in the pending batches, validated; None if no batch landed any.

        Lazy: the one write that reads them also counts them (and their rejects), so the CSV
        is parsed once; settle() then quarantines the rejects, the rare second read.
        """
        validated = read_source_rows(self.spark, self.ingest, self.batches, table)
        if validated is None:
            return None
        landed = sum(entry.rows for b in self.batches if (entry := b.tables.get(table)))
        counted, counts = observed(
            validated, rows=F.count(F.lit(1)), rejected=F.count(F.col("_reason"))
        )
        return SourceRows(table, validated, valid_rows(counted), counts, landed)

    def settle(self, source: SourceRows) -> Settled:
        """After the write that read a source: quarantine its rejects; its valid rows."""
        rows, rejected = int(source.counts.get["rows"]), int(source.counts.get["rejected"])
        entry = None
        if rejected:
            reasons = {
                r["_reason"]: int(r["count"])
                for r in source.validated.where(F.col("_reason").isNotNull())
                .groupBy("_reason")
                .count()
                .collect()  # metadata: one row per reason
            }
            entry = self.write_quarantine(source.table, source.validated, reasons)
        return Settled(source.table, rows - rejected, entry)

    def write_quarantine(
        self, table: str, validated: DataFrame, reasons: dict[str, int]
    ) -> dict[str, Any]:
        """The rejected rows as JSON lines; their quarantine entry."""
        prefix = f"_quarantine/{self.batch_id}/{table}/"
        rows = sum(reasons.values())
        (
            quarantine_rows(validated)
            .coalesce(files_for(rows))
            .write.mode("overwrite")
            .option("ignoreNullFields", "false")
            .json(self.processed.uri(prefix))
        )
        _log("rows quarantined", logging.WARNING, table=table, rows=rows, reasons=reasons)
        return {"rows": rows, "prefix": prefix, "reasons": dict(sorted(reasons.items()))}


# -- dimension source state -----------------------------------------------------------


@dataclass
class StateStore:
    """The current state of the dimension source tables: the previous manifest's, merged
    with this pass's valid rows into new `_state/` prefixes."""

    spark: SparkSession
    processed: Location
    batch_id: str
    previous: PassManifest | None
    cache: FrameCache
    _merged: dict[str, DataFrame] = field(default_factory=dict)

    def rows(self, table: str) -> int:
        """The previous state's rows of a table (0 before its first)."""
        return int(self.previous.state_rows.get(table, 0)) if self.previous else 0

    def read_state(self, table: str) -> DataFrame | None:
        """The previous manifest's state of a table; None before its first."""
        pointer = self.previous.state.get(table) if self.previous else None
        return self.spark.read.parquet(self.processed.uri(pointer)) if pointer else None

    def write_state(self, source: SourceRows) -> StateWrite:
        """Merge the valid rows into the table's state as a new state prefix.

        The count comes with the write, so a batch whose rows were all rejected still writes
        the (unchanged) state; its dimensions are then left as they were. The previous state
        is not deleted: it is tagged superseded after the commit (expire_superseded).
        """
        table, key = source.table, f"{source.table}_id"
        merged = self.cache.persist(merge_state(self.read_state(table), source.valid, key))
        pointer = f"_state/{table}/batch={self.batch_id}/"
        frame, observation = observed(merged, rows=F.count(F.lit(1)))
        files = files_for(self.rows(table) + source.landed)
        write_parquet(frame, self.processed.uri(pointer), files, key)
        self._merged[table] = merged  # the dimensions read the merged rows from the cache
        return StateWrite(table, pointer, int(observation.get["rows"]))

    def state_frame(self, table: str) -> DataFrame:
        """A source table's current state: merged in this pass, else the last one written."""
        if table in self._merged:
            return self._merged[table]
        frame = self.read_state(table)
        if frame is None:
            return self.spark.createDataFrame([], EMPTY_SOURCE_SCHEMAS[table])
        return frame


# -- dimensions -----------------------------------------------------------------------


@dataclass
class DimensionWriter:
    """Dimension snapshots, their changed rows and catalog entries, and dim_date."""

    spark: SparkSession
    args: JobArgs
    processed: Location
    glue: Any
    batch_id: str
    previous: PassManifest | None
    cache: FrameCache

    def rebuild_dimension(self, dim: str, states: StateStore, state_rows: int) -> TableWrite:
        """A dimension from the current state of its source tables."""
        frames = {t: states.state_frame(t) for t in DIMENSION_SOURCES[dim]}
        return self.write_dimension(dim, build_dimension(dim, frames), state_rows)

    def write_dimension(self, dim: str, frame: DataFrame, source_rows: int) -> TableWrite:
        """A new snapshot, the rows changed against the previous one, the catalog entry."""
        snapshot = f"{dim}/snapshot={self.batch_id}/"
        schema = STAR_SCHEMAS[dim]
        key = schema.fields[0].name
        files = files_for(source_rows)
        frame = self.cache.persist(frame)  # written whole, then compared with the last snapshot
        metrics: dict[str, Column] = {"rows": F.count(F.lit(1))}
        if dim == "dim_currency":
            metrics["unknown"] = F.count_if(
                F.col("currency_name").isNull() & F.col("currency_code").isNotNull()
            )
        whole, snapshot_metrics = observed(frame, **metrics)
        write_parquet(whole, self.processed.uri(snapshot), files, key)
        previous_location = self.previous.snapshots.get(dim) if self.previous else None
        previous = (
            # Every snapshot is written conform()ed to the fixed schema: no inference job.
            self.spark.read.schema(schema).parquet(self.processed.uri(previous_location))
            if previous_location and previous_location != snapshot
            else None
        )
        changes = f"_changes/{dim}/batch={self.batch_id}/"
        changed, changed_metrics = observed(changed_rows(frame, previous), rows=F.count(F.lit(1)))
        write_parquet(changed, self.processed.uri(changes), files, key)
        entry = {
            "kind": "dimension",
            "location": snapshot,
            "rows": int(snapshot_metrics.get["rows"]),
            "objects": _data_files(self.processed.list_keys(snapshot)),
            "changed_rows": int(changed_metrics.get["rows"]),
            "changed_objects": _data_files(self.processed.list_keys(changes)),
        }
        warnings = None
        unknown = int(snapshot_metrics.get.get("unknown") or 0)
        if unknown:
            warnings = {"unknown_currency_code": unknown}
            _log("currency codes not in ISO 4217", logging.WARNING, rows=unknown)
        table = table_input(dim, catalog_columns(schema), f"{self.args.catalog_root}/{snapshot}")
        upsert_table(self.glue, self.args.database, table)
        _log("dimension written", table=dim, rows=entry["rows"], changed=entry["changed_rows"])
        return TableWrite(dim, entry, warnings)

    def write_dim_date(self, low: date, high: date) -> tuple[TableWrite, dict[str, str]] | None:
        """Rebuild dim_date over [low, high] if that range is wider than the last one; the
        table and the new date range (None: the range did not grow)."""
        previous = (self.previous.date_range if self.previous else None) or {}
        if previous:
            low = min(low, date.fromisoformat(previous["min"]))
            high = max(high, date.fromisoformat(previous["max"]))
            if dict(previous) == {"min": low.isoformat(), "max": high.isoformat()}:
                return None
        bounds = self.spark.createDataFrame(
            [(low, high)], "min_date DATE, max_date DATE"
        )  # two dates from the driver, not data
        written = self.write_dimension("dim_date", build_dim_date(bounds), (high - low).days + 1)
        return written, {"min": low.isoformat(), "max": high.isoformat()}


# -- facts ----------------------------------------------------------------------------


@dataclass
class FactWriter:
    """New fact records at deterministic keys, their catalog partitions."""

    spark: SparkSession
    args: JobArgs
    processed: Location
    glue: Any
    batch_id: str

    def write_fact(self, fact: str, frame: DataFrame) -> TableWrite | None:
        """New fact records under created_month=YYYY-MM/batch-<pid>-<nnnnn>, with their date
        bounds; None if there are none.

        Spark writes to a temporary prefix (one file per month, rows in created_date, id and
        version order), then each file is moved to its deterministic key, so a re-run
        overwrites the same keys.
        """
        temp = f"_tmp/{self.batch_id}/{fact}/"
        key = STAR_SCHEMAS[fact].fields[0].name
        month = F.date_format(FACT_PARTITION_SOURCE, "yyyy-MM").alias(FACT_PARTITION_KEY)
        # Observation hands back Java objects for dates (py4j converts numbers and strings).
        bounds = {n: c.cast("string") if n != "rows" else c for n, c in bound_columns(fact).items()}
        frame, observation = observed(frame, **bounds)
        # One task per month (hash-partitioned on it), so one file per month it touches.
        (
            frame.select("*", month)
            .repartition(FACT_PARTITION_KEY)
            .sortWithinPartitions(
                FACT_PARTITION_SOURCE, key, "last_updated_date", "last_updated_time"
            )
            .write.mode("overwrite")
            .option("compression", "snappy")
            .option("maxRecordsPerFile", 0)
            .partitionBy(FACT_PARTITION_KEY)
            .parquet(self.processed.uri(temp))
        )
        metrics = observation.get
        if not metrics.get("rows"):
            self.processed.delete_prefix(temp)
            return None
        # The files are the listing the moves need anyway; each one's rows from its footer.
        by_month: dict[str, list[tuple[str, int]]] = {}
        for relative in _data_files(k[len(temp) :] for k in self.processed.list_keys(temp)):
            month_value = relative.split("/", 1)[0].partition("=")[2]
            rows = parquet_rows(self.spark, self.processed.uri(f"{temp}{relative}"))
            by_month.setdefault(month_value, []).append((relative, rows))
        objects: list[dict[str, Any]] = []
        moves: list[tuple[str, str]] = []
        partitions: list[tuple[list[str], str]] = []
        for month_value in sorted(by_month):
            directory = f"{fact}/{FACT_PARTITION_KEY}={month_value}/"
            for n, (relative, rows) in enumerate(sorted(by_month[month_value])):
                target = f"{directory}batch-{self.batch_id}-{n:05d}.snappy.parquet"
                moves.append((f"{temp}{relative}", target))
                objects.append(
                    {"key": target, "partition": {FACT_PARTITION_KEY: month_value}, "rows": rows}
                )
            partitions.append(([month_value], f"{self.args.catalog_root}/{directory}"))
        self.processed.move(moves)
        self.processed.delete_prefix(temp)
        entry = {
            "kind": "fact",
            "location": f"{fact}/",
            "rows": sum(o["rows"] for o in objects),
            "partition_keys": [FACT_PARTITION_KEY],
            "objects": objects,
        }
        table = table_input(
            fact,
            catalog_columns(STAR_SCHEMAS[fact]),
            f"{self.args.catalog_root}/{fact}/",
            [{"Name": FACT_PARTITION_KEY, "Type": "string"}],
        )
        upsert_table(self.glue, self.args.database, table)
        add_partitions(self.glue, self.args.database, table, partitions)
        _log("fact written", table=fact, rows=entry["rows"])
        low, high = metrics.get("min_date"), metrics.get("max_date")
        dates = None
        if low is not None and high is not None:
            dates = date.fromisoformat(str(low)), date.fromisoformat(str(high))
        return TableWrite(fact, entry, date_bounds=dates)


# -- the commit -----------------------------------------------------------------------


def commit_pass(processed: Location, manifest: PassManifest) -> None:
    """The manifest (written once: the commit), then LATEST_KEY pointing at it, then the
    in-flight record goes. A crash between the manifest and the pointer leaves the pointer
    behind, which the next listing after it corrects. The pointer is only ever overwritten:
    the job's role cannot delete it (template.yaml, DeleteWhatAPassReplaces)."""
    processed.write_json(manifest.key, manifest.to_json())
    write_latest_pointer(processed, manifest)
    processed.delete([INFLIGHT_KEY])


# -- the pass -------------------------------------------------------------------------


@dataclass
class StarSchemaPass:
    """One pass over the pending ingest batches; the manifest it writes is the commit.

    It only orders the work: reading (SourceReader), state (StateStore), dimensions
    (DimensionWriter), facts (FactWriter), then the commit (commit_pass).
    """

    spark: SparkSession
    args: JobArgs
    processed: Location
    ingest: Location
    glue: Any
    batches: Sequence[IngestBatch]
    previous: PassManifest | None
    batch_id: str = ""
    cache: FrameCache = field(default_factory=FrameCache)

    def __post_init__(self) -> None:
        self.batch_id = self.batches[-1].batch_id
        self.reader = SourceReader(
            self.spark, self.ingest, self.processed, self.batches, self.batch_id
        )
        self.states = StateStore(
            self.spark, self.processed, self.batch_id, self.previous, self.cache
        )
        self.dimensions = DimensionWriter(
            self.spark,
            self.args,
            self.processed,
            self.glue,
            self.batch_id,
            self.previous,
            self.cache,
        )
        self.facts = FactWriter(self.spark, self.args, self.processed, self.glue, self.batch_id)

    @property
    def ingest_batches(self) -> list[str]:
        """The ingest batch ids this pass covers, oldest first."""
        return [b.batch_id for b in self.batches]

    def execute(self, before_commit: Callable[[], None] | None = None) -> PassManifest:
        """Write everything the pending batches imply, then the manifest (the commit)."""
        check_fact_columns(self.batches)
        ensure_database(self.glue, self.args.database)
        try:
            written = self.write_tables()
        finally:
            self.cache.release()
        self.processed.delete_prefix(f"_tmp/{self.batch_id}/")
        if before_commit is not None:
            before_commit()
        manifest = PassManifest.following(
            self.previous, self.batches, written, datetime.now(UTC).isoformat()
        )
        commit_pass(self.processed, manifest)
        return manifest

    def write_tables(self) -> PassWrites:
        """Source state and facts at once, then the dimensions the state changed, then dim_date.

        Each step's tables are independent, so they are written CONCURRENT_TABLES at a time:
        most of a small table's write is Spark's fixed cost per action (planning, a file
        commit), which overlaps across threads. The manifest's entries are then put in one
        fixed order, whatever order the writes finished in.
        """
        read = concurrently([partial(self.reader.read_source, t) for t in SOURCE_TABLES])
        sources = {t: s for t, s in zip(SOURCE_TABLES, read, strict=True) if s is not None}
        states = [t for t in STATE_TABLES if t in sources]
        facts = [f for f, t in FACT_SOURCES.items() if t in sources]
        writes: list[Callable[[], Any]] = [partial(self.write_state, sources[t]) for t in states]
        writes += [partial(self.write_fact_source, f, sources[FACT_SOURCES[f]]) for f in facts]
        results = concurrently(writes)
        state_writes: list[tuple[StateWrite, Settled]] = results[: len(states)]
        fact_writes: list[tuple[TableWrite | None, Settled]] = results[len(states) :]

        state = {w.table: w.pointer for w, _ in state_writes}
        current_rows = {
            **(self.previous.state_rows if self.previous else {}),
            **{w.table: w.rows for w, _ in state_writes},
        }
        changed = {w.table for w, settled in state_writes if settled.valid_rows > 0}
        dims = [d for d, inputs in DIMENSION_SOURCES.items() if changed.intersection(inputs)]
        tables: list[TableWrite] = concurrently(
            [
                partial(
                    self.dimensions.rebuild_dimension,
                    d,
                    self.states,
                    int(current_rows.get(DIMENSION_SOURCES[d][0], 0)),
                )
                for d in dims
            ]
        )
        tables += [w for w, _ in fact_writes if w is not None]
        bounds = [w.date_bounds for w in tables if w.date_bounds]
        date_range = None
        if bounds:
            dim_date = self.dimensions.write_dim_date(
                min(b[0] for b in bounds), max(b[1] for b in bounds)
            )
            if dim_date is not None:
                tables.append(dim_date[0])
                date_range = dim_date[1]
        settled = [s for _, s in (*state_writes, *fact_writes)]
        return PassWrites(
            state=state,
            state_rows={w.table: w.rows for w, _ in state_writes},
            snapshots={
                w.name: w.entry["location"] for w in tables if w.entry["kind"] == "dimension"
            },
            date_range=date_range,
            tables={w.name: w.entry for w in tables},
            quarantine={s.table: s.quarantine for s in settled if s.quarantine is not None},
            warnings={w.name: w.warnings for w in tables if w.warnings},
        )

    def write_state(self, source: SourceRows) -> tuple[StateWrite, Settled]:
        """A dimension source's new state, then its rejects quarantined."""
        written = self.states.write_state(source)
        return written, self.reader.settle(source)

    def write_fact_source(self, fact: str, source: SourceRows) -> tuple[TableWrite | None, Settled]:
        """A fact from its source's valid rows, then that source's rejects quarantined."""
        written = self.facts.write_fact(fact, FACT_BUILDERS[fact](source.valid))
        return written, self.reader.settle(source)


def concurrently(tasks: list[Callable[[], Any]]) -> list[Any]:
    """Run the tasks CONCURRENT_TABLES at a time; their results in order (the first error raised).

    Each thread inherits the caller's Spark job group and properties, so a pass's jobs are
    still counted as its own (pyspark.inheritable_thread_target).
    """
    if len(tasks) <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=CONCURRENT_TABLES) as pool:
        futures = [pool.submit(inheritable_thread_target(task)) for task in tasks]
    return [future.result() for future in futures]


def _ordered(entries: dict[str, Any], order: Iterable[str]) -> dict[str, Any]:
    """The entries in a fixed order (the tables it names first, any others after)."""
    ranked = {name: n for n, name in enumerate(order)}
    return dict(sorted(entries.items(), key=lambda kv: (ranked.get(kv[0], len(ranked)), kv[0])))


SUPERSEDED_TAG = {"TagSet": [{"Key": "superseded", "Value": "true"}]}


def superseded_prefixes(
    previous: Mapping[str, Any] | None, current: Mapping[str, Any]
) -> list[str]:
    """What the just-committed manifest no longer needs of the one before it: the _state/
    and snapshot prefixes it replaced, and the previous pass's _changes/ (each pass's
    changes are loaded after its own commit, so they are long loaded when they expire)."""
    if not previous:
        return []
    found: set[str] = set()
    for field_name in ("state", "snapshots"):
        now = current.get(field_name) or {}
        for name, prefix in (previous.get(field_name) or {}).items():
            if prefix and now.get(name) != prefix:
                found.add(str(prefix))
    for name, entry in (previous.get("tables") or {}).items():
        if (entry or {}).get("kind") == "dimension":
            found.add(f"_changes/{name}/batch={previous['batch_id']}/")
    return sorted(found)


def mark_superseded(processed: Location, prefixes: Iterable[str]) -> int:
    """Tag every object under the prefixes superseded=true: the lake's lifecycle rule
    (ExpireSupersededSnapshots) deletes them RetentionDays later. A local directory has no
    lifecycle, so nothing is marked there. Returns the number of objects tagged."""
    if not isinstance(processed, S3Location):
        return 0
    keys = [processed._key(key) for prefix in prefixes for key in processed.list_keys(prefix)]

    def tag(key: str) -> None:
        processed.client.put_object_tagging(
            Bucket=processed.bucket, Key=key, Tagging=SUPERSEDED_TAG
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(tag, keys))
    return len(keys)


def expire_superseded(
    processed: Location, previous: Mapping[str, Any] | None, manifest: Mapping[str, Any]
) -> None:
    """After the commit: mark what it superseded. A failure here is logged, not raised:
    the batch is committed, and an unmarked object only lives longer."""
    prefixes = superseded_prefixes(previous, manifest)
    try:
        tagged = mark_superseded(processed, prefixes)
    except Exception as exc:  # noqa: BLE001 - the commit is done; say why and go on
        _log("could not mark superseded objects", logging.WARNING, error=type(exc).__name__)
        return
    _log("marked superseded", prefixes=prefixes, objects=tagged)


def run(
    spark: SparkSession,
    args: Mapping[str, Any],
    *,
    s3: Any = None,
    glue: Any = None,
    before_commit: Callable[[], None] | None = None,
    locations: Callable[[str, Any], Location] = open_location,
) -> dict[str, Any] | None:
    """Process every pending ingest batch; return the last processed manifest (None: no work).

    Passes repeat until nothing is pending: a redone in-flight pass covers exactly its own
    batches, so the batches that landed after it get a pass of their own in the same run
    instead of waiting for the next event (which may come hours later, or never).
    `before_commit` runs just before each manifest is written (tests simulate a crash there);
    `locations` opens the two locations (the local runner checks them against the job's role).
    """
    settings = JobArgs.from_mapping(args)
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "static")
    # The pass counts rows with Observation as it writes. Adaptive execution's empty-relation
    # rule replaces a plan whose input turns out empty (a batch whose fact rows were all
    # quarantined) and drops its CollectMetrics node with it: the Observation is then never
    # filled and Observation.get waits forever. Without the rule an empty write is still cheap.
    spark.conf.set("spark.sql.adaptive.optimizer.excludedRules", AQE_RULES_OFF)
    ingest = locations(settings.ingest_location, s3)
    processed = locations(settings.processed_location, s3)
    committed: dict[str, Any] | None = None
    while True:
        previous = latest_processed_manifest(processed)
        batches = plan_batches(processed, ingest, previous.batch_id if previous else "")
        if not batches:
            if committed is None:
                _log("nothing pending", after=previous.batch_id if previous else None)
            return committed
        if glue is None:
            import boto3

            glue = boto3.client("glue")
        committed = run_pass(
            spark, settings, processed, ingest, glue, batches, previous, before_commit
        )


def run_pass(
    spark: SparkSession,
    settings: JobArgs,
    processed: Location,
    ingest: Location,
    glue: Any,
    batches: Sequence[IngestBatch],
    previous: PassManifest | None,
    before_commit: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """One pass over `batches`: record them as in flight, write, commit; the manifest."""
    job = StarSchemaPass(spark, settings, processed, ingest, glue, batches, previous)
    _log("processing", batch_id=job.batch_id, ingest_batches=job.ingest_batches)
    processed.write_json(
        INFLIGHT_KEY, {"batch_id": job.batch_id, "ingest_batches": job.ingest_batches}
    )
    manifest = job.execute(before_commit).to_json()
    expire_superseded(processed, previous.to_json() if previous else None, manifest)
    _log(
        "committed",
        batch_id=job.batch_id,
        tables={k: v["rows"] for k, v in manifest["tables"].items()},
        quarantined={k: v["rows"] for k, v in manifest["quarantine"].items()},
    )
    return manifest


ARGUMENTS = (
    "ingest_location",
    "processed_location",
    "database",
    "ingest_bucket",
    "processed_bucket",
)


def main(argv: list[str] | None = None) -> None:
    """Glue entry point (getResolvedOptions); a plain argument parser when run locally."""
    argv = list(sys.argv if argv is None else argv)
    if not LOGGER.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonLogFormatter())
        LOGGER.addHandler(handler)
        LOGGER.setLevel(logging.INFO)
    try:
        from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    except ImportError:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
        for name in ARGUMENTS:
            parser.add_argument(f"--{name}", required=True)
        args: dict[str, Any] = vars(parser.parse_known_args(argv[1:])[0])
        spark = SparkSession.builder.appName("totesys-star-schema").getOrCreate()
    else:
        from awsglue.context import GlueContext  # type: ignore[import-not-found]
        from pyspark.context import SparkContext

        args = getResolvedOptions(argv, list(ARGUMENTS))
        spark = GlueContext(SparkContext.getOrCreate()).spark_session
    run(spark, args)


if __name__ == "__main__":
    main()

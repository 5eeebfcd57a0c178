"""Reading landed CSV and typing it with validation: exact typed rows and exact rejects."""

from __future__ import annotations

import datetime as dt
import gzip
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from glue_jobs import star_schema as job

B1 = "20241115T144100123456Z"
B2 = "20241115T144400000000Z"


def col(name: str, data_type: str, nullable: bool, **extra: Any) -> dict[str, Any]:
    return {"name": name, "data_type": data_type, "nullable": nullable, **extra}


TS = "timestamp without time zone"
SALES_COLUMNS = [
    col("sales_order_id", "integer", False),
    col("created_at", TS, False),
    col("last_updated", TS, False),
    col("design_id", "integer", False),
    col("staff_id", "integer", False),
    col("counterparty_id", "integer", False),
    col("units_sold", "integer", False),
    col("unit_price", "numeric", False, numeric_precision=10, numeric_scale=2),
    col("currency_id", "integer", False),
    col("agreed_delivery_date", "text", False),
    col("agreed_payment_date", "text", False),
    col("agreed_delivery_location_id", "integer", False),
]
ADDRESS_COLUMNS = [
    col("address_id", "integer", False),
    col("address_line_1", "text", False),
    col("address_line_2", "text", True),
    col("district", "text", True),
    col("city", "text", False),
    col("postal_code", "text", False),
    col("country", "text", False),
    col("phone", "text", False),
    col("created_at", TS, False),
    col("last_updated", TS, False),
]
PAYMENT_COLUMNS = [
    col("payment_id", "integer", False),
    col("created_at", TS, False),
    col("last_updated", TS, False),
    col("transaction_id", "integer", False),
    col("counterparty_id", "integer", False),
    col("payment_amount", "numeric", False, numeric_precision=10, numeric_scale=2),
    col("currency_id", "integer", False),
    col("payment_type_id", "integer", False),
    col("paid", "boolean", False),
    col("payment_date", "text", False),
    col("company_ac_number", "integer", False),
    col("counterparty_ac_number", "integer", False),
]


def write_part(root: Path, table: str, batch: str, text: str) -> str:
    """One landed part as ingest writes it (gzip CSV); returns its URI."""
    path = root / table / f"batch={batch}" / "part-00000.csv.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode()))
    return f"file://{path}"


def read_validated(
    spark: Any, uris: list[str], columns: list[dict[str, Any]], table: str, batch_id: str
) -> Any:
    raw = job.read_csv_parts(spark, uris, job.raw_schema(columns), batch_id)
    return job.validate_rows(raw, columns, table).cache()


SALES_HEADER = (
    "sales_order_id,created_at,last_updated,design_id,staff_id,counterparty_id,units_sold,"
    "unit_price,currency_id,agreed_delivery_date,agreed_payment_date,agreed_delivery_location_id\n"
)
GOOD_1 = (
    "1,2024-11-15 14:40:01.123,2024-11-15 14:40:01.123,3,19,8,42972,3.94,2,2024-11-20,2024-11-21,8"
)
GOOD_9 = (
    "9,2024-11-15 00:00:00.000,2024-11-16 09:05:00.5,4,10,4,100,0.00,3,2026-11-13,2024-11-18,19"
)
BAD_ROWS = [
    "2,2024-11-15 14:40:02.000,2024-11-15 14:40:02.000,3,19,8,10,3.50,2,2024-11-20,2024-13-45,8",
    "3,2024-11-15 14:40:03.000,2024-11-15 14:40:03.000,3,19,8,12x,3.50,2,2024-11-20,2024-11-21,8",
    "4,2024-11-15 14:40:04.000,2024-11-15 14:40:04.000,3,19,8,-5,3.50,2,2024-11-20,2024-11-21,8",
    "5,2024-11-15 14:40:05.000,2024-11-15 14:40:05.000,3,19,8,10,,2,2024-11-20,2024-11-21,8",
    "6,2024-11-15 14:40:06.000,2024-11-15 14:40:06.000,3,19,8,10,1234567890.00,2,"
    "2024-11-20,2024-11-21,8",
    "7,2024-11-15 14:40:07.000,yesterday,3,19,8,10,3.50,2,2024-11-20,2024-11-21,8",
    "8,2024-11-15 14:40:08.000,2024-11-15 14:40:08.000,3,19,8,-1,3.50,2,soon,2024-11-21,8",
]


def test_sales_order_rows_are_typed_and_bad_rows_rejected_with_reasons(
    spark: Any, tmp_path: Path, expect: Any
) -> None:
    text = SALES_HEADER + "\n".join([GOOD_1, *BAD_ROWS, GOOD_9]) + "\n"
    uri = write_part(tmp_path, "sales_order", B1, text)
    validated = read_validated(spark, [uri], SALES_COLUMNS, "sales_order", B1)

    expect(
        job.valid_rows(validated),
        [
            (
                1,
                dt.datetime(2024, 11, 15, 14, 40, 1, 123000),
                dt.datetime(2024, 11, 15, 14, 40, 1, 123000),
                3,
                19,
                8,
                42972,
                Decimal("3.94"),
                2,
                dt.date(2024, 11, 20),
                dt.date(2024, 11, 21),
                8,
                B1,
            ),
            (
                9,
                dt.datetime(2024, 11, 15, 0, 0),
                dt.datetime(2024, 11, 16, 9, 5, 0, 500000),
                4,
                10,
                4,
                100,
                Decimal("0.00"),
                3,
                dt.date(2026, 11, 13),
                dt.date(2024, 11, 18),
                19,
                B1,
            ),
        ],
        "sales_order_id INT, created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ,"
        " design_id INT, staff_id INT, counterparty_id INT, units_sold INT,"
        " unit_price DECIMAL(10,2), currency_id INT, agreed_delivery_date DATE,"
        " agreed_payment_date DATE, agreed_delivery_location_id INT, _batch_id STRING",
    )
    text_columns = ", ".join(f"{c['name']} STRING" for c in SALES_COLUMNS)
    expect(
        job.quarantine_rows(validated),
        [
            (*[v or None for v in row.split(",")], B1, reason)
            for row, reason in zip(
                BAD_ROWS,
                [
                    "agreed_payment_date: not a date",
                    "units_sold: not an integer",
                    "units_sold: negative",
                    "unit_price: null",
                    "unit_price: not a decimal(10,2)",
                    "last_updated: not a timestamp",
                    "units_sold: negative; agreed_delivery_date: not a date",
                ],
                strict=True,
            )
        ],
        f"{text_columns}, _batch_id STRING, _reason STRING",
    )


def test_null_and_empty_string_stay_different_through_quotes_and_newlines(
    spark: Any, tmp_path: Path, expect: Any
) -> None:
    text = (
        "address_id,address_line_1,address_line_2,district,city,postal_code,country,phone,"
        "created_at,last_updated\n"
        '1,"12 ""Old"" Lane, Flat 2",,"",Leeds,LS1 1AA,"United\nKingdom",0113 000000,'
        "2024-01-01 09:00:00.000,2024-01-01 09:00:00.000\n"
        '2,"",Unit 4,,York,YO1 7HH,UK,"",2024-01-02 09:00:00.000,2024-01-03 10:00:00.250\n'
        "3,,,,Hull,HU1 1AA,UK,01482,2024-01-02 09:00:00.000,2024-01-03 10:00:00.000\n"
    )
    uri = write_part(tmp_path, "address", B2, text)
    validated = read_validated(spark, [uri], ADDRESS_COLUMNS, "address", B2)

    expect(
        job.valid_rows(validated),
        [
            (
                1,
                '12 "Old" Lane, Flat 2',
                None,
                "",
                "Leeds",
                "LS1 1AA",
                "United\nKingdom",
                "0113 000000",
                dt.datetime(2024, 1, 1, 9),
                dt.datetime(2024, 1, 1, 9),
                B2,
            ),
            (
                2,
                "",
                "Unit 4",
                None,
                "York",
                "YO1 7HH",
                "UK",
                "",
                dt.datetime(2024, 1, 2, 9),
                dt.datetime(2024, 1, 3, 10, 0, 0, 250000),
                B2,
            ),
        ],
        "address_id INT, address_line_1 STRING, address_line_2 STRING, district STRING,"
        " city STRING, postal_code STRING, country STRING, phone STRING,"
        " created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ, _batch_id STRING",
    )
    # A NULL in a NOT NULL text column is rejected; the empty string above was not.
    rejected = job.quarantine_rows(validated)
    assert [(r["address_id"], r["address_line_1"], r["_reason"]) for r in rejected.collect()] == [
        ("3", None, "address_line_1: null")
    ]


PAYMENT_HEADER = (
    "payment_id,created_at,last_updated,transaction_id,counterparty_id,payment_amount,"
    "currency_id,payment_type_id,paid,payment_date,company_ac_number,counterparty_ac_number\n"
)


def test_rows_carry_the_batch_their_manifest_names_even_when_the_path_says_otherwise(
    spark: Any, tmp_path: Path, expect: Any
) -> None:
    """One scan per ingest batch, its rows stamped with the batch id of the manifest that
    lists the part: the object path is never parsed for it (here it names another batch)."""
    elsewhere = "20241115T143800000000Z"
    first = write_part(
        tmp_path,
        "payment",
        elsewhere,
        PAYMENT_HEADER + "1,2024-11-15 10:00:00.000,2024-11-15 10:00:00.000,1,2,552548.62,2,3,f,"
        "2024-11-16,67305075,31622269\n",
    )
    second = write_part(
        tmp_path,
        "payment",
        B1,
        PAYMENT_HEADER + "1,2024-11-15 10:00:00.000,2024-11-15 11:00:00.000,1,2,552548.62,2,3,t,"
        "2024-11-16,67305075,31622269\n"
        "2,2024-11-15 10:00:00.000,2024-11-15 11:00:00.000,2,2,-10.00,2,3,maybe,"
        "2024-02-30,1,2\n",
    )

    def batch(batch_id: str, uri: str, rows: int) -> job.IngestBatch:
        key = Path(uri.removeprefix("file://")).relative_to(tmp_path).as_posix()
        table = job.IngestTable(tuple(PAYMENT_COLUMNS), (job.IngestPart(key, rows),))
        return job.IngestBatch(batch_id, {"payment": table})

    # The first part sits under batch=<elsewhere>/ but B1's manifest lists it; B2's the second.
    batches = [batch(B1, first, 1), batch(B2, second, 2)]
    validated = job.read_source_rows(spark, job.LocalLocation(tmp_path), batches, "payment")
    assert validated is not None
    expect(
        job.valid_rows(validated).select("payment_id", "paid", "payment_amount", "_batch_id"),
        [(1, False, Decimal("552548.62"), B1), (1, True, Decimal("552548.62"), B2)],
        "payment_id INT, paid BOOLEAN, payment_amount DECIMAL(10,2), _batch_id STRING",
    )
    expect(
        job.quarantine_rows(validated).select("payment_id", "_batch_id", "_reason"),
        [("2", B2, "paid: not a boolean; payment_date: not a date")],
        "payment_id STRING, _batch_id STRING, _reason STRING",
    )
    assert job.read_source_rows(spark, job.LocalLocation(tmp_path), batches, "staff") is None


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ({"data_type": "integer"}, "int"),
        ({"data_type": "smallint"}, "int"),
        ({"data_type": "bigint"}, "bigint"),
        ({"data_type": "numeric", "numeric_precision": 10, "numeric_scale": 2}, "decimal(10,2)"),
        ({"data_type": "numeric", "numeric_precision": None}, "decimal(38,18)"),
        ({"data_type": "boolean"}, "boolean"),
        ({"data_type": "timestamp without time zone"}, "timestamp_ntz"),
        ({"data_type": "date"}, "date"),
        ({"data_type": "text"}, "string"),
        ({"data_type": "USER-DEFINED", "udt_name": "TransactionType"}, "string"),
        ({"data_type": "character varying"}, "string"),
    ],
)
def test_source_types_follow_the_manifest_column_types(
    column: dict[str, Any], expected: str
) -> None:
    assert job.source_type(column).simpleString() == expected


def test_a_column_name_that_is_not_an_identifier_is_a_manifest_error() -> None:
    with pytest.raises(job.ManifestError, match="not a plain identifier"):
        job.raw_schema([{"name": "bad`name", "data_type": "text"}])

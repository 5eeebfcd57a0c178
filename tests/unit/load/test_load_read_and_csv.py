"""Parquet -> Arrow in the star types -> CSV for COPY, exact at every step (no network)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loader.copy import CsvStream
from loader.exceptions import LakeSchemaError
from loader.manifest import LakeObject
from loader.read import ObjectReader
from loader.schema import STAR_TABLES
from pipeline_common.postgres import quote_identifier, quote_identifiers

PAYMENT = STAR_TABLES["fact_payment"]
CURRENCY = STAR_TABLES["dim_currency"]


def parquet(table: pa.Table) -> io.BytesIO:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    buffer.seek(0)
    return buffer


def payment_file(**overrides: pa.Array) -> io.BytesIO:
    columns = {
        "payment_id": pa.array([1, 2], pa.int32()),
        "created_date": pa.array([dt.date(2024, 11, 14), dt.date(2024, 11, 14)]),
        "created_time": pa.array(["09:12:30.001", "23:59:59.999"]),
        "last_updated_date": pa.array([dt.date(2024, 11, 14), dt.date(2024, 11, 15)]),
        "last_updated_time": pa.array(["09:12:30.001", "00:00:00.000"]),
        "transaction_id": pa.array([10, 11], pa.int32()),
        "counterparty_id": pa.array([3, 4], pa.int32()),
        "payment_amount": pa.array(
            [Decimal("0.10"), Decimal("-99999999.99")], pa.decimal128(10, 2)
        ),
        "currency_id": pa.array([1, 2], pa.int32()),
        "payment_type_id": pa.array([1, 3], pa.int32()),
        "paid": pa.array([True, False]),
        "payment_date": pa.array([dt.date(2024, 11, 20), dt.date(2024, 11, 21)]),
    }
    columns.update(overrides)
    return parquet(pa.table(columns))


OBJ = LakeObject(
    "fact_payment/created_month=2024-11/batch-x-00000.snappy.parquet",
    {"created_month": "2024-11"},
    2,
)


def test_a_fact_object_reads_in_table_order_with_created_date_from_the_file() -> None:
    reader = ObjectReader(payment_file(), OBJ, PAYMENT)
    [batch] = list(reader.iter_batches())
    assert reader.num_rows == 2
    assert batch.schema.names == list(PAYMENT.column_names)
    assert batch.column("created_date").to_pylist() == [dt.date(2024, 11, 14)] * 2
    assert batch.column("payment_amount").type == pa.decimal128(10, 2)
    assert batch.column("payment_amount").to_pylist() == [Decimal("0.10"), Decimal("-99999999.99")]


def test_wider_integers_and_large_strings_are_narrowed_to_the_star_types() -> None:
    source = payment_file(
        payment_id=pa.array([1, None], pa.int64()),
        created_time=pa.array(["09:12:30.001", "10:00:00.000"], pa.large_string()),
    )
    [batch] = list(ObjectReader(source, OBJ, PAYMENT).iter_batches())
    assert batch.column("payment_id").type == pa.int32()
    assert batch.column("payment_id").to_pylist() == [1, None]  # nullable id stays an integer
    assert batch.column("created_time").type == pa.string()


def test_an_integer_that_does_not_fit_is_a_schema_error_not_a_silent_wrap() -> None:
    source = payment_file(payment_id=pa.array([1, 2**40], pa.int64()))
    reader = ObjectReader(source, OBJ, PAYMENT)
    with pytest.raises(LakeSchemaError, match="fact_payment"):
        list(reader.iter_batches())


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"payment_amount": pa.array([0.1, 0.2])}, "payment_amount is double, expected decimal"),
        ({"paid": pa.array(["t", "f"])}, "paid is string, expected boolean"),
        ({"payment_date": pa.array(["2024-11-20", "x"])}, "payment_date is string, expected date"),
    ],
)
def test_a_column_in_an_incompatible_type_is_refused(override, message) -> None:
    with pytest.raises(LakeSchemaError, match=message):
        ObjectReader(payment_file(**override), OBJ, PAYMENT)


def test_a_missing_column_is_refused_naming_it() -> None:
    table = pq.read_table(payment_file()).drop_columns(["paid", "currency_id"])
    with pytest.raises(LakeSchemaError, match="currency_id missing; paid missing"):
        ObjectReader(parquet(table), OBJ, PAYMENT)


def test_a_fact_file_without_created_date_is_refused_whatever_its_path_says() -> None:
    table = pq.read_table(payment_file()).drop_columns(["created_date"])
    with pytest.raises(LakeSchemaError, match="created_date missing"):
        ObjectReader(parquet(table), OBJ, PAYMENT)


def test_an_object_that_is_not_parquet_is_refused() -> None:
    with pytest.raises(LakeSchemaError, match="not a readable Parquet object"):
        ObjectReader(io.BytesIO(b"sales_order_id,created_at\n1,2024\n"), OBJ, PAYMENT)


def test_csv_keeps_null_apart_from_the_empty_string_and_values_exact() -> None:
    source = parquet(
        pa.table(
            {
                "currency_id": pa.array([1, 2, 3], pa.int32()),
                "currency_code": pa.array(["GBP", "", 'A,"B"\nC']),
                "currency_name": pa.array(["Pound Sterling", None, ""]),
            }
        )
    )
    reader = ObjectReader(source, LakeObject("_changes/dim_currency/x.parquet", {}), CURRENCY)
    stream = CsvStream(reader.iter_batches())
    text = b"".join(stream).decode()
    assert text == '1,"GBP","Pound Sterling"\n2,"",\n3,"A,""B""\nC",""\n'
    assert stream.rows == 3 and stream.error is None


def test_csv_of_a_fact_row_is_what_copy_reads_into_numeric_date_time_and_boolean() -> None:
    [batch] = list(ObjectReader(payment_file(), OBJ, PAYMENT).iter_batches())
    first = b"".join(CsvStream([batch])).decode().splitlines()[0]
    assert first == (
        '1,2024-11-14,"09:12:30.001",2024-11-14,"09:12:30.001",10,3,0.10,1,1,true,2024-11-20'
    )


def test_an_error_while_producing_rows_ends_the_stream_and_is_kept_for_the_caller() -> None:
    def batches():
        yield pa.record_batch({"currency_id": pa.array([1], pa.int32())})
        raise LakeSchemaError("corrupt page")

    stream = CsvStream(batches())
    assert list(stream) == [b"1\n"]
    assert isinstance(stream.error, LakeSchemaError)


def test_identifiers_are_quoted_and_anything_unexpected_is_refused() -> None:
    assert quote_identifier("fact_payment") == '"fact_payment"'
    assert quote_identifiers(("a", "b"), "t") == '"t"."a", "t"."b"'
    for bad in ('x"; DROP TABLE dim_staff; --', "Dim", "1abc", ""):
        with pytest.raises(ValueError, match="not an allowed SQL identifier"):
            quote_identifier(bad)


def test_a_large_object_is_read_and_rendered_in_bounded_batches() -> None:
    """Memory holds one record batch (and its CSV chunk) at a time, whatever the file size."""
    from loader.read import BATCH_ROWS

    rows = 2 * BATCH_ROWS + 1
    source = parquet(
        pa.table(
            {
                "currency_id": pa.array(range(rows), pa.int32()),
                "currency_code": pa.array(["GBP"] * rows),
                "currency_name": pa.array([None] * rows, pa.string()),
            }
        )
    )
    reader = ObjectReader(source, LakeObject("_changes/dim_currency/big.parquet", {}), CURRENCY)
    sizes = [batch.num_rows for batch in reader.iter_batches()]
    assert sizes == [BATCH_ROWS, BATCH_ROWS, 1]
    source.seek(0)
    reader = ObjectReader(source, LakeObject("_changes/dim_currency/big.parquet", {}), CURRENCY)
    stream = CsvStream(reader.iter_batches())
    chunks = list(stream)
    assert len(chunks) == 3 and stream.rows == rows
    assert chunks[2] == f'{rows - 1},"GBP",\n'.encode()

"""The CLI's text output: aligned tables, side-by-side answers, cross-engine comparison."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from local.demo import normalise, side_by_side
from local.report import format_table, one_line


def test_format_table_right_aligns_numbers_and_prints_null() -> None:
    text = format_table(["name", "n"], [("a", 1), ("bbb", None), ("cc", Decimal("2.50"))])
    assert text.splitlines() == [
        "name     n",
        "----  ----",
        "a        1",
        "bbb   NULL",
        "cc    2.50",
    ]


def test_one_line_folds_a_multi_line_reason() -> None:
    assert one_line("cannot connect:\n  [Errno 111]\tConnection refused\n") == (
        "cannot connect: [Errno 111] Connection refused"
    )


def test_side_by_side_puts_equal_width_answers_next_to_each_other() -> None:
    text = side_by_side(["y", "n"], [(2024, 3)], [(2024, 3)])
    lines = text.splitlines()
    assert lines[0].startswith("lake (DuckDB over the catalog's Parquet)")
    assert lines[0].endswith(" | warehouse (Postgres)")
    assert lines[-1].split(" | ") == [
        "2024  3".ljust(len("lake (DuckDB over the catalog's Parquet)")),
        "2024  3",
    ]


def test_side_by_side_stacks_answers_too_wide_for_one_line() -> None:
    columns = [f"column_{i}" for i in range(12)]
    row = tuple(range(12))
    lines = side_by_side(columns, [row], [row]).splitlines()
    assert lines[0] == "lake (DuckDB over the catalog's Parquet):"
    assert lines.index("warehouse (Postgres):") == 4


def test_normalise_equates_engine_types_but_not_different_values() -> None:
    duckdb_row = (2024, Decimal("10.50"), dt.date(2024, 11, 15), True, "GBP")
    postgres_row = (Decimal("2024"), Decimal("10.5"), dt.date(2024, 11, 15), True, "GBP")
    assert normalise([duckdb_row], ordered=True) == normalise([postgres_row], ordered=True)
    assert normalise([duckdb_row], True) != normalise([(*duckdb_row[:4], "EUR")], True)
    assert normalise([(2,), (1,)], ordered=False) == normalise([(1,), (2,)], ordered=False)
    assert normalise([(2,), (1,)], ordered=True) != normalise([(1,), (2,)], ordered=True)

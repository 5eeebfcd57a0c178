"""The named queries' Trino-only forms, rewritten for the warehouse's Postgres."""

from __future__ import annotations

import pytest

from local.dialect import DialectError, athena_to_postgres


def test_date_diff_in_days_becomes_a_date_subtraction() -> None:
    sql = (
        "SELECT date_diff('day', o.agreed_payment_date,\n"
        "   CASE WHEN p.paid THEN p.payment_date ELSE current_date END) AS days_late FROM t"
    )
    assert athena_to_postgres(sql, "totesys_star") == (
        "SELECT (CAST(CASE WHEN p.paid THEN p.payment_date ELSE current_date END AS date)"
        " - CAST(o.agreed_payment_date AS date)) AS days_late FROM t"
    )


def test_nested_date_diff_and_commas_inside_calls_are_kept_apart() -> None:
    sql = "SELECT DATE_DIFF('day', coalesce(a, b), date_diff('day', c, d)) FROM t"
    assert athena_to_postgres(sql, "db") == (
        "SELECT (CAST((CAST(d AS date) - CAST(c AS date)) AS date)"
        " - CAST(coalesce(a, b) AS date)) FROM t"
    )


def test_the_catalog_database_qualifier_is_dropped_for_public() -> None:
    sql = 'SELECT * FROM totesys_star.dim_staff JOIN "totesys_star".dim_date ON true'
    assert athena_to_postgres(sql, "totesys_star") == (
        "SELECT * FROM dim_staff JOIN dim_date ON true"
    )


def test_other_date_diff_units_are_refused() -> None:
    with pytest.raises(DialectError, match="not a day difference"):
        athena_to_postgres("SELECT date_diff('month', a, b)", "db")

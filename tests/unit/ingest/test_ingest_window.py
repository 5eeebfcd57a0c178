"""Window bounds are strict timestamps, quoted as literals only after they parse."""

from __future__ import annotations

import datetime as dt

import pytest

from ingest.window import (
    TimestampFormatError,
    Window,
    format_timestamp,
    parse_timestamp,
    timestamp_literal,
)


def test_timestamps_always_carry_six_fraction_digits() -> None:
    assert format_timestamp(dt.datetime(2024, 11, 15, 14, 40)) == "2024-11-15 14:40:00.000000"
    assert format_timestamp(dt.datetime(2024, 11, 15, 14, 40, 0, 123000)) == (
        "2024-11-15 14:40:00.123000"
    )
    aware = dt.datetime(2024, 11, 15, 15, 40, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert format_timestamp(aware) == "2024-11-15 14:40:00.000000"


@pytest.mark.parametrize(
    "text",
    [
        "2024-11-15 14:40:00",
        "2024-11-15 14:40:00.123",
        "2024-11-15T14:40:00.123456",
        "2024-13-15 14:40:00.123456",
        "2024-11-15 14:40:00.123456'; DROP TABLE staff; --",
        "'2024-11-15 14:40:00.123456'",
        "2024-11-15 14:40:00.123456\n",
        None,
    ],
)
def test_anything_but_the_exact_form_is_refused(text) -> None:
    with pytest.raises(TimestampFormatError):
        timestamp_literal(text)


def test_literal_is_a_typed_quoted_timestamp() -> None:
    assert timestamp_literal("2024-11-15 14:40:00.123456") == (
        "'2024-11-15 14:40:00.123456'::timestamp"
    )
    assert parse_timestamp("2024-02-29 00:00:00.000001") == dt.datetime(2024, 2, 29, 0, 0, 0, 1)


def test_window_condition_is_half_open() -> None:
    window = Window("2024-11-15 14:37:00.000000", "2024-11-15 14:40:00.123000")

    assert window.sql_condition('"last_updated"') == (
        "\"last_updated\" >= '2024-11-15 14:37:00.000000'::timestamp AND "
        "\"last_updated\" < '2024-11-15 14:40:00.123000'::timestamp"
    )


def test_first_window_has_no_lower_bound() -> None:
    window = Window(None, "2024-11-15 14:40:00.123000")

    assert window.sql_condition('"last_updated"') == (
        "\"last_updated\" < '2024-11-15 14:40:00.123000'::timestamp"
    )
    assert not window.is_empty


def test_window_cannot_run_backwards_and_may_be_empty() -> None:
    with pytest.raises(TimestampFormatError, match="after hi"):
        Window("2024-11-15 14:40:00.000001", "2024-11-15 14:40:00.000000")
    assert Window("2024-11-15 14:40:00.000000", "2024-11-15 14:40:00.000000").is_empty


def test_a_watermark_past_this_runs_hi_waits_in_an_empty_window() -> None:
    from ingest.run import window_for

    lo, hi = "2024-11-15 14:40:00.000000", "2024-11-15 14:39:00.000000"

    assert window_for("staff", lo, hi) == Window(lo, lo)
    assert window_for("staff", hi, lo) == Window(hi, lo)
    assert window_for("staff", None, hi) == Window(None, hi)

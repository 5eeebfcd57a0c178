"""Settings come from the environment once, and refuse anything outside the allow-list."""

from __future__ import annotations

import pytest

from ingest.settings import DEFAULT_PART_ROWS, TOTESYS_TABLES, Settings, parse_tables
from pipeline_common.errors import ConfigError

ENV = {"INGEST_BUCKET": "totesys-ingest-123", "SOURCE_SECRET_ID": "totesys/source"}


def test_defaults_are_the_eleven_tables_no_lag_and_the_measured_part_size() -> None:
    settings = Settings.from_env(ENV)

    assert settings == Settings(
        ingest_bucket="totesys-ingest-123",
        source_secret_id="totesys/source",
        commit_lag_seconds=0,
        tables=TOTESYS_TABLES,
        part_rows=DEFAULT_PART_ROWS,
    )
    assert len(settings.tables) == 11
    assert DEFAULT_PART_ROWS == 1_000_000


def test_values_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {**ENV, "COMMIT_LAG_SECONDS": "0", "TABLES": " staff , address", "PART_ROWS": "50"}
    )

    assert (settings.commit_lag_seconds, settings.tables, settings.part_rows) == (
        0,
        ("address", "staff"),
        50,
    )


@pytest.mark.parametrize(
    "tables",
    [
        'sales_order"; drop table x; --',
        "staff,_prisma_migrations",
        "Staff",
        "public.staff",
    ],
)
def test_table_names_outside_the_allow_list_are_refused(tables: str) -> None:
    with pytest.raises(ConfigError, match="outside the ToteSys allow-list") as caught:
        Settings.from_env({**ENV, "TABLES": tables})
    bad = [name.strip() for name in tables.split(",") if name.strip() not in TOTESYS_TABLES]
    assert repr(bad) in str(caught.value)


def test_settings_built_directly_are_checked_too() -> None:
    with pytest.raises(ConfigError, match="allow-list"):
        Settings("totesys-ingest-123", "s", tables=("staff", "x; drop table staff"))
    with pytest.raises(ConfigError, match="names a table twice"):
        Settings("totesys-ingest-123", "s", tables=("staff", "staff"))
    with pytest.raises(ConfigError, match="names no table"):
        Settings("totesys-ingest-123", "s", tables=())


def test_blank_tables_means_all_of_them() -> None:
    assert parse_tables("") == TOTESYS_TABLES
    assert parse_tables(" , ") == TOTESYS_TABLES


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SOURCE_SECRET_ID": "s"}, "INGEST_BUCKET is not set"),
        ({"INGEST_BUCKET": "b-b-b"}, "SOURCE_SECRET_ID is not set"),
        ({**ENV, "INGEST_BUCKET": "Not_A_Bucket"}, "is not an S3 bucket name"),
        ({**ENV, "COMMIT_LAG_SECONDS": "a minute"}, "COMMIT_LAG_SECONDS must be an integer"),
        ({**ENV, "COMMIT_LAG_SECONDS": "-1"}, "COMMIT_LAG_SECONDS must be 0 or more"),
        ({**ENV, "PART_ROWS": "0"}, "PART_ROWS must be 1 or more"),
        ({**ENV, "PART_ROWS": "1e6"}, "PART_ROWS must be an integer"),
    ],
)
def test_bad_settings_are_config_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)

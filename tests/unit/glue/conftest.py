"""Helpers for the star-schema transform tests: exact rows and exact column types."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

# pyspark.testing imports pyspark.pandas, whose 3.5 releases still use `np.NaN` (removed in
# NumPy 2). Alias it before the import; nothing else here touches pyspark.pandas.
if "NaN" not in np.__dict__:
    np.NaN = np.nan  # type: ignore[attr-defined]
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")

from pyspark.testing.utils import assertDataFrameEqual, assertSchemaEqual


def assert_frame(actual: Any, expected: Any) -> None:
    """Same rows (any order), same column names in order, and the same exact types.

    assertSchemaEqual ignores nullability and compares only type names (decimal(10,2) and
    decimal(38,18) would both pass), so the dtypes are compared as well.
    """
    assertSchemaEqual(actual.schema, expected.schema)
    assert actual.dtypes == expected.dtypes
    assertDataFrameEqual(actual, expected)


@pytest.fixture
def expect(spark: Any) -> Any:
    """expect(actual, rows, ddl): `actual` holds exactly these hand-written rows and types."""

    def check(actual: Any, rows: list[tuple[Any, ...]], ddl: str) -> None:
        assert_frame(actual, spark.createDataFrame(rows, ddl))

    return check


@pytest.fixture
def frame(spark: Any) -> Any:
    """frame(rows, ddl) -> a DataFrame of hand-written rows with an explicit schema."""

    def make(rows: list[tuple[Any, ...]], ddl: str) -> Any:
        return spark.createDataFrame(rows, ddl)

    return make

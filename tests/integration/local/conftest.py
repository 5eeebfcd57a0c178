"""Fixtures of the local runner's in-process tests."""

from __future__ import annotations

from typing import Any

import pytest

from local.totesys import create_schema, seed


@pytest.fixture
def databases(make_database: Any) -> tuple[Any, Any]:
    """A seeded ToteSys (20 orders) and an empty warehouse."""
    source, warehouse = make_database(), make_database()
    conn = source.connect()
    try:
        create_schema(conn)
        seed(conn, orders=20, seed=3)
    finally:
        conn.close()
    return source, warehouse

"""Fixtures for the ToteSys generator tests: one seeded database shared by a module."""

from __future__ import annotations

from collections.abc import Iterator

import pg8000.native
import pytest

from local.services import PgServer
from local.totesys import seed
from tests.integration.totesys.totesys_support import SEEDED_ORDERS, SEEDED_SEED


@pytest.fixture(scope="module")
def seeded(pg_server: PgServer) -> Iterator[pg8000.native.Connection]:
    """A database seeded with 2,000 orders (seed 11), read-only for the module's tests."""
    name = pg_server.create_database("seeded")
    conn = pg_server.connect(name)
    try:
        seed(conn, orders=SEEDED_ORDERS, seed=SEEDED_SEED)
        yield conn
    finally:
        conn.close()
        pg_server.drop_database(name)

"""Fixtures of the local runner's in-process tests."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local.report import Progress
from local.runner import LocalPipeline
from local.stack import TEMPLATE_PATH
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


@pytest.fixture
def pipeline_over(databases: tuple[Any, Any]) -> Callable[..., LocalPipeline]:
    """A quiet LocalPipeline (lag 0) over the two databases, a state dir and a template."""

    def make(state: Path, template: Path = TEMPLATE_PATH) -> LocalPipeline:
        source, warehouse = databases
        return LocalPipeline(
            source_dsn=source.dsn,
            warehouse_dsn=warehouse.dsn,
            state_dir=state,
            commit_lag_seconds=0,
            progress=Progress(stream=io.StringIO()),
            template_path=template,
        )

    return make

"""Fixtures of the reliability suite: rigs (pipeline + oracle) and captured output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.services import PgServer
from tests.reliability.rig import Rig

# Everything tests of this folder wrote to stdout/stderr (file descriptors 1 and 2), for the
# secret scans: handlers' JSON logs go to --state-dir, but anything printed lands here.
CAPTURED_OUTPUT: list[str] = []


@pytest.fixture(autouse=True)
def _collect_output(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    yield
    out, err = capfd.readouterr()
    CAPTURED_OUTPUT.extend((out, err))


@pytest.fixture(scope="module")
def make_rig(
    pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory, spark: Any
) -> Iterator[Callable[..., Rig]]:
    """Open rigs for a module (one SparkSession: the session's), closed at its end."""
    del spark  # requested so the session exists; the runner's getOrCreate returns it
    rigs: list[Rig] = []

    def make(**kwargs: Any) -> Rig:
        rig = Rig.open(pg_server, tmp_path_factory.mktemp("rel-state"), **kwargs)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()

"""SIGKILL of a local cycle in each stage, a source change, then one normal cycle.

Each cycle is `python -m local run` in its own process (moto, the Glue job's SparkSession
and the handlers inside it), killed with SIGKILL, as a laptop loses power or a container is
reaped: no `finally`, no flush, no close. The kill comes at a point observed from outside:
ingest holding its source snapshot open, the Glue job's in-flight record on disk, the
loader's transaction having written rows. Then ToteSys changes and one normal cycle runs.
After it: the warehouse equals the SQL oracle, the lake (through the catalog) equals the
warehouse, and nothing is pending (no ingest batch untransformed, no processed batch
unloaded, no in-flight pass, no undelivered event).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from local.lambda_runtime import REPO_ROOT
from local.services import PgServer
from local.statedir import NAMES
from local.totesys import advance, create_schema, seed
from tests.reliability.lake import lake_differences
from tests.reliability.oracle import Oracle

# Each test starts two or three cold `python -m local run` processes (a JVM and Spark each):
# on a loaded 2-core machine that alone can pass the suite's 900 s per test.
pytestmark = [pytest.mark.slow, pytest.mark.spark, pytest.mark.timeout(1800)]

RUN_TIMEOUT = 900


@dataclass
class World:
    """One source, one warehouse, one --state-dir, driven by `python -m local run`."""

    server: PgServer
    source_db: str
    warehouse_db: str
    state_dir: Path
    oracle: Oracle = field(default_factory=Oracle)

    @property
    def landing(self) -> Path:
        return self.state_dir / "buckets" / NAMES.ingest_bucket

    @property
    def lake(self) -> Path:
        return self.state_dir / "buckets" / NAMES.processed_bucket

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-u",
            "-m",
            "local",
            "run",
            "--source-dsn",
            self.server.dsn(self.source_db),
            "--warehouse-dsn",
            self.server.dsn(self.warehouse_db),
            "--state-dir",
            str(self.state_dir),
            "--commit-lag-seconds",
            "0",
        ]

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.pop("PYTHONPATH", None)
        env["PART_ROWS"] = "5"  # several objects per table: ingest takes a while
        return env

    def run(self) -> str:
        """One normal cycle; its output (it must succeed)."""
        done = subprocess.run(
            self._command(),
            cwd=REPO_ROOT,
            env=self._environment(),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        self.observe()
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def killed_run(self, reached: Callable[[], bool], what: str) -> None:
        """A cycle SIGKILLed (its whole process group: the JVM too) once `reached()`."""
        output = self.state_dir.parent / f"{self.state_dir.name}-killed.out"
        with output.open("w", encoding="utf-8") as sink:
            process = subprocess.Popen(
                self._command(),
                cwd=REPO_ROOT,
                env=self._environment(),
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                deadline = time.monotonic() + RUN_TIMEOUT
                while not reached():
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"the cycle ended before {what}:\n{output.read_text()}")
                    time.sleep(0.01)
                os.killpg(process.pid, signal.SIGKILL)
            finally:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=60)
        assert process.returncode == -signal.SIGKILL
        self.observe()

    def observe(self) -> None:
        """The oracle sees the source as of the newest durable ingest batch."""
        manifests = self.manifests(self.landing)
        if manifests:
            source = self.server.connect(self.source_db)
            try:
                self.oracle.observe(source, str(manifests[-1]["hi"]))
            finally:
                source.close()

    def change_source(self, seed_value: int) -> None:
        source = self.server.connect(self.source_db)
        try:
            advance(source, hours=3, seed=seed_value)
        finally:
            source.close()

    def session_writing(self, database: str, application: str) -> bool:
        """A session of `application` on `database` whose transaction has written."""
        admin = self.server.connect()
        try:
            rows = admin.run(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = :db "
                "AND application_name = :app AND state <> 'idle'"
                + (" AND backend_xid IS NOT NULL" if application == "load_fn" else ""),
                db=database,
                app=application,
            )
        finally:
            admin.close()
        return bool(rows[0][0])

    @staticmethod
    def manifests(bucket_dir: Path) -> list[dict[str, Any]]:
        return [
            json.loads(path.read_text(encoding="utf-8"))
            for path in sorted((bucket_dir / "_manifests").glob("*.json"))
        ]

    def pending(self) -> list[str]:
        """Everything not yet done: untransformed, unloaded, in flight, undelivered."""
        problems = []
        landed = [m["batch_id"] for m in self.manifests(self.landing)]
        processed = self.manifests(self.lake)
        covered = {b for m in processed for b in m["ingest_batches"]}
        if [b for b in landed if b not in covered]:
            problems.append(
                f"ingest batches not transformed: {[b for b in landed if b not in covered]}"
            )
        warehouse = self.server.connect(self.warehouse_db)
        try:
            loaded = {r[0] for r in warehouse.run("SELECT batch_id FROM etl_loaded_batch")}
        finally:
            warehouse.close()
        unloaded = [m["batch_id"] for m in processed if m["batch_id"] not in loaded]
        if unloaded:
            problems.append(f"processed batches not loaded: {unloaded}")
        if (self.lake / "_job" / "inflight.json").exists():
            problems.append("a pass is still in flight")
        events_path = self.state_dir / "pending-events.json"
        if events_path.exists() and json.loads(events_path.read_text(encoding="utf-8")):
            problems.append(f"undelivered events: {events_path.read_text(encoding='utf-8')}")
        return problems

    def differences(self) -> list[str]:
        warehouse = self.server.connect(self.warehouse_db)
        try:
            return self.oracle.differences(warehouse) + lake_differences(self.state_dir, warehouse)
        finally:
            warehouse.close()


@pytest.fixture(scope="module")
def world(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    source_db = pg_server.create_database("rec_src")
    warehouse_db = pg_server.create_database("rec_wh")
    world = World(pg_server, source_db, warehouse_db, tmp_path_factory.mktemp("rec") / "state")
    try:
        source = pg_server.connect(source_db)
        try:
            create_schema(source)
            seed(source, orders=40, seed=23)
        finally:
            source.close()
        world.run()
        assert world.pending() == [] and world.differences() == []
        yield world
    finally:
        for name in (source_db, warehouse_db):
            pg_server.drop_database(name)


def test_sigkill_during_ingest_then_a_change_then_one_cycle(world: World) -> None:
    world.change_source(71)
    world.killed_run(
        lambda: world.session_writing(world.source_db, "totesys-ingest"), "ingest read ToteSys"
    )
    world.change_source(72)
    world.run()
    assert world.differences() == []
    assert world.pending() == []


def test_sigkill_during_transform_then_a_change_then_one_cycle(world: World) -> None:
    world.change_source(73)
    inflight = world.lake / "_job" / "inflight.json"
    world.killed_run(inflight.exists, "the Glue job recorded its pass")
    assert inflight.exists()  # the pass died uncommitted
    world.change_source(74)
    world.run()
    assert world.differences() == []
    assert world.pending() == []


def test_sigkill_during_load_then_a_change_then_one_cycle(world: World) -> None:
    world.change_source(75)
    world.killed_run(
        lambda: world.session_writing(world.warehouse_db, "load_fn"), "the loader wrote rows"
    )
    world.change_source(76)
    world.run()
    assert world.differences() == []
    assert world.pending() == []

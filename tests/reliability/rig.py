"""One local pipeline over its own source and warehouse, with the oracle after every cycle.

The pipeline is the local runner's (`local.runner.LocalPipeline`): the real handlers and the
real Glue job in this process, moto in server mode wired by the template's EventBridge
rules, one SparkSession for every cycle. Each database is reached through a login role of
its own with a random password, carried only in the secrets the stages read, so a log
scan for those passwords means something.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import secrets
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pg8000.native
import pytest

from local.dsn import secret_to_dsn
from local.lambda_runtime import REPO_ROOT
from local.report import Progress
from local.runner import CycleReport, LocalPipeline, StageError
from local.services import PgServer, patched_env
from local.statedir import NAMES
from local.totesys import create_schema, seed
from tests.reliability.lake import lake_differences
from tests.reliability.oracle import FACT_SOURCES, Oracle

LOAD_DIR = "load_fn"
INGEST_DIR = "ingest_fn"
FACT_TABLES = {fact: source.table for fact, source in FACT_SOURCES.items()}


class CollectingHandler(logging.Handler):
    """Keeps every log record's full text (message, extras, traceback) for the secret scan."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.texts.append(f"{self.format(record)} {record.__dict__!r}")
        except Exception:
            self.texts.append(repr(record.__dict__))


@dataclass
class Rig:
    """A source, a warehouse, a --state-dir and the pipeline open over them."""

    server: PgServer
    state_dir: Path
    source_db: str
    warehouse_db: str
    roles: list[str]
    passwords: list[str]
    pipeline: LocalPipeline
    source: pg8000.native.Connection
    oracle: Oracle = field(default_factory=Oracle)
    reports: list[CycleReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    logs: CollectingHandler = field(default_factory=CollectingHandler)
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    # ---- set-up ----------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        server: PgServer,
        state_dir: Path,
        *,
        orders: int,
        seed_value: int = 7,
        environment: dict[str, str] | None = None,
    ) -> Rig:
        """Seed a source, make login roles with passwords, open the pipeline over both."""
        tag = uuid.uuid4().hex[:10]
        roles = [f"rel_src_{tag}", f"rel_wh_{tag}"]
        passwords = [secrets.token_hex(20), secrets.token_hex(20)]
        source_db = server.create_database("rel_src")
        warehouse_db = server.create_database("rel_wh")
        admin = server.connect()
        try:
            for role, password in zip(roles, passwords, strict=True):
                # DDL takes no bind parameters: the name is generated, the password is hex.
                admin.run(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
            admin.run(f'ALTER DATABASE "{warehouse_db}" OWNER TO {roles[1]}')
        finally:
            admin.close()
        source = server.connect(source_db)
        create_schema(source)
        seed(source, orders=orders, seed=seed_value)
        source.run(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {roles[0]}")
        warehouse = server.connect(warehouse_db)
        try:
            warehouse.run(f"ALTER SCHEMA public OWNER TO {roles[1]}")
        finally:
            warehouse.close()
        dsns = [
            secret_to_dsn({**server.secret(db), "username": role, "password": password})
            for db, role, password in zip((source_db, warehouse_db), roles, passwords, strict=True)
        ]
        pipeline = LocalPipeline(
            source_dsn=dsns[0],
            warehouse_dsn=dsns[1],
            state_dir=state_dir,
            commit_lag_seconds=0,
            progress=Progress(stream=io.StringIO()),
        )
        rig = cls(server, state_dir, source_db, warehouse_db, roles, passwords, pipeline, source)
        logging.getLogger().addHandler(rig.logs)
        try:
            rig._stack.enter_context(patched_env(environment or {}))
            rig._stack.enter_context(pipeline)
        except BaseException:
            rig.close()
            raise
        return rig

    def close(self) -> None:
        """Close the pipeline, drop both databases and both roles."""
        logging.getLogger().removeHandler(self.logs)
        try:
            self._stack.close()
        finally:
            with contextlib.suppress(Exception):
                self.source.close()
            for name in (self.source_db, self.warehouse_db):
                self.server.drop_database(name)
            admin = self.server.connect()
            try:
                for role in self.roles:
                    admin.run(f"DROP ROLE IF EXISTS {role}")
            finally:
                admin.close()

    # ---- paths and state ---------------------------------------------------------------
    @property
    def landing(self) -> Path:
        return self.state_dir / "buckets" / NAMES.ingest_bucket

    @property
    def lake(self) -> Path:
        return self.state_dir / "buckets" / NAMES.processed_bucket

    def warehouse(self) -> pg8000.native.Connection:
        """An admin connection to the warehouse (for checks; the pipeline uses its role)."""
        return self.server.connect(self.warehouse_db)

    def ingest_manifests(self) -> list[dict[str, Any]]:
        return _manifests(self.landing)

    def processed_manifests(self) -> list[dict[str, Any]]:
        return _manifests(self.lake)

    def committed_hi(self) -> str | None:
        """The newest committed ingest batch's hi: the oracle's horizon."""
        manifests = self.ingest_manifests()
        return str(manifests[-1]["hi"]) if manifests else None

    def loaded_batches(self) -> list[str]:
        conn = self.warehouse()
        try:
            if not conn.run("SELECT to_regclass('public.etl_loaded_batch') IS NOT NULL")[0][0]:
                return []
            return [r[0] for r in conn.run("SELECT batch_id FROM etl_loaded_batch ORDER BY 1")]
        finally:
            conn.close()

    def warehouse_tables(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every star table's rows (record ids included): to prove nothing changed."""
        conn = self.warehouse()
        try:
            tables = [
                r[0]
                for r in conn.run(
                    "SELECT table_name::text FROM information_schema.tables "
                    "WHERE table_schema = 'public' AND (table_name LIKE 'dim_%' "
                    "OR table_name LIKE 'fact_%' OR table_name = 'etl_loaded_batch') "
                    "AND table_type = 'BASE TABLE'"
                )
            ]
            return {
                t: sorted((tuple(r) for r in conn.run(f'SELECT * FROM "{t}"')), key=repr)
                for t in sorted(tables)
            }
        finally:
            conn.close()

    # ---- cycles ------------------------------------------------------------------------
    def cycle(self) -> CycleReport:
        """One normal cycle; the oracle observes the source as of the committed hi."""
        try:
            report = self.pipeline.run_cycle()
        except StageError as exc:
            self.errors.append(error_chain(exc))
            raise
        finally:
            self.observe()
        self.reports.append(report)
        return report

    def failing_cycle(self, stage: str, match: str) -> StageError:
        """A cycle that must fail in `stage` with a message matching `match`."""
        with pytest.raises(StageError) as raised:
            self.cycle()
        error = raised.value
        assert error.stage == stage, str(error)
        assert re.search(match, str(error)), str(error)
        return error

    def observe(self) -> None:
        hi = self.committed_hi()
        if hi is not None:
            self.oracle.observe(self.source, hi)

    def backstop(self) -> Any:
        """The load function on its backstop schedule (events/load_backstop.json)."""
        event = json.loads((REPO_ROOT / "events" / "load_backstop.json").read_text())
        event["id"] = str(uuid.uuid4())
        return self.pipeline._invoke(LOAD_DIR, event)

    def check(self) -> None:
        """Warehouse = oracle; lake (through the catalog) = warehouse; every row accounted."""
        conn = self.warehouse()
        try:
            problems = self.oracle.differences(conn) + lake_differences(self.state_dir, conn)
        finally:
            conn.close()
        problems += self.quarantine_problems() + self.accounting_problems()
        assert not problems, "\n".join(problems)

    def quarantine_problems(self) -> list[str]:
        """The lake's quarantine holds exactly the versions the oracle expects, once each."""
        found: Counter[tuple[str, str, str]] = Counter()
        for path in sorted(self.lake.glob("_quarantine/*/*/*.json")):
            table = path.parent.name
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    key = f"{table}_id"
                    found[(table, str(row[key]), _ms(row["last_updated"]))] += 1
                    if not row.get("_reason"):
                        return [f"quarantined {table} row without a reason: {row}"]
        expected = Counter(
            (table, key, version)
            for table, rows in self.oracle.quarantined.items()
            for key, version in rows
        )
        if found != expected:
            return [
                f"quarantine: unexpected {sorted((found - expected).elements())[:3]} "
                f"missing {sorted((expected - found).elements())[:3]}"
            ]
        return []

    def accounting_problems(self) -> list[str]:
        """Per processed batch and fact: rows ingested = fact records + rows quarantined."""
        ingested = {m["batch_id"]: m for m in self.ingest_manifests()}
        problems: list[str] = []
        for processed in self.processed_manifests():
            for fact, table in FACT_TABLES.items():
                rows_in = sum(
                    int(((ingested[b].get("tables") or {}).get(table) or {}).get("rows", 0))
                    for b in processed["ingest_batches"]
                )
                out = int((processed["tables"].get(fact) or {}).get("rows", 0))
                held = int((processed.get("quarantine", {}).get(table) or {}).get("rows", 0))
                if rows_in != out + held:
                    problems.append(
                        f"batch {processed['batch_id']} {table}: {rows_in} rows ingested, "
                        f"{out} fact records + {held} quarantined"
                    )
        return problems

    # ---- reaching into the running stages ----------------------------------------------
    def ingest_s3(self) -> Any:
        """The ingest handler's S3 client (made at import, as in a Lambda container)."""
        return sys.modules["ingest_fn_app"].INIT.get().s3

    def load_s3(self) -> Any:
        """The load handler's S3 client (made at import, as in a Lambda container)."""
        return sys.modules["load_fn_app"].INIT.get().s3

    @contextlib.contextmanager
    def hook(self, client: Any, event: str, handler: Callable[..., Any]) -> Iterator[None]:
        """A botocore event hook on one client for the block (unique id: removable)."""
        unique = f"rel-{uuid.uuid4().hex}"
        client.meta.events.register(event, handler, unique_id=unique)
        try:
            yield
        finally:
            client.meta.events.unregister(event, unique_id=unique)

    @contextlib.contextmanager
    def events_lost(self, logical_id: str) -> Iterator[None]:
        """A template rule's events go nowhere for the block (its target is removed).

        moto ignores a rule's DISABLED state, so the loss is made by the target's absence.
        """
        rule = self.pipeline.rules[logical_id]
        arn = self.pipeline.sqs.get_queue_attributes(
            QueueUrl=rule.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        name = f"local-{logical_id}"
        targets = self.pipeline.events.list_targets_by_rule(Rule=name)["Targets"]
        assert [t["Arn"] for t in targets] == [arn], targets
        self.pipeline.events.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
        try:
            yield
        finally:
            self.pipeline.events.put_targets(
                Rule=name, Targets=[{"Id": t["Id"], "Arn": t["Arn"]} for t in targets]
            )

    def terminate(self, database: str, application_name: str) -> int:
        """pg_terminate_backend every session of an application on a database."""
        admin = self.server.connect()
        try:
            rows = admin.run(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :app AND datname = :db AND pid <> pg_backend_pid()",
                app=application_name,
                db=database,
            )
        finally:
            admin.close()
        return len(rows)

    # ---- the secret scan ---------------------------------------------------------------
    def leaks(self, extra_texts: list[str]) -> list[str]:
        """Where any password of this rig appears (files, log records, errors, outputs), or
        any personal value of its source appears outside the data (log files, queued
        events, log records, errors, outputs)."""
        found: list[str] = []
        needles = [p.encode() for p in self.passwords]
        for path in sorted(self.state_dir.rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                found += [f"file {path}" for n in needles if n in data]
        values = self.personal_values()
        not_data = [
            *sorted((self.state_dir / "logs").glob("*")),
            self.state_dir / "pending-events.json",
        ]
        for path in not_data:
            if path.is_file():
                data = path.read_text(encoding="utf-8", errors="replace")
                found += [f"row value {v!r} in file {path}" for v in values if v in data]
        texts = [*self.logs.texts, *self.errors, *extra_texts, *map(repr, self.reports)]
        for text in texts:
            found += [f"text {text[:200]!r}" for p in self.passwords if p in text]
            found += [f"row value {v!r} in text {text[:200]!r}" for v in values if v in text]
        return found

    def personal_values(self) -> list[str]:
        """Staff emails and address phones and first lines in the source (those columns a
        test has not dropped): values that are only ever data, long enough never to occur
        in a message by chance."""
        present = {
            (str(t), str(c))
            for t, c in self.source.run(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            )
        }
        values: set[str] = set()
        for table, column in PERSONAL_COLUMNS:
            if (table, column) in present:  # identifiers from the constant, never input
                rows = self.source.run(f'SELECT "{column}" FROM "{table}"')  # nosec B608
                values |= {str(v) for (v,) in rows if v is not None and len(str(v)) >= 8}
        return sorted(values)


PERSONAL_COLUMNS = (("staff", "email_address"), ("address", "phone"), ("address", "address_line_1"))


def _manifests(bucket_dir: Path) -> list[dict[str, Any]]:
    """A bucket mirror's manifests, oldest first (ones a test made unreadable are skipped)."""
    found = []
    for path in sorted((bucket_dir / "_manifests").glob("*.json")):
        with contextlib.suppress(ValueError):
            found.append(json.loads(path.read_text(encoding="utf-8")))
    return found


def error_chain(exc: BaseException) -> str:
    """An error and its causes, as a log or a traceback would show them."""
    parts = []
    current: BaseException | None = exc
    while current is not None:
        parts.append(f"{type(current).__name__}: {current} {current.args!r}")
        current = current.__cause__ or current.__context__
    return " <- ".join(parts)


def _ms(text: str) -> str:
    """'2024-11-15 14:40:01.1' (as Postgres writes it) -> '2024-11-15 14:40:01.100'."""
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?", text)
    if not match:
        return text
    fraction = (match.group(2) or "").ljust(3, "0")[:3]
    return f"{match.group(1).replace('T', ' ')}.{fraction}"

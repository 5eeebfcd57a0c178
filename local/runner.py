"""One local AWS (moto) wired as template.yaml wires AWS, driving the real stages.

A cycle: the ingest handler runs on its schedule; the ingest bucket's manifest "Object
Created" event, matched by the template's ManifestCreatedRule, starts the Glue job on a
local SparkSession; the job's "Glue Job State Change" event, matched by
TransformSucceededRule, invokes the loader. Everything durable lives in --state-dir.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import logging
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import boto3

from local import manifest_files, moto_state, stack, staging, wiring
from local.dsn import dsn_to_secret
from local.function_access import FunctionAccess, function_policies, install
from local.iam import AccessDeniedError, rule_target
from local.job_access import job_policy, run_as_job_role
from local.lambda_runtime import (
    REPO_ROOT,
    LambdaContext,
    invoke_async,
    load_handler,
    logs_routed_to,
    maximum_retry_attempts,
    unload_handlers,
)
from local.report import Progress
from local.services import (
    LOCAL_REGION,
    MotoServer,
    aws_env,
    connect_secret,
    patched_env,
    start_moto_server,
)
from local.spark import counted_jobs
from local.statedir import NAMES, LocalNames, StateDir
from pipeline_common.contracts.keys import INFLIGHT_KEY, MANIFEST_PREFIX, manifest_key
from pipeline_common.errors import PipelineError
from pipeline_common.redact import drop_botocore_bodies

EVENTS_DIR = REPO_ROOT / "events"
INGEST_DIR = "ingest_fn"
LOAD_DIR = "load_fn"
LOCAL_STACK_NAME = stack.LOCAL_STACK
LAKE_PREFIXES_RESTORED = (MANIFEST_PREFIX,)
LANDING_PREFIXES_RESTORED = ("_state/", MANIFEST_PREFIX)


class StageError(RuntimeError):
    """A stage failed; the message says which and why, on one line."""

    def __init__(self, stage: str, cause: BaseException | str) -> None:
        reason = cause if isinstance(cause, str) else _describe(cause)
        super().__init__(f"{stage} failed: {reason}")
        self.stage = stage


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, PipelineError | wiring.WiringError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class StageSummary:
    """What one stage did in a cycle: rows per table and how long it took."""

    stage: str
    seconds: float
    tables: dict[str, int] = field(default_factory=dict)
    note: str = ""


@dataclass
class CycleReport:
    """What one cycle did, for the CLI's summary."""

    stages: list[StageSummary] = field(default_factory=list)
    ingest_batches: list[str] = field(default_factory=list)
    processed_batches: list[str] = field(default_factory=list)
    loaded_batches: list[str] = field(default_factory=list)
    ingest_hi: str | None = None
    warehouse_hi: str | None = None
    """The `hi` of the newest ingest batch the warehouse holds: its real freshness."""
    quarantined: dict[str, int] = field(default_factory=dict)
    events_refused: list[str] = field(default_factory=list)
    """Manifests whose event came while the job ran: the workflow started nothing for them."""
    finished_at: datetime | None = None
    seconds: float = 0.0


def _written(count: Any) -> int:
    """Rows a batch wrote to a table: a number, or the loader's {"read", "written"} pair."""
    if isinstance(count, dict):
        count = count.get("written", count.get("rows", 0))
    return int(count or 0)


def _read_event(name: str, default: dict[str, Any]) -> dict[str, Any]:
    path = EVENTS_DIR / name
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
    return default


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LocalPipeline:
    """moto as the local AWS for one or more cycles; `with` restores and persists state."""

    def __init__(
        self,
        *,
        source_dsn: str,
        warehouse_dsn: str,
        state_dir: Path,
        commit_lag_seconds: int = 0,
        progress: Progress | None = None,
        names: LocalNames = NAMES,
        template_path: Path = stack.TEMPLATE_PATH,
    ) -> None:
        self.source_secret = dsn_to_secret(source_dsn)
        self.warehouse_secret = dsn_to_secret(warehouse_dsn)
        self.state = StateDir(Path(state_dir))
        self.commit_lag_seconds = commit_lag_seconds
        self.progress = progress or Progress()
        self.names = names
        self.template_path = template_path
        self._stack = contextlib.ExitStack()
        self._moto: MotoServer | None = None
        self._log: IO[str] | None = None
        self._spark: Any = None
        self._landing_known: dict[str, str] = {}
        self._lake_uploaded: dict[str, tuple[int, int]] = {}
        self.rules: dict[str, wiring.LocalRule] = {}

    # ---- set-up and tear-down --------------------------------------------------------
    def __enter__(self) -> LocalPipeline:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> None:
        self.state.create()
        self._lock_state_dir()
        template = stack.load(self.template_path)
        refs = stack.local_refs(template, self.names)
        specs = wiring.read_rules(template, refs)
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self._log = self._stack.enter_context(
            open(  # noqa: SIM115 - the ExitStack closes it
                self.state.logs_dir / f"run-{run_id}.jsonl", "a", encoding="utf-8"
            )
        )
        self._moto = start_moto_server()
        self._stack.callback(self._moto.stop)
        # moto's backends are per process: start from an empty local AWS every session.
        self._moto.reset()
        unload_handlers()
        self._stack.enter_context(patched_env(self._environment()))
        self._function_env = self._function_environments(template, refs)
        self.s3 = boto3.client("s3")
        self.glue = boto3.client("glue")
        self.events = boto3.client("events")
        self.sqs = boto3.client("sqs")
        self.secrets = boto3.client("secretsmanager")
        # The Glue job's own catalog client: its calls are checked against its role.
        self.job_glue = boto3.client("glue")
        self.job_policy = job_policy(template, self.names)
        # EventBridge starts the workflow with the rule's role (glue:notifyEvent).
        self.workflow_target = rule_target(template, wiring.MANIFEST_RULE, refs)
        self._restore(template)
        drop_botocore_bodies()  # CreateSecret's params hold the passwords
        secret_arns = {
            secret_id: self.secrets.create_secret(Name=secret_id, SecretString=json.dumps(secret))[
                "ARN"
            ]
            for secret_id, secret in (
                (self.names.source_secret_id, self.source_secret),
                (self.names.warehouse_secret_id, self.warehouse_secret),
            )
        }
        # Each function's requests are authorized by its role (set up as the administrator
        # above; the functions' clients, made at their first invocation, carry the check).
        self.function_access = FunctionAccess(
            function_policies(template, self.names, secret_arns, [INGEST_DIR, LOAD_DIR]),
            secret_arns,
        )
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        self._stack.enter_context(install(boto3.DEFAULT_SESSION, self.function_access))
        # Wiring last: restored objects must not raise "Object Created" events.
        wiring.enable_eventbridge_notifications(self.s3, self.names.ingest_bucket)
        self.rules = wiring.create_rules(self.events, self.sqs, specs, prefix="local")

    def _lock_state_dir(self) -> None:
        """One run per --state-dir at a time: two would race on the same mirrors."""
        handle = self._stack.enter_context(
            open(self.state.root / ".lock", "a+", encoding="utf-8")  # noqa: SIM115
        )
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise StageError("start", f"another run is using {self.state.root}") from exc

    def _environment(self) -> dict[str, str | None]:
        """The process's environment: moto's endpoint and dummy credentials, no AWS profile."""
        if self._moto is None:
            raise RuntimeError("moto is not running")
        env: dict[str, str | None] = dict(aws_env(self._moto.endpoint))
        for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            env[key] = None
        return env

    def _function_environments(
        self, template: dict[str, Any], refs: dict[str, str]
    ) -> dict[str, dict[str, str]]:
        """Each function's variables as the template sets them, secrets and lag set locally."""
        ingest = stack.function_environment(template, INGEST_DIR, refs)
        ingest.setdefault("INGEST_BUCKET", self.names.ingest_bucket)
        ingest["SOURCE_SECRET_ID"] = self.names.source_secret_id
        ingest["COMMIT_LAG_SECONDS"] = str(self.commit_lag_seconds)
        load = stack.function_environment(template, LOAD_DIR, refs)
        load.setdefault("PROCESSED_BUCKET", self.names.processed_bucket)
        load["WAREHOUSE_SECRET_ID"] = self.names.warehouse_secret_id
        for env, service in ((ingest, "ingest"), (load, "load")):
            env.setdefault("POWERTOOLS_SERVICE_NAME", service)
            env.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ToteSysPipeline")
            env["AWS_LAMBDA_FUNCTION_NAME"] = f"{LOCAL_STACK_NAME}-{service}"
        return {INGEST_DIR: ingest, LOAD_DIR: load}

    def _restore(self, template: dict[str, Any]) -> None:
        names = self.names
        for bucket in (names.ingest_bucket, names.processed_bucket):
            moto_state.create_bucket(self.s3, bucket, LOCAL_REGION)
        self._landing_known = moto_state.restore_prefixes(
            self.s3,
            names.ingest_bucket,
            self.state.bucket_dir(names.ingest_bucket),
            LANDING_PREFIXES_RESTORED,
        )
        lake = self.state.bucket_dir(names.processed_bucket)
        moto_state.restore_prefixes(self.s3, names.processed_bucket, lake, LAKE_PREFIXES_RESTORED)
        for prefix in LAKE_PREFIXES_RESTORED:
            self._lake_uploaded.update(staging.file_signatures(lake, prefix))
        moto_state.restore_catalog(
            self.glue, self.state.read_json(self.state.catalog_path, {"database": None})
        )
        moto_state.ensure_database(self.glue, names.database, stack.database_description(template))

    def persist(self) -> None:
        """Write the catalog to --state-dir (the mirrors are written as the stages go)."""
        if self._moto is None:
            return
        self.state.write_json(
            self.state.catalog_path, moto_state.dump_catalog(self.glue, self.names.database)
        )

    def close(self) -> None:
        try:
            if self._moto is not None:
                self.persist()
        finally:
            self._moto = None
            self._stack.close()

    # ---- one cycle -------------------------------------------------------------------
    def run_cycle(self) -> CycleReport:
        """Ingest, then whatever the rules' queues say: transform, load. Raises StageError."""
        report = CycleReport()
        start = time.perf_counter()
        pending = self.state.read_json(self.state.pending_events_path, {})
        try:
            new_manifests = self._ingest(report)
            manifest_events = pending.get(wiring.MANIFEST_RULE, []) + self._receive(
                wiring.MANIFEST_RULE, new_manifests
            )
            if manifest_events or self._transform_backstop_finds_work():
                self._save_pending(pending, wiring.MANIFEST_RULE, manifest_events)
                glue_event_ids = self._transform(report)
                self._save_pending(pending, wiring.MANIFEST_RULE, [])
                self._refuse_events_during_the_run(report)
                glue_events = self._receive(wiring.TRANSFORM_RULE, glue_event_ids)
            else:
                glue_events = []
            glue_events = pending.get(wiring.TRANSFORM_RULE, []) + glue_events
            if glue_events:
                self._save_pending(pending, wiring.TRANSFORM_RULE, glue_events)
                self._load(report, glue_events)
                self._save_pending(pending, wiring.TRANSFORM_RULE, [])
            report.warehouse_hi = self._warehouse_hi()
        finally:
            self.persist()
        report.seconds = time.perf_counter() - start
        report.finished_at = datetime.now(UTC)
        return report

    def _refuse_events_during_the_run(self, report: CycleReport) -> None:
        """Events that reached the workflow while its run was in progress start nothing.

        The workflow allows one run at a time (`MaxConcurrentRuns: 1`, which exists "to
        prevent unwanted multiple updates to data": AWS::Glue::Workflow, CloudFormation
        User Guide), so such an event is spent. The run in progress lists the landing
        manifests again after each pass and takes a batch that landed meanwhile; one that
        lands after its last listing waits for the transform's backstop.
        """
        for event in wiring.drain(self.sqs, self.rules[wiring.MANIFEST_RULE]):
            key = str(((event.get("detail") or {}).get("object") or {}).get("key"))
            report.events_refused.append(key)
            self.progress.say(f"{key}: its event came while the job ran, and started nothing")

    def _transform_backstop_finds_work(self) -> bool:
        """Whether the transform's scheduled backstop would find pending batches now.

        In AWS, StarSchemaBackstopTrigger starts the job every TransformBackstopSchedule
        period whatever the events did (one lost, or refused while a run was in progress);
        a cycle stands for at least one period. A backstop run with nothing pending commits
        nothing, so it is only started here when the landing zone is ahead of the lake.
        """
        landing = self.state.bucket_dir(self.names.ingest_bucket)
        lake = self.state.bucket_dir(self.names.processed_bucket)
        ingested = manifest_files.manifest_keys(landing)
        if not ingested:
            return False
        if (lake / INFLIGHT_KEY).is_file():
            return True
        processed = manifest_files.manifest_keys(lake)
        if not processed:
            return True
        newest = manifest_files.read_processed_manifest(lake, processed[-1])
        return ingested[-1] > manifest_key(newest.ingest_batches[-1])

    def _save_pending(
        self, pending: dict[str, list[Any]], rule: str, events: list[dict[str, Any]]
    ) -> None:
        """Events whose stage has not completed yet: the next run delivers them again."""
        pending[rule] = events
        self.state.write_json(
            self.state.pending_events_path, {k: v for k, v in pending.items() if v}
        )

    def _receive(self, rule: str, expected: list[str]) -> list[dict[str, Any]]:
        """The events on a rule's queue; each expected one missing means the pattern broke."""
        events = wiring.drain(self.sqs, self.rules[rule])
        if rule == wiring.MANIFEST_RULE:
            got = {str(((e.get("detail") or {}).get("object") or {}).get("key")) for e in events}
        else:
            got = {str((e.get("detail") or {}).get("jobRunId")) for e in events}
        missing = [item for item in expected if item not in got]
        if missing:
            raise StageError(
                "wiring",
                f"the event for {missing[0]} matched no {rule} in template.yaml "
                f"(pattern {json.dumps(self.rules[rule].spec.pattern, sort_keys=True)}); "
                "the pipeline stops here as it would in AWS",
            )
        if rule == wiring.MANIFEST_RULE and events:
            try:
                self.workflow_target.authorize()
            except AccessDeniedError as denied:
                raise StageError(
                    "wiring", f"{rule} could not start the workflow: {denied}"
                ) from denied
        return events

    def _invoke(self, function_dir: str, event: dict[str, Any]) -> Any:
        """Invoke asynchronously, as the schedule or rule does: a raised error is retried up
        to the function's MaximumRetryAttempts in the template; a returned terminal failure
        raises FunctionFailedError (local.lambda_runtime.invoke_async)."""
        if self._log is None:
            raise RuntimeError("the local pipeline is not open")
        log = self._log
        env = self._function_env[function_dir]
        retries = maximum_retry_attempts(self.template_path, function_dir)

        def log_retry(attempt: int, exc: Exception) -> None:
            line: dict[str, Any] = {"level": "WARNING", "message": "Lambda retries the invocation"}
            line.update(retry=attempt, of=retries, error=_describe(exc))
            log.write(json.dumps(line))
            log.write("\n")

        with (
            patched_env(env),
            contextlib.redirect_stdout(self._log),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("default")
            handler = load_handler(function_dir)
            try:
                with logs_routed_to(self._log), self.function_access.running_as(function_dir):
                    context = LambdaContext(function_name=env["AWS_LAMBDA_FUNCTION_NAME"])
                    return invoke_async(handler, event, context, retries, log_retry)
            finally:
                # Python warnings (Powertools' "no metrics") belong with the function's logs.
                for warning in caught:
                    self._log.write(
                        json.dumps({"level": "WARNING", "warning": str(warning.message)})
                    )
                    self._log.write("\n")
                self._log.flush()

    def _ingest(self, report: CycleReport) -> list[str]:
        """Run the ingest handler on its schedule; returns the new manifest keys."""
        landing = self.state.bucket_dir(self.names.ingest_bucket)
        event = _read_event(
            "ingest_scheduled.json",
            {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}},
        )
        event = {**event, "id": str(uuid.uuid4()), "time": _now_iso()}
        before = set(self._landing_known)
        with self.progress.stage("ingest", "ToteSys -> ingest bucket") as info:
            try:
                self._invoke(INGEST_DIR, event)
            except Exception as exc:
                raise StageError("ingest", exc) from exc
            finally:
                # Whatever ingest wrote is durable in the mirror, even after a failure.
                staging.download_changed(
                    self.s3, self.names.ingest_bucket, landing, self._landing_known
                )
            new = sorted(
                k for k in self._landing_known if k.startswith(MANIFEST_PREFIX) and k not in before
            )
            rows = 0
            for key in new:
                manifest = manifest_files.read_ingest_manifest(landing, key)
                report.ingest_batches.append(manifest.batch_id)
                report.ingest_hi = manifest.hi
                for table, count in manifest.rows.items():
                    report_rows = info.setdefault("tables", {})
                    report_rows[table] = report_rows.get(table, 0) + count
                    rows += count
            info["note"] = (
                f"{len(new)} batch, {rows} rows" if new else "no changes (no manifest, no event)"
            )
        report.stages.append(
            StageSummary("ingest", info["seconds"], info.get("tables", {}), info["note"])
        )
        return new

    def _spark_session(self) -> Any:
        if self._spark is None:
            from local.spark import local_spark_session

            with self.progress.stage("spark", "local SparkSession (Glue 5 stand-in)"):
                self._spark = local_spark_session("totesys-local-glue")
        return self._spark

    def _transform(self, report: CycleReport) -> list[str]:
        """Run the Glue job on the mirrors, publish its output to S3, emit its success event."""
        spark = self._spark_session()
        lake = self.state.bucket_dir(self.names.processed_bucket)
        landing = self.state.bucket_dir(self.names.ingest_bucket)
        job_run_id = f"jr_local_{uuid.uuid4().hex}"
        args = {
            "ingest_location": str(landing),
            "processed_location": str(lake),
            "database": self.names.database,
            "ingest_bucket": self.names.ingest_bucket,
            "processed_bucket": self.names.processed_bucket,
        }
        with self.progress.stage("transform", "Glue job -> lake + catalog") as info:
            before = staging.file_signatures(lake)
            try:
                star_schema = importlib.import_module("glue_jobs.star_schema")
                with self._job_logs(star_schema), counted_jobs(spark, "transform") as jobs:
                    run_as_job_role(
                        lambda **more: star_schema.run(spark, args, s3=self.s3, **more),
                        self.job_policy,
                        {
                            str(landing): self.names.ingest_bucket,
                            str(lake): self.names.processed_bucket,
                        },
                        str(lake),
                        self.job_glue,
                    )
            except Exception as exc:
                raise StageError("transform", exc) from exc
            after = staging.file_signatures(lake)
            changed = [k for k, sig in after.items() if before.get(k) != sig]
            new_manifests = sorted(k for k in changed if k.startswith(MANIFEST_PREFIX))
            # Publish what the job wrote (manifests last), as it would have written to S3,
            # and drop what it removed (its in-flight record, moved temporary objects).
            self._publish_lake(changed)
            self._unpublish_lake([k for k in before if k not in after])
            # The catalog is durable once the job wrote it, as Glue's is: a cycle killed
            # later (during the load) must not leave --state-dir pointing at old snapshots.
            self.persist()
            tables: dict[str, int] = {}
            for key in new_manifests:
                manifest = manifest_files.read_processed_manifest(lake, key)
                report.processed_batches.append(manifest.batch_id)
                for table, rows in manifest_files.star_rows(manifest).items():
                    tables[table] = tables.get(table, 0) + rows
                for table, rows in manifest.quarantined.items():
                    report.quarantined[table] = report.quarantined.get(table, 0) + rows
            info["tables"] = tables
            info["note"] = (
                f"{len(new_manifests)} batch, {len(changed)} files, {jobs['jobs']} Spark jobs"
                if new_manifests
                else "nothing pending"
            )
            template_event = _read_event(
                "glue_job_succeeded.json",
                {"source": "aws.glue", "detail-type": "Glue Job State Change", "detail": {}},
            )
            entry = wiring.glue_job_state_change(template_event, self.names.job_name, job_run_id)
            response = self.events.put_events(Entries=[entry])  # type: ignore[list-item]
            if response.get("FailedEntryCount"):
                raise StageError("transform", f"PutEvents refused the job event: {response}")
        report.stages.append(StageSummary("transform", info["seconds"], tables, info["note"]))
        return [job_run_id]

    @contextlib.contextmanager
    def _job_logs(self, module: Any) -> Iterator[None]:
        """The job's JSON logs into the run's log file, as Glue sends them to CloudWatch."""
        job_logger = logging.getLogger("star_schema")
        handler = logging.StreamHandler(self._log)
        formatter = getattr(module, "JsonLogFormatter", None)
        if formatter is not None:
            handler.setFormatter(formatter())
        job_logger.addHandler(handler)
        job_logger.setLevel(logging.INFO)
        try:
            yield
        finally:
            job_logger.removeHandler(handler)
            handler.flush()

    def _publish_lake(self, keys: list[str]) -> None:
        lake = self.state.bucket_dir(self.names.processed_bucket)
        signatures = staging.file_signatures(lake)
        todo = [k for k in keys if k in signatures and self._lake_uploaded.get(k) != signatures[k]]
        staging.upload_keys(
            self.s3, self.names.processed_bucket, lake, staging.manifests_last(todo)
        )
        for key in todo:
            self._lake_uploaded[key] = signatures[key]

    def _unpublish_lake(self, keys: list[str]) -> None:
        gone = [k for k in keys if k in self._lake_uploaded]
        for start in range(0, len(gone), 1000):
            self.s3.delete_objects(
                Bucket=self.names.processed_bucket,
                Delete={"Objects": [{"Key": k} for k in gone[start : start + 1000]]},
            )
        for key in gone:
            del self._lake_uploaded[key]

    def _loaded_batches(self) -> set[str] | None:
        """Batch ids in the warehouse's etl_loaded_batch; None if it cannot be read."""
        try:
            conn = connect_secret(self.warehouse_secret)
        except Exception:  # noqa: BLE001 - the loader reports an unreachable warehouse itself
            return None
        try:
            exists = conn.run("SELECT to_regclass('public.etl_loaded_batch') IS NOT NULL")[0][0]
            if not exists:
                return set()
            return {str(row[0]) for row in conn.run("SELECT batch_id FROM etl_loaded_batch")}
        finally:
            conn.close()

    def _warehouse_hi(self) -> str | None:
        """The hi of the newest ingest batch inside the newest batch the warehouse loaded.

        Read from the warehouse's etl_loaded_batch and the manifests it leads to, never from
        what this cycle ingested: a batch ingested but not yet loaded adds no freshness.
        """
        loaded = self._loaded_batches()
        if not loaded:
            return None
        lake = self.state.bucket_dir(self.names.processed_bucket)
        processed = manifest_files.processed_manifest_of(lake, max(loaded))
        landing = self.state.bucket_dir(self.names.ingest_bucket)
        return manifest_files.ingest_manifest_of(landing, processed.ingest_batches[-1]).hi

    def _stage_pending_lake_batches(self) -> list[str]:
        """Put the objects of processed batches the warehouse lacks into S3; their ids."""
        lake = self.state.bucket_dir(self.names.processed_bucket)
        loaded = self._loaded_batches()
        if loaded is None:
            return []
        pending: list[str] = []
        keys: list[str] = []
        for manifest in manifest_files.processed_manifests(lake):
            if manifest.batch_id in loaded:
                continue
            pending.append(manifest.batch_id)
            for entry in manifest.tables.values():
                keys.extend(entry.object_keys)
        keys.extend(staging.file_signatures(lake, MANIFEST_PREFIX))
        self._publish_lake(keys)
        return pending

    def _load(self, report: CycleReport, events: list[dict[str, Any]]) -> None:
        """Invoke the loader once per delivered event, as the rule's target would."""
        with self.progress.stage("load", "lake -> warehouse") as info:
            pending = self._stage_pending_lake_batches()
            try:
                for event in events:
                    self._invoke(LOAD_DIR, event)
            except Exception as exc:
                raise StageError("load", exc) from exc
            tables: dict[str, int] = {}
            loaded = self._loaded_row_counts(pending)
            for batch_id, counts in loaded.items():
                report.loaded_batches.append(batch_id)
                for table, rows in counts.items():
                    tables[table] = tables.get(table, 0) + int(rows)
            info["tables"] = tables
            info["note"] = f"{len(loaded)} batch" if loaded else "nothing pending"
        report.stages.append(StageSummary("load", info["seconds"], tables, info["note"]))

    def _loaded_row_counts(self, batch_ids: list[str]) -> dict[str, dict[str, int]]:
        """row_counts of the given batches, as the loader recorded them in etl_loaded_batch."""
        if not batch_ids:
            return {}
        conn = connect_secret(self.warehouse_secret)
        try:
            rows = conn.run(
                "SELECT batch_id, row_counts FROM etl_loaded_batch WHERE batch_id = ANY(:ids)"
                " ORDER BY batch_id",
                ids=batch_ids,
            )
        finally:
            conn.close()
        found: dict[str, dict[str, int]] = {}
        for batch_id, counts in rows:
            data = json.loads(counts) if isinstance(counts, str) else (counts or {})
            found[str(batch_id)] = {str(k): _written(v) for k, v in data.items()}
        return found

"""The local runner in-process: template rules drive the stages; --state-dir carries state.

These stop before the Glue job (no Spark); tests/e2e runs whole cycles as a subprocess.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from local.dsn import dsn_to_secret, secret_to_dsn
from local.report import Progress
from local.runner import LocalPipeline, StageError
from local.services import free_port
from local.stack import TEMPLATE_PATH
from local.statedir import NAMES

MANIFEST_PREFIX_LINE = "- prefix: _manifests/"


def test_a_manifest_the_template_rule_no_longer_matches_stops_the_pipeline(
    tmp_path: Path, pipeline_over: Callable[..., LocalPipeline]
) -> None:
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    assert text.count(MANIFEST_PREFIX_LINE) == 1, "ManifestCreatedRule's key filter moved"
    broken = tmp_path / "template.yaml"
    broken.write_text(text.replace(MANIFEST_PREFIX_LINE, "- prefix: _manifests_v2/"))
    state = tmp_path / "state"

    with (
        pipeline_over(state, broken) as pipeline,
        pytest.raises(StageError) as raised,
    ):
        pipeline.run_cycle()

    message = str(raised.value)
    assert message.startswith("wiring failed: the event for _manifests/")
    assert "matched no ManifestCreatedRule in template.yaml" in message
    assert '"prefix": "_manifests_v2/"' in message
    landing = state / "buckets" / NAMES.ingest_bucket
    [manifest] = sorted((landing / "_manifests").glob("*.json"))
    assert json.loads(manifest.read_text())["tables"]["sales_order"]["rows"] > 0
    assert not (state / "buckets" / NAMES.processed_bucket / "_manifests").exists()


def test_the_next_session_restores_ingest_state_from_the_state_dir(
    tmp_path: Path, pipeline_over: Callable[..., LocalPipeline]
) -> None:
    """Session 1 ingests (then stops at a broken rule); session 2 finds nothing new to
    ingest, and the transform's backstop takes the batch whose event never came."""
    broken = tmp_path / "template.yaml"
    broken.write_text(
        TEMPLATE_PATH.read_text(encoding="utf-8").replace(
            MANIFEST_PREFIX_LINE, "- prefix: _nothing/"
        )
    )
    state = tmp_path / "state"
    with pipeline_over(state, broken) as pipeline, pytest.raises(StageError):
        pipeline.run_cycle()

    with pipeline_over(state) as pipeline:
        report = pipeline.run_cycle()

    assert [s.stage for s in report.stages] == ["ingest", "transform", "load"]
    assert report.ingest_batches == []
    assert report.stages[0].note == "no changes (no manifest, no event)"
    landing = state / "buckets" / NAMES.ingest_bucket
    [manifest] = sorted((landing / "_manifests").glob("*.json"))
    batch = json.loads(manifest.read_text())
    assert report.processed_batches == report.loaded_batches == [batch["batch_id"]]
    assert report.warehouse_hi == batch["hi"]
    assert (state / "catalog.json").exists()


def test_an_unreachable_source_fails_ingest_with_a_one_line_reason(
    databases: tuple, tmp_path: Path
) -> None:
    source, warehouse = databases
    port = free_port()  # nothing listens here
    closed = secret_to_dsn({**dsn_to_secret(source.dsn), "host": "127.0.0.1", "port": port})
    pipeline = LocalPipeline(
        source_dsn=closed,
        warehouse_dsn=warehouse.dsn,
        state_dir=tmp_path / "state",
        commit_lag_seconds=0,
        progress=Progress(stream=io.StringIO()),
    )
    with pipeline, pytest.raises(StageError) as raised:
        pipeline.run_cycle()

    message = str(raised.value)
    assert message.startswith(f"ingest failed: cannot connect to Postgres at 127.0.0.1:{port}/")
    assert "\n" not in message
    assert not list((tmp_path / "state" / "buckets" / NAMES.ingest_bucket).rglob("*.json"))

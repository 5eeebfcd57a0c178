"""A forged starting state (far-future manifest or cache, watermarks past `hi`) is refused:
a clear error, the StateRejected metric, nothing written; once the operator removes the
forged object (docs/failure-modes.md), the next run carries every change it held back."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from ingest.exceptions import StateAheadError, WatermarkAheadError
from ingest.run import run_ingest
from pipeline_common.contracts.keys import INGEST_STATE_KEY as STATE_KEY
from pipeline_common.s3objects import write_json
from tests.integration.ingest.support import all_keys, change_rows, manifests, state
from tests.integration.ingest.test_ingest_faults import _assert_catches_up

FUTURE_BATCH = "29990101T000000000000Z"
FUTURE_MANIFEST = f"_manifests/{FUTURE_BATCH}.json"


def _rejected(capsys: pytest.CaptureFixture[str]) -> list[Any]:
    """The StateRejected values and dimensions of every EMF document the run printed."""
    values = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            if "StateRejected" in document:
                [directive] = document["_aws"]["CloudWatchMetrics"]
                values.append((document["StateRejected"], directive["Dimensions"]))
    return values


def _run(settings: Any, s3: Any, secretsmanager: Any, **overrides: Any) -> Any:
    return run_ingest(
        dataclasses.replace(settings, **overrides),
        s3=s3,
        secretsmanager=secretsmanager,
        metrics=Metrics(namespace="ToteSysPipeline"),
    )


def _refused(
    error: type[Exception], message: str, settings: Any, s3: Any, secretsmanager: Any,
    bucket: str, capsys: pytest.CaptureFixture[str], **overrides: Any,
) -> None:  # fmt: skip
    keys, cached = all_keys(s3, bucket), state(s3, bucket)
    capsys.readouterr()
    with pytest.raises(error, match=message):
        _run(settings, s3, secretsmanager, **overrides)
    assert _rejected(capsys) == [([1.0], [["service"]])]  # StateRejectedAlarm's metric
    assert all_keys(s3, bucket) == keys  # nothing written
    assert state(s3, bucket) == cached


def test_a_far_future_manifest_is_refused_until_removed(
    totesys, ingest, settings, s3, secretsmanager, bucket, capsys
) -> None:
    ingest()
    [good] = manifests(s3, bucket)
    write_json(s3, bucket, FUTURE_MANIFEST, {**good, "batch_id": FUTURE_BATCH})
    changed = change_rows(totesys, 1)

    refused = f"last committed batch {FUTURE_BATCH} is after the source clock"
    _refused(StateAheadError, refused, settings, s3, secretsmanager, bucket, capsys)

    s3.delete_object(Bucket=bucket, Key=FUTURE_MANIFEST)  # the operator's way back
    _assert_catches_up(ingest, s3, bucket, totesys, changed)


def test_a_cached_watermark_in_2099_is_refused_until_the_cache_is_removed(
    totesys, ingest, settings, s3, secretsmanager, bucket, capsys
) -> None:
    ingest()
    cached = state(s3, bucket)
    assert cached is not None
    forged = {
        **cached,
        "watermarks": {**cached["watermarks"], "address": "2099-01-01 00:00:00.000000"},
    }
    write_json(s3, bucket, STATE_KEY, forged)
    changed = change_rows(totesys, 1)

    refused = "watermark of address, 2099-01-01 00:00:00.000000, is after the source clock"
    _refused(StateAheadError, refused, settings, s3, secretsmanager, bucket, capsys)

    # The cache is only a cache: without it, the newest manifest's watermarks are used.
    s3.delete_object(Bucket=bucket, Key=STATE_KEY)
    _assert_catches_up(ingest, s3, bucket, totesys, changed)


def test_a_watermark_past_this_runs_hi_is_a_transient_error_not_an_empty_run(
    totesys, ingest, settings, s3, secretsmanager, bucket, capsys
) -> None:
    ingest()  # lag 0: the watermarks are this moment
    changed = change_rows(totesys, 1)

    _refused(
        WatermarkAheadError, r"is after this run's hi .* \(was the commit lag raised\?\)",
        settings, s3, secretsmanager, bucket, capsys, commit_lag_seconds=3600,
    )  # fmt: skip

    _assert_catches_up(ingest, s3, bucket, totesys, changed)  # hi has passed them again

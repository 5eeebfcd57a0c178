"""The commit fence's arithmetic: 32-bit ages against 64-bit ids, and the snapshot record."""

from __future__ import annotations

import pytest

from ingest.exceptions import FenceError
from ingest.fence import (
    MAX_SPAN,
    CurrentSnapshot,
    Fence,
    Snapshot,
    fence_for,
    snapshot_from_manifest,
)

EPOCH = 2**32  # one wraparound of 32-bit ids: ids of epoch 1 start here


def test_the_fence_spans_from_the_previous_xmin_and_excludes_what_it_saw() -> None:
    previous = Snapshot(xmin=EPOCH - 5, xmax=EPOCH + 3, xip=(EPOCH - 5,), seen_xids=(EPOCH - 2,))
    current = CurrentSnapshot(xmin=EPOCH + 10, xmax=EPOCH + 12, xip=(), latest=EPOCH + 12)

    fence = fence_for(previous, current)

    # age(xmin) of a row written by EPOCH - 5 is 17 (across the wraparound); EPOCH - 2: 14.
    assert fence == Fence(span=17, seen_ages=(14,))
    assert fence.sql_condition() == (
        "age(xmin) BETWEEN 1 AND 17 AND age(xmin) <> ALL('{14}'::int4[])"
    )


def test_no_previous_snapshot_means_no_fence() -> None:
    assert fence_for(None, CurrentSnapshot(5, 5, (), 5)) is None


def test_a_snapshot_too_many_ids_old_is_refused() -> None:
    previous = Snapshot(10, 10, ())
    with pytest.raises(FenceError, match="more than 32-bit xmin can be compared over"):
        fence_for(
            previous, CurrentSnapshot(10 + MAX_SPAN + 1, 10 + MAX_SPAN + 1, (), 11 + MAX_SPAN)
        )
    assert fence_for(previous, CurrentSnapshot(9 + MAX_SPAN, 10 + MAX_SPAN, (), 10 + MAX_SPAN))


def test_a_snapshot_ahead_of_the_database_is_refused() -> None:
    with pytest.raises(FenceError, match="ahead of this database's transaction ids"):
        fence_for(Snapshot(100, 100, ()), CurrentSnapshot(50, 50, (), 50))


def test_the_snapshot_round_trips_through_the_manifest() -> None:
    snapshot = Snapshot(7, 12, (7, 9), (8, 11))
    assert snapshot_from_manifest(snapshot.to_json()) == snapshot
    assert snapshot_from_manifest(None) is None


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"xmin": 7, "xmax": 12, "xip": []}, "exactly xmin, xmax, xip, seen_xids"),
        ({"xmin": "7", "xmax": 12, "xip": [], "seen_xids": []}, "must be integers"),
        ({"xmin": 7, "xmax": 12, "xip": [True], "seen_xids": []}, "must be integers"),
        ({"xmin": 7, "xmax": 12, "xip": "7", "seen_xids": []}, "must be lists"),
        ({"xmin": 12, "xmax": 7, "xip": [], "seen_xids": []}, "out of order"),
        ({"xmin": 7, "xmax": 12, "xip": [12], "seen_xids": []}, r"outside \[xmin, xmax\)"),
        ({"xmin": 7, "xmax": 12, "xip": [], "seen_xids": [6]}, r"outside \[xmin, xmax\)"),
    ],
)
def test_a_malformed_snapshot_is_refused(data: object, match: str) -> None:
    with pytest.raises(FenceError, match=match):
        snapshot_from_manifest(data)


def test_no_fence_when_nothing_committed_since_the_previous_snapshot() -> None:
    previous = Snapshot(10, 12, (10,))
    quiet = CurrentSnapshot(10, 12, (10,), latest=12, committed_since=False)

    assert fence_for(previous, quiet) is None

"""Refuse a starting state from the future: the bucket's objects are checked, not trusted.

Anyone who can write the ingest bucket could set a watermark to 2099 (every later run would
extract nothing, silently) or commit a far-future manifest (every later batch id would sort
before it). docs/failure-modes.md says how an operator removes such an object.
"""

from __future__ import annotations

import datetime as dt

from ingest.exceptions import StateAheadError, WatermarkAheadError
from ingest.watermarks import IngestState
from ingest.window import format_timestamp, parse_timestamp
from pipeline_common.contracts.batch import batch_id_for

# How far the source clock may lag the clock of the run that wrote a batch id (both are
# the source's now(), so only a failover to a server with another clock can move it back).
CLOCK_SKEW = dt.timedelta(minutes=5)


def check_state(state: IngestState, now: dt.datetime, hi: str) -> None:
    """Raise unless the last batch id and every watermark are before `now` plus the skew,
    and every watermark is at most `hi` (the end of this run's window)."""
    limit = now + CLOCK_SKEW
    if state.batch_id is not None and state.batch_id > batch_id_for(limit):
        raise StateAheadError(
            f"the last committed batch {state.batch_id} is after the source clock "
            f"{batch_id_for(now)} plus {CLOCK_SKEW}; remove the forged manifest or cache "
            "(docs/failure-modes.md)"
        )
    for table, value in sorted(state.watermarks.items()):
        watermark = parse_timestamp(value)
        if watermark > limit:
            raise StateAheadError(
                f"the watermark of {table}, {value}, is after the source clock "
                f"{format_timestamp(now)} plus {CLOCK_SKEW}; remove the forged manifest "
                "or cache (docs/failure-modes.md)"
            )
        if watermark > parse_timestamp(hi):
            raise WatermarkAheadError(
                f"the watermark of {table}, {value}, is after this run's hi {hi} (was the "
                "commit lag raised?); a run after the watermark plus the lag succeeds"
            )

"""Errors of the ingest stage, each under pipeline_common's transient/terminal split."""

from __future__ import annotations

from pipeline_common.errors import PipelineError, TerminalError, TransientError


class SourceSchemaError(TerminalError):
    """A table on the allow-list is missing from the source or lacks what ingest needs."""


class SourceQueryError(TerminalError):
    """The source rejected a query for a reason a retry will not fix (privileges, SQL)."""


class UploadError(TransientError):
    """Writing an object to the ingest bucket failed; the multipart upload was aborted."""


class UploadRejectedError(TerminalError):
    """S3 refused the upload for a configuration reason (no such bucket, access denied)."""


class ClockError(TransientError):
    """The source clock is behind the last batch, so a new batch id would not sort last."""


class StateRejectedError(PipelineError):
    """The watermarks or last batch read from the bucket are ones no run could have
    written yet (a forged or hand-edited object); nothing is read or written."""


class StateAheadError(StateRejectedError, TerminalError):
    """A batch id or watermark is after the source clock plus the allowed skew."""


class WatermarkAheadError(StateRejectedError, TransientError):
    """A watermark is after this run's `hi` but not after the clock: the commit lag was
    raised since the last run, and a later run (once `hi` has passed it) succeeds."""


class FenceError(TerminalError):
    """The previous batch's snapshot cannot fence this run (malformed, or too many ids old)."""

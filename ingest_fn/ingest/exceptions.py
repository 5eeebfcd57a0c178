"""Errors of the ingest stage, each under pipeline_common's transient/terminal split."""

from __future__ import annotations

from pipeline_common.errors import TerminalError, TransientError


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


class FenceError(TerminalError):
    """The previous batch's snapshot cannot fence this run (malformed, or too many ids old)."""

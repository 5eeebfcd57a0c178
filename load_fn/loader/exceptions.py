"""Errors of the loader, under the pipeline's one hierarchy (transient vs terminal)."""

from __future__ import annotations

from pipeline_common.contracts.manifests import ManifestError as ManifestError
from pipeline_common.errors import TerminalError, TransientError


class LakeSchemaError(TerminalError):
    """A Parquet object lacks a star-table column or holds it in an incompatible type."""


class RowCountMismatchError(TerminalError):
    """The rows read from a table's objects differ from the count its manifest states."""


class BatchOrderError(TerminalError):
    """A batch older than one already loaded: loading it would roll dimensions back."""


class DuplicateKeyError(TerminalError):
    """A dimension batch holds the same id twice, so its latest values are ambiguous."""


class BatchRejectedError(TerminalError):
    """The warehouse refused the batch's rows (a constraint or data error); nothing was kept."""


class WarehouseBusyError(TransientError):
    """The warehouse aborted the batch for a reason a retry can clear (deadlock, shutdown)."""


class MigrationError(TerminalError):
    """A schema migration file is invalid or failed to apply."""

"""Errors of the ToteSys generator and simulator.

The local toolkit runs as `python -m local.totesys` without the Lambda layer on the path,
so its errors live here rather than under pipeline_common.errors; all are terminal (a retry
fails the same way until the database or the arguments change).
"""

from __future__ import annotations


class TotesysError(Exception):
    """Base of every error the generator and simulator raise on purpose."""


class SchemaMissingError(TotesysError):
    """The ToteSys tables do not exist in the target database."""


class SchemaExistsError(TotesysError):
    """`create` found ToteSys tables already there."""


class NotEmptyError(TotesysError):
    """Seeding or loading a snapshot needs empty ToteSys tables."""


class SnapshotError(TotesysError):
    """A snapshot directory lacks a table or a column, or holds a value that does not fit."""


class NotSeededError(TotesysError):
    """The simulator needs reference data (staff, counterparties, ...) to place orders."""

"""Batch ids (`YYYYMMDDTHHMMSSffffffZ`, a UTC time of fixed width, so ids sort by time) and
watermark timestamps (`YYYY-MM-DD HH:MM:SS.ffffff`, UTC wall clock), docs/contracts.md section 1."""

from __future__ import annotations

import datetime as dt
import re

BATCH_ID_PATTERN = r"\d{8}T\d{12}Z"
"""The one pattern of a batch id (docs/contracts.md section 1)."""

BATCH_ID_FORMAT = "%Y%m%dT%H%M%S%fZ"
_BATCH_ID = re.compile(BATCH_ID_PATTERN)


class BatchIdError(ValueError):
    """A text that is not a batch id `YYYYMMDDTHHMMSSffffffZ`."""


def batch_id_for(when: dt.datetime) -> str:
    """The batch id of a time (naive times are taken as UTC)."""
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when.strftime(BATCH_ID_FORMAT)


def is_batch_id(text: object) -> bool:
    """Whether a value has the batch id form."""
    return isinstance(text, str) and _BATCH_ID.fullmatch(text) is not None


def check_batch_id(batch_id: object) -> str:
    """Return the id unchanged if it has the batch id form, else raise BatchIdError."""
    if not is_batch_id(batch_id):
        raise BatchIdError(f"not a batch id: {batch_id!r}")
    return batch_id  # type: ignore[return-value]


def batch_time(batch_id: str) -> dt.datetime:
    """The UTC time a batch id names."""
    return dt.datetime.strptime(check_batch_id(batch_id), BATCH_ID_FORMAT).replace(tzinfo=dt.UTC)


TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}")


class TimestampFormatError(ValueError):
    """A watermark is not of the form `YYYY-MM-DD HH:MM:SS.ffffff`."""


def format_timestamp(value: dt.datetime) -> str:
    """A UTC wall-clock timestamp as watermarks and manifests hold it (always 6 digits)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: object) -> dt.datetime:
    """Strictly parse a watermark; anything but the exact format raises."""
    if not isinstance(text, str) or not _TIMESTAMP.fullmatch(text):
        raise TimestampFormatError(f"not a watermark timestamp: {text!r}")
    try:
        return dt.datetime.strptime(text, TIMESTAMP_FORMAT)
    except ValueError as exc:
        raise TimestampFormatError(f"not a valid timestamp: {text!r}") from exc

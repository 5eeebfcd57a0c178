"""Change windows `[lo, hi)` on `last_updated`, and their bounds as safe SQL literals.

COPY takes no bind parameters, so the bounds go into the SQL as literals. They are never
free text: each is a timestamp this code formatted, and it is checked against a strict
pattern and parsed again before it is quoted.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")


class TimestampFormatError(ValueError):
    """A watermark is not of the form `YYYY-MM-DD HH:MM:SS.ffffff`."""


def format_timestamp(value: dt.datetime) -> str:
    """A UTC wall-clock timestamp as watermarks and manifests hold it (always 6 digits)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> dt.datetime:
    """Strictly parse a watermark; anything but the exact format raises."""
    if not isinstance(text, str) or not _TIMESTAMP.match(text):
        raise TimestampFormatError(f"not a watermark timestamp: {text!r}")
    try:
        return dt.datetime.strptime(text, TIMESTAMP_FORMAT)
    except ValueError as exc:
        raise TimestampFormatError(f"not a valid timestamp: {text!r}") from exc


def timestamp_literal(text: str) -> str:
    """`'YYYY-MM-DD HH:MM:SS.ffffff'::timestamp`, only for a text that parses strictly."""
    parse_timestamp(text)
    return f"'{text}'::timestamp"


@dataclass(frozen=True)
class Window:
    """The half-open window `[lo, hi)` of one table; lo None = everything before hi."""

    lo: str | None
    hi: str

    def __post_init__(self) -> None:
        if self.lo is not None and parse_timestamp(self.lo) > parse_timestamp(self.hi):
            raise TimestampFormatError(f"window lo {self.lo} is after hi {self.hi}")
        parse_timestamp(self.hi)

    @property
    def is_empty(self) -> bool:
        """True when lo == hi: no row can be in the window, so no query is needed."""
        return self.lo == self.hi

    def sql_condition(self, quoted_column: str, *, or_before_lo: str | None = None) -> str:
        """`col >= lo AND col < hi` (or `col < hi` on a first extract) with quoted literals.

        `or_before_lo` also takes the rows before lo that meet it (the commit fence):
        `col < hi AND (col >= lo OR <or_before_lo>)`.
        """
        upper = f"{quoted_column} < {timestamp_literal(self.hi)}"
        if self.lo is None:
            return upper
        lower = f"{quoted_column} >= {timestamp_literal(self.lo)}"
        if or_before_lo is None:
            return f"{lower} AND {upper}"
        return f"{upper} AND ({lower} OR ({or_before_lo}))"

    def to_manifest(self) -> dict[str, str | None]:
        """The window as the manifest records it."""
        return {"lo": self.lo, "hi": self.hi}

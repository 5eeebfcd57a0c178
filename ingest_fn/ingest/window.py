"""Change windows `[lo, hi)` on `last_updated`, and their bounds as safe SQL literals.

COPY takes no bind parameters, so the bounds go into the SQL as literals. They are never
free text: each is a timestamp this code formatted, and it is checked against a strict
pattern and parsed again before it is quoted.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline_common.contracts.batch import (
    TIMESTAMP_FORMAT,
    TimestampFormatError,
    format_timestamp,
    parse_timestamp,
)

__all__ = [
    "TIMESTAMP_FORMAT",
    "TimestampFormatError",
    "Window",
    "format_timestamp",
    "parse_timestamp",
    "timestamp_literal",
]


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

"""The template's Athena (Trino) queries, run on the warehouse's Postgres.

The named queries are written in SQL both engines mostly share; the few Trino-only forms
they use are rewritten here, so each question is asked of the warehouse as written.
"""

from __future__ import annotations

import re

_DATE_DIFF = re.compile(r"\bdate_diff\s*\(", re.IGNORECASE)


class DialectError(ValueError):
    """A query uses a form this translation does not handle."""


def _split_arguments(sql: str, start: int) -> tuple[list[str], int]:
    """Top-level comma-separated arguments from sql[start] (just after '(') to the ')'."""
    depth = 0
    quote = ""
    args: list[str] = []
    current = start
    for i in range(start, len(sql)):
        char = sql[i]
        if quote:
            if char == quote:
                quote = ""
            continue
        if char in ("'", '"'):
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                args.append(sql[current:i].strip())
                return args, i + 1
            depth -= 1
        elif char == "," and depth == 0:
            args.append(sql[current:i].strip())
            current = i + 1
    raise DialectError("unbalanced parentheses in date_diff(...)")


def _date_diff(sql: str) -> str:
    """date_diff('day', a, b) -> (CAST(b AS date) - CAST(a AS date)): Postgres' day count."""
    while match := _DATE_DIFF.search(sql):
        args, end = _split_arguments(sql, match.end())
        if len(args) != 3 or args[0].strip("'").lower() != "day":
            raise DialectError(f"date_diff({', '.join(args)}) is not a day difference")
        replacement = f"(CAST({_date_diff(args[2])} AS date) - CAST({_date_diff(args[1])} AS date))"
        sql = sql[: match.start()] + replacement + sql[end:]
    return sql


def athena_to_postgres(sql: str, database: str) -> str:
    """The query for the warehouse: the catalog database is `public`; Trino functions mapped."""
    qualifier = re.compile(rf'(?:"{re.escape(database)}"|\b{re.escape(database)})\s*\.', re.I)
    return _date_diff(qualifier.sub("", sql))

"""Plain-text output of the CLI: progress lines and aligned tables."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any


def one_line(text: object) -> str:
    """A message folded onto one line (a reason the CLI prints on failure)."""
    return " ".join(str(text).split())


def cell(value: Any, null: str = "NULL") -> str:
    """A value as a table cell: NULL for None, Decimals as printed, floats trimmed."""
    if value is None:
        return null
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], null: str = "NULL") -> str:
    """An aligned text table; numbers right-aligned; None printed as `null`."""
    text_rows = [[cell(v, null) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    numeric = [
        bool(rows) and all(isinstance(r[i], (int, float, Decimal)) or r[i] is None for r in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(row) for row in text_rows)
    return "\n".join(out)


@dataclass
class Progress:
    """Prints what the pipeline is doing as it does it, with timings."""

    stream: IO[str] = field(default_factory=lambda: sys.stdout)
    indent: str = ""

    def say(self, text: str = "") -> None:
        self.stream.write(f"{self.indent}{text}\n" if text else "\n")
        self.stream.flush()

    @contextmanager
    def stage(self, name: str, what: str = "") -> Iterator[dict[str, Any]]:
        """Time a stage; the block may put a `note` in the yielded dict to print after."""
        self.stream.write(f"{self.indent}{name:<10} {what}".rstrip() + " ...")
        self.stream.flush()
        info: dict[str, Any] = {}
        start = time.perf_counter()
        try:
            yield info
        except BaseException:
            info["seconds"] = time.perf_counter() - start
            self.stream.write(f" failed after {info['seconds']:.1f}s\n")
            self.stream.flush()
            raise
        info["seconds"] = time.perf_counter() - start
        note = f" {info['note']}" if info.get("note") else ""
        self.stream.write(f" {info['seconds']:.1f}s{note}\n")
        self.stream.flush()

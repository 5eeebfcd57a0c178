"""What every measurement shares: a timer, peak RSS, a query counter, a result file.

Imported by the child processes, so it imports only the standard library.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB: VmHWM, else getrusage's ru_maxrss.

    VmHWM (/proc/self/status) belongs to the address space made at exec. ru_maxrss does not
    reset at exec on Linux: a child spawned by a 300 MB parent reports at least 300 MB.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return rusage_maxrss_mb()


def rusage_maxrss_mb() -> float:
    """resource.getrusage's ru_maxrss in MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@contextmanager
def timed() -> Iterator[dict[str, float]]:
    """`with timed() as t: ...` leaves the wall seconds in t["seconds"]."""
    box: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - start


class QueryCounter:
    """Counts SQL statements sent to Postgres by any pg8000 connection in this process.

    pg8000's native and DB-API connections both send every statement through one of
    CoreConnection.execute_simple / execute_unnamed / execute_named, so wrapping those
    three counts every statement (a COPY is one statement; connecting is none).
    """

    _METHODS = (("execute_simple", 0), ("execute_unnamed", 0), ("execute_named", 4))

    def __init__(self) -> None:
        self.statements: list[str] = []
        self._originals: dict[str, Any] = {}

    def install(self) -> QueryCounter:
        """Start counting (until uninstall)."""
        from pg8000 import core

        for name, position in self._METHODS:
            original = getattr(core.CoreConnection, name)
            self._originals[name] = original
            setattr(core.CoreConnection, name, self._counted(original, position))
        return self

    def uninstall(self) -> None:
        """Put pg8000's methods back."""
        from pg8000 import core

        for name, original in self._originals.items():
            setattr(core.CoreConnection, name, original)
        self._originals.clear()

    def __enter__(self) -> QueryCounter:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def _counted(self, original: Callable[..., Any], position: int) -> Callable[..., Any]:
        def counted(conn: Any, *args: Any, **kwargs: Any) -> Any:
            statement = kwargs.get("statement", args[position] if len(args) > position else "")
            self.statements.append(" ".join(str(statement).split())[:200])
            return original(conn, *args, **kwargs)

        return counted

    @property
    def count(self) -> int:
        return len(self.statements)


def secret_from_env(name: str) -> dict[str, Any]:
    """A database secret document handed to a child in an environment variable (not argv)."""
    return dict(json.loads(os.environ[name]))


def child_main(
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    work: Callable[[argparse.Namespace], dict[str, Any]],
    argv: list[str] | None = None,
) -> None:
    """Entry point of a measurement subprocess: parse, work, add peak RSS, write --out."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", required=True, help="where to write the result JSON")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(work, args)
        profiler.dump_stats(f"{args.out}.prof")  # read with: python -m pstats <file>
    else:
        result = work(args)
    result["peak_rss_mb"] = peak_rss_mb()
    result["ru_maxrss_mb"] = rusage_maxrss_mb()
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))


def spread(values: list[float]) -> dict[str, Any]:
    """Median, min, max and the runs themselves, rounded for reading."""
    if not values:
        return {"median": None, "min": None, "max": None, "runs": []}
    return {
        "median": _round(statistics.median(values)),
        "min": _round(min(values)),
        "max": _round(max(values)),
        "runs": [_round(v) for v in values],
    }


def _round(value: float) -> float:
    if value == 0:
        return 0.0
    digits = max(0, 3 - int(f"{abs(value):e}".split("e")[1]))
    return round(value, min(digits, 6))


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the divisor is zero."""
    if numerator is None or denominator in (None, 0):
        return None
    return _round(numerator / denominator)

"""The machine and the software versions a bench ran on, for results.json."""

from __future__ import annotations

import os
import platform
import re
import subprocess  # nosec B404 - runs only `java -version`
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("pyspark", "duckdb", "pandas", "pyarrow", "awswrangler", "pg8000", "boto3", "moto")


def _meminfo_mb() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    match = re.search(r"MemTotal:\s+(\d+) kB", text)
    return int(match.group(1)) // 1024 if match else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """Cores this process may use, total memory, CPU model, OS."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cores": affinity or os.cpu_count(),
        "memory_mb": _meminfo_mb(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
    }


def _java_version() -> str | None:
    from local.spark import ensure_java17

    try:
        java = Path(ensure_java17()) / "bin" / "java"
        out = subprocess.run(  # nosec B603 - fixed argv, no shell
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except (OSError, RuntimeError):
        return None
    return out.splitlines()[0] if out else None


def versions(postgres: str) -> dict[str, Any]:
    """Python, Postgres, Java and the measured libraries' versions."""
    found: dict[str, Any] = {
        "python": platform.python_version(),
        "postgres": postgres,
        "java": _java_version(),
    }
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found

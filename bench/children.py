"""Run one measurement in a fresh Python process and read back its result file."""

from __future__ import annotations

import itertools
import json
import os
import subprocess  # nosec B404 - runs this repository's own bench modules
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from local.lambda_runtime import REPO_ROOT

CHILD_PYTHONPATH = os.pathsep.join(
    str(REPO_ROOT / p) for p in ("", "layers/common", "ingest_fn", "load_fn")
)


class BenchError(RuntimeError):
    """A measurement failed or produced something that cannot be compared."""


class ChildRunner:
    """Starts `python -m bench.<module>` with a given environment; logs go to the work dir."""

    def __init__(
        self, work_dir: Path, base_env: dict[str, str], timeout_seconds: float = 3600
    ) -> None:
        self.work_dir = work_dir
        self.base_env = base_env
        self.timeout_seconds = timeout_seconds
        self._numbers = itertools.count()
        (work_dir / "logs").mkdir(parents=True, exist_ok=True)

    def run(
        self, module: str, args: Sequence[str] = (), env: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """The child's result dict (its --out file); a failure raises with the log's tail."""
        number = next(self._numbers)
        out = self.work_dir / "logs" / f"{number:03d}-{module}.json"
        log = self.work_dir / "logs" / f"{number:03d}-{module}.log"
        child_env = {
            **os.environ,
            **self.base_env,
            **(env or {}),
            "PYTHONPATH": CHILD_PYTHONPATH,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_NAMESPACE": "ToteSysBench",
            "PYTHONWARNINGS": "ignore",
        }
        argv = [sys.executable, "-m", f"bench.{module}", "--out", str(out), *args]
        with log.open("w") as sink:
            try:
                code = subprocess.run(  # nosec B603 - fixed argv, no shell
                    argv,
                    env=child_env,
                    cwd=REPO_ROOT,
                    stdout=sink,
                    stderr=sink,
                    check=False,
                    timeout=self.timeout_seconds,
                ).returncode
            except subprocess.TimeoutExpired as exc:
                raise BenchError(
                    f"bench.{module} ran over {self.timeout_seconds}s and was killed; log {log}"
                ) from exc
        if code != 0 or not out.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
            raise BenchError(f"bench.{module} failed (exit {code}); log {log}:\n{tail}")
        return dict(json.loads(out.read_text()))

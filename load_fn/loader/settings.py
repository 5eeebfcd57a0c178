"""The load function's settings, read from the environment once per container (at init)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline_common.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    """Environment variables the template wires into the load function."""

    processed_bucket: str
    warehouse_secret_id: str
    service_name: str = "load_fn"
    metrics_namespace: str = "ToteSysPipeline"
    lock_timeout_seconds: int = 60
    """How long a run waits for another run's loader lock before giving up (transient)."""
    socket_timeout_seconds: float = 600.0
    """Longest the warehouse may be silent: one statement (a large batch's fact INSERT with
    its foreign-key checks) can take minutes, far beyond pg8000's usual 30 s."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate; a missing required variable is a configuration error."""
        env = os.environ if environ is None else environ
        missing = [
            name for name in ("PROCESSED_BUCKET", "WAREHOUSE_SECRET_ID") if not env.get(name)
        ]
        if missing:
            raise ConfigError(f"missing environment variables: {', '.join(missing)}")
        return cls(
            processed_bucket=env["PROCESSED_BUCKET"],
            warehouse_secret_id=env["WAREHOUSE_SECRET_ID"],
            service_name=env.get("POWERTOOLS_SERVICE_NAME") or cls.service_name,
            metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE") or cls.metrics_namespace,
        )

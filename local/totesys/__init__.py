"""A faithful ToteSys source database: schema, deterministic seed, live change simulator,
and a loader for Parquet snapshots of the real one.

Every function takes an open pg8000 native connection (clients are passed in, never made).
"""

from __future__ import annotations

from local.totesys.generator import seed
from local.totesys.schema import TABLES, create_schema
from local.totesys.simulator import advance
from local.totesys.snapshot import load_snapshot

__all__ = ["TABLES", "advance", "create_schema", "load_snapshot", "seed"]

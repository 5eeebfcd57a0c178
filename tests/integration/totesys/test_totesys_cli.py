"""`python -m local.totesys` end to end, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local.totesys", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_create_seed_and_advance_from_the_command_line(postgres):
    created = _cli("create", "--dsn", postgres.dsn)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["create"] == {"created": True}

    seeded = _cli("seed", "--dsn", postgres.dsn, "--orders", "300", "--seed", "5")
    assert seeded.returncode == 0, seeded.stderr
    counts = json.loads(seeded.stdout)["seed"]
    assert counts["transaction"] == counts["payment"] == 300
    assert counts["sales_order"] + counts["purchase_order"] == 300
    conn = postgres.connect()
    assert conn.run("SELECT count(*) FROM sales_order") == [[counts["sales_order"]]]

    advanced = _cli("advance", "--dsn", postgres.dsn, "--hours", "10", "--seed", "1")
    assert advanced.returncode == 0, advanced.stderr
    summary = json.loads(advanced.stdout)["advance"]
    assert set(summary) == {"last_updated", "business_date", "hours", "inserts", "updates"}
    assert conn.run("SELECT count(*) FROM payment") == [[300 + summary["inserts"]["payment"]]]
    conn.close()


def test_errors_print_a_message_and_exit_1(postgres):
    assert _cli("create", "--dsn", postgres.dsn).returncode == 0
    again = _cli("create", "--dsn", postgres.dsn)
    assert again.returncode == 1
    assert again.stderr.startswith("error: ToteSys tables already exist: address, ")
    assert again.stdout == ""
    bad_dsn = _cli("seed", "--dsn", "mysql://x", "--orders", "1")
    assert (bad_dsn.returncode, bad_dsn.stderr) == (1, "error: DSN must start with postgresql://\n")


def test_load_snapshot_from_the_command_line(postgres, snapshot_dir):
    loaded = _cli("load-snapshot", "--dsn", postgres.dsn, "--from", str(snapshot_dir))
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["load-snapshot"]["payment"] == 15836

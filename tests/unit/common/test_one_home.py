"""Each concept the stages share has one home (issue 22): no source file outside it holds
another copy of the batch-id pattern, a manifest parser, identifier quoting or the SQLSTATE
policy. The Glue job's held copies are the one exception (docs/adr/0003), and
tests/unit/glue/test_glue_contracts_equal.py holds those equal to the shared ones."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
GLUE_JOB = "glue_jobs/star_schema.py"

# (what, a pattern that only its home may contain, the files allowed to contain it)
RULES = [
    (
        "the batch-id pattern",
        re.compile(r"d\{8\}T\\d\{12\}Z"),
        {"layers/common/pipeline_common/contracts/batch.py", GLUE_JOB},
    ),
    (
        "a manifest parser",
        re.compile(r'\.get\("(kind|ingest_batches|changed_objects)"|\["ingest_batches"\]'),
        {"layers/common/pipeline_common/contracts/manifests.py", GLUE_JOB},
    ),
    (
        "identifier quoting",
        re.compile(r"""replace\('"', '""'\)|def _?quote_ident"""),
        {"layers/common/pipeline_common/postgres.py"},
    ),
    (
        "the SQLSTATE policy",
        re.compile(r'"(57P01|53300|40P01|40001)"'),
        {"layers/common/pipeline_common/postgres.py"},
    ),
]


def source_files() -> list[str]:
    """The Python files git tracks, tests aside (a test may spell out what it checks)."""
    listed = subprocess.run(  # nosec B603 B607 - a fixed git command in the repository
        ["git", "ls-files", "*.py"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [path for path in listed if not path.startswith("tests/")]


@pytest.mark.parametrize(("what", "pattern", "homes"), RULES, ids=[r[0] for r in RULES])
def test_no_copy_outside_its_home(what: str, pattern: re.Pattern[str], homes: set[str]) -> None:
    found = {
        path
        for path in source_files()
        if pattern.search((REPO_ROOT / path).read_text(encoding="utf-8"))
    }
    assert found - homes == set(), f"{what} outside its home"
    assert found & homes, f"{what}: its home no longer matches the rule (rewrite the rule)"

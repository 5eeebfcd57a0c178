"""`python -m local report` fails with one line and writes nothing when it cannot report."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_state import B2, write_state

from local.__main__ import main
from local.statedir import NAMES


def test_a_corrupt_manifest_fails_the_report_with_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = write_state(tmp_path)
    bad = state.bucket_dir(NAMES.processed_bucket) / "_manifests" / f"{B2}.json"
    bad.write_text("{not json", encoding="utf-8")

    assert main(["report", "--state-dir", str(tmp_path)]) == 1

    err = capsys.readouterr().err
    assert err.startswith(f"report failed: cannot read manifest {bad}: ")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "report.html").exists()


def test_a_state_dir_without_a_catalog_fails_the_lake_answers_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_state(tmp_path)

    assert main(["report", "--state-dir", str(tmp_path)]) == 1

    err = capsys.readouterr().err
    assert err.startswith(f"report failed: no catalog in {tmp_path}: run `python -m local run`")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "report.html").exists()


def test_an_unreachable_warehouse_fails_the_report_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_state(tmp_path)
    dsn = "postgresql://postgres@127.0.0.1:9/warehouse"  # the discard port: nothing listens

    assert main(["report", "--state-dir", str(tmp_path), "--warehouse-dsn", dsn]) == 1

    assert capsys.readouterr().err == "report failed: [Errno 111] Connection refused\n"
    assert not (tmp_path / "report.html").exists()

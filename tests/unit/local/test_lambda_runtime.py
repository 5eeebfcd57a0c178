"""The local Lambda runtime's log routing: each pipeline's handler logs reach its own file."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from aws_lambda_powertools import Logger

from local.lambda_runtime import logs_routed_to


def _invoke(log_path: Path, message: str) -> None:
    """What LocalPipeline._invoke does around a handler made at import (a cold start)."""
    with open(log_path, "a", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        logger = Logger(service="route-logs-test")
        with logs_routed_to(log):
            logger.info(message)


def _messages(path: Path) -> list[str]:
    return [json.loads(line)["message"] for line in path.read_text("utf-8").splitlines()]


def test_a_second_pipeline_gets_its_handler_logs_though_the_first_file_is_closed(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    _invoke(first, "load run started")  # the first pipeline, its log file closed after
    _invoke(second, "load run started")  # the same service's logger, configured already

    assert _messages(first) == ["load run started"]
    assert _messages(second) == ["load run started"]


def test_the_handler_points_back_where_it_was_after_the_invocation(tmp_path: Path) -> None:
    logger = Logger(service="route-logs-back-test")
    before = logger.powertools_handler.stream  # type: ignore[attr-defined]
    with open(tmp_path / "run.jsonl", "a", encoding="utf-8") as log, logs_routed_to(log):
        assert logger.powertools_handler.stream is log  # type: ignore[attr-defined]
    assert logger.powertools_handler.stream is before  # type: ignore[attr-defined]
    logger.powertools_handler.flush()  # type: ignore[attr-defined]  # not a closed file

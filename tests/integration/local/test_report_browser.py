"""The report page in a real browser: every chart draws its marks, offline; a screenshot."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from local.history import read_history
from local.report_page import render_page
from tests.integration.local.browser import dump_dom, screenshot
from tests.unit.local.report_state import ANSWERS, write_state

FIGURE = re.compile(
    r'<figure class="chart" id="([^"]+)" data-marks="(\d+)"(?: data-drawn="(\d+)")?'
)


def drawn_per_chart(dom: str) -> dict[str, tuple[int, int | None]]:
    """Each figure's (declared marks, marks the browser laid out with a size)."""
    return {
        chart: (int(marks), int(drawn) if drawn else None)
        for chart, marks, drawn in FIGURE.findall(dom)
    }


def test_every_chart_of_the_report_draws_in_headless_chromium(tmp_path: Path) -> None:
    state = write_state(tmp_path / "state")
    now = datetime(2024, 11, 15, 15, 0, tzinfo=UTC)
    page = tmp_path / "report.html"
    page.write_text(render_page("the warehouse (Postgres)", ANSWERS, read_history(state), now))

    dom = dump_dom(page, tmp_path / "profile-dom")

    assert 'data-charts="ready"' in dom  # the inline script ran to its end
    assert drawn_per_chart(dom) == {
        "query-0": (3, 3),
        "query-1": (2, 2),
        "history-rows": (7, 7),
        "history-seconds": (7, 7),
        "history-freshness": (2, 2),
        "history-quarantine": (3, 3),
    }
    shot = screenshot(page, tmp_path / "profile-shot", tmp_path / "report.png")
    print(f"screenshot: {shot}")

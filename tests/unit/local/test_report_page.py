"""The report page: the history read back from a state dir, and the charts drawn from it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_state import ANSWERS, B1, B2, B3, write_state

from local.history import BatchHistory, FreshnessPoint, HistoryError, read_history
from local.report_page import Answer, query_chart, render_page
from local.statedir import NAMES, StateDir

NOW = datetime(2024, 11, 15, 15, 0, tzinfo=UTC)


class Figures(HTMLParser):
    """Each chart figure's declared marks and the data-value of every mark inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.declared: dict[str, int] = {}
        self.values: dict[str, list[float]] = {}
        self.current: str | None = None
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href", "xlink:href"):
            if name in attributes:
                self.references.append(f"{tag} {name}={attributes[name]}")
        if tag == "figure":
            self.current = str(attributes["id"])
            self.declared[self.current] = int(str(attributes["data-marks"]))
            self.values[self.current] = []
        elif "mark" in str(attributes.get("class", "")).split() and self.current:
            self.values[self.current].append(float(str(attributes["data-value"])))

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self.current = None


def test_history_joins_manifests_and_run_logs_per_batch(tmp_path: Path) -> None:
    history = read_history(write_state(tmp_path))

    assert history.batches == [
        BatchHistory(B1, 220, 0.5, 203, 12.25, 2, 203, 1.75),
        BatchHistory(B2, 15, 0.25, 15, 8.0, 0, 15, 0.5),
        BatchHistory(B3, 4, 0.125, None, None, 0, None, None),  # landed, not transformed
    ]
    assert history.freshness == [
        FreshnessPoint(datetime(2024, 11, 15, 14, 41, 21, tzinfo=UTC), 81.5),
        FreshnessPoint(datetime(2024, 11, 15, 14, 44, 12, tzinfo=UTC), 12.0),
    ]


def test_an_empty_state_dir_has_an_empty_history(tmp_path: Path) -> None:
    history = read_history(StateDir(tmp_path).create())
    assert (history.batches, history.freshness) == ([], [])


def test_a_manifest_that_is_not_json_is_a_clear_error(tmp_path: Path) -> None:
    state = write_state(tmp_path)
    bad = state.bucket_dir(NAMES.processed_bucket) / "_manifests" / f"{B2}.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(HistoryError, match=rf"cannot read manifest .*{B2}\.json"):
        read_history(state)
    bad.write_text(json.dumps({"kind": "processed"}), encoding="utf-8")
    with pytest.raises(HistoryError) as raised:
        read_history(state)
    assert str(raised.value) == f"processed manifest _manifests/{B2}.json: format_version: missing"


def test_every_chart_has_one_mark_per_data_point_with_its_value(tmp_path: Path) -> None:
    page = render_page(
        "the warehouse (Postgres)", ANSWERS, read_history(write_state(tmp_path)), NOW
    )
    figures = Figures()
    figures.feed(page)

    assert {k: len(v) for k, v in figures.values.items()} == figures.declared
    assert figures.values == {
        # GBP 2024-10 and 2024-11, then USD 2024-11 (its 2024-10 is a gap, no mark)
        "query-0": [300.5, 200.0, 50.25],
        "query-1": [40.0, 12.0],
        # the third answer has no chart spec: a table only, no figure
        "history-rows": [220.0, 15.0, 4.0, 203.0, 15.0, 203.0, 15.0],
        "history-seconds": [0.5, 0.25, 0.125, 12.25, 8.0, 1.75, 0.5],
        "history-freshness": [81.5, 12.0],
        "history-quarantine": [2.0, 0.0, 0.0],
    }
    assert "<td>unknown-question</td>" not in page and "<h3>unknown-question</h3>" in page


def test_the_page_references_nothing_outside_itself(tmp_path: Path) -> None:
    page = render_page("the lake", ANSWERS, read_history(write_state(tmp_path)), NOW)
    figures = Figures()
    figures.feed(page)
    assert figures.references == []
    for needle in ("http:", "https:", "url(", "@import", "<link", "<img"):
        assert needle not in page, needle


def test_a_history_without_freshness_says_no_data_instead_of_an_empty_chart(
    tmp_path: Path,
) -> None:
    page = render_page("the lake", [], read_history(StateDir(tmp_path).create()), NOW)
    figures = Figures()
    figures.feed(page)
    assert figures.declared == {
        "history-rows": 0,
        "history-seconds": 0,
        "history-freshness": 0,
        "history-quarantine": 0,
    }
    assert page.count("no data yet") == 4


def test_designs_that_share_a_name_keep_their_own_bars_and_empty_text_is_labelled() -> None:
    designs = Answer(
        "top-designs",
        "",
        ["design_id", "design_name", "orders", "units_sold"],
        [(6, "Soft", 25, 1374615), (4, "Soft", 15, 972615)],
    )
    chart = query_chart(designs, 0)
    assert chart is not None
    assert (list(chart.labels), dict(chart.series)) == (
        ["Soft 06", "Soft 04"],
        {"units_sold": [1374615.0, 972615.0]},
    )
    locations = Answer(
        "revenue-by-staff-location",
        "",
        ["location", "currency_code", "orders", "revenue"],
        [
            ("", "EUR", 5, Decimal("792964.91")),
            ("Leeds", "EUR", 23, Decimal("3774167.18")),
            ("Leeds", "GBP", 32, Decimal("4669292.61")),
        ],
    )
    chart = query_chart(locations, 1)
    assert chart is not None
    assert list(chart.labels) == ["(none)", "Leeds"]
    assert dict(chart.series) == {"EUR": [792964.91, 3774167.18], "GBP": [None, 4669292.61]}

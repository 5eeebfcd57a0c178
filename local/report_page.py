"""`python -m local report`: one offline HTML page of the warehouse's answers and the history.

The page is self-contained: inline CSS, inline SVG charts (local.svg) and one inline script
that only marks, per chart, how many of its marks the browser laid out (the browser test
reads it). Nothing is fetched: no CDN, no font, no image file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

from local import stack
from local.dialect import athena_to_postgres
from local.dsn import dsn_to_secret
from local.history import History, read_history
from local.query import run_query
from local.report import cell
from local.services import connect_secret
from local.statedir import NAMES, StateDir
from local.svg import Chart, render_chart

SHOWN_ROWS = 12


@dataclass(frozen=True)
class QueryChart:
    """How one named query's answer is drawn: x label columns, optional series, y column."""

    x: tuple[str, ...]
    y: str
    series: str | None = None
    kind: str = "bar"
    unit: str = ""
    sep: str = " "


QUERY_CHARTS = {
    "sales-by-month-and-currency": QueryChart(
        ("year", "month"), "revenue", series="currency_code", kind="line", unit="revenue", sep="-"
    ),
    # design names repeat (the generator reuses words): the id keeps the bars apart
    "top-designs": QueryChart(("design_name", "design_id"), "units_sold", unit="units sold"),
    "revenue-by-staff-location": QueryChart(
        ("location",), "revenue", series="currency_code", unit="revenue"
    ),
    "late-payments": QueryChart(("payment_id",), "days_late", unit="days late"),
}
"""The template's named queries by Name; a query not listed here is shown as a table only."""


@dataclass(frozen=True)
class Answer:
    """One named query's answer and where it came from."""

    name: str
    description: str
    columns: list[str]
    rows: list[tuple[Any, ...]]


def answer_named_queries(state: StateDir, warehouse_dsn: str | None) -> tuple[str, list[Answer]]:
    """Every named query of template.yaml answered by the warehouse (or the lake, if no DSN)."""
    template = stack.load()
    queries = stack.named_queries(template, stack.local_refs(template))
    answers = []
    if warehouse_dsn is None:
        for query in queries:
            columns, rows = run_query(state, query.sql)
            answers.append(Answer(query.name, query.description, columns, rows))
        return "the lake (DuckDB over the local Glue catalog; no --warehouse-dsn given)", answers
    conn = connect_secret(dsn_to_secret(warehouse_dsn))
    try:
        for query in queries:
            rows = [tuple(r) for r in conn.run(athena_to_postgres(query.sql, NAMES.database))]
            columns = [str(c["name"]) for c in conn.columns or []]
            answers.append(Answer(query.name, query.description, columns, rows))
    finally:
        conn.close()
    return "the warehouse (Postgres)", answers


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    return float(value) if isinstance(value, int | float | Decimal) else None


def _label(value: Any) -> str:
    """A category label: numbers zero-padded to two digits (months), empty text as "(none)"."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return cell(value).zfill(2)
    text = cell(value)
    return text if text.strip() else "(none)"


def query_chart(answer: Answer, index: int) -> Chart | None:
    """The chart of one answer, or None for a query without a chart spec."""
    spec = QUERY_CHARTS.get(answer.name)
    if spec is None:
        return None
    at = {name: i for i, name in enumerate(answer.columns)}
    labels: list[str] = []
    values: dict[str, dict[str, float | None]] = {}
    for row in answer.rows:
        label = spec.sep.join(_label(row[at[c]]) for c in spec.x)
        if label not in labels:
            labels.append(label)
        name = cell(row[at[spec.series]]) if spec.series else spec.y
        values.setdefault(name, {})[label] = _float(row[at[spec.y]])
    series = {name: [by_label.get(label) for label in labels] for name, by_label in values.items()}
    return Chart(f"query-{index}", answer.name, labels, series, spec.unit, spec.kind)


def history_charts(history: History) -> list[Chart]:
    """Rows per stage, stage durations and quarantined rows per batch; freshness per load."""
    batches = history.batches
    # batch ids are UTC times, YYYYMMDDTHHMMSSffffffZ: "MM-DD HH:MM:SS" tells them apart
    labels = [
        f"{b[4:6]}-{b[6:8]} {b[9:11]}:{b[11:13]}:{b[13:15]}" for b in (x.batch_id for x in batches)
    ]
    return [
        Chart(
            "history-rows",
            "Rows per stage and batch",
            labels,
            {
                "ingested": [b.ingested_rows for b in batches],
                "transformed": [b.transformed_rows for b in batches],
                "loaded": [b.loaded_rows for b in batches],
            },
            "rows",
        ),
        Chart(
            "history-seconds",
            "Stage durations per batch",
            labels,
            {
                "ingest": [b.ingest_seconds for b in batches],
                "transform": [b.transform_seconds for b in batches],
                "load": [b.load_seconds for b in batches],
            },
            "seconds",
        ),
        Chart(
            "history-freshness",
            "Freshness at each load (now minus the warehouse's newest source change)",
            [p.at.strftime("%m-%d %H:%M:%S") for p in history.freshness],
            {"FreshnessSeconds": [p.seconds for p in history.freshness]},
            "seconds",
            "line",
        ),
        Chart(
            "history-quarantine",
            "Quarantined rows per batch",
            labels,
            {"quarantined": [float(b.quarantined_rows) for b in batches]},
            "rows",
        ),
    ]


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell(v))}</td>" for v in row) + "</tr>"
        for row in rows[:SHOWN_ROWS]
    )
    more = ""
    if len(rows) > SHOWN_ROWS:
        more = f"<p class='more'>{len(rows)} rows, first {SHOWN_ROWS} shown</p>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px}h2{font-size:18px;margin-top:32px}
.grid-2{display:grid;grid-template-columns:repeat(auto-fill,minmax(660px,1fr));gap:16px}
figure.chart{background:#fff;border:1px solid #ddd;margin:0;padding:8px}
figcaption{font-weight:600;margin-bottom:4px}
svg text{font-size:11px;fill:#444}svg .grid{stroke:#eee}svg polyline{stroke-width:2}
.legend span{margin-right:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
table{border-collapse:collapse;font-size:12px;margin-top:6px}
td,th{border:1px solid #ddd;padding:2px 6px}
.empty{color:#888}.more{color:#666;font-size:12px}
"""

# After layout, each figure records how many of its marks have a size (the test reads it).
SCRIPT = """
for (const figure of document.querySelectorAll("figure.chart")) {
  const drawn = [...figure.querySelectorAll(".mark")].filter((m) => {
    const box = m.getBBox();
    return box.width > 0 && box.height > 0;
  }).length;
  figure.dataset.drawn = String(drawn);
}
document.body.dataset.charts = "ready";
"""


def render_page(source: str, answers: list[Answer], history: History, now: datetime) -> str:
    """The whole page as one string."""
    questions = []
    for i, answer in enumerate(answers):
        chart = query_chart(answer, i)
        drawn = render_chart(chart) if chart else ""
        questions.append(
            f"<section><h3>{escape(answer.name)}</h3><p>{escape(answer.description)}</p>"
            f"{drawn}{_table(answer.columns, answer.rows)}</section>"
        )
    charts = "".join(render_chart(c) for c in history_charts(history))
    loaded = sum(1 for b in history.batches if b.loaded_rows is not None)
    summary = (
        f"{len(history.batches)} batches known, {loaded} loaded; "
        f"{len(history.freshness)} freshness measurements"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>ToteSys pipeline report</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>ToteSys pipeline report</h1>"
        f"<p>Written {now:%Y-%m-%d %H:%M:%S} UTC. Questions answered by {escape(source)}.</p>"
        f"<h2>Business questions (the template's named queries)</h2>{''.join(questions)}"
        f"<h2>Pipeline history</h2><p>{escape(summary)}</p>"
        f"<div class='grid-2'>{charts}</div>"
        f"<script>{SCRIPT}</script></body></html>"
    )


def write_report(state_dir: Path, output: Path | None, warehouse_dsn: str | None) -> Path:
    """Answer the questions, read the history, write the page; returns its path."""
    state = StateDir(state_dir)
    history = read_history(state)  # local files first: a bad one fails before any query
    source, answers = answer_named_queries(state, warehouse_dsn)
    page = render_page(source, answers, history, datetime.now(UTC))
    path = output or state_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path

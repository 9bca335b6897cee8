"""`podinsights report`: one self-contained HTML page on a period of the corpus: what
the shows talked about, how the themes moved, who raised them, the quotes that prove
it, and how far to trust it. The numbers come from data.py (through
pipeline.query.reports), the charts from charts.py, the page from templates/."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import sqlite_utils

from pipeline.query import reports
from pipeline.query.search import Filters
from pipeline.report import charts, data
from pipeline.report.data import ReportRequest
from pipeline.report.html import render, write_page
from pipeline.store.db import utcnow

QUOTE_THEMES = 5  # leading themes with quotes
QUOTES = 3  # quotes per theme


def write_report(db: sqlite_utils.Database, request: ReportRequest, out: Path) -> Path:
    return write_page(out, build_report(db, request))


def build_report(db: sqlite_utils.Database, request: ReportRequest) -> str:
    period = data.resolve_period(db, request)
    filters = request.filters(period)
    counts = data.theme_rows(db, request, period)
    top = counts[: data.TOP_THEMES]
    (covered,) = reports.coverage(db, filters)
    moved = data.changes(db, request, period)
    months, series = data.monthly_rates(db, filters, period, top)
    roles = data.role_counts(db, filters, top)
    people, labels, cells = data.people_grid(db, filters, top)
    changed = moved["rising"] + moved["falling"]
    figures = {}  # only charts with something to draw
    if changed:
        figures["changes"] = charts.embed(
            "changes", "Themes that rose and fell", lambda: charts.theme_changes(changed)
        )
    if top:
        figures["timeline"] = charts.embed(
            "timeline", "Themes over time", lambda: charts.theme_sparklines(months, series)
        )
    if roles:
        figures["roles"] = charts.embed(
            "roles", "Who raised each theme", lambda: charts.role_shares(roles)
        )
    if people and top:
        figures["people"] = charts.embed(
            "people", "People and themes", lambda: charts.people_heatmap(people, labels, cells)
        )
    return render(
        "report.html",
        request=request,
        period=period,
        generated=utcnow(),
        covered=covered,
        top=top,
        rates={row["id"]: data.rate(row["mentions"], covered["speech_seconds"]) for row in top},
        moved=moved,
        chance=data.CHANCE,
        figures=figures,
        quotes=[
            (row, reports.best_quotes(db, replace(filters, theme=row["id"]), QUOTES))
            for row in counts[:QUOTE_THEMES]
        ],
        vocabulary=reports.distinctive_phrases(db, filters),
        trust=trust(db, filters, counts),
        command=command_line(request),
    )


def trust(
    db: sqlite_utils.Database, filters: Filters, counts: list[dict[str, Any]]
) -> dict[str, Any]:
    """How the mentions were found, how sure the classifier was, what the audio and
    speakers were like, and which models it all rests on."""
    mix = {
        key: sum(row[key] for row in counts)
        for key in ("mentions", "keyword", "classifier", "semantic", "low_confidence")
    }
    return {"mix": mix, **reports.provenance(db, filters)}


def command_line(request: ReportRequest) -> str:
    """The command that makes this report again."""
    parts = ["podinsights report"]
    for name in ("feed", "since", "until"):
        if getattr(request, name):
            parts.append(f"--{name} {getattr(request, name)!r}")
    parts += [f"--theme {theme}" for theme in request.themes]
    return " ".join(parts)

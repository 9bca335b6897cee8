"""`podinsights report`: one self-contained HTML page on a period of the corpus, what
the shows talked about, how the themes moved, who raised them, the quotes that prove
it, and how far to trust it. Every figure comes from pipeline.query.reports."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from pipeline.errors import PipelineError
from pipeline.query import reports
from pipeline.query.search import Filters, check_theme
from pipeline.report import charts
from pipeline.report.html import render, write_page
from pipeline.store.db import utcnow

TOP_THEMES = 10  # rows of the small multiples and of the host/guest chart; heat map columns
QUOTE_THEMES = 5  # leading themes with quotes
QUOTES = 3  # quotes per theme
TOP_PEOPLE = 8  # heat map rows
TRENDS = 3  # themes named as rising, and as falling
MIN_TREND_MENTIONS = 3  # in the two periods together: fewer is noise, not a trend
# Voices diarization could not name (speakers/diarize.py) are no one to list.
UNNAMED = re.compile(r"Speaker \d+|unattributed")


class ReportError(PipelineError):
    pass


@dataclass(frozen=True)
class Period:
    since: str  # YYYY-MM-DD, both ends included
    until: str

    @property
    def days(self) -> int:
        return (date.fromisoformat(self.until) - date.fromisoformat(self.since)).days + 1

    def previous(self) -> Period:
        """The same number of days, just before."""
        end = date.fromisoformat(self.since) - timedelta(days=1)
        return Period(str(end - timedelta(days=self.days - 1)), str(end))

    def halves(self) -> tuple[Period, Period]:
        middle = date.fromisoformat(self.since) + timedelta(days=self.days // 2 - 1)
        return Period(self.since, str(middle)), Period(str(middle + timedelta(days=1)), self.until)


@dataclass
class ReportRequest:
    feed: str | None = None
    since: str | None = None
    until: str | None = None
    themes: list[str] = field(default_factory=list)

    def filters(self, period: Period | None = None, **changes: Any) -> Filters:
        period = period or Period(self.since or "", self.until or "")
        return replace(Filters(feed=self.feed, since=period.since, until=period.until), **changes)


def write_report(db: sqlite_utils.Database, request: ReportRequest, out: Path) -> Path:
    return write_page(out, build_report(db, request))


def build_report(db: sqlite_utils.Database, request: ReportRequest) -> str:
    for theme in request.themes:
        check_theme(db, theme)
    period = resolve_period(db, request)
    filters = request.filters(period)
    counts = [row for row in reports.theme_counts(db, filters) if row["mentions"]]
    if request.themes:
        counts = [row for row in counts if row["id"] in request.themes]
    (covered,) = reports.coverage(db, filters)
    top = counts[:TOP_THEMES]
    return render(
        "report.html",
        request=request,
        period=period,
        generated=utcnow(),
        covered=covered,
        counts=counts,
        top=top,
        headline=headline(db, request, period, covered),
        timeline=timeline(db, filters, period, top, covered),
        roles=roles(db, filters, top),
        heatmap=heatmap(db, filters, top),
        quotes=[
            (row, reports.best_quotes(db, replace(filters, theme=row["id"]), QUOTES))
            for row in counts[:QUOTE_THEMES]
        ],
        vocabulary=reports.distinctive_phrases(db, filters),
        trust=trust(db, filters, counts),
        command=command_line(request),
        min_trend=MIN_TREND_MENTIONS,
    )


def resolve_period(db: sqlite_utils.Database, request: ReportRequest) -> Period:
    """--since and --until, each defaulting to the first or last analysed episode."""
    for name in ("since", "until"):
        value = getattr(request, name)
        try:
            value is None or date.fromisoformat(value)
        except ValueError:
            raise ReportError(f"--{name} {value!r} is not a date: use YYYY-MM-DD.") from None
    covered = reports.coverage(db, Filters(feed=request.feed))
    if not covered:
        where = f" in feeds matching {request.feed!r}" if request.feed else ""
        raise ReportError(f"No analysed episodes{where}: run `podinsights ingest` first.")
    since = request.since or covered[0]["first"] or ""
    until = request.until or max(covered[0]["last"] or since, since)
    period = Period(since, until)
    if period.days < 1:
        raise ReportError(f"--until {until} is before --since {since}.")
    if not reports.coverage(db, request.filters(period)):
        raise ReportError(f"No analysed episodes from {since} to {until}.")
    return period


def _rate(mentions: int, speech_seconds: float) -> float:
    """Mentions per hour of speech: a long episode is not a trend."""
    return mentions / (speech_seconds / 3600) if speech_seconds else 0.0


def _speech(db: sqlite_utils.Database, filters: Filters) -> float:
    rows = reports.coverage(db, filters)
    return rows[0]["speech_seconds"] if rows else 0.0


def headline(
    db: sqlite_utils.Database, request: ReportRequest, period: Period, covered: dict[str, Any]
) -> dict[str, Any]:
    """The themes that rose and fell most, in mentions per hour of speech, against the
    previous period of the same length; when that holds no episodes (the report covers
    everything), the period's later half against its earlier half."""
    earlier, later = period.previous(), period
    note = f"Against the previous {period.days} days ({earlier.since} to {earlier.until})."
    if not _speech(db, request.filters(earlier)):
        earlier, later = period.halves()
        note = (
            f"No episodes in the {period.days} days before {period.since}, so the later half "
            f"of the period ({later.since} to {later.until}) is compared with the earlier "
            f"half ({earlier.since} to {earlier.until})."
        )
    speech = {p: _speech(db, request.filters(p)) for p in (earlier, later)}
    if period.days < 2 or not all(speech.values()):
        return {"note": "Too few episodes to compare two periods.", "rising": [], "falling": []}
    before = {r["id"]: r for r in reports.theme_counts(db, request.filters(earlier))}
    after = {r["id"]: r for r in reports.theme_counts(db, request.filters(later))}
    changes = []
    for theme, row in after.items():
        if request.themes and theme not in request.themes:
            continue
        n_before, n_after = before[theme]["mentions"], row["mentions"]
        if n_before + n_after < MIN_TREND_MENTIONS:
            continue
        rates = _rate(n_before, speech[earlier]), _rate(n_after, speech[later])
        changes.append(
            {
                "id": theme,
                "label": row["label"],
                "before": rates[0],
                "after": rates[1],
                "n_before": n_before,
                "n_after": n_after,
                "change": rates[1] - rates[0],
            }
        )
    rising = sorted((c for c in changes if c["change"] > 0), key=lambda c: -c["change"])[:TRENDS]
    falling = sorted((c for c in changes if c["change"] < 0), key=lambda c: c["change"])[:TRENDS]
    moved = rising + falling
    return {
        "note": note,
        "rising": rising,
        "falling": falling,
        "chart": charts.embed(
            "changes", "Themes that rose and fell", lambda: charts.theme_changes(moved)
        )
        if moved
        else None,
    }


def _months(period: Period) -> list[str]:
    first, last = date.fromisoformat(period.since), date.fromisoformat(period.until)
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def timeline(
    db: sqlite_utils.Database,
    filters: Filters,
    period: Period,
    top: list[dict[str, Any]],
    covered: dict[str, Any],
) -> dict[str, Any]:
    """Mentions per hour of speech, month by month, for each top theme."""
    months = _months(period)
    speech = {
        row["bucket"]: row["speech_seconds"] for row in reports.coverage(db, filters, "month")
    }
    mentions = {
        (r["theme"], r["month"]): r["mentions"]
        for r in reports.theme_breakdown(db, "month", filters)
    }
    series = [
        (
            row["label"],
            [
                _rate(mentions.get((row["id"], m), 0), speech[m]) if speech.get(m) else None
                for m in months
            ],
        )
        for row in top
    ]
    rates = {row["id"]: _rate(row["mentions"], covered["speech_seconds"]) for row in top}
    chart = (
        charts.embed(
            "timeline", "Themes over time", lambda: charts.theme_sparklines(months, series)
        )
        if top
        else None
    )
    return {"months": months, "rates": rates, "chart": chart}


def roles(db: sqlite_utils.Database, filters: Filters, top: list[dict[str, Any]]) -> dict[str, Any]:
    """Host, guest and unattributed mentions of each top theme."""
    shares: dict[str, dict[str, int]] = {}
    for row in reports.theme_breakdown(db, "role", filters):
        shares.setdefault(row["theme"], {})[row["role"]] = row["mentions"]
    rows = [(t["label"], shares[t["id"]]) for t in top if t["id"] in shares]
    return {
        "rows": [(t, shares.get(t["id"], {})) for t in top],
        "chart": charts.embed("roles", "Who raised each theme", lambda: charts.role_shares(rows))
        if rows
        else None,
    }


def heatmap(
    db: sqlite_utils.Database, filters: Filters, top: list[dict[str, Any]]
) -> dict[str, Any]:
    """The most active named speakers against the top themes."""
    grid: dict[str, dict[str, int]] = {}
    for row in reports.theme_breakdown(db, "speaker", filters):
        if not UNNAMED.fullmatch(row["speaker"]):
            grid.setdefault(row["speaker"], {})[row["theme"]] = row["mentions"]
    people = sorted(grid, key=lambda p: (-sum(grid[p].values()), p))[:TOP_PEOPLE]
    cells = [[grid[p].get(t["id"], 0) for t in top] for p in people]
    labels = [t["label"] for t in top]
    chart = (
        charts.embed(
            "people", "People and themes", lambda: charts.people_heatmap(people, labels, cells)
        )
        if people and top
        else None
    )
    return {"people": people, "chart": chart}


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

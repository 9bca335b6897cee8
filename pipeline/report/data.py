"""The numbers behind the report's sections and charts, as plain rows: the period and
the one before it, the themes that moved, each theme month by month, who raised what.
build.py puts them on the page; the notebook draws the same charts from them."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import sqlite_utils

from pipeline.errors import PipelineError
from pipeline.query import reports
from pipeline.query.search import Filters, check_theme

TOP_THEMES = 10  # rows of the small multiples and of the host/guest chart; heat map columns
TOP_PEOPLE = 8  # heat map rows
TRENDS = 3  # themes named as rising, and as falling
CHANCE = 0.05  # a change as large as this or larger, by chance alone: not a trend
EXACT_UP_TO = 2000  # mentions in the two periods: the exact test; above, its normal form
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

    def months(self) -> list[str]:
        """Every month the period touches, YYYY-MM, in order."""
        first, last = date.fromisoformat(self.since), date.fromisoformat(self.until)
        months, year, month = [], first.year, first.month
        while (year, month) <= (last.year, last.month):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months


@dataclass
class ReportRequest:
    feed: str | None = None
    since: str | None = None
    until: str | None = None
    themes: list[str] = field(default_factory=list)  # none: every theme

    def filters(self, period: Period, **changes: Any) -> Filters:
        return replace(Filters(feed=self.feed, since=period.since, until=period.until), **changes)


def resolve_period(db: sqlite_utils.Database, request: ReportRequest) -> Period:
    """--since and --until, each defaulting to the first or last analysed episode."""
    for theme in request.themes:
        check_theme(db, theme)
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


def theme_rows(
    db: sqlite_utils.Database, request: ReportRequest, period: Period
) -> list[dict[str, Any]]:
    """The themes mentioned in the period (only the requested ones), most mentions first."""
    rows = [r for r in reports.theme_counts(db, request.filters(period)) if r["mentions"]]
    return [r for r in rows if not request.themes or r["id"] in request.themes]


def rate(mentions: int, speech_seconds: float) -> float:
    """Mentions per hour of speech: a long episode is not a trend."""
    return mentions / (speech_seconds / 3600) if speech_seconds else 0.0


def _speech(db: sqlite_utils.Database, filters: Filters) -> float:
    rows = reports.coverage(db, filters)
    return rows[0]["speech_seconds"] if rows else 0.0


def changes(db: sqlite_utils.Database, request: ReportRequest, period: Period) -> dict[str, Any]:
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
    # theme_counts lists every theme of the codebook, so a theme gone quiet falls to 0.
    before = {r["id"]: r["mentions"] for r in reports.theme_counts(db, request.filters(earlier))}
    moves = []
    for row in reports.theme_counts(db, request.filters(later)):
        n_before, n_after = before[row["id"]], row["mentions"]
        if request.themes and row["id"] not in request.themes:
            continue
        if chance(n_before, n_after, speech[earlier], speech[later]) >= CHANCE:
            continue
        rates = rate(n_before, speech[earlier]), rate(n_after, speech[later])
        moves.append(
            {
                "id": row["id"],
                "label": row["label"],
                "before": rates[0],
                "after": rates[1],
                "n_before": n_before,
                "n_after": n_after,
                "change": rates[1] - rates[0],
            }
        )
    rising = sorted((m for m in moves if m["change"] > 0), key=lambda m: -m["change"])
    falling = sorted((m for m in moves if m["change"] < 0), key=lambda m: m["change"])
    return {"note": note, "rising": rising[:TRENDS], "falling": falling[:TRENDS]}


def chance(n_before: int, n_after: int, before: float, after: float) -> float:
    """How likely a split of mentions at least this uneven is if the theme's rate per
    hour did not change: the two-sided test of two Poisson counts given their hours of
    speech (of n mentions, each falls in the later period with probability
    after / (before + after)). Mentions cluster within episodes, so this is lenient: it
    rules out the noise of small counts (3 against 1 is no trend), not every fluke."""
    n, share = n_before + n_after, after / (before + after)
    if n == 0 or share in (0.0, 1.0):
        return 1.0
    if n > EXACT_UP_TO:
        z = (abs(n_after - n * share) - 0.5) / math.sqrt(n * share * (1 - share))
        return math.erfc(max(z, 0.0) / math.sqrt(2))

    def log_p(k: int) -> float:
        return (
            math.lgamma(n + 1)
            - math.lgamma(k + 1)
            - math.lgamma(n - k + 1)
            + k * math.log(share)
            + (n - k) * math.log(1 - share)
        )

    observed = log_p(n_after) + 1e-9  # a relative margin for rounding
    return min(1.0, sum(math.exp(p) for k in range(n + 1) if (p := log_p(k)) <= observed))


def monthly_rates(
    db: sqlite_utils.Database, filters: Filters, period: Period, top: list[dict[str, Any]]
) -> tuple[list[str], list[tuple[str, list[float | None]]]]:
    """Each top theme's mentions per hour of speech, month by month (None: a month
    without episodes), for charts.theme_sparklines."""
    months = period.months()
    speech = {r["bucket"]: r["speech_seconds"] for r in reports.coverage(db, filters, "month")}
    mentions = {
        (r["theme"], r["month"]): r["mentions"]
        for r in reports.theme_breakdown(db, "month", filters)
    }
    series = [
        (
            row["label"],
            [
                rate(mentions.get((row["id"], m), 0), speech[m]) if speech.get(m) else None
                for m in months
            ],
        )
        for row in top
    ]
    return months, series


def role_counts(
    db: sqlite_utils.Database, filters: Filters, top: list[dict[str, Any]]
) -> list[tuple[str, dict[str, int]]]:
    """Each top theme's mentions by the speaker's role (host, guest, unattributed), for
    charts.role_shares."""
    shares: dict[str, dict[str, int]] = {}
    for row in reports.theme_breakdown(db, "role", filters):
        shares.setdefault(row["theme"], {})[row["role"]] = row["mentions"]
    return [(t["label"], shares[t["id"]]) for t in top if t["id"] in shares]


def people_grid(
    db: sqlite_utils.Database, filters: Filters, top: list[dict[str, Any]]
) -> tuple[list[str], list[str], list[list[int]]]:
    """The most active named speakers x the top themes, for charts.people_heatmap."""
    grid: dict[str, dict[str, int]] = {}
    for row in reports.theme_breakdown(db, "speaker", filters):
        if not UNNAMED.fullmatch(row["speaker"]):
            grid.setdefault(row["speaker"], {})[row["theme"]] = row["mentions"]
    people = sorted(grid, key=lambda p: (-sum(grid[p].values()), p))[:TOP_PEOPLE]
    cells = [[grid[p].get(t["id"], 0) for t in top] for p in people]
    return people, [t["label"] for t in top], cells

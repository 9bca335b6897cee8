"""The nightly digest: after each `ingest`, <data-dir>/reports/YYYY-MM-DD.html says
what that day's runs added (the episodes they analysed, their themes, people and best
quotes), and reports/index.html links every digest in the folder, newest first.

A day's page covers every ingest run that started on that UTC day, from the first
one's start: a second run the same night rewrites the page with both runs' work."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sqlite_utils

from pipeline.query import reports
from pipeline.query.search import Filters
from pipeline.report import charts
from pipeline.report.html import render, write_page
from pipeline.store.db import utcnow

REPORTS = "reports"  # the digests' folder, in the data folder
DIGEST_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})\.html")
EPISODE_THEMES = 5  # theme tags per episode
EPISODE_QUOTES = 3  # quotes per episode, each of another theme
DIGEST_THEMES = 10  # bars in the chart of the day's themes


def write_digest(db: sqlite_utils.Database, data_dir: Path, day: str | None = None) -> Path:
    """The digest for `day` (YYYY-MM-DD, UTC; default today), and the index page."""
    day = day or utcnow()[:10]
    folder = data_dir / REPORTS
    path = write_page(folder / f"{day}.html", build_digest(db, day, folder))
    write_index(db, folder)
    return path


def build_digest(db: sqlite_utils.Database, day: str, folder: Path) -> str:
    runs = reports.ingest_runs(db, day)
    since = runs[0]["started_at"] if runs else f"{day}T00:00:00Z"
    episodes = reports.analysed_episodes(db, since)
    filters = Filters(episodes=[e["id"] for e in episodes])
    themes = [row for row in reports.theme_counts(db, filters) if row["mentions"]]
    people: dict[str, list[dict[str, Any]]] = {}
    for row in reports.episode_people(db, filters):
        people.setdefault(row["episode_id"], []).append(row)
    for episode in episodes:
        one = Filters(episodes=[episode["id"]])
        episode["themes"] = [r for r in reports.theme_counts(db, one) if r["mentions"]][
            :EPISODE_THEMES
        ]
        episode["people"] = people.get(episode["id"], [])
        episode["quotes"] = reports.best_quotes(db, one, EPISODE_QUOTES)
    bars = [(row["label"], row["mentions"]) for row in themes[:DIGEST_THEMES]]
    chart = charts.embed("themes", "Themes in the new episodes", lambda: charts.theme_bars(bars))
    return render(
        "digest.html",
        day=day,
        generated=utcnow(),
        runs=runs,
        totals=_totals(runs),
        episodes=episodes,
        new=sum(1 for e in episodes if e["new"]),
        audio_seconds=sum(e["audio_seconds"] or 0 for e in episodes),
        chart=chart if bars else None,
        previous=_previous(folder, day),
    )


def _totals(runs: list[dict[str, Any]]) -> dict[str, float]:
    """The runs' counts added up, and their failures."""
    totals: dict[str, float] = {"failures": 0}
    for run in runs:
        for key, value in run["counts"].items():
            totals[key] = totals.get(key, 0) + value
        totals["failures"] += len(run["errors"])
    return totals


def digests(folder: Path) -> list[str]:
    """The days that have a digest in the folder, newest first."""
    if not folder.is_dir():
        return []
    days = (DIGEST_NAME.fullmatch(p.name) for p in folder.iterdir())
    return sorted((m.group(1) for m in days if m), reverse=True)


def _previous(folder: Path, day: str) -> str | None:
    return next((d for d in digests(folder) if d < day), None)


def write_index(db: sqlite_utils.Database, folder: Path) -> Path:
    """index.html: every digest in the folder, newest first, with what its day's runs did."""
    days = [{"day": d, "totals": _totals(reports.ingest_runs(db, d))} for d in digests(folder)]
    return write_page(folder / "index.html", render("index.html", days=days, generated=utcnow()))

"""The nightly job: every stage in order, each incremental, one row in runs."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlite_utils

from .db import utcnow
from .download import download_episodes
from .engines import DEFAULT_ENGINE, AsrOptions
from .feeds import import_opml, poll_feeds
from .progress import NullProgress, Progress

log = logging.getLogger("pipeline.ingest")


@dataclass
class AsrSettings:
    engine: str = DEFAULT_ENGINE
    model: str = "tiny.en"
    options: AsrOptions = field(default_factory=AsrOptions)


@dataclass
class IngestSummary:
    run_id: int = 0
    feeds_polled: int = 0
    feed_errors: int = 0
    new_episodes: int = 0
    downloaded: int = 0
    download_failures: int = 0
    transcribed: int = 0
    transcribed_seconds: float = 0.0
    transcribe_failures: int = 0
    analysed: int = 0
    analyse_failures: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def counts(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if k not in ("run_id", "errors")}

    def line(self) -> str:
        """The one-line summary the nightly job prints."""
        return (
            f"run {self.run_id}: {self.feeds_polled} feeds polled, "
            f"{self.new_episodes} new episodes, {self.downloaded} downloaded, "
            f"{self.transcribed} transcribed ({self.transcribed_seconds / 3600:.2f} h of audio), "
            f"{self.analysed} analysed, "
            f"{len(self.errors)} failures"
        )


def start_run(db: sqlite_utils.Database, command: str, log_path: Path | None = None) -> int:
    table = db.table("runs").insert(
        {
            "started_at": utcnow(),
            "pid": os.getpid(),
            "command": command,
            "log_path": str(log_path) if log_path else None,
        }
    )
    return int(table.last_rowid or 0)


@contextmanager
def run_log(data_dir: Path) -> Iterator[Path]:
    """Everything the pipeline logs during one run, in <data-dir>/logs/ingest-<time>.log."""
    folder = data_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ingest-{utcnow().replace(':', '')}.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger("pipeline")
    level = root.level
    root.addHandler(handler)
    root.setLevel(min(level or logging.INFO, logging.INFO))
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


def finish_run(db: sqlite_utils.Database, summary: IngestSummary, status: str) -> None:
    db.table("runs").update(
        summary.run_id,
        {
            "finished_at": utcnow(),
            "status": status,
            "counts": json.dumps(summary.counts()),
            "errors": json.dumps(summary.errors),
        },
    )


def run_ingest(
    db: sqlite_utils.Database,
    data_dir: Path,
    *,
    feeds_file: Path | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
    asr: AsrSettings | None = None,
    command: str = "ingest",
    log_path: Path | None = None,
) -> IngestSummary:
    """Subscribe to feeds_file (if given), then poll, download, transcribe and analyse.

    Each stage commits per episode, so an interrupted run (status "interrupted")
    leaves finished work in place and the next run carries on from there."""
    progress = progress or NullProgress()
    summary = IngestSummary(run_id=start_run(db, command, log_path))
    status = "interrupted"
    log.info("run %d started", summary.run_id)
    try:
        if feeds_file:
            import_opml(db, feeds_file)
        _poll(db, summary)
        _download(db, data_dir, summary, limit, progress)
        _transcribe(db, data_dir, summary, limit, progress, asr or AsrSettings())
        _analyze(db, summary, limit, progress)
        status = "failed" if summary.failed else "ok"
    finally:
        finish_run(db, summary, status)
        log.info("run %d %s: %s", summary.run_id, status, summary.line())
    return summary


def _poll(db: sqlite_utils.Database, summary: IngestSummary) -> None:
    for result in poll_feeds(db):
        summary.feeds_polled += 1
        summary.new_episodes += result.new
        if result.error:
            summary.feed_errors += 1
            summary.errors.append(f"feed {result.url}: {result.error}")


def _download(
    db: sqlite_utils.Database,
    data_dir: Path,
    summary: IngestSummary,
    limit: int | None,
    progress: Progress,
) -> None:
    for result in download_episodes(db, data_dir, limit=limit, progress=progress):
        if result.ok:
            summary.downloaded += 1
        else:
            summary.download_failures += 1
            summary.errors.append(f"episode {result.episode_id}: {result.error}")


def _transcribe(
    db: sqlite_utils.Database,
    data_dir: Path,
    summary: IngestSummary,
    limit: int | None,
    progress: Progress,
    asr: AsrSettings,
) -> None:
    from .transcribe import transcribe_episodes

    for result in transcribe_episodes(
        db,
        data_dir,
        engine=asr.engine,
        model=asr.model,
        options=asr.options,
        limit=limit,
        progress=progress,
    ):
        if result.ok and result.transcript:
            summary.transcribed += 1
            summary.transcribed_seconds += result.transcript.audio_duration or 0.0
        else:
            summary.transcribe_failures += 1
            summary.errors.append(f"episode {result.episode_id}: {result.error}")


def _analyze(
    db: sqlite_utils.Database, summary: IngestSummary, limit: int | None, progress: Progress
) -> None:
    from .analyze import analyze_episodes

    for result in analyze_episodes(db, limit=limit, progress=progress):
        if result.ok:
            summary.analysed += 1
        else:
            summary.analyse_failures += 1
            summary.errors.append(f"episode {result.episode_id}: {result.error}")

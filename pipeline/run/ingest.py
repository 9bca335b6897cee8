"""The nightly job: every stage in order, each incremental, one row in runs."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

import pipeline.net.client as net
from pipeline.analysis.codebook import load_codebook
from pipeline.analysis.stage import (
    embedding_model,
    ensure_themes,
    episode_segments,
    pending_analyses,
    save_analysis,
    update_keyphrase_scores,
)
from pipeline.feeds.download import DOWNLOADS, fetch_enclosure, pending_downloads, save_download
from pipeline.feeds.subscriptions import import_opml, poll_feeds
from pipeline.net.urls import may_reach_private
from pipeline.progress import NullProgress, Progress
from pipeline.run.tasks import (
    AnalyzeJob,
    TranscribeJob,
    analyze_task,
    make_executor,
    transcribe_task,
    worker_options,
)
from pipeline.run.threads import worker_pool
from pipeline.speakers.diarize import assign_speakers
from pipeline.speakers.diarize import available as diarize_available
from pipeline.speakers.naming import name_speakers, recognise_again, speaker_rows
from pipeline.store.db import utcnow
from pipeline.store.episodes import mark_failed
from pipeline.text import PrintableFormatter
from pipeline.transcribe.engines import DEFAULT_ENGINE, AsrOptions
from pipeline.transcribe.stage import pending_transcriptions, save_transcript
from pipeline.transcribe.vocabulary import episode_vocabulary, transcription_terms
from pipeline.transcribe.weights import DEFAULT_MODEL

LOCAL_WORKERS = os.cpu_count() or 1  # worker processes for transcription and analysis
log = logging.getLogger(__name__)


@dataclass
class PipelineSettings:
    engine: str = DEFAULT_ENGINE
    model: str = DEFAULT_MODEL
    options: AsrOptions = field(default_factory=AsrOptions)
    codebook: Path | None = None
    scheduler: str | None = None  # a Dask scheduler address; None: a local process pool
    workers: int = LOCAL_WORKERS
    send_audio: bool = False  # ship audio bytes to workers instead of a shared path
    diarize: bool = field(default_factory=diarize_available)  # on where the extra is installed


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
    digest: Path | None = None  # the nightly digest written after the run

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def counts(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if k not in ("run_id", "errors", "digest")}

    def line(self) -> str:
        """The one-line summary the nightly job prints."""
        return (
            f"run {self.run_id}: {self.feeds_polled} feeds polled, "
            f"{self.new_episodes} new episodes, {self.downloaded} downloaded, "
            f"{self.transcribed} transcribed ({self.transcribed_seconds / 3600:.2f} h of audio), "
            f"{self.analysed} analysed, "
            f"{len(self.errors)} failures" + (f"; digest {self.digest}" if self.digest else "")
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
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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
    settings: PipelineSettings | None = None,
    command: str = "ingest",
    log_path: Path | None = None,
    report: bool = True,
) -> IngestSummary:
    """Subscribe to feeds_file (if given), then poll, download, transcribe and analyse;
    then (report) write the day's digest, <data-dir>/reports/YYYY-MM-DD.html.

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
        Writer(db, data_dir, summary, settings or PipelineSettings(), progress).run(limit)
        status = "failed" if summary.failed else "ok"
    finally:
        finish_run(db, summary, status)
        log.info("run %d %s: %s", summary.run_id, status, summary.line())
    if report:
        _digest(db, data_dir, summary)
    return summary


def _digest(db: sqlite_utils.Database, data_dir: Path, summary: IngestSummary) -> None:
    """The day's digest. The run's work is saved whatever happens here: a digest that
    cannot be written is one more failure of the run, not a lost night."""
    from pipeline.report.digest import write_digest  # matplotlib loads only when needed

    try:
        day = db.table("runs").get(summary.run_id)["started_at"][:10]  # past midnight too
        summary.digest = write_digest(db, data_dir, day)
    except Exception as exc:  # any failure, even a bug: the night's work is already saved
        summary.errors.append(f"digest: {exc}")
        log.error("run %d: the digest was not written: %s", summary.run_id, exc)
        log.info("the digest's traceback", exc_info=True)  # the run's log file, not the terminal
        finish_run(db, summary, "failed")


def _poll(db: sqlite_utils.Database, summary: IngestSummary) -> None:
    for result in poll_feeds(db):
        summary.feeds_polled += 1
        summary.new_episodes += result.new
        if result.error:
            summary.feed_errors += 1
            summary.errors.append(f"feed {result.url}: {result.error}")


def _stop_workers(executor: Any) -> None:
    """Local worker processes are stopped, not waited for: they hold no database
    connection, so nothing of theirs can be half-written. Left alone, they would
    outlive us still holding our stdout and stderr."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


class Writer:
    """The one process that writes: it hands episodes to workers as they become ready
    (downloads in threads, transcription and analysis as tasks) and saves every result
    as it arrives, so the stages overlap."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        data_dir: Path,
        summary: IngestSummary,
        settings: PipelineSettings,
        progress: Progress,
    ):
        self.db, self.data_dir, self.summary = db, data_dir, summary
        self.settings, self.progress = settings, progress
        self.feeds = {row["id"]: row for row in db.table("feeds").rows}
        self.terms = transcription_terms(settings.codebook) if settings.options.vocabulary else []
        self.running: dict[Future, str] = {}

    def run(self, limit: int | None) -> None:
        settings = self.settings
        executor, client = make_executor(settings.scheduler, settings.workers)
        self.executor = executor
        try:
            with worker_pool(DOWNLOADS, "download") as downloads, net.client() as http:
                for episode in pending_transcriptions(self.db, limit):
                    self._transcribe(episode)
                model = embedding_model()
                for episode in pending_analyses(self.db, self._digest(), limit, False, model):
                    self._analyze(episode["id"])
                for episode in pending_downloads(self.db, limit):
                    future = downloads.submit(
                        fetch_enclosure,
                        http,
                        episode,
                        self.feeds[episode["feed_id"]],
                        self.data_dir,
                        self.progress,
                    )
                    self.running[future] = "download"
                while self.running:
                    done, _ = wait(self.running, return_when=FIRST_COMPLETED)
                    for future in done:
                        self._finish(self.running.pop(future), future.result())
            update_keyphrase_scores(self.db)
            if settings.diarize:
                recognise_again(self.db)
        except BaseException:
            _stop_workers(executor)
            raise
        else:
            executor.shutdown(wait=True)
        finally:
            if client is not None:
                client.close()

    def _digest(self) -> str:
        codebook = load_codebook(self.settings.codebook, validate=False)
        ensure_themes(self.db, codebook)
        return codebook.digest

    def _transcribe(self, episode: dict[str, Any]) -> None:
        settings = self.settings
        audio = None
        if settings.send_audio and episode.get("audio_path"):
            audio = (self.data_dir / episode["audio_path"]).read_bytes()
        feed = self.feeds[episode["feed_id"]]
        job = TranscribeJob(
            episode,
            feed["url"],
            self.data_dir.resolve(),
            settings.engine,
            feed.get("model") or settings.model,
            worker_options(settings.options, settings.workers),
            audio,
            settings.diarize,
            episode_vocabulary(episode, self.terms, feed) if settings.options.vocabulary else [],
            may_reach_private(feed),
        )
        self.running[self.executor.submit(transcribe_task, job)] = "transcribe"

    def _analyze(self, episode_id: str) -> None:
        episode = self.db.table("episodes").get(episode_id)
        job = AnalyzeJob(
            episode_id,
            [segment for _, segment in episode_segments(self.db, episode_id)],
            json.loads(episode.get("persons") or "[]"),
            episode.get("description"),
            self.settings.codebook,
        )
        self.running[self.executor.submit(analyze_task, job)] = "analyze"

    def _finish(self, kind: str, result: Any) -> None:
        summary = self.summary
        if kind == "download":
            save_download(self.db, result)
            if result.ok:
                summary.downloaded += 1
                self._transcribe(self.db.table("episodes").get(result.episode_id))
            else:
                self._failed("download_failures", result.episode_id, result.error)
        elif kind == "transcribe":
            if result.transcript is None:
                mark_failed(self.db, result.episode_id, "transcribe", result.error or "")
                self._failed("transcribe_failures", result.episode_id, result.error)
                return
            speakers = None
            if result.diarization is not None:
                speakers = self._speakers(result.episode_id, result.transcript, result.diarization)
            save_transcript(self.db, result.episode_id, result.transcript, speakers)
            summary.transcribed += 1
            summary.transcribed_seconds += result.transcript.audio_duration or 0.0
            self._analyze(result.episode_id)
        elif result.analysis is None:
            mark_failed(self.db, result.episode_id, "analyze", result.error or "")
            self._failed("analyse_failures", result.episode_id, result.error)
        else:
            segment_ids = [i for i, _ in episode_segments(self.db, result.episode_id)]
            save_analysis(
                self.db, result.episode_id, segment_ids, result.analysis, result.provenance
            )
            summary.analysed += 1

    def _speakers(self, episode_id: str, transcript: Any, diarization: Any) -> list[dict[str, Any]]:
        """Names on the diarized voices, written onto the transcript's segments and words."""
        persons = json.loads(self.db.table("episodes").get(episode_id).get("persons") or "[]")
        names = name_speakers(self.db, persons, transcript.segments, diarization)
        assign_speakers(transcript.segments, diarization, {k: v.name for k, v in names.items()})
        return speaker_rows(episode_id, diarization, names)

    def _failed(self, counter: str, episode_id: str, error: str | None) -> None:
        setattr(self.summary, counter, getattr(self.summary, counter) + 1)
        self.summary.errors.append(f"episode {episode_id}: {error}")
        log.warning("episode %s: %s", episode_id, error)

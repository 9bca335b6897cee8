"""Transcription and analysis as tasks: plain functions of picklable jobs, so the same
code runs in a local process pool or on a Dask cluster (`--scheduler tcp://HOST:8786`).

Workers never touch the database: they return records, and the one writer (the
ingest process) saves them. Models load once per worker process and are reused.
"""

from __future__ import annotations

import json
import os
import tempfile
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.models import Segment
from pipeline.transcribe.engines import AsrOptions

if TYPE_CHECKING:  # imported where used: a worker loads only the models its task needs
    from pipeline.analysis.engine import Analysis
    from pipeline.speakers.diarize import Diarization, VoiceEncoder
    from pipeline.transcribe.stage import Transcript

_CACHE: dict[Any, Any] = {}  # per worker process: transcribers and analysers
PARENT_POLL_SECONDS = 1.0


@dataclass
class TranscribeJob:
    episode: dict[str, Any]
    feed_url: str
    data_dir: Path
    engine: str
    model: str
    options: AsrOptions
    audio: bytes | None = None  # the audio itself, for workers without shared storage
    diarize: bool = False
    vocabulary: list[str] = field(default_factory=list)  # pipeline.transcribe.vocabulary
    allow_private: bool = False  # urls.may_reach_private of the episode's feed


@dataclass
class AnalyzeJob:
    episode_id: str
    segments: list[Segment]
    persons: list[dict[str, Any]]
    notes: str | None
    codebook: Path | None
    use_semantic: bool | None = None


@dataclass
class Outcome:
    episode_id: str
    title: str | None = None
    transcript: Transcript | None = None
    diarization: Diarization | None = None
    analysis: Analysis | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def transcribe_task(job: TranscribeJob) -> Outcome:
    from pipeline.transcribe.stage import Transcriber, with_speakers

    key = ("asr", job.engine, str(job.data_dir), repr(job.options))
    if key not in _CACHE:
        import pipeline.net.client as net

        _CACHE[key] = Transcriber(
            job.engine, job.model, job.data_dir, job.options, http=net.client()
        )
    transcriber = _CACHE[key]
    episode = dict(job.episode)
    with tempfile.TemporaryDirectory() as scratch:
        if job.audio is not None:
            local = Path(scratch) / Path(episode["audio_path"]).name
            local.write_bytes(job.audio)
            episode["audio_path"] = str(local)  # absolute: wins over data_dir
        result = transcriber.one(
            episode, job.feed_url, job.vocabulary, job.model, job.allow_private
        )
        diarization = None
        if job.diarize and result.transcript and result.transcript.source == "whisper":
            path = job.data_dir / episode["audio_path"]
            result.transcript, diarization = with_speakers(
                path,
                result.transcript,
                transcriber.asr(job.model),
                job.options,
                voice_encoder(),
                job.vocabulary,
                expected_speakers(episode),
            )
    return Outcome(
        job.episode["id"],
        result.title,
        transcript=result.transcript,
        diarization=diarization,
        error=result.error,
    )


def voice_encoder() -> VoiceEncoder:
    """This worker's voice encoder, loaded once. Diarization reads speech from Silero
    VAD, not from Whisper's word timings: windows over word runs split one voice into
    two clusters on the demo (docs/benchmarks.md)."""
    from pipeline.speakers.diarize import VoiceEncoder

    if "voice" not in _CACHE:
        _CACHE["voice"] = VoiceEncoder()
    return _CACHE["voice"]


def expected_speakers(episode: dict[str, Any]) -> int | None:
    from pipeline.speakers.naming import expected_speakers as from_persons

    return from_persons(json.loads(episode.get("persons") or "[]"))


def analyze_task(job: AnalyzeJob) -> Outcome:
    from pipeline.analysis.codebook import load_codebook
    from pipeline.analysis.engine import Analyzer
    from pipeline.analysis.stage import analyze_segments

    codebook = load_codebook(job.codebook)
    key = ("nlp", codebook.digest, job.use_semantic)
    if key not in _CACHE:
        _CACHE[key] = Analyzer(codebook, use_semantic=job.use_semantic)
    analyzer = _CACHE[key]
    analysis, error = analyze_segments(analyzer, job.segments, job.persons, job.notes)
    return Outcome(job.episode_id, analysis=analysis, error=error, provenance=analyzer.provenance)


def make_executor(scheduler: str | None, workers: int) -> tuple[Executor, Any]:
    """A Dask cluster's executor, or a local process pool; and what to close after."""
    if scheduler:
        from distributed import Client

        client = Client(scheduler, set_as_default=False)
        return client.get_executor(pure=False), client
    import multiprocessing

    # spawn, not fork: the ingest process has threads (downloads, HTTP) by now.
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_follow_parent,
        initargs=(os.getpid(),),
    )
    return pool, None


def _follow_parent(parent: int) -> None:
    """A worker whose ingest process was killed (SIGKILL, the OOM killer) exits too,
    instead of holding its models' memory for ever: nothing would collect its work."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


def worker_options(options: AsrOptions, workers: int) -> AsrOptions:
    """Each worker process transcribes one episode at a time, on its share of the cores."""
    from dataclasses import replace

    cores = os.cpu_count() or 1
    return replace(options, workers=1, cpu_threads=options.cpu_threads or max(1, cores // workers))

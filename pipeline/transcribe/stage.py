"""Transcription: every downloaded episode becomes timed segments in the database.

The publisher's own transcript (``podcast:transcript``) is used first when the
feed offers one; Whisper runs otherwise.  Audio streams through in windows so
memory stays bounded, and the hallucination guard flags what Whisper invented.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import sqlite_utils

import pipeline.net.client as net
import pipeline.transcribe.guard as guard
from pipeline.audio.decode import SAMPLE_RATE, AudioError, windows
from pipeline.audio.decode import duration as file_duration
from pipeline.audio.vad import speech_spans
from pipeline.models import Segment, shift, words_json
from pipeline.net.urls import enclosure_problem, is_local, local_path, may_reach_private
from pipeline.progress import NullProgress, Progress
from pipeline.run.threads import worker_pool
from pipeline.speakers.naming import save_speakers
from pipeline.store.db import ANALYSED, DOWNLOADED, NEW, TRANSCRIBED, transaction, utcnow
from pipeline.store.episodes import mark_done, mark_failed, pending
from pipeline.transcribe.engines import DEFAULT_ENGINE, AsrOptions, Engine, EngineError, load_engine
from pipeline.transcribe.publisher import TranscriptError, choose_transcript, parse_transcript
from pipeline.transcribe.recovery import Recovery, recover
from pipeline.transcribe.vocabulary import MAX_TERMS, episode_vocabulary, transcription_terms
from pipeline.transcribe.vocabulary import prompt as glossary
from pipeline.transcribe.weights import DEFAULT_MODEL, ModelError

if TYPE_CHECKING:
    from pipeline.speakers.diarize import Diarization, VoiceEncoder

log = logging.getLogger(__name__)

STAGE = "transcribe"
MAX_TRANSCRIPT_BYTES = 20 * 1024 * 1024


@dataclass
class Transcript:
    """One episode's transcript and how it was made (the provenance we store)."""

    segments: list[Segment]
    source: str  # "whisper" or "publisher"
    engine: str | None = None
    engine_version: str | None = None
    model: str | None = None
    compute_type: str | None = None
    language: str | None = None
    language_probability: float | None = None
    audio_duration: float | None = None
    speech_duration: float | None = None
    wall_time: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    source_url: str | None = None
    source_format: str | None = None

    @property
    def real_time_factor(self) -> float | None:
        if not self.wall_time or not self.audio_duration:
            return None
        return self.wall_time / self.audio_duration


@dataclass
class TranscribeResult:
    episode_id: str
    title: str | None
    transcript: Transcript | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def transcribe_file(
    path: str | Path,
    engine: Engine,
    options: AsrOptions,
    *,
    progress: Progress | None = None,
    key: str = "audio",
    channel: int | None = None,
    vocabulary: Sequence[str] = (),
) -> Transcript:
    """Transcribe one audio file window by window, expecting the words in
    ``vocabulary``; raises AudioError for bad audio."""
    progress = progress or NullProgress()
    started = time.perf_counter()
    segments: list[Segment] = []
    language = options.language
    probability = None
    duration = speech = 0.0
    prompt = glossary(vocabulary)
    report = Recovery()
    for offset, samples in windows(path, seconds=options.window_seconds, channel=channel):
        result = engine.transcribe(samples, language, prompt)
        if language is None and result.segments:
            language, probability = result.language, result.language_probability
        found = guard.flag(result.segments)
        if options.recover:
            found = _recover(samples, found, engine, language, prompt, report)
        for segment in found:
            shift(segment, offset)
            segments.append(segment)
        seconds = samples.size / SAMPLE_RATE
        duration += seconds
        speech += result.speech_seconds
        progress.advance(key, seconds)
    guard.flag(segments)  # again: a loop can run on across windows
    for index, segment in enumerate(segments):
        segment.index = index
        segment.recovered = segment.recovered and segment.quality in guard.SEARCHABLE
    return Transcript(
        segments=segments,
        source="whisper",
        engine=engine.name,
        engine_version=engine.version,
        model=engine.model_name,
        compute_type=engine.compute_type,
        language=language,
        language_probability=probability,
        audio_duration=round(duration, 3),
        speech_duration=round(speech, 3),
        wall_time=round(time.perf_counter() - started, 3),
        options={
            **options.as_dict(),
            "vocabulary": list(vocabulary[:MAX_TERMS]),
            # the model that did decode stretches again ("auto" resolved), if any did
            "recover_model": engine.recover_model_name if options.recover else None,
            **({"recovery": report.as_dict()} if options.recover else {}),
        },
    )


def _recover(
    samples: np.ndarray,
    segments: list[Segment],
    engine: Engine,
    language: str | None,
    prompt: str | None,
    report: Recovery,
) -> list[Segment]:
    def redecode(piece: np.ndarray) -> list[Segment]:
        return engine.redecode(piece, language, prompt).segments

    recovered, window = recover(samples, segments, speech_spans(samples), redecode)
    report.add(window)
    return recovered


def transcribe_by_channel(
    path: str | Path, engine: Engine, options: AsrOptions, vocabulary: Sequence[str] = ()
) -> Transcript:
    """A stereo file with one speaker per channel: each channel on its own, each segment
    and word labelled Speaker 1 (left) or Speaker 2 (right), merged in time order."""
    sides = [
        transcribe_file(path, engine, options, channel=channel, vocabulary=vocabulary)
        for channel in (0, 1)
    ]
    for number, side in enumerate(sides, start=1):
        for segment in side.segments:
            segment.speaker = f"Speaker {number}"
            for word in segment.words:
                word.speaker = segment.speaker
    merged = sides[0]
    merged.segments = sorted(sides[0].segments + sides[1].segments, key=lambda s: s.start)
    for index, segment in enumerate(merged.segments):
        segment.index = index
    merged.wall_time = (sides[0].wall_time or 0) + (sides[1].wall_time or 0)
    merged.options = {**merged.options, "split_channels": True}
    return merged


def with_speakers(
    path: str | Path,
    transcript: Transcript,
    engine: Engine,
    options: AsrOptions,
    encoder: VoiceEncoder,
    vocabulary: Sequence[str] = (),
    expected: int | None = None,
) -> tuple[Transcript, Diarization]:
    """Who spoke when in a transcribed file, and the transcript to keep: a stereo file
    with one person per channel is transcribed again, channel by channel (its speakers
    are its channels). The one place transcription and diarization meet, for
    `transcribe-file --diarize` and ingest's workers alike."""
    from pipeline.speakers.diarize import diarize_file

    diarization = diarize_file(path, encoder, expected=expected)
    if diarization.by_channel:
        transcript = transcribe_by_channel(path, engine, options, vocabulary)
    return transcript, diarization


# The publisher's transcript --------------------------------------------------------


def fetch_publisher_transcript(
    http: httpx.Client,
    episode: dict[str, Any],
    feed_url: str,
    duration: float | None = None,
    allow_private: bool = False,
) -> Transcript | None:
    """The feed's own transcript, parsed and fitted to the audio's ``duration`` (when
    known); None when the feed offers none. ``allow_private``: urls.may_reach_private."""
    offered = json.loads(episode.get("transcripts") or "[]")
    chosen = choose_transcript(offered)
    if chosen is None:
        return None
    url = chosen["url"]
    problem = enclosure_problem(feed_url, url)
    if problem:
        raise TranscriptError(problem.replace("enclosure", "transcript"))
    if is_local(url):
        try:
            data = local_path(url).read_bytes()
        except OSError as exc:
            raise TranscriptError(f"the transcript {url} cannot be read: {exc.strerror}") from exc
        mime = chosen.get("type")
    else:
        try:
            response = net.get(
                http, url, max_bytes=MAX_TRANSCRIPT_BYTES, allow_private=allow_private
            )
        except net.FetchError as exc:
            raise TranscriptError(str(exc)) from exc
        if response.status >= 400:
            raise TranscriptError(f"the transcript {url} answered HTTP {response.status}")
        data = response.body
        mime = chosen.get("type") or response.headers.get("content-type")
    # The publisher's text is not Whisper's, so the hallucination guard has nothing
    # to judge; untimed formats arrive marked "estimated-time".
    warnings: list[str] = []
    segments = parse_transcript(data, mime=mime, name=url, duration=duration, warnings=warnings)
    for warning in warnings:
        log.warning("%s: the transcript %s: %s", episode["id"], url, warning)
    return Transcript(
        segments=segments,
        source="publisher",
        language=chosen.get("language"),
        audio_duration=max((s.end for s in segments), default=0.0),
        options={"warnings": warnings} if warnings else {},
        source_url=url,
        source_format=chosen.get("type"),
    )


# The stage -------------------------------------------------------------------------


def pending_transcriptions(
    db: sqlite_utils.Database, limit: int | None = None, force: bool = False
) -> list[dict[str, Any]]:
    """Downloaded episodes without a transcript; feeds' transcript-only items; with
    force, every episode that has audio or a publisher transcript."""
    condition, params = pending(STAGE, DOWNLOADED)
    condition = (
        f"({condition} or (status = :new and enclosure_url is null and transcripts is not null))"
    )
    params["new"] = NEW
    if force:
        condition = f"({condition} or status in (:transcribed, :analysed))"
        params.update(transcribed=TRANSCRIBED, analysed=ANALYSED)
    rows = db.table("episodes").rows_where(
        condition, params, order_by="published desc, id", limit=limit
    )
    return list(rows)


def transcribe_episodes(
    db: sqlite_utils.Database,
    data_dir: Path,
    *,
    engine: str = DEFAULT_ENGINE,
    model: str = DEFAULT_MODEL,
    options: AsrOptions | None = None,
    limit: int | None = None,
    force: bool = False,
    force_asr: bool = False,
    progress: Progress | None = None,
    http: httpx.Client | None = None,
    codebook: Path | None = None,
) -> Iterator[TranscribeResult]:
    """Transcribe every pending episode, several at once; this thread saves each."""
    episodes = pending_transcriptions(db, limit, force)
    if not episodes:
        return
    options = options or AsrOptions()
    feeds = {row["id"]: row for row in db.table("feeds").rows}
    terms = transcription_terms(codebook) if options.vocabulary else []
    own = http is None
    http = http or net.client()
    transcriber = Transcriber(
        engine, model, data_dir, options, http=http, force_asr=force_asr, progress=progress
    )
    try:
        with worker_pool(transcriber.workers, "asr") as pool:
            futures = []
            for episode in episodes:
                feed = feeds[episode["feed_id"]]
                futures.append(
                    pool.submit(
                        transcriber.one,
                        episode,
                        feed["url"],
                        episode_vocabulary(episode, terms, feed) if options.vocabulary else [],
                        feed.get("model"),
                        may_reach_private(feed),
                    )
                )
            for future in as_completed(futures):
                result = future.result()
                if result.transcript is not None:
                    save_transcript(db, result.episode_id, result.transcript)
                else:
                    mark_failed(db, result.episode_id, STAGE, result.error or "")
                yield result
    finally:
        if own:
            transcriber.http.close()


class Transcriber:
    """Transcribes one episode at a time per worker thread; loads each model once, lazily."""

    def __init__(
        self,
        engine: str,
        model: str,
        data_dir: Path,
        options: AsrOptions,
        *,
        http: httpx.Client,
        force_asr: bool = False,
        progress: Progress | None = None,
    ):
        self.engine_name, self.model, self.data_dir = engine, model, data_dir
        self.options, self.http, self.force_asr = options, http, force_asr
        self.progress = progress or NullProgress()
        self.workers = options.resolved_workers(engine)
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def asr(self, model: str | None = None) -> Engine:
        """The engine for ``model`` (a feed's own), else the run's."""
        model = model or self.model
        with self._lock:
            if model not in self._engines:
                self._engines[model] = load_engine(
                    self.engine_name, model, self.data_dir / "models", self.options
                )
            return self._engines[model]

    def _duration(self, episode: dict[str, Any]) -> float | None:
        """The audio's length, to check a publisher's times against: the file's own
        when it is downloaded, else what the feed says."""
        if episode.get("audio_path"):
            try:
                return file_duration(self.data_dir / episode["audio_path"]) or None
            except AudioError:
                pass  # Whisper will report the bad audio; the feed's figure will do here
        return episode.get("itunes_duration")

    def one(
        self,
        episode: dict[str, Any],
        feed_url: str,
        vocabulary: Sequence[str] = (),
        model: str | None = None,
        allow_private: bool = False,
    ) -> TranscribeResult:
        result = TranscribeResult(episode["id"], episode.get("title"))
        publisher_error = None
        if not self.force_asr:
            try:
                result.transcript = fetch_publisher_transcript(
                    self.http, episode, feed_url, self._duration(episode), allow_private
                )
            except TranscriptError as exc:
                publisher_error = str(exc)
                log.warning(
                    "%s: publisher transcript unusable (%s); using Whisper", episode["id"], exc
                )
            if result.transcript is not None:
                return result
        if not episode.get("audio_path"):
            result.error = publisher_error or "the episode has no downloaded audio"
            return result
        self.progress.start(
            episode["id"],
            (episode.get("title") or episode["id"])[:40],
            episode.get("itunes_duration"),
        )
        try:
            result.transcript = transcribe_file(
                self.data_dir / episode["audio_path"],
                self.asr(model),
                self.options,
                progress=self.progress,
                key=episode["id"],
                vocabulary=vocabulary,
            )
            if publisher_error:
                result.transcript.options["publisher_transcript_error"] = publisher_error
        except (AudioError, ModelError, EngineError) as exc:
            result.error = str(exc)
        finally:
            self.progress.finish(episode["id"])
        return result


def save_transcript(
    db: sqlite_utils.Database,
    episode_id: str,
    transcript: Transcript,
    speakers: list[dict[str, Any]] | None = None,
) -> None:
    """Replace the episode's segments and transcript row (and, when diarized, its
    speakers) in one transaction."""
    rows = [_segment_row(episode_id, s) for s in transcript.segments]
    with transaction(db):
        db.execute("delete from segments where episode_id = ?", [episode_id])
        db.table("segments").insert_all(rows, batch_size=500)
        if speakers is not None:
            save_speakers(db, episode_id, speakers)
        db.table("transcripts").upsert(_transcript_row(episode_id, transcript), pk="episode_id")
        mark_done(db, episode_id, TRANSCRIBED)


def _segment_row(episode_id: str, segment: Segment) -> dict[str, Any]:
    return {
        "episode_id": episode_id,
        "idx": segment.index,
        "start_time": segment.start,
        "end_time": segment.end,
        "text": segment.text,
        "speaker": segment.speaker,
        "avg_logprob": segment.avg_logprob,
        "no_speech_prob": segment.no_speech_prob,
        "compression_ratio": segment.compression_ratio,
        "words": words_json(segment.words),
        "quality": segment.quality,
        "recovered": segment.recovered,
        "speaker_confidence": segment.speaker_confidence,
    }


def _transcript_row(episode_id: str, transcript: Transcript) -> dict[str, Any]:
    segments = transcript.segments
    return {
        "episode_id": episode_id,
        "source": transcript.source,
        "engine": transcript.engine,
        "engine_version": transcript.engine_version,
        "model": transcript.model,
        "compute_type": transcript.compute_type,
        "language": transcript.language,
        "language_probability": transcript.language_probability,
        "audio_duration": transcript.audio_duration,
        "speech_duration": transcript.speech_duration,
        "wall_time": transcript.wall_time,
        "real_time_factor": transcript.real_time_factor,
        "options": json.dumps(transcript.options),
        "source_url": transcript.source_url,
        "source_format": transcript.source_format,
        "segment_count": len(segments),
        "flagged_count": sum(s.quality not in guard.SEARCHABLE for s in segments),
        "created_at": utcnow(),
    }

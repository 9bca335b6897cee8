"""Two Whisper engines behind one small interface.

``faster-whisper`` (CTranslate2, the default) and ``openai-whisper`` (the
reference implementation, optional extra ``[openai]``) take the same model
names and return the same Segment records for a window of 16 kHz samples.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pipeline.audio.decode import SAMPLE_RATE
from pipeline.audio.vad import share_vad
from pipeline.errors import PipelineError
from pipeline.models import Segment, Word
from pipeline.transcribe.weights import (
    ModelError,
    ResolvedModel,
    check_model_name,
    resolve_model,
)

log = logging.getLogger(__name__)

ENGINES = ("faster-whisper", "openai-whisper")
DEFAULT_ENGINE = "faster-whisper"
# A second decoding of a stretch Whisper got wrong (pipeline.transcribe.recovery): nothing carried
# over from earlier text, which is what feeds a loop, and hotter samples when the
# result is still repetitive or unsure (Whisper's own fallback).
LOOP_BREAKING = {
    "condition_on_previous_text": False,
    "temperature": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
}
# The hotter samples are random: seeded, a stretch gets the same second decoding run to
# run (unseeded, the loops benchmark's share recovered moved from 0.40 to 0.70 between
# two runs of the same audio). The seed is the process's: two workers sampling at the
# same moment can still disturb each other's draws.
RECOVER_SEED = 0


# Silero's defaults are 0.5 and 2 s of silence to end speech.
STRICT_VAD = {"threshold": 0.6, "min_silence_duration_ms": 500}


class EngineError(PipelineError):
    """An engine that cannot be used here (unknown, or its extra is not installed)."""


@dataclass
class AsrOptions:
    """Decoding options; defaults chosen from docs/benchmarks.md."""

    beam_size: int = 2  # the knee in docs/benchmarks.md: beam 5 accuracy, near beam 1 speed
    # >1: faster-whisper's batched pipeline over VAD chunks. 2, not 8: as fast within
    # the noise, and the encoder's attention for 8 chunks per worker costs 0.8 GB more.
    batch_size: int = 2
    vad: bool = True
    word_timestamps: bool = True
    language: str | None = None  # None: detect (English-only models: "en")
    compute_type: str = "int8"
    workers: int = 0  # episodes transcribed at once; 0: one per core (faster-whisper)
    cpu_threads: int = 0  # threads per worker; 0: the cores shared among the workers
    window_seconds: float = 600.0  # audio is decoded and transcribed this much at a time
    recover: bool = True  # decode again what the guard flags or the decode skipped
    # The second pass's model; None: the first pass's. base after tiny.en brought back
    # worse text on the loops benchmark (docs/benchmarks.md, "Recovered loops").
    recover_model: str | None = None
    vocabulary: bool = True  # tell Whisper the episode's names and the codebook's terms
    extra: dict[str, Any] = field(default_factory=dict)  # passed through to the engine

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def resolved_workers(self, engine: str) -> int:
        """One single-threaded worker per core: on 2 cores, 1.7x the throughput of one
        worker with both (docs/benchmarks.md). openai-whisper parallelises inside torch."""
        if engine != "faster-whisper":
            return 1
        return self.workers or os.cpu_count() or 1

    def resolved_threads(self, engine: str) -> int:
        cores = os.cpu_count() or 1
        return self.cpu_threads or max(1, cores // self.resolved_workers(engine))


@dataclass
class WindowResult:
    segments: list[Segment]
    language: str | None
    language_probability: float | None
    speech_seconds: float


def recover_model_for(first: str, option: str | None) -> str:
    """The model that decodes stretches again after ``first``: ``option``, else ``first``."""
    return option or first


class Engine(Protocol):
    name: str
    version: str
    model_name: str
    compute_type: str
    recover_model_name: str  # the model redecode uses

    def transcribe(
        self, samples: np.ndarray, language: str | None, prompt: str | None = None
    ) -> WindowResult: ...

    def redecode(
        self, samples: np.ndarray, language: str | None, prompt: str | None = None
    ) -> WindowResult: ...


def load_engine(name: str, model: str, cache_dir: Path, options: AsrOptions) -> Engine:
    if name not in ENGINES:
        raise EngineError(f"Unknown engine {name!r}: use one of {', '.join(ENGINES)}.")
    resolved = resolve_model(model, cache_dir)
    if name == "faster-whisper":
        return FasterWhisperEngine(resolved, cache_dir, options)
    return OpenAIWhisperEngine(resolved, cache_dir, options)


def _english_only(model: ResolvedModel) -> bool:
    return model.name.endswith(".en")


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(self, model: ResolvedModel, cache_dir: Path, options: AsrOptions):
        import faster_whisper
        import threadpoolctl

        self.version = faster_whisper.__version__
        self.model_name = model.name
        self.compute_type = options.compute_type
        self.options = options
        self.english_only = _english_only(model)
        self.cache_dir = cache_dir
        self.model = self._load(model)
        self.recover_model_name = recover_model_for(
            model.name, check_model_name(options.recover_model)
        )
        self._second: Any = None if self.recover_model_name != model.name else self.model
        self._second_english_only = _english_only(ResolvedModel(self.recover_model_name, None, ""))
        self._second_lock = threading.Lock()
        self._local = threading.local()  # one batched pipeline per worker thread
        # Whisper's features are a BLAS product whose last bits depend on the BLAS
        # thread count, and those bits move word timings. One thread everywhere, so an
        # episode gets the same transcript in this process, a worker or a Dask worker
        # (whose nanny starts it with one).
        threadpoolctl.threadpool_limits(1, user_api="blas")
        share_vad()  # diarization of the same windows reuses this VAD pass

    def _load(self, model: ResolvedModel) -> Any:
        import faster_whisper

        options, cache_dir = self.options, self.cache_dir
        try:
            return faster_whisper.WhisperModel(
                str(model.path) if model.path else model.name,
                device="cpu",
                compute_type=options.compute_type,
                cpu_threads=options.resolved_threads(self.name),
                num_workers=options.resolved_workers(self.name),
                download_root=str(cache_dir) if model.path is None else None,
            )
        except OSError as exc:  # the hub's errors (no network, no such repository) are
            if model.path is not None:  # OSErrors; a local folder's are not ours to hide
                raise
            raise ModelError(
                f"The model {model.name!r} could not be downloaded into {cache_dir}"
                f" ({type(exc).__name__}): check the network, or use tiny.en or base,"
                " which are installed."
            ) from exc

    def _recovery_model(self) -> Any:
        """The second pass's model, loaded on first use (most windows need none)."""
        with self._second_lock:
            if self._second is None:
                log.info("loading %s to decode stretches again", self.recover_model_name)
                self._second = self._load(resolve_model(self.recover_model_name, self.cache_dir))
            return self._second

    def _batched(self) -> Any:
        if not hasattr(self._local, "pipeline"):
            from faster_whisper import BatchedInferencePipeline

            self._local.pipeline = BatchedInferencePipeline(self.model)
        return self._local.pipeline

    def _kwargs(self, language: str | None, prompt: str | None) -> dict[str, Any]:
        options = self.options
        return {
            "language": language or options.language or ("en" if self.english_only else None),
            "beam_size": options.beam_size,
            "word_timestamps": options.word_timestamps,
            "vad_filter": options.vad,
            **({"hotwords": prompt} if prompt else {}),
            **options.extra,
        }

    def transcribe(
        self, samples: np.ndarray, language: str | None, prompt: str | None = None
    ) -> WindowResult:
        options = self.options
        kwargs = self._kwargs(language, prompt)
        if options.batch_size > 1 and options.vad:
            # Decoding timestamp tokens makes tiny.en skip whole sentences in a
            # 30 s chunk (docs/benchmarks.md), so chunks are decoded as text and
            # split into sentences by their word timings instead.
            pieces, info = self._batched().transcribe(
                samples, batch_size=options.batch_size, **kwargs
            )
            segments = [_clean(s) for p in pieces for s in split_sentences(_from_faster(p))]
        else:
            pieces, info = self.model.transcribe(samples, **kwargs)
            segments = [_clean(_from_faster(piece)) for piece in pieces]
        return _result(segments, info, options.vad)

    def redecode(
        self, samples: np.ndarray, language: str | None, prompt: str | None = None
    ) -> WindowResult:
        """One stretch again, sequentially (with timestamps), with LOOP_BREAKING and a
        stricter voice detector, so noise between words is not given words."""
        kwargs = {**self._kwargs(language, prompt), **LOOP_BREAKING}
        if self._second_english_only:
            kwargs["language"] = "en"
        if self.options.vad:
            kwargs["vad_parameters"] = STRICT_VAD
        import ctranslate2

        model = self._recovery_model()
        ctranslate2.set_random_seed(RECOVER_SEED)
        pieces, info = model.transcribe(samples, **kwargs)
        return _result([_clean(_from_faster(piece)) for piece in pieces], info, self.options.vad)


def _clean(segment: Segment) -> Segment:
    for word in segment.words:
        word.word = word.word.strip()
    return segment


def _result(segments: list[Segment], info: Any, vad: bool) -> WindowResult:
    speech = info.duration_after_vad if vad else info.duration
    return WindowResult(segments, info.language, info.language_probability, float(speech))


SENTENCE_END = (".", "?", "!")
MAX_SENTENCE_SECONDS = 20.0
PAUSE_SECONDS = 1.0
MIN_SECONDS = 0.01


def split_sentences(segment: Segment) -> list[Segment]:
    """A long segment as sentence-sized ones, using its word timings.

    Breaks after sentence punctuation, at a pause, or at a comma once a piece
    is long; confidences stay those of the decoded chunk.
    """
    if not segment.words:
        return [segment]
    pieces: list[list[Word]] = [[]]
    for word, following in zip(segment.words, [*segment.words[1:], None], strict=True):
        pieces[-1].append(word)
        if following is None:
            break
        long = word.end - pieces[-1][0].start > MAX_SENTENCE_SECONDS
        if (
            word.word.endswith(SENTENCE_END)
            or following.start - word.end > PAUSE_SECONDS
            or (long and word.word.endswith((",", ";", ":")))
            or word.end - pieces[-1][0].start > 2 * MAX_SENTENCE_SECONDS
        ):
            pieces.append([])
    pieces = [words for words in pieces if words]
    starts = [words[0].start for words in pieces[1:]] + [segment.end]
    return [
        Segment(
            index=0,
            start=words[0].start,
            end=_piece_end(words, following),
            text="".join(w.word for w in words).strip(),  # words keep their leading spaces
            avg_logprob=segment.avg_logprob,
            no_speech_prob=segment.no_speech_prob,
            compression_ratio=segment.compression_ratio,
            words=words,
        )
        for words, following in zip(pieces, starts, strict=True)
    ]


def _piece_end(words: list[Word], following: float) -> float:
    """Whisper sometimes gives a lone word no length ("Exactly." at 123.46-123.46): its
    sentence then runs on to whatever follows, so no segment (or subtitle) is empty."""
    start, end = words[0].start, words[-1].end
    if end > start:
        return end
    return following if following > start else start + MIN_SECONDS


def _from_faster(piece: Any) -> Segment:
    return Segment(
        index=0,
        start=float(piece.start),
        end=float(piece.end),
        text=piece.text.strip(),
        avg_logprob=float(piece.avg_logprob),
        no_speech_prob=float(piece.no_speech_prob),
        compression_ratio=float(piece.compression_ratio),
        words=[
            Word(float(w.start), float(w.end), w.word, float(w.probability))
            for w in piece.words or []
        ],
    )


class OpenAIWhisperEngine:
    """The reference implementation on the same weights, converted once to a checkpoint."""

    name = "openai-whisper"

    def __init__(self, model: ResolvedModel, cache_dir: Path, options: AsrOptions):
        try:
            import whisper
        except ImportError as exc:
            raise EngineError(
                "openai-whisper is not installed: pip install 'podinsights[openai]'."
            ) from exc
        from pipeline.transcribe.convert import ensure_openai_checkpoint, load_openai_model

        if model.path is None:
            raise EngineError(f"openai-whisper needs a local or packaged model, not {model.name}.")
        self.version = whisper.__version__
        self.model_name = model.name
        self.compute_type = "float32"
        self.options = options
        self.english_only = _english_only(model)
        checkpoint = ensure_openai_checkpoint(model.path, cache_dir, model.name)
        self.model = load_openai_model(checkpoint, model.name)
        self.cache_dir = cache_dir
        self.recover_model_name = recover_model_for(
            model.name, check_model_name(options.recover_model)
        )
        self._second: OpenAIWhisperEngine | None = None
        self._second_lock = threading.Lock()
        if options.cpu_threads:
            import torch

            torch.set_num_threads(options.resolved_threads(self.name))

    def transcribe(
        self,
        samples: np.ndarray,
        language: str | None,
        prompt: str | None = None,
        **decoding: Any,
    ) -> WindowResult:
        speech, restore = _speech_only(samples) if self.options.vad else (samples, None)
        if speech.size == 0:
            return WindowResult([], language, None, 0.0)
        result = self.model.transcribe(
            speech,
            language=language or self.options.language or ("en" if self.english_only else None),
            beam_size=self.options.beam_size or None,
            word_timestamps=self.options.word_timestamps,
            fp16=False,
            verbose=None,
            # openai-whisper has no hotwords: the glossary is its initial prompt.
            initial_prompt=prompt,
            **{**self.options.extra, **decoding},
        )
        segments = [_from_openai(piece) for piece in result["segments"]]
        if restore is not None:
            for segment in segments:
                _restore_times(segment, restore)
        return WindowResult(segments, result.get("language"), None, speech.size / SAMPLE_RATE)

    def redecode(
        self, samples: np.ndarray, language: str | None, prompt: str | None = None
    ) -> WindowResult:
        if self.recover_model_name == self.model_name:
            return self.transcribe(samples, language, prompt, **LOOP_BREAKING)
        with self._second_lock:
            if self._second is None:
                resolved = resolve_model(self.recover_model_name, self.cache_dir)
                second = replace(self.options, recover_model=None)
                self._second = OpenAIWhisperEngine(resolved, self.cache_dir, second)
        if self._second.english_only:
            language = "en"
        return self._second.transcribe(samples, language, prompt, **LOOP_BREAKING)


def _speech_only(samples: np.ndarray) -> tuple[np.ndarray, Any]:
    """The same Silero VAD faster-whisper uses, so both engines hear the same speech."""
    from faster_whisper.vad import (
        SpeechTimestampsMap,
        VadOptions,
        collect_chunks,
        get_speech_timestamps,
    )

    share_vad()
    chunks = get_speech_timestamps(samples, VadOptions())
    if not chunks:
        return np.zeros(0, np.float32), None
    audio_chunks, _ = collect_chunks(samples, chunks)
    return np.concatenate(audio_chunks), SpeechTimestampsMap(chunks, SAMPLE_RATE)


def _restore_times(segment: Segment, restore: Any) -> None:
    segment.start = float(restore.get_original_time(segment.start))
    segment.end = float(restore.get_original_time(segment.end, is_end=True))
    for word in segment.words:
        word.start = float(restore.get_original_time(word.start))
        word.end = float(restore.get_original_time(word.end, is_end=True))


def _from_openai(piece: dict[str, Any]) -> Segment:
    return Segment(
        index=0,
        start=float(piece["start"]),
        end=float(piece["end"]),
        text=piece["text"].strip(),
        avg_logprob=float(piece["avg_logprob"]),
        no_speech_prob=float(piece["no_speech_prob"]),
        compression_ratio=float(piece["compression_ratio"]),
        words=[
            Word(float(w["start"]), float(w["end"]), w["word"].strip(), float(w["probability"]))
            for w in piece.get("words", [])
        ],
    )

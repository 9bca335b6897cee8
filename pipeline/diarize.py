"""Who spoke when: speaker embeddings over short windows of speech, clustered into
speakers, then laid over Whisper's word timings.

Embeddings come from Resemblyzer's voice encoder, whose weights ship inside its PyPI
package (extra ``[diarize]``; nothing is downloaded). Stereo files whose channels carry
different people are split by channel instead. Labels here are anonymous ("S1",
"S2"); speakers.py puts names on them.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .audio import SAMPLE_RATE, channel_count, load_audio, windows
from .models import Segment, Word
from .vad import share_vad

log = logging.getLogger("pipeline.diarize")

WINDOW = 1.5  # seconds of speech per embedding (the encoder's own partial length)
HOP = 1.0
THRESHOLD = 0.3  # cosine distance at which clusters stop merging (calibrated on the demo)
MIN_SHARE = 0.08  # a cluster with fewer windows than this is noise: merged into its nearest
FRAMES_PER_SECOND = 100  # the encoder's mel frames (10 ms step)
CHANNEL_CORRELATION = 0.3  # below this, stereo channels are separate speakers


def available() -> bool:
    return importlib.util.find_spec("resemblyzer") is not None


@dataclass
class Diarization:
    turns: list[tuple[float, float, str]]  # (start, end, label), in time order
    centroids: dict[str, list[float]] = field(default_factory=dict)
    by_channel: bool = False

    def talk_time(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for start, end, label in self.turns:
            totals[label] = totals.get(label, 0.0) + end - start
        return totals

    def label_at(self, time: float) -> str | None:
        best, distance = None, float("inf")
        for start, end, label in self.turns:
            if start <= time <= end:
                return label
            gap = min(abs(time - start), abs(time - end))
            if gap < distance:
                best, distance = label, gap
        return best if distance <= HOP else None


class VoiceEncoder:
    """Resemblyzer's encoder, on the CPU, one thread (transcription has the others)."""

    def __init__(self) -> None:
        import torch

        with warnings.catch_warnings():
            # Resemblyzer's imports warn about their own dependencies (pkg_resources,
            # scipy namespaces) on every worker start: nothing a user can act on.
            warnings.simplefilter("ignore")
            from resemblyzer import VoiceEncoder as Encoder
            from resemblyzer.audio import wav_to_mel_spectrogram

        torch.set_num_threads(1)
        self.torch = torch
        self.model = Encoder("cpu", verbose=False)
        self.mel = wav_to_mel_spectrogram

    def embed(self, samples: np.ndarray, spans: list[tuple[float, float]]) -> np.ndarray:
        """One L2-normalised embedding per (start, end) span of ``samples``."""
        mel = self.mel(samples)
        size = int(WINDOW * FRAMES_PER_SECOND)
        batch = []
        for start, _ in spans:
            first = int(start * FRAMES_PER_SECOND)
            frames = mel[first : first + size]
            batch.append(np.pad(frames, ((0, size - len(frames)), (0, 0))))
        if not batch:
            return np.zeros((0, 256), np.float32)
        with self.torch.no_grad():
            vectors = [
                self.model(self.torch.from_numpy(np.stack(batch[i : i + 128]))).numpy()
                for i in range(0, len(batch), 128)
            ]
        return np.concatenate(vectors)


def speech_regions(
    samples: np.ndarray, words: list[Word] | None = None
) -> list[tuple[float, float]]:
    """Where someone speaks: Whisper's words when we have them, else Silero VAD."""
    if words:
        regions: list[tuple[float, float]] = []
        for word in sorted(words, key=lambda w: w.start):
            if regions and word.start - regions[-1][1] < 0.5:
                regions[-1] = (regions[-1][0], max(regions[-1][1], word.end))
            else:
                regions.append((word.start, word.end))
        return regions
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    share_vad()  # after transcription of the same window, the VAD pass is already done
    stamps = get_speech_timestamps(samples, VadOptions(min_silence_duration_ms=300))
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


def spans_in(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    spans = []
    for start, end in regions:
        t = start
        while t + 0.5 <= end or t == start:
            spans.append((t, min(t + WINDOW, end)))
            t += HOP
            if t >= end:
                break
    return spans


def cluster(embeddings: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """Agglomerative clustering (average linkage, cosine); the number of speakers is
    where merging stops. Tiny clusters are folded into their nearest real one."""
    if len(embeddings) < 2:
        return np.zeros(len(embeddings), int)
    from scipy.cluster.hierarchy import fcluster, linkage

    labels = fcluster(
        linkage(embeddings, method="average", metric="cosine"), threshold, criterion="distance"
    )
    counts = Counter(labels)
    big = [label for label, n in counts.items() if n >= max(2, MIN_SHARE * len(labels))]
    if not big:
        return np.zeros(len(embeddings), int)
    centroids = {label: _unit(embeddings[labels == label].mean(axis=0)) for label in big}
    for index, label in enumerate(labels):
        if label not in centroids:
            labels[index] = max(centroids, key=lambda c: float(embeddings[index] @ centroids[c]))
    return labels


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def diarize_file(
    path: str | Path,
    encoder: VoiceEncoder,
    words: list[Word] | None = None,
    threshold: float = THRESHOLD,
) -> Diarization:
    """Speaker turns for a whole file, window by window (bounded memory)."""
    split = _by_channel(path)
    if split is not None:
        return split
    spans: list[tuple[float, float]] = []
    vectors = []
    for offset, samples in windows(path):
        end = offset + samples.size / SAMPLE_RATE
        local_words = [
            Word(w.start - offset, w.end - offset, w.word)
            for w in (words or [])
            if offset <= w.start < end
        ]
        regions = speech_regions(samples, local_words if words else None)
        local = spans_in(regions)
        vectors.append(encoder.embed(samples, local))
        spans += [(s + offset, e + offset) for s, e in local]
    embeddings = np.concatenate(vectors) if vectors else np.zeros((0, 256), np.float32)
    labels = cluster(embeddings, threshold)
    return _turns(spans, labels, embeddings)


def _turns(
    spans: list[tuple[float, float]], labels: np.ndarray, embeddings: np.ndarray
) -> Diarization:
    """Consecutive windows with one label become one turn; labels are renamed S1, S2, ...
    in order of first appearance; an overlap goes to the later window."""
    names: dict[int, str] = {}
    for label in labels:
        names.setdefault(int(label), f"S{len(names) + 1}")
    turns: list[tuple[float, float, str]] = []
    for (start, end), label in zip(spans, labels, strict=True):
        name = names[int(label)]
        if turns and turns[-1][2] == name and start <= turns[-1][1] + HOP:
            turns[-1] = (turns[-1][0], max(turns[-1][1], end), name)
            continue
        if turns and start < turns[-1][1]:
            middle = (start + turns[-1][1]) / 2
            turns[-1] = (turns[-1][0], middle, turns[-1][2])
            start = middle
        turns.append((start, end, name))
    centroids = {
        names[int(label)]: _unit(embeddings[labels == label].mean(axis=0)).tolist()
        for label in set(labels.tolist())
    }
    return Diarization(turns, centroids)


def split_channels(path: str | Path) -> bool:
    """Do the two channels carry different recordings (one person each), rather than
    one stereo mix? A mix's channels are strongly correlated; separate mics are not."""
    if channel_count(path) != 2:
        return False
    left, right = load_audio(path, channel=0), load_audio(path, channel=1)
    size = min(left.size, right.size, SAMPLE_RATE * 600)
    left, right = left[:size], right[:size]
    if size == 0 or min(np.abs(left).max(), np.abs(right).max()) < 0.01:
        return False  # one side is silent: a mono recording in a stereo file
    return abs(float(np.corrcoef(left, right)[0, 1])) < CHANNEL_CORRELATION


def _by_channel(path: str | Path) -> Diarization | None:
    """A stereo recording with one person per channel: each channel's speech is theirs."""
    if not split_channels(path):
        return None
    turns = []
    for label, channel in (("S1", 0), ("S2", 1)):
        turns += [(s, e, label) for s, e in speech_regions(load_audio(path, channel=channel))]
    return Diarization(sorted(turns), by_channel=True)


def assign_speakers(
    segments: list[Segment], diarization: Diarization, names: dict[str, str]
) -> None:
    """Each word gets the speaker at its midpoint; each segment the speaker of most of its
    words (by duration), so a segment that spans a change keeps both on its words. When
    channels were split, segments already know their channel: only the names change."""
    if diarization.by_channel:
        for segment in segments:
            channel = f"S{segment.speaker.split()[-1]}" if segment.speaker else ""
            segment.speaker = names.get(channel, segment.speaker)
            for word in segment.words:
                word.speaker = segment.speaker
        return
    for segment in segments:
        spoken: dict[str, float] = {}
        for word in segment.words:
            at = diarization.label_at((word.start + word.end) / 2)
            word.speaker = names.get(at, at) if at else None
            if word.speaker:
                spoken[word.speaker] = spoken.get(word.speaker, 0.0) + max(
                    word.end - word.start, 0.01
                )
        if not segment.words:
            middle = diarization.label_at((segment.start + segment.end) / 2)
            segment.speaker = names.get(middle, middle) if middle else None
        elif spoken:
            segment.speaker = max(spoken, key=lambda name: spoken[name])


def default_names(diarization: Diarization) -> dict[str, str]:
    """Speaker 1, Speaker 2, ... by order of first speech."""
    return {label: f"Speaker {label[1:]}" for label in diarization.talk_time()}


def as_dict(diarization: Diarization) -> dict[str, Any]:
    return {
        "turns": diarization.turns,
        "centroids": diarization.centroids,
        "by_channel": diarization.by_channel,
    }

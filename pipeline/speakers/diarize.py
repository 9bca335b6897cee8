"""Who spoke when: speaker embeddings over short windows of speech, clustered into
speakers, then laid over Whisper's word timings.

Embeddings come from Resemblyzer's voice encoder, whose weights ship inside its PyPI
package (extra ``[diarize]``; nothing is downloaded). Stereo files whose channels carry
different people are split by channel instead. Labels here are anonymous ("S1",
"S2"); naming.py puts names on them.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.audio.decode import SAMPLE_RATE, channel_count, load_audio, windows
from pipeline.audio.vad import share_vad
from pipeline.models import Segment, Word

log = logging.getLogger(__name__)

WINDOW = 1.5  # seconds of speech per embedding (the encoder's own partial length)
HOP = 0.75
# Settings chosen on the calibration recordings and the demo (benchmarks/voices.py,
# docs/benchmarks.md). THRESHOLD: 0.29-0.33 count speakers equally well there; the lower
# end is taken because a merge is worse than a split (two people credited as one cannot
# be undone by naming, a voice split in two can: `speakers name` one label as the other).
THRESHOLD = 0.30  # cosine distance at which clusters stop merging (average linkage)
MIN_TALK = 6.0  # seconds: a cluster that speaks less is a split-off piece of a voice,
MIN_SHARE = 0.1  # unless it has this share of the talk (a short recording's second person)
MIN_FLOOR = 2.0  # and never under this: two or three windows are no one's voice
SWITCH_COST = 0.15  # cosine similarity a change of speaker must win by, window to window
PRIOR_SLACK = 0.05  # how far from THRESHOLD the feed's head count may move the cut
CONFIDENT_MARGIN = 0.2  # similarity margin to the next speaker that counts as certain
LOW_CONFIDENCE = 0.5  # below this a turn's speaker is not credited with what was said
FRAMES_PER_SECOND = 100  # the encoder's mel frames (10 ms step)
CHANNEL_CORRELATION = 0.3  # below this, stereo channels are separate speakers
CHANNEL_LABEL = re.compile(r"Speaker ([12])")  # what transcribe_by_channel calls each side
# Where speech is, for diarization: Silero's default threshold (0.5) missed a fifth of
# the speech in the calibration recordings (far microphones, telephone lines), and
# every missed second is a second nobody is credited with. 0.25 and 0.2 s of padding
# halved the missed speech there for 3% more false alarms (docs/benchmarks.md).
SPEECH_VAD = {"threshold": 0.25, "min_silence_duration_ms": 300, "speech_pad_ms": 200}


def available() -> bool:
    return importlib.util.find_spec("resemblyzer") is not None


@dataclass
class Diarization:
    turns: list[tuple[float, float, str]]  # (start, end, label), in time order
    centroids: dict[str, list[float]] = field(default_factory=dict)
    by_channel: bool = False
    confidence: list[float] = field(default_factory=list)  # per turn, 0-1; empty: all 1

    def turn_confidence(self, index: int) -> float:
        return self.confidence[index] if self.confidence else 1.0

    def uncertain_time(self) -> dict[str, float]:
        """Each label's talk time in turns below LOW_CONFIDENCE."""
        totals = dict.fromkeys(self.talk_time(), 0.0)
        for index, (start, end, label) in enumerate(self.turns):
            if self.turn_confidence(index) < LOW_CONFIDENCE:
                totals[label] += end - start
        return totals

    def talk_time(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for start, end, label in self.turns:
            totals[label] = totals.get(label, 0.0) + end - start
        return totals

    def label_at(self, time: float) -> str | None:
        return self.turn_at(time)[0]

    def turn_at(self, time: float) -> tuple[str | None, float]:
        """The label speaking at ``time`` (or within HOP of it) and its turn's confidence."""
        best, distance = -1, float("inf")
        for index, (start, end, _) in enumerate(self.turns):
            if start <= time <= end:
                best, distance = index, 0.0
                break
            gap = min(abs(time - start), abs(time - end))
            if gap < distance:
                best, distance = index, gap
        if best < 0 or distance > HOP:
            return None, 0.0
        return self.turns[best][2], self.turn_confidence(best)


class VoiceEncoder:
    """Resemblyzer's encoder, on the CPU, one thread (transcription has the others).
    Loaded on the first embedding: a stereo file split by channel never needs it."""

    def __init__(self) -> None:
        self.model: Any = None

    def _load(self) -> None:
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
        if self.model is None:
            self._load()
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
    samples: np.ndarray, words: list[Word] | None = None, vad: dict[str, Any] | None = None
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
    stamps = get_speech_timestamps(samples, VadOptions(**(vad or SPEECH_VAD)))
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


def spans_in(regions: list[tuple[float, float]], hop: float = HOP) -> list[tuple[float, float]]:
    spans = []
    for start, end in regions:
        t = start
        while t + 0.5 <= end or t == start:
            spans.append((t, min(t + WINDOW, end)))
            t += hop
            if t >= end:
                break
    return spans


def cluster(
    embeddings: np.ndarray, threshold: float = THRESHOLD, expected: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Speaker labels and a confidence (0-1) for windows in time order.

    Agglomerative clustering (average linkage, cosine) proposes the speakers; clusters
    with less than MIN_TALK of speech are pieces of a voice and are folded into their
    nearest; then every window is re-assigned to the nearest speaker's centroid by a
    Viterbi pass that charges SWITCH_COST for each change of speaker, so one odd window
    does not make a turn. ``expected`` (the feed's head count) moves the cut only when
    the dendrogram is nearly undecided there."""
    if len(embeddings) < 2:
        return np.zeros(len(embeddings), int), np.ones(len(embeddings))
    from scipy.cluster.hierarchy import fcluster, linkage

    tree = linkage(embeddings, method="average", metric="cosine")
    labels = fcluster(tree, _cut(tree, threshold, expected), criterion="distance")
    labels = _fold_small(embeddings, labels)
    for _ in range(2):  # the second pass starts from centroids of cleaner turns
        labels = _fold_small(embeddings, _resegment(embeddings, labels))
    return labels, _confidence(embeddings, labels)


def _cut(tree: np.ndarray, threshold: float, expected: int | None) -> float:
    """The merge height to cut at: THRESHOLD, or where ``expected`` clusters form if that
    height is within PRIOR_SLACK of it."""
    if not expected or expected < 1 or expected > len(tree):
        return threshold
    heights = tree[:, 2]  # merge heights, ascending; cutting below heights[-k] leaves k+1
    low = heights[-expected] if expected <= len(heights) else 0.0
    high = heights[-expected + 1] if expected > 1 else np.inf
    if low > threshold + PRIOR_SLACK or high < threshold - PRIOR_SLACK:
        return threshold
    return float(np.clip(threshold, low, high - 1e-9))


def _centroids(embeddings: np.ndarray, labels: np.ndarray) -> tuple[list[int], np.ndarray]:
    names = sorted(set(labels.tolist()))
    return names, np.stack([_unit(embeddings[labels == n].mean(axis=0)) for n in names])


def _fold_small(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Clusters speaking less than MIN_TALK and MIN_SHARE, smallest first, folded into
    the nearest."""
    labels = labels.copy()
    while True:
        counts = Counter(labels.tolist())
        small = [n for n, c in counts.items() if c * HOP < MIN_TALK and c < MIN_SHARE * len(labels)]
        if not small or len(counts) < 2:
            return labels
        smallest = min(small, key=lambda n: counts[n])
        rest = labels != smallest
        names, centroids = _centroids(embeddings[rest], labels[rest])
        nearest = np.argmax(embeddings[~rest] @ centroids.T, axis=1)
        labels[~rest] = np.array(names)[nearest]


def least_talk(total: float) -> float:
    """The least talk, in seconds, that makes a speaker in a recording with ``total``
    seconds of speech: MIN_TALK, less in a short recording, never under MIN_FLOOR."""
    return min(MIN_TALK, max(MIN_FLOOR, MIN_SHARE * total))


def _resegment(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Viterbi over windows: score = similarity to the speaker's centroid, minus
    SWITCH_COST for each change of speaker."""
    names, centroids = _centroids(embeddings, labels)
    scores = embeddings @ centroids.T
    total = scores[0].copy()
    back = np.zeros(scores.shape, int)
    for t in range(1, len(scores)):
        leader = int(np.argmax(total))
        switch = total[leader] - SWITCH_COST
        back[t] = np.where(total >= switch, np.arange(len(names)), leader)
        total = np.maximum(total, switch) + scores[t]
    path = np.zeros(len(scores), int)
    path[-1] = int(np.argmax(total))
    for t in range(len(scores) - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return np.array(names)[path]


def _confidence(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """How much closer each window is to its own speaker than to the next nearest,
    scaled so that a margin of CONFIDENT_MARGIN or more is full confidence."""
    names, centroids = _centroids(embeddings, labels)
    if len(names) < 2:
        return np.ones(len(labels))
    scores = embeddings @ centroids.T
    mine = (np.arange(len(labels)), np.searchsorted(names, labels))
    own = scores[mine]
    scores[mine] = -np.inf
    return np.clip((own - scores.max(axis=1)) / CONFIDENT_MARGIN, 0.0, 1.0)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def diarize_file(
    path: str | Path,
    encoder: VoiceEncoder,
    words: list[Word] | None = None,
    threshold: float = THRESHOLD,
    expected: int | None = None,
) -> Diarization:
    """Speaker turns for a whole file, window by window (bounded memory). ``expected``:
    how many people the feed says take part, a prior for the speaker count."""
    split = _by_channel(path)
    if split is not None:
        return split
    spans, embeddings = embed_file(path, encoder, words)
    labels, confidence = cluster(embeddings, threshold, expected)
    return turns_of(spans, labels, embeddings, confidence)


def embed_file(
    path: str | Path,
    encoder: VoiceEncoder,
    words: list[Word] | None = None,
    hop: float = HOP,
    vad: dict[str, Any] | None = None,
) -> tuple[list[tuple[float, float]], np.ndarray]:
    """The (start, end) of every window of speech, and its embedding; ``vad``: Silero
    settings other than SPEECH_VAD."""
    spans: list[tuple[float, float]] = []
    vectors = []
    for offset, samples in windows(path):
        end = offset + samples.size / SAMPLE_RATE
        local_words = [
            Word(w.start - offset, w.end - offset, w.word)
            for w in (words or [])
            if offset <= w.start < end
        ]
        regions = speech_regions(samples, local_words if words else None, vad)
        local = spans_in(regions, hop)
        vectors.append(encoder.embed(samples, local))
        spans += [(s + offset, e + offset) for s, e in local]
    embeddings = np.concatenate(vectors) if vectors else np.zeros((0, 256), np.float32)
    return spans, embeddings


def turns_of(
    spans: list[tuple[float, float]],
    labels: np.ndarray,
    embeddings: np.ndarray,
    confidence: np.ndarray,
) -> Diarization:
    """Consecutive windows with one label become one turn, as sure as its windows are on
    average; labels are renamed S1, S2, ... in order of first appearance; an overlap
    goes to the later window."""
    names: dict[int, str] = {}
    for label in labels:
        names.setdefault(int(label), f"S{len(names) + 1}")
    turns: list[tuple[float, float, str]] = []
    sure: list[list[float]] = []
    for (start, end), label, window in zip(spans, labels, confidence, strict=True):
        name = names[int(label)]
        if turns and turns[-1][2] == name and start <= turns[-1][1] + HOP:
            turns[-1] = (turns[-1][0], max(turns[-1][1], end), name)
            sure[-1].append(float(window))
            continue
        if turns and start < turns[-1][1]:
            middle = (start + turns[-1][1]) / 2
            turns[-1] = (turns[-1][0], middle, turns[-1][2])
            start = middle
        turns.append((start, end, name))
        sure.append([float(window)])
    centroids = {
        names[int(label)]: _unit(embeddings[labels == label].mean(axis=0)).tolist()
        for label in set(labels.tolist())
    }
    return Diarization(turns, centroids, confidence=[round(float(np.mean(c)), 3) for c in sure])


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
    channels were split and the segments were transcribed channel by channel, they
    already know their channel: only the names change. Segments transcribed from the
    mix (`diarize` after a transcription without speakers) go by the channels' turns."""
    for segment in segments:
        channel = CHANNEL_LABEL.fullmatch(segment.speaker or "")
        if diarization.by_channel and channel:
            segment.speaker = names.get(f"S{channel.group(1)}", segment.speaker)
            segment.speaker_confidence = 1.0  # each channel is one person's microphone
            for word in segment.words:
                word.speaker = segment.speaker
        else:
            _assign(segment, diarization, names)


def _assign(segment: Segment, diarization: Diarization, names: dict[str, str]) -> None:
    """The segment's speaker is who says most of its words (by duration); its confidence
    is the share of its word time that speaker says in confident turns, so a segment
    straddling a change of speaker is less sure than one inside a turn."""
    if not segment.words:
        label, sure = diarization.turn_at((segment.start + segment.end) / 2)
        segment.speaker = names.get(label, label) if label else None
        segment.speaker_confidence = round(sure, 3) if label else None
        return
    spoken: dict[str, float] = {}
    sure_time: dict[str, float] = {}
    total = 0.0
    for word in segment.words:
        label, sure = diarization.turn_at((word.start + word.end) / 2)
        word.speaker = names.get(label, label) if label else None
        length = max(word.end - word.start, 0.01)
        total += length
        if word.speaker:
            spoken[word.speaker] = spoken.get(word.speaker, 0.0) + length
            sure_time[word.speaker] = sure_time.get(word.speaker, 0.0) + length * sure
    if spoken:
        segment.speaker = max(spoken, key=lambda name: spoken[name])
        segment.speaker_confidence = round(sure_time[segment.speaker] / total, 3)


def default_names(diarization: Diarization) -> dict[str, str]:
    """Speaker 1, Speaker 2, ... by order of first speech."""
    return {label: f"Speaker {label[1:]}" for label in diarization.talk_time()}


def as_dict(diarization: Diarization) -> dict[str, Any]:
    return {
        "turns": diarization.turns,
        "centroids": diarization.centroids,
        "by_channel": diarization.by_channel,
    }

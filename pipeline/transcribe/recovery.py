"""Second chances: speech Whisper looped on, was unsure of, or skipped is transcribed again.

On hard audio (8 kbps radio, noise) Whisper can loop for a minute ("the valley, the
valley, ..."), and the guard rightly flags it; and a batched decode sometimes ends a
30-second chunk early, so speech the voice detector heard comes back with no words.
Either way the speech underneath is lost. Each such stretch is decoded again on its
own, with nothing carried over from earlier text and with temperature fallback
(``Engine.redecode``); new text that passes the guard replaces the old and is marked
``recovered``; what still fails stays flagged, so nothing invented becomes searchable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

import pipeline.transcribe.guard as guard
from pipeline.audio.decode import SAMPLE_RATE
from pipeline.models import Segment, shift

log = logging.getLogger(__name__)

RETRY = (guard.REPETITION, guard.LOW_CONFIDENCE)  # "no-speech" is usually not speech
MIN_SKIPPED = 3.0  # seconds of detected speech with no word: more than any pause in a turn
WORD_REACH = 1.0  # a word "covers" this much speech either side of it
PAD = 0.3  # seconds of context either side of a stretch
MIN_STRETCH = 1.0


@dataclass
class Stretch:
    start: float
    end: float
    reason: str  # "flagged" or "skipped"
    replaced: list[Segment] = field(default_factory=list)


@dataclass
class Recovery:
    """What one window's second pass did, in seconds of audio."""

    stretches: int = 0
    flagged_before: float = 0.0
    flagged_after: float = 0.0
    recovered: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 2) for k, v in asdict(self).items()}

    def add(self, other: Recovery) -> None:
        self.stretches += other.stretches
        self.flagged_before += other.flagged_before
        self.flagged_after += other.flagged_after
        self.recovered += other.recovered


def stretches(segments: Sequence[Segment], speech: Sequence[tuple[float, float]]) -> list[Stretch]:
    """Runs of flagged segments, and detected speech no kept word covers."""
    found = [*_flagged(segments), *_skipped(segments, speech)]
    return _merge(sorted(found, key=lambda s: s.start))


def _flagged(segments: Sequence[Segment]) -> list[Stretch]:
    runs: list[Stretch] = []
    previous_flagged = False
    for segment in segments:
        flagged = segment.quality in RETRY
        if flagged and previous_flagged:
            runs[-1].end = max(runs[-1].end, segment.end)
            runs[-1].replaced.append(segment)
        elif flagged:
            runs.append(Stretch(segment.start, segment.end, "flagged", [segment]))
        previous_flagged = flagged
    return runs


def _skipped(segments: Sequence[Segment], speech: Sequence[tuple[float, float]]) -> list[Stretch]:
    covered = [
        (w.start - WORD_REACH, w.end + WORD_REACH)
        for s in segments
        if s.quality not in RETRY
        for w in s.words
    ]
    covered += [(s.start, s.end) for s in segments if s.quality not in RETRY and not s.words]
    gaps = []
    for start, end in speech:
        for gap_start, gap_end in _uncovered(start, end, covered):
            if gap_end - gap_start >= MIN_SKIPPED:
                gaps.append(Stretch(gap_start, gap_end, "skipped"))
    return gaps


def _uncovered(
    start: float, end: float, covered: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    gaps, position = [], start
    for a, b in sorted(c for c in covered if c[1] > start and c[0] < end):
        if a > position:
            gaps.append((position, a))
        position = max(position, b)
    if position < end:
        gaps.append((position, end))
    return gaps


def _merge(found: list[Stretch]) -> list[Stretch]:
    merged: list[Stretch] = []
    for stretch in found:
        if merged and stretch.start <= merged[-1].end + PAD:
            last = merged[-1]
            last.end = max(last.end, stretch.end)
            last.replaced += stretch.replaced
            if stretch.reason == "flagged":
                last.reason = "flagged"
        else:
            merged.append(stretch)
    return [s for s in merged if s.end - s.start >= MIN_STRETCH or s.replaced]


Redecode = Callable[[np.ndarray], list[Segment]]
Accept = Callable[[Segment], bool]


def _any(segment: Segment) -> bool:
    return True


def recover(
    samples: np.ndarray,
    segments: list[Segment],
    speech: Sequence[tuple[float, float]],
    redecode: Redecode,
    accept: Accept = _any,
) -> tuple[list[Segment], Recovery]:
    """The window's segments (already judged by the guard; times relative to the
    window) with each stretch decoded again by ``redecode``."""
    report = Recovery()
    kept = list(segments)
    for stretch in stretches(segments, speech):
        fresh = _decode(samples, stretch, redecode)
        good = [s for s in fresh if s.quality in guard.SEARCHABLE and accept(s)]
        for segment in good:
            segment.recovered = True
        # An old segment gives way only to new text over the same time; new text that
        # still fails the guard is dropped, and the old flagged segment stands for it.
        dropped = {id(s) for s in stretch.replaced if any(_overlap(s, g) for g in good)}
        kept = [s for s in kept if id(s) not in dropped] + good
        report.stretches += 1
        report.recovered += min(stretch.end - stretch.start, _seconds(good))
        if stretch.reason == "flagged":
            report.flagged_before += _seconds(stretch.replaced)
            report.flagged_after += _seconds([s for s in stretch.replaced if id(s) not in dropped])
        log.debug(
            "%s %.1f-%.1f s: %d of %d new segments pass the guard",
            stretch.reason,
            stretch.start,
            stretch.end,
            len(good),
            len(fresh),
        )
    kept.sort(key=lambda s: s.start)
    return kept, report


def _overlap(a: Segment, b: Segment) -> bool:
    return min(a.end, b.end) - max(a.start, b.start) > 0


def _decode(samples: np.ndarray, stretch: Stretch, redecode: Redecode) -> list[Segment]:
    """The stretch (with a little context) decoded alone, judged by the guard; only
    segments centred inside the stretch, so the context is not transcribed twice."""
    start = max(0.0, stretch.start - PAD)
    end = min(samples.size / SAMPLE_RATE, stretch.end + PAD)
    piece = samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    fresh = guard.flag([shift(s, start) for s in redecode(piece)])
    return [s for s in fresh if stretch.start <= (s.start + s.end) / 2 <= stretch.end]


def _seconds(segments: Sequence[Segment]) -> float:
    return sum(max(0.0, s.end - s.start) for s in segments)

"""Hallucination guard: flag what Whisper made up so it never passes as speech.

Whisper loops on hard audio (music, noise, long silences): the same word or
phrase over and over, or the same line in segment after segment.  It also
invents stock phrases in silence.  Each segment gets a ``quality``: "ok", or the
reason it is suspect.  Flagged segments stay in the database (so nothing is
hidden) but search and analysis only read SEARCHABLE ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.models import Segment

OK = "ok"
ESTIMATED_TIME = "estimated-time"  # real text, invented timing (untimed publisher transcripts)
SEARCHABLE = (OK, ESTIMATED_TIME)
REPETITION = "repetition"
NO_SPEECH = "no-speech"
LOW_CONFIDENCE = "low-confidence"

MAX_COMPRESSION = 2.4  # Whisper's own threshold for "too repetitive to be speech"
LOW_LOGPROB = -1.0
NO_SPEECH_PROB = 0.6
# Whisper only drops a segment when no_speech_prob > 0.6 AND avg_logprob < -1; the
# text it invents over noise ("You", a replay of earlier lines) sits just above
# that, so a likely-silent segment needs only middling confidence to be flagged.
NO_SPEECH_LOGPROB = -0.5
LOOP_MIN_WORDS = 8  # a loop must cover at least this many words...
LOOP_MIN_REPEATS = 4  # ...made of one n-gram repeated at least this many times
MAX_NGRAM = 8
SAME_LINE_REPEATS = 3  # the same line in this many consecutive segments

_WORD = re.compile(r"[\w']+")


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def loop_start(words: Sequence[str]) -> int | None:
    """Index where a run of one n-gram repeated back to back begins, if there is one."""
    for n in range(1, MAX_NGRAM + 1):
        repeats_needed = max(LOOP_MIN_REPEATS, -(-LOOP_MIN_WORDS // n))
        for start in range(0, len(words) - n * repeats_needed + 1):
            gram = words[start : start + n]
            repeats = 1
            while words[start + repeats * n : start + (repeats + 1) * n] == gram:
                repeats += 1
            if repeats >= repeats_needed:
                return start
    return None


def classify(segment: Segment) -> str:
    words = words_of(segment.text)
    if loop_start(words) is not None:
        return REPETITION
    if segment.compression_ratio is not None and segment.compression_ratio > MAX_COMPRESSION:
        return REPETITION
    logprob = segment.avg_logprob
    silent = segment.no_speech_prob is not None and segment.no_speech_prob > NO_SPEECH_PROB
    if silent and (logprob is None or logprob < NO_SPEECH_LOGPROB):
        return NO_SPEECH
    if logprob is not None and logprob < LOW_LOGPROB:
        return LOW_CONFIDENCE
    return OK


def flag(segments: list[Segment]) -> list[Segment]:
    """Set ``quality`` on every segment, in place; returns the same list."""
    for segment in segments:
        segment.quality = classify(segment)
    _flag_repeated_lines(segments)
    return segments


def _flag_repeated_lines(segments: list[Segment]) -> None:
    """A line said in several segments in a row is a loop, not a refrain: keep the first."""
    run_start = 0
    for i in range(1, len(segments) + 1):
        same = i < len(segments) and _key(segments[i]) == _key(segments[run_start])
        if same:
            continue
        if i - run_start >= SAME_LINE_REPEATS and _key(segments[run_start]):
            for segment in segments[run_start + 1 : i]:
                segment.quality = REPETITION
        run_start = i


def _key(segment: Segment) -> str:
    return " ".join(words_of(segment.text))

"""Plain records passed between stages."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any


def episode_id(feed_id: int, guid: str) -> str:
    """The stable id of an episode: derived from its natural key (feed, GUID)."""
    return hashlib.sha1(f"{feed_id}\n{guid}".encode()).hexdigest()[:12]


@dataclass
class FeedInfo:
    """What a poll learns about a feed itself."""

    title: str | None = None
    link: str | None = None
    description: str | None = None
    language: str | None = None
    author: str | None = None
    image: str | None = None
    new_url: str | None = None  # itunes:new-feed-url or <redirect><newLocation>
    next_page: str | None = None  # RFC 5005 rel="next"


@dataclass
class Episode:
    """One feed item, as the poller sees it."""

    guid: str
    title: str | None = None
    published: str | None = None  # UTC ISO 8601
    description: str | None = None  # plain text
    description_html: str | None = None
    link: str | None = None
    image: str | None = None
    enclosure_url: str | None = None
    enclosure_type: str | None = None
    enclosure_length: int | None = None
    itunes_duration: float | None = None
    season: int | None = None
    episode_number: int | None = None
    transcripts: list[dict[str, Any]] = field(default_factory=list)
    persons: list[dict[str, Any]] = field(default_factory=list)
    chapters: dict[str, Any] | None = None
    problem: str | None = None  # why this episode cannot be downloaded, if it cannot

    def record(self, feed_id: int) -> dict[str, Any]:
        row = asdict(self)
        row.pop("problem")
        row.update(id=episode_id(feed_id, self.guid), feed_id=feed_id)
        return row


@dataclass
class ParsedFeed:
    info: FeedInfo
    episodes: list[Episode]
    warnings: list[str] = field(default_factory=list)


@dataclass
class Word:
    start: float
    end: float
    word: str
    probability: float | None = None
    speaker: str | None = None


@dataclass
class Segment:
    """A timed stretch of transcript; the unit of search, themes and speakers."""

    index: int
    start: float
    end: float
    text: str
    speaker: str | None = None
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    words: list[Word] = field(default_factory=list)
    quality: str = "ok"  # "ok", or why it is suspect: "repetition", "low-confidence"
    recovered: bool = False  # from a second decoding of a stretch the first got wrong
    speaker_confidence: float | None = None  # 0-1 from diarization; None: not diarized


def shift(segment: Segment, offset: float) -> Segment:
    """The segment and its words moved ``offset`` seconds later (to the millisecond)."""
    segment.start = round(segment.start + offset, 3)
    segment.end = round(segment.end + offset, 3)
    for word in segment.words:
        word.start = round(word.start + offset, 3)
        word.end = round(word.end + offset, 3)
    return segment


def words_json(words: list[Word]) -> str | None:
    """Word timings as stored in segments.words: [start, end, word, probability(, speaker)]."""
    if not words:
        return None
    rows = [
        [w.start, w.end, w.word, w.probability, *([w.speaker] if w.speaker else [])] for w in words
    ]
    return json.dumps(rows, ensure_ascii=False)


def segment_from_row(row: dict[str, Any]) -> Segment:
    """A stored segment row back as a Segment."""
    words = [
        Word(w[0], w[1], w[2], w[3], w[4] if len(w) > 4 else None)
        for w in json.loads(row["words"] or "[]")
    ]
    return Segment(
        row["idx"],
        row["start_time"],
        row["end_time"],
        row["text"],
        speaker=row["speaker"],
        words=words,
        quality=row["quality"],
        recovered=bool(row.get("recovered")),
        speaker_confidence=row.get("speaker_confidence"),
    )

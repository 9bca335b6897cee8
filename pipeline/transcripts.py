"""Publisher transcripts (``podcast:transcript``) parsed into Segment records.

Formats, per the Podcasting 2.0 transcript spec:

* WebVTT: cues with optional ``<v Speaker>`` voice tags (a cue without one keeps
  the previous cue's speaker, as publishers only tag changes of speaker).
* SRT: numbered cues; a ``Name:`` prefix at the start of a cue is the speaker.
* JSON: ``{"version", "segments": [{speaker, startTime, endTime, body}]}``; files
  with one word per segment are merged into sentences, keeping word timings.
* HTML: ``<cite>Speaker:</cite> <time>0:00</time> <p>text</p>`` blocks.
* Plain text: no timings, so times are estimated from word counts and every
  segment is marked ``quality="estimated-time"``.

A file with any unparsable cue raises TranscriptError naming it: the caller
stores a transcript whole or not at all.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from .errors import PipelineError
from .models import Segment, Word

FORMATS = {
    "text/vtt": "vtt",
    "application/x-subrip": "srt",
    "application/srt": "srt",
    "text/srt": "srt",
    "application/json": "json",
    "application/json+transcript": "json",
    "text/json": "json",
    "text/html": "html",
    "text/plain": "text",
}
EXTENSIONS = {
    "vtt": "vtt",
    "srt": "srt",
    "json": "json",
    "html": "html",
    "htm": "html",
    "txt": "text",
}
# With several on offer, timed formats first (JSON has word timings).
PREFERENCE = ("json", "vtt", "srt", "html", "text")
ESTIMATED = "estimated-time"
WORDS_PER_SECOND = 2.5
MERGE_GAP = 1.5  # seconds of silence that end a merged sentence
MERGE_MAX = 30.0  # seconds: the longest merged segment

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})|(\d+)[.,](\d{1,3})"
_CUE_TIMES = re.compile(rf"^\s*({_TIME})\s*-->\s*({_TIME})(?:\s+.*)?$")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>")
_TAG = re.compile(r"</?[^>]+>")
_SPEAKER_PREFIX = re.compile(r"^((?:[A-Z][\w'.-]*)(?:\s+[A-Z][\w'.-]*){0,3}):\s+(.*)$", re.S)


class TranscriptError(PipelineError):
    """A transcript file that cannot be read; the message names the problem."""


def detect_format(mime: str | None, name: str | None, data: bytes) -> str:
    """The format by MIME type, then file extension, then by looking at the content."""
    base = (mime or "").split(";")[0].strip().lower()
    if base in FORMATS:
        return FORMATS[base]
    extension = (name or "").split("?")[0].rsplit(".", 1)[-1].lower() if name else ""
    if extension in EXTENSIONS:
        return EXTENSIONS[extension]
    head = decode(data).lstrip()[:300]
    if not head:
        raise TranscriptError("the transcript is empty")
    if head.startswith("WEBVTT"):
        return "vtt"
    if head[0] in "{[":
        return "json"
    if re.match(r"\d+\s*\n\s*\d+:\d{2}:\d{2}[,.]\d+\s*-->", head):
        return "srt"
    if re.search(r"<(html|body|p|cite|time)\b", head, re.I):
        return "html"
    return "text"


def choose_transcript(offered: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The best of a feed's transcripts: a timed format, in English or unlabelled."""
    candidates = []
    for transcript in offered:
        url = transcript.get("url")
        if not url:
            continue
        fmt = FORMATS.get((transcript.get("type") or "").split(";")[0].strip().lower())
        fmt = fmt or EXTENSIONS.get(url.split("?")[0].rsplit(".", 1)[-1].lower(), "text")
        language = (transcript.get("language") or "en").lower()
        rank = (not language.startswith("en"), PREFERENCE.index(fmt))
        candidates.append((rank, transcript))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


def parse_transcript(
    data: bytes, fmt: str | None = None, *, mime: str | None = None, name: str | None = None
) -> list[Segment]:
    fmt = fmt or detect_format(mime, name, data)
    parser = {"vtt": parse_vtt, "srt": parse_srt, "json": parse_json, "html": parse_html}
    segments = parser.get(fmt, parse_text)(decode(data))
    segments = [s for s in segments if s.text]
    if not segments:
        raise TranscriptError(f"the {fmt} transcript contains no transcript segments")
    for index, segment in enumerate(segments):
        segment.index = index
    return segments


def decode(data: bytes) -> str:
    """BOM-aware decoding: UTF-8 or UTF-16 with a BOM, else UTF-8, else Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _seconds(match: tuple[str | None, ...]) -> float:
    hours, minutes, seconds, fraction, bare, bare_fraction = match
    if bare is not None:
        return int(bare) + int(bare_fraction or 0) / 10 ** len(bare_fraction or "0")
    if int(seconds or 0) >= 60 or int(minutes or 0) >= 60 and hours:
        raise ValueError("seconds or minutes out of range")
    total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)
    return total + int(fraction or 0) / 10 ** len(fraction or "0")


def _cue_times(line: str) -> tuple[float, float] | None:
    match = _CUE_TIMES.match(line)
    if not match:
        return None
    groups = match.groups()
    start, end = _seconds(groups[1:7]), _seconds(groups[8:14])
    if end < start:
        raise ValueError(f"the cue ends ({end:.3f} s) before it starts ({start:.3f} s)")
    return start, end


def _blocks(text: str) -> list[list[str]]:
    return [block.split("\n") for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


def _clean(text: str) -> str:
    return " ".join(html.unescape(_TAG.sub("", text)).split())


def parse_vtt(text: str) -> list[Segment]:
    blocks = _blocks(text)
    if not blocks or not blocks[0][0].startswith("WEBVTT"):
        raise TranscriptError("the WebVTT transcript does not start with WEBVTT")
    segments: list[Segment] = []
    speaker = None
    for number, block in enumerate(blocks[1:], start=2):
        if block[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        timing = next((i for i, line in enumerate(block) if "-->" in line), None)
        if timing is None:
            raise TranscriptError(f"WebVTT block {number} has no cue timing: {block[0][:60]!r}")
        times = _parse_times(block[timing], f"WebVTT block {number}")
        raw = "\n".join(block[timing + 1 :])
        voice = _VOICE.search(raw)
        if voice:
            speaker = voice.group(1).strip()
        segments.append(Segment(0, *times, text=_clean(raw), speaker=speaker))
    return segments


def _parse_times(line: str, where: str) -> tuple[float, float]:
    try:
        times = _cue_times(line)
    except ValueError as exc:
        raise TranscriptError(f"{where} has an impossible time in {line.strip()!r}: {exc}") from exc
    if times is None:
        raise TranscriptError(f"{where} has an unreadable cue timing {line.strip()!r}")
    return times


def parse_srt(text: str) -> list[Segment]:
    segments = []
    for number, block in enumerate(_blocks(text), start=1):
        lines = block[1:] if block[0].strip().isdigit() else block
        if not lines or "-->" not in lines[0]:
            raise TranscriptError(f"SRT cue {number} has no timing line: {block[0][:60]!r}")
        if not block[0].strip().isdigit():
            raise TranscriptError(f"SRT cue {number} is not numbered: {block[0][:60]!r}")
        start, end = _parse_times(lines[0], f"SRT cue {number}")
        body = _clean(" ".join(lines[1:]))
        speaker = None
        prefix = _SPEAKER_PREFIX.match(body)
        if prefix:
            speaker, body = prefix.group(1), prefix.group(2)
        segments.append(Segment(0, start, end, body, speaker=speaker))
    return segments


def parse_json(text: str) -> list[Segment]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptError(
            f"the JSON transcript is not valid JSON ({exc.msg}, line {exc.lineno})"
        ) from exc
    items = document.get("segments") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise TranscriptError('the JSON transcript has no "segments" list')
    pieces = []
    for number, item in enumerate(items, start=1):
        try:
            start, end = float(item["startTime"]), float(item["endTime"])
        except (KeyError, TypeError, ValueError) as exc:
            raise TranscriptError(f"JSON segment {number} has no valid startTime/endTime") from exc
        body = _clean(str(item.get("body") or ""))
        if body:
            pieces.append(_Piece(start, max(start, end), body, item.get("speaker")))
    return _merge_words(pieces) if _word_level(pieces) else [p.segment() for p in pieces]


@dataclass
class _Piece:
    start: float
    end: float
    text: str
    speaker: str | None

    def segment(self) -> Segment:
        return Segment(0, self.start, self.end, self.text, speaker=self.speaker)


def _word_level(pieces: list[_Piece]) -> bool:
    """Mostly one word per segment: a word-timed transcript to merge into sentences."""
    return bool(pieces) and sum(" " not in p.text for p in pieces) > 0.8 * len(pieces)


def _merge_words(pieces: list[_Piece]) -> list[Segment]:
    segments: list[Segment] = []
    current: list[_Piece] = []
    for piece in pieces:
        if current and _breaks(current, piece):
            segments.append(_join(current))
            current = []
        current.append(piece)
    if current:
        segments.append(_join(current))
    return segments


def _breaks(current: list[_Piece], following: _Piece) -> bool:
    last = current[-1]
    return (
        following.speaker != last.speaker
        or last.text.endswith((".", "?", "!"))
        or following.start - last.end > MERGE_GAP
        or following.end - current[0].start > MERGE_MAX
    )


def _join(pieces: list[_Piece]) -> Segment:
    words = [Word(p.start, p.end, p.text, speaker=p.speaker) for p in pieces]
    text = " ".join(p.text for p in pieces)
    return Segment(0, pieces[0].start, pieces[-1].end, text, speaker=pieces[0].speaker, words=words)


class _HtmlTranscript(HTMLParser):
    """Collects (speaker, start, text) from <cite>, <time> and <p> elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.entries: list[tuple[str | None, float | None, str]] = []
        self.speaker: str | None = None
        self.time: float | None = None
        self._open: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("cite", "time", "p"):
            self._open, self._text = tag, []

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != self._open:
            return
        value = " ".join("".join(self._text).split())
        if tag == "cite":
            self.speaker = value.rstrip(":").strip() or None
        elif tag == "time":
            self.time = _clock(value)
        elif value:
            self.entries.append((self.speaker, self.time, value))
            self.time = None
        self._open = None


def _clock(value: str) -> float | None:
    parts = value.strip().split(":")
    try:
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + float(part)
    except ValueError:
        return None
    return seconds


def parse_html(text: str) -> list[Segment]:
    parser = _HtmlTranscript()
    parser.feed(text)
    parser.close()
    if not any(start is not None for _, start, _ in parser.entries):
        return parse_text("\n\n".join(body for _, _, body in parser.entries))
    segments: list[Segment] = []
    for number, (speaker, start, body) in enumerate(parser.entries):
        begin = start if start is not None else (segments[-1].end if segments else 0.0)
        following = next((s for _, s, _ in parser.entries[number + 1 :] if s is not None), None)
        end = following if following is not None else begin + _spoken(body)
        segments.append(Segment(0, begin, max(begin, end), body, speaker=speaker))
    return segments


def _spoken(text: str) -> float:
    return round(len(text.split()) / WORDS_PER_SECOND, 3)


def parse_text(text: str) -> list[Segment]:
    """Untimed text: one segment per paragraph, times estimated from word counts."""
    segments = []
    clock = 0.0
    for paragraph in re.split(r"\n\s*\n", text):
        body = " ".join(paragraph.split())
        if not body:
            continue
        speaker = None
        prefix = _SPEAKER_PREFIX.match(body)
        if prefix:
            speaker, body = prefix.group(1), prefix.group(2)
        duration = _spoken(body)
        segments.append(
            Segment(0, clock, clock + duration, body, speaker=speaker, quality=ESTIMATED)
        )
        clock += duration
    return segments

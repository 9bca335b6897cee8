"""Publisher transcripts (Podcasting 2.0 ``<podcast:transcript>``) parsed into Segment records.

A feed may offer the same transcript in several formats; ``choose_transcript``
picks one, ``parse_transcript`` turns its bytes into ``Segment`` records with
times in float seconds, indexed 0..n-1 in file order.

Formats (https://github.com/Podcastindex-org/podcast-namespace, transcripts spec):

* WebVTT (``text/vtt``): cues with optional ``<v Speaker>`` voice tags. The spec
  tags a cue only when the speaker changes, so an untagged cue keeps the previous
  speaker. Formatting tags are dropped and entities decoded. Seconds-only
  timestamps (``0.860 --> 7.380``), which some generators write for the first
  minute, are accepted although WebVTT requires ``mm:ss.ttt``.
* SRT (``application/x-subrip``): numbered cues. Speakers appear as a ``Name:``
  prefix on the first card of a turn; we only take a prefix of one to four
  capitalised words (or numbers) before the colon, so ordinary sentences are
  rarely mistaken for names, and later cards keep that speaker.
* JSON (``application/json``): ``{"version", "segments": [{speaker, startTime,
  endTime, body}]}``. Word-per-segment files are merged into sentence-sized
  segments that keep the word timings in ``Segment.words``.
* HTML (``text/html``): ``<cite>Speaker:</cite> <time>0:00</time> <p>text</p>``;
  a monologue ends where the next one starts.
* Plain text (``text/plain``): no timings, so times are estimated from word
  counts (2.5 words/s) and every such segment is marked
  ``quality="estimated-time"``.

Anything unreadable raises TranscriptError (one sentence naming the file, cue and
line): a transcript is stored whole or not at all, never half-parsed.  Times must
be finite, non-negative and in order; segments past the audio's end (plus a margin)
are dropped and ends past it clamped, each with a warning for the caller to record.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from pipeline.errors import PipelineError
from pipeline.models import Segment, Word
from pipeline.timecodes import parse_clock
from pipeline.transcribe.guard import ESTIMATED_TIME as ESTIMATED

log = logging.getLogger(__name__)

FORMATS: dict[str, str] = {
    "text/vtt": "vtt",
    "text/webvtt": "vtt",
    "application/x-subrip": "srt",
    "application/srt": "srt",
    "application/x-srt": "srt",
    "text/srt": "srt",
    "text/x-srt": "srt",
    "application/json": "json",
    "application/json+transcript": "json",
    "application/x-json": "json",
    "text/json": "json",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
}
EXTENSIONS: dict[str, str] = {
    ".vtt": "vtt",
    ".webvtt": "vtt",
    ".srt": "srt",
    ".json": "json",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
}
LABELS = {"vtt": "WebVTT", "srt": "SRT", "json": "JSON", "html": "HTML", "text": "plain-text"}
# Best first: JSON can carry word timings, VTT carries speakers, SRT only cue
# times, HTML only turn starts, text nothing.
PREFERENCE = ("json", "vtt", "srt", "html", "text")
WORDS_PER_SECOND = 2.5  # typical podcast speech, for formats without timings
MERGE_GAP = 1.5  # seconds of silence that end a merged JSON sentence
MERGE_MAX = 30.0  # seconds: the longest merged JSON segment / estimated text chunk
WORD_LEVEL_SHARE = 0.8  # a JSON file with this share of one-word segments is word-timed
MAX_SECONDS = 48 * 3600.0  # no episode is this long: without a duration, the time limit
DURATION_MARGIN = 60.0  # seconds past the audio's end a publisher's clock may run
# What a parser can raise on hostile content besides _Malformed: deep nesting
# (RecursionError), a 5,000-digit number (ValueError), a 400-digit one as a float
# (OverflowError).  Each is that file's problem, never the run's.
PARSE_ERRORS = (ValueError, ArithmeticError, RecursionError, LookupError, TypeError)

_STAMP = r"\d+(?::\d+){0,2}[.,]\d{1,3}"
_TIMING = re.compile(rf"\s*({_STAMP})\s*-->\s*({_STAMP})(?:[ \t].*)?")
# Only real tags: "<" directly followed by a name, "/" or a timestamp, so a stray
# "a < b > c" in cue text survives.
_TAG = re.compile(r"</?(?:[A-Za-z][^<>]*|\d[\d:.]*)>")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?[ \t]+([^>]*)>")
_NAME_WORD = r"(?:[A-Z][\w'.\-]*|\d+)"
_SPEAKER_PREFIX = re.compile(rf"([A-Z][\w'.\-]*(?:[ \t]+{_NAME_WORD}){{0,3}})[ \t]*:(?:\s+(.*))?")
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*$")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?\u2026])\s+")
_PUNCTUATION = re.compile(r"[^\w\s]+")


class TranscriptError(PipelineError):
    """A transcript that cannot be used; the message names the file and the problem."""


class _Malformed(ValueError):
    """A problem inside a file; parse_transcript adds which file it is."""


# Choosing and detecting ----------------------------------------------------------


def _mime_format(mime: str | None) -> str | None:
    base = (mime or "").split(";")[0].strip().lower()
    if base in FORMATS:
        return FORMATS[base]
    if base.endswith(("/json", "+json")):
        return "json"
    return None


def _extension_format(url_or_name: str | None) -> str | None:
    if not url_or_name:
        return None
    path = urlsplit(url_or_name).path if "://" in url_or_name else url_or_name
    return EXTENSIONS.get(PurePosixPath(path).suffix.lower())


def _declared_format(mime: str | None, url_or_name: str | None) -> str | None:
    """The format a type or file name promises, if any. text/plain promises nothing:
    many servers send it for any text file, .vtt and .srt included."""
    by_mime = _mime_format(mime)
    if by_mime and by_mime != "text":
        return by_mime
    return _extension_format(url_or_name)


def sniff_format(text: str) -> str:
    """The format of decoded content, by its first characters."""
    head = text.lstrip()[:1000]
    if head.startswith("WEBVTT"):
        return "vtt"
    # '{' or '[' then a key, object or end: "[Music] Hello" stays plain text, but
    # single-quoted pseudo-JSON is still called JSON so that it fails as such.
    if re.match(r"\{\s*[\"'}]|\[\s*[{\]]", head):
        return "json"
    if re.match(rf"(?:\d+[ \t]*\n)?[ \t]*{_STAMP}[ \t]*-->", head):
        return "srt"
    if re.search(r"<(?:!doctype\s+html|html|body|cite|time|p)\b", head, re.I):
        return "html"
    return "text"


def detect_format(mime: str | None, url_or_name: str | None, data: bytes) -> str:
    """The format by MIME type, then file extension, then content."""
    text = decode(data)
    if not text.strip():
        raise TranscriptError(f"{_label(None, url_or_name)} is empty")
    return _declared_format(mime, url_or_name) or sniff_format(text)


def choose_transcript(transcripts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The feed transcript to fetch: English (or unlabelled) first, then the format
    with the best timings; ties keep feed order. Types we cannot parse are skipped."""
    ranked: list[tuple[tuple[bool, int, int], dict[str, Any]]] = []
    for position, offer in enumerate(transcripts):
        url, mime = offer.get("url"), offer.get("type")
        fmt = _declared_format(mime, url)
        if fmt is None and _mime_format(mime or "text/plain") == "text":
            fmt = "text"  # text/plain, or untyped: content sniffing decides, so rank it last
        if not url or fmt is None:
            continue
        language = (offer.get("language") or "").strip().lower()
        foreign = bool(language) and not re.match(r"en(?:g|glish)?(?:[-_]|$)", language)
        ranked.append(((foreign, PREFERENCE.index(fmt), position), offer))
    return min(ranked, key=lambda item: item[0])[1] if ranked else None


# Parsing ---------------------------------------------------------------------------


def parse_transcript(
    data: bytes,
    fmt: str | None = None,
    *,
    mime: str | None = None,
    name: str | None = None,
    duration: float | None = None,
    warnings: list[str] | None = None,
) -> list[Segment]:
    """Every segment of a transcript file, or TranscriptError: never a partial list.

    ``duration``: the audio's length in seconds, when known; what was dropped or
    clamped to fit it is described in ``warnings``."""
    text = decode(data)
    if not text.strip():
        raise TranscriptError(f"{_label(fmt, name)} is empty: it contains no transcript segments")
    fmt = fmt or _declared_format(mime, name) or sniff_format(text)
    parser = PARSERS.get(fmt)
    if parser is None:
        known = ", ".join(PARSERS)
        raise TranscriptError(f"unknown transcript format {fmt!r}: expected one of {known}")
    try:
        segments = [s for s in parser(text) if s.text]
    except _Malformed as exc:
        raise TranscriptError(f"{_label(fmt, name)} is malformed: {exc}") from None
    except PARSE_ERRORS as exc:
        reason = f"{type(exc).__name__}: {str(exc)[:100]}"
        raise TranscriptError(f"{_label(fmt, name)} cannot be parsed ({reason})") from None
    try:
        segments = _within(segments, duration, warnings if warnings is not None else [])
    except _Malformed as exc:
        raise TranscriptError(f"{_label(fmt, name)} is malformed: {exc}") from None
    if not segments:
        raise TranscriptError(f"{_label(fmt, name)} contains no transcript segments")
    for index, segment in enumerate(segments):
        segment.index = index
    log.debug("%s: %d segments from %s", name or "transcript", len(segments), fmt)
    return segments


def _within(segments: list[Segment], duration: float | None, warnings: list[str]) -> list[Segment]:
    """Impossible times reject the file; times past the audio's end are cut to it."""
    for number, segment in enumerate(segments, start=1):
        for start, end in [
            (segment.start, segment.end),
            *((w.start, w.end) for w in segment.words),
        ]:
            if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end < start:
                raise _Malformed(f"segment {number} has impossible times ({start}, {end})")
    limit = min(duration + DURATION_MARGIN, MAX_SECONDS) if duration else MAX_SECONDS
    kept = [s for s in segments if s.start <= limit]
    clamped = 0
    for segment in kept:
        clamped += segment.end > limit
        segment.end = min(segment.end, limit)
        segment.words = [w for w in segment.words if w.start <= limit]
        for word in segment.words:
            word.end = min(word.end, limit)
    if len(kept) < len(segments) or clamped:
        warnings.append(
            f"{len(segments) - len(kept)} segments starting after {limit:.0f} s dropped and "
            f"{clamped} end times clamped to it (the audio is shorter)"
        )
    return kept


def _label(fmt: str | None, name: str | None) -> str:
    kind = f"{LABELS[fmt]} transcript" if fmt in LABELS else "transcript"
    return f"the {kind} {name}" if name else f"the {kind}"


def decode(data: bytes) -> str:
    """Text with "\\n" line ends: UTF-8 or UTF-16 by their BOM, else UTF-8, else
    Windows-1252 (what legacy Windows tools write; it decodes any byte)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", "replace")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _spoken(text: str) -> float:
    """Estimated seconds to say ``text``."""
    return round(len(text.split()) / WORDS_PER_SECOND, 3)


def _squash(text: str) -> str:
    return " ".join(text.split())


def _clean(text: str) -> str:
    """Cue text without tags, with entities decoded (&amp; &lt; &nbsp; ...)."""
    return _squash(unescape(_TAG.sub("", text)))


# WebVTT and SRT ----------------------------------------------------------------------


@dataclass
class _Cue:
    number: int  # 1-based, counting cues only
    line: int  # 1-based line of the timing
    timing: str
    text: list[str] = field(default_factory=list)

    def where(self) -> str:
        return f"cue {self.number} (line {self.line})"

    def times(self) -> tuple[float, float]:
        match = _TIMING.fullmatch(self.timing)
        if not match:
            raise _Malformed(f"{self.where()} has an unreadable timing {self.timing.strip()!r}")
        start, end = (self._seconds(stamp) for stamp in match.groups())
        if end < start:
            raise _Malformed(f"{self.where()} ends before it starts: {self.timing.strip()!r}")
        return start, end

    def _seconds(self, stamp: str) -> float:
        clock, fraction = re.split("[.,]", stamp)
        fields = [int(part) for part in clock.split(":")]
        # The leading field may be large (minutes past 59 in mm:ss, bare seconds);
        # the ones after it are minutes and seconds. "00:00:90,740" could be 1:30.740
        # or a typo for 00:00:50,740, so it is rejected rather than guessed.
        if any(part > 59 for part in fields[1:]):
            raise _Malformed(
                f"{self.where()} has an impossible time {stamp!r} (minutes and seconds "
                "must be below 60)"
            )
        seconds = 0
        for part in fields:
            seconds = seconds * 60 + part
        return round(seconds + int(fraction) / 10 ** len(fraction), 3)


_SKIPPED_BLOCKS = re.compile(r"(?:NOTE|STYLE|REGION)(?:[ \t].*)?")


def _cues(lines: list[str], first_line: int, *, any_identifier: bool) -> list[_Cue]:
    """Cues from the lines after a header: a timing line starts a cue, a blank line
    ends it. Tolerated: missing numbers, extra blank lines, a missing blank line
    before a numbered cue. A line that belongs to no cue is an error, because it is
    text we would otherwise lose silently. ``any_identifier``: WebVTT cue ids are any
    text, SRT ones are numbers; WebVTT also has NOTE/STYLE/REGION blocks to skip."""
    cues: list[_Cue] = []
    cue: _Cue | None = None
    skipping = False
    for offset, line in enumerate(lines):
        number = first_line + offset
        following = lines[offset + 1] if offset + 1 < len(lines) else ""
        stripped = line.strip()
        if not stripped:
            cue, skipping = None, False
        elif skipping:
            continue
        elif "-->" in line:
            cue = _Cue(len(cues) + 1, number, line)
            cues.append(cue)
        elif "-->" in following and (stripped.isdigit() or (cue is None and any_identifier)):
            cue = None  # the next cue's number or identifier
        elif cue is not None:
            cue.text.append(line)
        elif any_identifier and _SKIPPED_BLOCKS.fullmatch(stripped):
            skipping = True
        else:
            raise _Malformed(f"line {number} is not part of any cue: {stripped[:60]!r}")
    return cues


def parse_vtt(text: str) -> list[Segment]:
    lines = text.split("\n")
    header = next((number for number, line in enumerate(lines) if line.strip()), 0)
    if not lines[header].lstrip().startswith("WEBVTT"):
        raise _Malformed("it does not start with the WEBVTT header")
    body = header + 1
    while body < len(lines) and lines[body].strip() and "-->" not in lines[body]:
        body += 1  # header lines ("Kind: captions") up to the first blank line
    segments: list[Segment] = []
    speaker: str | None = None
    for cue in _cues(lines[body:], body + 1, any_identifier=True):
        start, end = cue.times()
        spans = _voice_spans("\n".join(cue.text), speaker)
        if spans:
            speaker = spans[-1][0]
        segments.extend(_share_time(spans, start, end))
    return segments


def _voice_spans(raw: str, speaker: str | None) -> list[tuple[str | None, str]]:
    """(speaker, text) runs of a cue; text before any <v> tag keeps ``speaker``."""
    pieces = _VOICE.split(raw)  # [text, voice, text, voice, text, ...]
    spans: list[tuple[str | None, str]] = []
    for position, piece in enumerate(pieces):
        if position % 2:
            speaker = _squash(unescape(piece)) or speaker
            continue
        text = _clean(piece)
        if text and spans and spans[-1][0] == speaker:
            spans[-1] = (speaker, f"{spans[-1][1]} {text}")
        elif text:
            spans.append((speaker, text))
    if not spans and len(pieces) > 1:
        spans.append((speaker, ""))  # a voice tag with no words still names the speaker
    return spans


def _share_time(spans: list[tuple[str | None, str]], start: float, end: float) -> list[Segment]:
    """One segment per speaker in a cue; a cue with several voices (rare) is split in
    proportion to word counts, since cues have no finer timing."""
    words = [max(1, len(text.split())) for _, text in spans]
    segments, clock, said = [], start, 0
    for (speaker, text), count in zip(spans, words, strict=True):
        said += count
        until = end if said == sum(words) else round(start + (end - start) * said / sum(words), 3)
        segments.append(Segment(0, clock, until, text, speaker=speaker))
        clock = until
    return segments


def parse_srt(text: str) -> list[Segment]:
    segments: list[Segment] = []
    speaker: str | None = None
    for cue in _cues(text.split("\n"), 1, any_identifier=False):
        start, end = cue.times()
        body = _clean(" ".join(cue.text))
        named, body = _speaker_prefix(body)
        speaker = named or speaker
        segments.append(Segment(0, start, end, body, speaker=speaker))
    return segments


def _speaker_prefix(text: str) -> tuple[str | None, str]:
    """("Jane Doe", "Hello") from "Jane Doe: Hello"; (None, text) when it is not one."""
    match = _SPEAKER_PREFIX.fullmatch(text)
    if not match:
        return None, text
    return match.group(1), (match.group(2) or "").strip()


# JSON ----------------------------------------------------------------------------------


@dataclass
class _Piece:
    start: float
    end: float | None
    text: str
    speaker: str | None


def parse_json(text: str) -> list[Segment]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Malformed(
            f"it is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    items = document.get("segments") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise _Malformed('it has no "segments" list')
    pieces = _json_pieces(items)
    if _word_level(pieces):
        return _merge_words(pieces)
    return _merge_split_cues(pieces)


def _json_pieces(items: list[Any]) -> list[_Piece]:
    pieces: list[_Piece] = []
    speaker: str | None = None
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise _Malformed(f"segment {number} is not an object")
        start, end = _json_time(item.get("startTime")), _json_time(item.get("endTime"))
        if start is None:
            raise _Malformed(f"segment {number} has no valid startTime")
        if end is None and item.get("endTime") is not None:
            raise _Malformed(f"segment {number} has an invalid endTime")
        if end is not None and end < start:
            raise _Malformed(f"segment {number} ends ({end}) before it starts ({start})")
        # A segment without a speaker continues the previous one's (as AntennaPod does).
        speaker = _squash(str(item["speaker"])) if item.get("speaker") else speaker
        body = item.get("body")
        pieces.append(_Piece(start, end, _squash(body) if isinstance(body, str) else "", speaker))
    _fill_ends(pieces)
    return [piece for piece in pieces if piece.text]


def _json_time(value: Any) -> float | None:
    """Seconds from a number, a numeric string or a clock string ("1:02.5")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if isinstance(value, str) and re.fullmatch(r"\d+(?::\d+){0,2}(?:\.\d+)?", value.strip()):
        return parse_clock(value)
    return None


def _fill_ends(pieces: list[_Piece]) -> None:
    """endTime is optional in the spec: use the next start, else an estimate."""
    for position, piece in enumerate(pieces):
        if piece.end is not None:
            continue
        following = pieces[position + 1].start if position + 1 < len(pieces) else None
        if following is not None and following >= piece.start:
            piece.end = following
        else:
            piece.end = round(piece.start + _spoken(piece.text), 3)


def _word_level(pieces: list[_Piece]) -> bool:
    return bool(pieces) and sum(" " not in p.text for p in pieces) >= WORD_LEVEL_SHARE * len(pieces)


def _merge_words(pieces: list[_Piece]) -> list[Segment]:
    """Words into sentences: a new segment at a sentence end, a change of speaker, a
    pause over MERGE_GAP or after MERGE_MAX seconds. Punctuation-only tokens ("," ".")
    join the word before them."""
    segments: list[Segment] = []
    words: list[Word] = []
    for piece in pieces:
        end = piece.end if piece.end is not None else piece.start
        if words and _PUNCTUATION.fullmatch(piece.text):
            words[-1].word += piece.text
            words[-1].end = max(words[-1].end, end)
            continue
        if words and _sentence_break(words, piece):
            segments.append(_sentence(words))
            words = []
        words.append(Word(piece.start, end, piece.text, speaker=piece.speaker))
    if words:
        segments.append(_sentence(words))
    return segments


def _sentence_break(words: list[Word], following: _Piece) -> bool:
    last = words[-1]
    return (
        following.speaker != last.speaker
        or bool(_SENTENCE_END.search(last.word))
        or following.start - last.end > MERGE_GAP
        or (following.end or following.start) - words[0].start > MERGE_MAX
    )


def _sentence(words: list[Word]) -> Segment:
    text = " ".join(word.word for word in words)
    end = max(word.end for word in words)
    return Segment(0, words[0].start, end, text, speaker=words[0].speaker, words=words)


def _merge_split_cues(pieces: list[_Piece]) -> list[Segment]:
    """Phrase-level files (e.g. Descript exports) often split one caption into two
    segments with identical times and speaker; such twins are one segment."""
    segments: list[Segment] = []
    for piece in pieces:
        end = piece.end if piece.end is not None else piece.start
        previous = segments[-1] if segments else None
        if previous and (previous.start, previous.end, previous.speaker) == (
            piece.start,
            end,
            piece.speaker,
        ):
            previous.text = f"{previous.text} {piece.text}"
        else:
            segments.append(Segment(0, piece.start, end, piece.text, speaker=piece.speaker))
    return segments


# HTML ----------------------------------------------------------------------------------


class _HtmlTranscript(HTMLParser):
    """(speaker, start, text) entries from <cite>, <time> and <p> elements."""

    FIELDS = ("cite", "time", "p")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.entries: list[tuple[str | None, float | None, str]] = []
        self.speaker: str | None = None
        self.time: float | None = None
        self._open: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.FIELDS:
            self._finish()  # HTML lets </p> be omitted: a new field ends the last one
            self._open, self._text = tag, []
        elif tag == "br":
            self._text.append(" ")

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._finish()

    def close(self) -> None:
        super().close()
        self._finish()

    def _finish(self) -> None:
        value, tag = _squash("".join(self._text)), self._open
        self._open, self._text = None, []
        if tag == "cite":
            self.speaker = value.rstrip(":").strip() or None
        elif tag == "time":
            self.time = parse_clock(value)
        elif tag == "p" and value:
            self.entries.append((self.speaker, self.time, value))
            self.time = None


def parse_html(text: str) -> list[Segment]:
    """A monologue runs from its <time> to the next one's; the last one (and any
    without a <time>) gets a duration estimated from its word count."""
    parser = _HtmlTranscript()
    parser.feed(text)
    parser.close()
    entries = parser.entries
    segments: list[Segment] = []
    for position, (speaker, start, body) in enumerate(entries):
        begin = start if start is not None else (segments[-1].end if segments else 0.0)
        following = entries[position + 1][1] if position + 1 < len(entries) else None
        end = following if following is not None else begin + _spoken(body)
        quality = "ok" if start is not None else ESTIMATED
        segments.append(
            Segment(0, begin, round(max(begin, end), 3), body, speaker=speaker, quality=quality)
        )
    return segments


# Plain text ----------------------------------------------------------------------------


def parse_text(text: str) -> list[Segment]:
    """Turns (paragraphs, or lines starting "Name:") cut at sentence ends into chunks
    of at most MERGE_MAX seconds of speech; times are cumulative estimates."""
    segments: list[Segment] = []
    clock = 0.0
    for speaker, turn in _turns(text):
        for chunk in _chunks(turn):
            until = round(clock + _spoken(chunk), 3)
            segments.append(Segment(0, clock, until, chunk, speaker=speaker, quality=ESTIMATED))
            clock = until
    return segments


def _turns(text: str) -> list[tuple[str | None, str]]:
    turns: list[tuple[str | None, list[str]]] = []
    speaker: str | None = None
    fresh = True
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            fresh = True
            continue
        named, stripped = _speaker_prefix(stripped)
        if named:
            speaker, fresh = named, True
        if fresh:
            turns.append((speaker, []))
            fresh = False
        if stripped:
            turns[-1][1].append(stripped)
    return [(speaker, _squash(" ".join(lines))) for speaker, lines in turns if lines]


def _chunks(turn: str) -> list[str]:
    limit = MERGE_MAX * WORDS_PER_SECOND
    chunks: list[list[str]] = []
    size = 0
    for sentence in _SENTENCE_SPLIT.split(turn):
        count = len(sentence.split())
        if not chunks or size + count > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(sentence)
        size += count
    return [" ".join(chunk) for chunk in chunks]


PARSERS: dict[str, Callable[[str], list[Segment]]] = {
    "vtt": parse_vtt,
    "srt": parse_srt,
    "json": parse_json,
    "html": parse_html,
    "text": parse_text,
}

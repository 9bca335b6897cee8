"""A person's codes: which theme they applied to, or rejected on, a segment (or a span
of segments, optionally a character range in it), with a memo and when.

Codings are keyed by (coder, episode, segment idx, theme): the segment's idx is stable
across re-analysis and re-transcription, so a decision outlives both (db.py, migration
12). Saving the same decision again replaces it; nothing here touches theme_mentions.
"""

from __future__ import annotations

import csv
import getpass
import json
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from pipeline.errors import PipelineError
from pipeline.store.db import transaction, utcnow
from pipeline.store.episodes import EpisodeNotFound, find_episode

MACHINE = "machine"  # the pipeline's coder name: its codes are theme_mentions
NO_THEME = ""  # theme of a "no theme applies here" decision: the coder saw the segment
APPLIED = "applied"
REJECTED = "rejected"
DECISIONS = {
    "applied": APPLIED,
    "apply": APPLIED,
    "accept": APPLIED,
    "accepted": APPLIED,
    "rejected": REJECTED,
    "reject": REJECTED,
}
CODER_ENV = "PODINSIGHTS_CODER"
SEGMENT_REF = re.compile(r"(?P<episode>[^:\s]+):(?P<idx>\d+)(?:-(?P<end>\d+))?")


class CodingError(PipelineError):
    """A coding names no segment, an unknown theme, or a decision that is not one."""


@dataclass(frozen=True)
class Coding:
    coder: str
    episode_id: str
    segment_idx: int
    theme_id: str
    decision: str
    memo: str | None = None
    end_idx: int | None = None  # the last segment of a span
    start_char: int | None = None  # a character range: from the first segment's text ...
    end_char: int | None = None  # ... to the last one's (exclusive)


def default_coder() -> str:
    """$PODINSIGHTS_CODER, else the login name."""
    return os.environ.get(CODER_ENV) or getpass.getuser()


def check_coder(name: str) -> str:
    name = name.strip()
    if not name:
        raise CodingError("A coder needs a name (--coder NAME or $PODINSIGHTS_CODER).")
    if name == MACHINE:
        raise CodingError(f"{MACHINE!r} is the pipeline's own coder: code under your name.")
    return name


def decision(value: str) -> str:
    try:
        return DECISIONS[value.strip().lower()]
    except KeyError:
        raise CodingError(f"Unknown decision {value!r}: use applied or rejected.") from None


def find_segment(db: sqlite_utils.Database, ref: str) -> tuple[str, int, int | None]:
    """(episode id, idx, end idx or None) for "EPISODE:IDX", "EPISODE:IDX-END" (episode
    id, unique prefix or GUID) or a segment id as search prints it."""
    ref = ref.strip()
    if ref.isdigit():
        row = db.execute("select episode_id, idx from segments where id = ?", [int(ref)]).fetchone()
        if row is None:
            raise CodingError(f"No segment with id {ref}.")
        return row[0], row[1], None
    match = SEGMENT_REF.fullmatch(ref)
    if not match:
        raise CodingError(f"{ref!r} is not a segment: give EPISODE:IDX or a segment id.")
    try:
        episode = find_episode(db, match["episode"])["id"]
    except EpisodeNotFound as exc:
        raise CodingError(str(exc)) from None
    end = int(match["end"]) if match["end"] else None
    return episode, int(match["idx"]), end


def save_codings(db: sqlite_utils.Database, codings: Iterable[Coding]) -> int:
    """Check every coding, then save them all in one transaction (or none). A memo left
    out keeps the memo the coder wrote before."""
    rows = list(codings)
    themes = {row[0] for row in db.execute("select id from themes")}
    for coding in rows:
        _check(db, coding, themes)
    now = utcnow()
    with transaction(db):
        db.conn.executemany(
            """
            insert into codings (coder, episode_id, segment_idx, end_idx, start_char,
                                 end_char, theme_id, decision, memo, coded_at)
            values (:coder, :episode_id, :segment_idx, :end_idx, :start_char, :end_char,
                    :theme_id, :decision, :memo, :coded_at)
            on conflict (coder, episode_id, segment_idx, theme_id) do update set
                end_idx = excluded.end_idx, start_char = excluded.start_char,
                end_char = excluded.end_char, decision = excluded.decision,
                memo = coalesce(excluded.memo, memo), coded_at = excluded.coded_at
            """,
            [{**asdict(c), "coded_at": now} for c in rows],
        )
    return len(rows)


def _check(db: sqlite_utils.Database, coding: Coding, themes: set[str]) -> None:
    check_coder(coding.coder)
    if coding.decision not in (APPLIED, REJECTED):
        raise CodingError(f"Unknown decision {coding.decision!r}: use applied or rejected.")
    if coding.theme_id != NO_THEME and coding.theme_id not in themes:
        raise CodingError(
            f"Unknown theme {coding.theme_id!r}: `podinsights themes` lists the codebook's."
        )
    if coding.theme_id == NO_THEME and coding.decision != REJECTED:
        raise CodingError("A decision with no theme says no theme applies: it is a rejection.")
    last = coding.end_idx if coding.end_idx is not None else coding.segment_idx
    if last < coding.segment_idx:
        raise CodingError(f"Segment span {coding.segment_idx}-{last} ends before it starts.")
    texts = dict(
        db.execute(
            "select idx, text from segments where episode_id = ? and idx in (?, ?)",
            [coding.episode_id, coding.segment_idx, last],
        ).fetchall()
    )
    for idx in {coding.segment_idx, last}:
        if idx not in texts:
            raise CodingError(f"Episode {coding.episode_id} has no segment {idx}.")
    _check_chars(coding, texts[coding.segment_idx], texts[last])


def _check_chars(coding: Coding, first: str, last: str) -> None:
    start, end = coding.start_char, coding.end_char
    if start is not None and not 0 <= start <= len(first):
        raise CodingError(f"Character {start} is outside segment {coding.segment_idx}.")
    if end is not None and not 0 <= end <= len(last):
        raise CodingError(f"Character {end} is outside the span's last segment.")
    single = coding.end_idx in (None, coding.segment_idx)
    if single and start is not None and end is not None and end <= start:
        raise CodingError(f"Character range {start}:{end} is empty.")


def read_codings_file(db: sqlite_utils.Database, path: Path, coder: str) -> list[Coding]:
    """Codings from a CSV (header row) or JSON Lines file. Each row names its segment
    ("segment": EPISODE:IDX[-END] or a segment id; or "episode" and "idx"), its "theme"
    and "decision", and may give "memo", "coder" (else `coder`), "start_char", "end_char"."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CodingError(f"Cannot read {path}: {exc.strerror}.") from exc
    rows = _jsonl_rows(text, path) if path.suffix.lower() == ".jsonl" else _csv_rows(text)
    codings = []
    for number, row in rows:
        try:
            codings.append(_coding(db, row, coder))
        except CodingError as exc:
            raise CodingError(f"{path.name} row {number}: {exc}") from None
    return codings


def _jsonl_rows(text: str, path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise CodingError(f"{path.name} line {number} is not JSON.") from None
        if not isinstance(row, dict):
            raise CodingError(f"{path.name} line {number} is not a JSON object.")
        rows.append((number, row))
    return rows


def _csv_rows(text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(text.splitlines())
    return [(number, row) for number, row in enumerate(reader, start=2)]


def _coding(db: sqlite_utils.Database, row: dict[str, Any], coder: str) -> Coding:
    def field(name: str) -> str:
        value = row.get(name)
        return "" if value is None else str(value).strip()

    if field("segment"):
        episode, idx, end = find_segment(db, field("segment"))
    elif field("episode") and field("idx").isdigit():
        episode, idx, end = find_segment(db, f"{field('episode')}:{field('idx')}")
    else:
        raise CodingError("no segment (a segment column, or episode and idx)")
    return Coding(
        coder=check_coder(field("coder") or coder),
        episode_id=episode,
        segment_idx=idx,
        end_idx=end,
        theme_id=field("theme"),
        decision=decision(field("decision") or "applied"),
        memo=field("memo") or None,
        start_char=_number(field("start_char")),
        end_char=_number(field("end_char")),
    )


def _number(value: str) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise CodingError(f"{value!r} is not a character position")
    return int(value)


def coders(db: sqlite_utils.Database) -> list[str]:
    """Every person who has coded, by name."""
    return [row[0] for row in db.execute("select distinct coder from codings order by 1")]


def reviewed_passages(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Training passages from people's reviews (`train-classifier --with-reviews`): each
    reviewed segment's text with the themes people applied there. A segment whose
    themes were all rejected is a passage with none, the near miss a keyword hit makes;
    a theme people disagree on leaves its segment out."""
    passages: dict[int, dict[str, Any]] = {}
    disputed: set[int] = set()
    for segment_id, text, theme, applied, rejected in db.execute(
        """
        select h.segment_id, s.text, h.theme_id, sum(h.decision = 'applied'),
               sum(h.decision = 'rejected')
        from human_codes h join segments s on s.id = h.segment_id
        group by h.segment_id, h.theme_id order by h.segment_id, h.theme_id
        """
    ):
        passage = passages.setdefault(segment_id, {"text": text, "themes": [], "kind": "review"})
        if applied and rejected and theme != NO_THEME:
            disputed.add(segment_id)
        elif applied and theme != NO_THEME:
            passage["themes"].append(theme)
    return [p for segment, p in passages.items() if segment not in disputed]

"""REFI-QDA projects (.qdpx), which NVivo, ATLAS.ti, MAXQDA and QualCoder import.

A .qdpx is a zip of ``project.qde`` (namespace urn:QDA-XML:project:1.0) and a
``Sources/`` folder. Each episode is one TextSource whose plain text (``Sources/<guid>.txt``)
is its transcript, one segment a line: ``[h:mm:ss] Speaker: text``. Every coding is a
PlainTextSelection over exactly its segments' text (offsets in characters, that is
Unicode code points, end exclusive) carrying one Coding by its coder (a User) with a
CodeRef to its theme. Themes are Codes nested under their category (qdc.py); memos are
Notes. The project is streamed: each episode's source goes into the zip as it is made,
and project.qde is written to a temporary file first, so memory stays bounded by one
episode.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree as ET

import sqlite_utils

from pipeline.query.qdc import ORIGIN, QdaError, codebook_codes, guid, theme_guid, xml_text
from pipeline.query.search import Filters, episode_clauses
from pipeline.review.codings import MACHINE, NO_THEME
from pipeline.timecodes import clock
from pipeline.transcribe.guard import SEARCHABLE

log = logging.getLogger(__name__)

PROJECT_NS = "urn:QDA-XML:project:1.0"

__all__ = ["PROJECT_NS", "QdaError", "Stats", "write_qdpx"]


@dataclass
class Selection:
    """One coding: a coder applied a theme to a stretch of an episode's text."""

    coder: str
    theme: str
    start: int  # character offsets into the episode's plain text
    end: int
    created: str | None
    start_time: float
    end_time: float
    memo: str | None = None
    key: tuple[Any, ...] = ()


@dataclass
class Stats:
    episodes: int = 0
    codings: int = 0
    notes: int = 0
    audio: int = 0
    by_coder: dict[str, int] = field(default_factory=dict)


def transcript_text(rows: list[dict[str, Any]]) -> tuple[str, dict[int, tuple[int, int]]]:
    """The source's plain text and, per segment idx, where its text starts and ends."""
    parts, spans, at = [], {}, 0
    for row in rows:
        speaker = f"{row['speaker']}: " if row["speaker"] else ""
        prefix = f"[{clock(row['start_time'])}] {speaker}"
        start = at + len(prefix)
        spans[row["idx"]] = (start, start + len(row["text"]))
        line = f"{prefix}{row['text']}\n"
        parts.append(line)
        at += len(line)
    return "".join(parts), spans


def write_qdpx(
    db: sqlite_utils.Database,
    path: Path,
    filters: Filters | None = None,
    *,
    audio_dir: Path | None = None,
) -> Stats:
    """Every transcribed episode the filters keep, with every coding (the machine's and
    people's) as a REFI-QDA project. With `audio_dir` (the data folder), an episode whose
    audio file is there becomes an AudioSource with its transcript and sync points."""
    episodes = _episodes(db, filters or Filters())
    if not episodes:
        raise QdaError("No transcribed episode matches: nothing to export.")
    stats = Stats()
    part = path.with_name(path.name + ".part")
    try:
        with (
            zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as archive,
            tempfile.TemporaryFile("w+b", dir=path.parent) as qde,
        ):
            _write_project(db, episodes, archive, qde, audio_dir, stats)
            qde.seek(0)
            with archive.open("project.qde", "w", force_zip64=True) as target:
                while chunk := qde.read(1 << 20):
                    target.write(chunk)
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return stats


def _episodes(db: sqlite_utils.Database, filters: Filters) -> list[dict[str, Any]]:
    params: dict[str, Any] = {}
    where = " and ".join(episode_clauses(filters, params)) or "1"
    return list(
        db.query(
            f"""
            select e.id, e.title, e.published, e.audio_path, coalesce(f.title, f.url) as show
            from episodes e join feeds f on f.id = e.feed_id
            where {where} and exists (select 1 from segments s where s.episode_id = e.id)
            order by e.published, e.id
            """,
            params,
        )
    )


VARIABLES = (("show", "Text"), ("published", "Date"), ("people", "Text"), ("episode id", "Text"))


def _write_project(
    db: sqlite_utils.Database,
    episodes: list[dict[str, Any]],
    archive: zipfile.ZipFile,
    qde: IO[bytes],
    audio_dir: Path | None,
    stats: Stats,
) -> None:
    coders = [MACHINE, *(c for c in _coders(db) if c != MACHINE)]
    qde.write(b'<?xml version="1.0" encoding="utf-8"?>\n')
    qde.write(
        f'<Project xmlns="{PROJECT_NS}" name="podinsights" origin="{ORIGIN}"'
        f' creatingUserGUID="{guid("user", MACHINE)}">'.encode()
    )
    users = ET.Element("Users")
    for name in coders:
        ET.SubElement(users, "User", guid=guid("user", name), name=xml_text(name))
    book = ET.Element("CodeBook")
    book.append(codebook_codes(db))
    variables = ET.Element("Variables")
    for name, kind in VARIABLES:
        ET.SubElement(
            variables, "Variable", guid=guid("variable", name), name=name, typeOfVariable=kind
        )
    for element in (users, book, variables):
        qde.write(ET.tostring(element, encoding="utf-8"))
    qde.write(b"<Sources>")
    notes: list[ET.Element] = []
    for episode in episodes:
        source = _source(db, episode, archive, audio_dir, notes, stats)
        qde.write(ET.tostring(source, encoding="utf-8"))
        stats.episodes += 1
    qde.write(b"</Sources>")
    if notes:
        qde.write(b"<Notes>")
        for note in notes:
            qde.write(ET.tostring(note, encoding="utf-8"))
        qde.write(b"</Notes>")
    qde.write(b"</Project>")
    stats.notes = len(notes)


def _coders(db: sqlite_utils.Database) -> list[str]:
    return [row[0] for row in db.execute("select distinct coder from codings order by 1")]


def _source(
    db: sqlite_utils.Database,
    episode: dict[str, Any],
    archive: zipfile.ZipFile,
    audio_dir: Path | None,
    notes: list[ET.Element],
    stats: Stats,
) -> ET.Element:
    rows = _segments(db, episode["id"])
    text, spans = transcript_text(rows)
    selections = list(_selections(db, episode["id"], rows, spans))
    audio = _audio_file(episode, audio_dir)
    if audio:
        source = _audio_source(episode, audio, text, selections, archive, notes)
        stats.audio += 1
    else:
        source = _text_source(episode, text, selections, archive, notes)
    for rejected in _rejection_notes(db, episode["id"], rows, notes):
        ET.SubElement(source, "NoteRef", targetGUID=rejected)
    _variable_values(db, source, episode)
    stats.codings += len(selections)
    for selection in selections:
        stats.by_coder[selection.coder] = stats.by_coder.get(selection.coder, 0) + 1
    return source


def _segments(db: sqlite_utils.Database, episode_id: str) -> list[dict[str, Any]]:
    marks = ",".join("?" * len(SEARCHABLE))
    return list(
        db.query(
            "select idx, start_time, end_time, speaker, text from segments"
            f" where episode_id = ? and quality in ({marks}) order by idx",
            [episode_id, *SEARCHABLE],
        )
    )


def _selections(
    db: sqlite_utils.Database,
    episode_id: str,
    rows: list[dict[str, Any]],
    spans: dict[int, tuple[int, int]],
) -> Iterator[Selection]:
    times = {row["idx"]: (row["start_time"], row["end_time"]) for row in rows}
    analysed = db.execute(
        "select analysed_at from analyses where episode_id = ?", [episode_id]
    ).fetchone()
    for idx, theme in db.execute(
        "select segment_idx, theme_id from machine_codes where episode_id = ? order by 1, 2",
        [episode_id],
    ):
        if idx in spans:
            start, end = spans[idx]
            yield Selection(
                MACHINE,
                theme,
                start,
                end,
                analysed[0] if analysed else None,
                *times[idx],
                key=(MACHINE, episode_id, idx, theme),
            )
    for coding in db.query(
        "select * from codings where episode_id = ? and decision = 'applied'"
        " and theme_id <> ? order by segment_idx, coder, theme_id",
        [episode_id, NO_THEME],
    ):
        first, last = coding["segment_idx"], coding["end_idx"] or coding["segment_idx"]
        if first not in spans or last not in spans:
            log.warning("coding %s: its segments are no longer searchable", coding["id"])
            continue
        start = spans[first][0] + (coding["start_char"] or 0)
        end = spans[last][1] if coding["end_char"] is None else spans[last][0] + coding["end_char"]
        yield Selection(
            coding["coder"],
            coding["theme_id"],
            start,
            end,
            coding["coded_at"],
            times[first][0],
            times[last][1],
            coding["memo"],
            key=(coding["coder"], episode_id, first, coding["theme_id"]),
        )


def _selection_element(tag: str, selection: Selection, notes: list[ET.Element]) -> ET.Element:
    user = guid("user", selection.coder)
    element = ET.Element(tag, guid=guid("selection", *selection.key), creatingUser=user)
    coding = ET.SubElement(
        element, "Coding", guid=guid("coding", *selection.key), creatingUser=user
    )
    if selection.created:
        element.set("creationDateTime", selection.created)
        coding.set("creationDateTime", selection.created)
    ET.SubElement(coding, "CodeRef", targetGUID=theme_guid(selection.theme))
    if selection.memo:
        note = _note(("memo", *selection.key), selection.coder, selection.created, selection.memo)
        notes.append(note)
        ET.SubElement(element, "NoteRef", targetGUID=note.get("guid", ""))
    return element


def _note(key: tuple[Any, ...], coder: str, created: str | None, text: str) -> ET.Element:
    note = ET.Element(
        "Note",
        guid=guid("note", *key),
        name=f"Memo by {xml_text(coder)}",
        creatingUser=guid("user", coder),
    )
    if created:
        note.set("creationDateTime", created)
    ET.SubElement(note, "PlainTextContent").text = xml_text(text)
    return note


def _rejection_notes(
    db: sqlite_utils.Database,
    episode_id: str,
    rows: list[dict[str, Any]],
    notes: list[ET.Element],
) -> list[str]:
    """A rejection is no coding in REFI-QDA; a memo written on one is kept as a note on
    the source, saying what was rejected where."""
    times = {row["idx"]: row["start_time"] for row in rows}
    refs = []
    for coding in db.query(
        "select * from codings where episode_id = ? and decision = 'rejected'"
        " and memo is not null order by segment_idx, coder",
        [episode_id],
    ):
        what = coding["theme_id"] or "every theme"
        at = clock(times.get(coding["segment_idx"], 0))
        text = f"Rejected {what} at {at} (segment {coding['segment_idx']}): {coding['memo']}"
        key = ("rejected", coding["coder"], episode_id, coding["segment_idx"], what)
        notes.append(_note(key, coding["coder"], coding["coded_at"], text))
        refs.append(notes[-1].get("guid", ""))
    return refs


def _text_source(
    episode: dict[str, Any],
    text: str,
    selections: list[Selection],
    archive: zipfile.ZipFile,
    notes: list[ET.Element],
) -> ET.Element:
    source_guid = guid("source", episode["id"])
    archive.writestr(f"Sources/{source_guid}.txt", text.encode("utf-8"))
    source = ET.Element(
        "TextSource",
        guid=source_guid,
        name=_source_name(episode),
        plainTextPath=f"internal://{source_guid}.txt",
    )
    for selection in selections:
        element = _selection_element("PlainTextSelection", selection, notes)
        element.set("name", f"{selection.theme} ({selection.coder})")
        element.set("startPosition", str(selection.start))
        element.set("endPosition", str(selection.end))
        source.append(element)
    return source


def _audio_file(episode: dict[str, Any], audio_dir: Path | None) -> Path | None:
    if audio_dir is None or not episode["audio_path"]:
        return None
    path = audio_dir / episode["audio_path"]
    return path if path.is_file() else None


def _audio_source(
    episode: dict[str, Any],
    audio: Path,
    text: str,
    selections: list[Selection],
    archive: zipfile.ZipFile,
    notes: list[ET.Element],
) -> ET.Element:
    """The audio itself, with the transcript as its Transcript: a SyncPoint (milliseconds,
    character position) at each end of every coding, a TranscriptSelection between them."""
    source_guid = guid("audio", episode["id"])
    transcript_guid = guid("transcript", episode["id"])
    archive.write(audio, f"Sources/{source_guid}{audio.suffix}")
    archive.writestr(f"Sources/{transcript_guid}.txt", text.encode("utf-8"))
    source = ET.Element(
        "AudioSource",
        guid=source_guid,
        name=_source_name(episode),
        path=f"internal://{source_guid}{audio.suffix}",
    )
    transcript = ET.SubElement(
        source,
        "Transcript",
        guid=transcript_guid,
        name=_source_name(episode),
        plainTextPath=f"internal://{transcript_guid}.txt",
    )
    marked = []
    for selection in selections:
        points = []
        for end, (seconds, position) in enumerate(
            ((selection.start_time, selection.start), (selection.end_time, selection.end))
        ):
            point = guid("sync", end, *selection.key)
            ET.SubElement(
                transcript,
                "SyncPoint",
                guid=point,
                timeStamp=str(round(seconds * 1000)),
                position=str(position),
            )
            points.append(point)
        element = _selection_element("TranscriptSelection", selection, notes)
        element.set("name", f"{selection.theme} ({selection.coder})")
        element.set("fromSyncPoint", points[0])
        element.set("toSyncPoint", points[1])
        marked.append(element)
    transcript.extend(marked)  # after every SyncPoint, as the schema's sequence wants
    return source


def _source_name(episode: dict[str, Any]) -> str:
    date = (episode["published"] or "")[:10]
    return xml_text(f"{episode['show']} — {episode['title'] or episode['id']} ({date})")


def _variable_values(
    db: sqlite_utils.Database, source: ET.Element, episode: dict[str, Any]
) -> None:
    people = ", ".join(
        f"{row[0]} ({row[1]})"
        for row in db.execute(
            "select p.name, ep.role from episode_people ep join people p on p.id = ep.person_id"
            " where ep.episode_id = ? and ep.role in ('host', 'guest')"
            " order by ep.role = 'guest', p.name",
            [episode["id"]],
        )
    )
    date = (episode["published"] or "")[:10]
    values = {
        "show": episode["show"],
        "published": date if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else None,
        "people": people,
        "episode id": episode["id"],
    }
    for name, kind in VARIABLES:
        if not values[name]:
            continue
        value = ET.SubElement(source, "VariableValue")
        ET.SubElement(value, "VariableRef", targetGUID=guid("variable", name))
        ET.SubElement(value, f"{kind}Value").text = xml_text(values[name])

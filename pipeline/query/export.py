"""An episode's transcript as SRT, WebVTT, Podcasting 2.0 JSON or cited Markdown."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlite_utils

from pipeline.errors import PipelineError
from pipeline.query.search import audio_link
from pipeline.store.episodes import find_episode
from pipeline.timecodes import clock, stamp
from pipeline.transcribe.guard import SEARCHABLE

FORMATS = ("srt", "vtt", "json", "md")


class ExportError(PipelineError):
    pass


def transcript_rows(db: sqlite_utils.Database, episode_id: str) -> list[dict[str, Any]]:
    """The episode's searchable segments in order, each with its themes."""
    marks = ",".join("?" * len(SEARCHABLE))
    rows = list(
        db.query(
            f"""
            select s.*, (select group_concat(distinct m.theme_id) from theme_mentions m
                         where m.segment_id = s.id) as theme_ids
            from segments s where s.episode_id = ? and s.quality in ({marks})
            order by s.idx
            """,
            [episode_id, *SEARCHABLE],
        )
    )
    for row in rows:
        ids = row.pop("theme_ids")
        row["themes"] = sorted(ids.split(",")) if ids else []
    return rows


def episode_context(db: sqlite_utils.Database, ident: str) -> dict[str, Any]:
    episode = find_episode(db, ident)
    feed = db.table("feeds").get(episode["feed_id"])
    return {**episode, "show": feed["title"] or feed["url"]}


def to_srt(episode: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    cues = []
    for number, row in enumerate(rows, start=1):
        speaker = f"{row['speaker']}: " if row["speaker"] else ""
        cues.append(
            f"{number}\n{stamp(row['start_time'], ',')} --> {stamp(row['end_time'], ',')}\n"
            f"{speaker}{row['text']}\n"
        )
    return "\n".join(cues)


def to_vtt(episode: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    cues = ["WEBVTT", ""]
    for row in rows:
        text = _vtt_escape(row["text"])
        voice = f"<v {_vtt_escape(row['speaker'])}>" if row["speaker"] else ""
        cues += [
            f"{stamp(row['start_time'], '.')} --> {stamp(row['end_time'], '.')}",
            f"{voice}{text}",
            "",
        ]
    return "\n".join(cues)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("-->", "->")


def to_json(episode: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The Podcasting 2.0 transcript format (application/json)."""
    segments = []
    for row in rows:
        segment: dict[str, Any] = {
            "startTime": round(row["start_time"], 3),
            "endTime": round(row["end_time"], 3),
            "body": row["text"],
        }
        if row["speaker"]:
            segment = {"speaker": row["speaker"], **segment}
        segments.append(segment)
    return json.dumps({"version": "1.0.0", "segments": segments}, indent=2, ensure_ascii=False)


def to_markdown(episode: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """Quotes with a citation line each: show, episode, date, and a timestamped link."""
    date = (episode.get("published") or "")[:10]
    lines = [f"# {episode['title']}", "", f"*{episode['show']}*, {date}", ""]
    for row in rows:
        speaker = f"**{row['speaker']}:** " if row["speaker"] else ""
        link = audio_link(episode.get("enclosure_url"), row["start_time"])
        at = f"[{clock(row['start_time'])}]({link})" if link else clock(row["start_time"])
        themes = f" Themes: {', '.join(row['themes'])}." if row["themes"] else ""
        lines += [
            f"> {speaker}{row['text']}",
            ">",
            f"> — {episode['show']}, “{episode['title']}”, {date}, {at}.{themes}",
            "",
        ]
    return "\n".join(lines)


WRITERS: dict[str, Callable[[dict[str, Any], list[dict[str, Any]]], str]] = {
    "srt": to_srt,
    "vtt": to_vtt,
    "json": to_json,
    "md": to_markdown,
}


def export_episode(db: sqlite_utils.Database, ident: str, fmt: str) -> str:
    if fmt not in WRITERS:
        raise ExportError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
    episode = episode_context(db, ident)
    rows = transcript_rows(db, episode["id"])
    if not rows:
        raise ExportError(f"Episode {episode['id']} has no transcript yet: run transcribe.")
    return WRITERS[fmt](episode, rows)


def export_all(db: sqlite_utils.Database, folder: Path) -> list[Path]:
    """Every transcribed episode in every format: <folder>/<episode id>.<format>."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for (episode_id,) in db.execute("select distinct episode_id from segments order by 1"):
        for fmt in FORMATS:
            path = folder / f"{episode_id}.{fmt}"
            path.write_text(export_episode(db, episode_id, fmt), encoding="utf-8")
            written.append(path)
    return written

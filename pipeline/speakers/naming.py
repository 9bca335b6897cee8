"""Names on voices: which diarized speaker is which person, and a voiceprint registry.

A speaker is named, in order of trust, by introducing themselves ("I'm Tony Marino"),
by being addressed ("Thanks, Tony." names whoever spoke just before), by a voiceprint
from an earlier episode, or by the feed's roles (the host talks most). The rest stay
"Speaker 1", "Speaker 2". Names from introductions, addresses and corrections teach the
registry, so the same voice is recognised in later episodes without an introduction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlite_utils

from pipeline.analysis.people import (
    GUEST,
    HOST,
    MENTIONED,
    NAME,
    feed_role,
    own_names,
    same_person,
    split_name,
)
from pipeline.errors import PipelineError
from pipeline.models import Segment, segment_from_row, words_json
from pipeline.speakers.diarize import LOW_CONFIDENCE, Diarization, default_names
from pipeline.store.db import transaction, utcnow

VOICE_MATCH = 0.92  # cosine similarity that names a voice: demo same-voice >= 0.99, others <= 0.86
TRUSTED = ("introduction", "address", "correction")  # sources that teach the registry
GREETING = r"(?:thanks|thank you|hi|hello|hey|welcome back|welcome|so|well|great|yes|right)"
ADDRESS = re.compile(rf"^(?:{GREETING},?\s+)?{NAME}[,.!?]")


class SpeakerError(PipelineError):
    pass


@dataclass
class Named:
    name: str
    source: str  # introduction, address, voiceprint, feed-role, correction, unresolved


def _labels(segments: list[Segment], diarization: Diarization) -> list[str | None]:
    """The diarized label of each segment: by its middle, or, when channels were split,
    from the channel it was transcribed from ("Speaker 2" is S2)."""
    if diarization.by_channel:
        return [f"S{s.speaker.split()[-1]}" if s.speaker else None for s in segments]
    return [diarization.label_at((s.start + s.end) / 2) for s in segments]


def _known(persons: list[dict[str, Any]], name: str) -> str | None:
    """The feed's spelling of a name, if a feed person fits it; else None."""
    for person in persons:
        full, aliases = split_name(person.get("name", ""))
        if any(same_person(name, candidate) for candidate in (full, *aliases)):
            return full
    return None


def name_speakers(
    db: sqlite_utils.Database,
    persons: list[dict[str, Any]],
    segments: list[Segment],
    diarization: Diarization,
) -> dict[str, Named]:
    labels = _labels(segments, diarization)
    named: dict[str, Named] = {}

    def give(label: str | None, name: str | None, source: str) -> None:
        if label and name and label not in named and name not in {n.name for n in named.values()}:
            named[label] = Named(name, source)

    for label, segment in zip(labels, segments, strict=True):
        for said in own_names(segment.text):
            give(
                label,
                _known(persons, said) or (said if len(said.split()) > 1 else None),
                "introduction",
            )
    for index, (label, segment) in enumerate(zip(labels, segments, strict=True)):
        address = ADDRESS.match(segment.text.strip())
        previous = next((labels[i] for i in range(index - 1, -1, -1) if labels[i] != label), None)
        if address and previous:
            give(previous, _known(persons, address.group("name")), "address")
    talk = diarization.talk_time()
    for label in sorted(talk, key=lambda x: -talk[x]):
        if label not in named and diarization.centroids.get(label):
            give(label, _voiceprint(db, diarization.centroids[label]), "voiceprint")
    _by_role(persons, talk, named, give)
    defaults = default_names(diarization)
    return {label: named.get(label, Named(defaults[label], "unresolved")) for label in talk}


def _by_role(
    persons: list[dict[str, Any]], talk: dict[str, float], named: dict[str, Named], give: Any
) -> None:
    """The feed's host is whoever talks most among those still unnamed; a lone guest left
    over is the one voice left over."""
    taken = {n.name for n in named.values()}
    open_labels = [label for label in sorted(talk, key=lambda x: -talk[x]) if label not in named]
    hosts = [split_name(p["name"])[0] for p in persons if feed_role(p.get("role")) == HOST]
    guests = [split_name(p["name"])[0] for p in persons if feed_role(p.get("role")) == GUEST]
    for host in hosts[:1]:
        if host not in taken and open_labels:
            give(open_labels.pop(0), host, "feed-role")
    left = [g for g in guests if g not in {n.name for n in named.values()}]
    if len(left) == 1 and len(open_labels) == 1:
        give(open_labels[0], left[0], "feed-role")


def _voiceprint(db: sqlite_utils.Database, centroid: list[float]) -> str | None:
    vector = np.array(centroid, np.float32)
    best, score = None, VOICE_MATCH
    for row in db.query("select name, embedding from voiceprints"):
        print_ = np.array(json.loads(row["embedding"]), np.float32)
        similarity = float(vector @ print_ / (np.linalg.norm(vector) * np.linalg.norm(print_)))
        if similarity >= score:
            best, score = row["name"], similarity
    return best


def teach(db: sqlite_utils.Database, name: str, centroid: list[float] | None) -> None:
    """Fold a voice into the person's voiceprint (a running mean of their episodes)."""
    if not centroid:
        return
    vector = np.array(centroid, np.float32)
    row = next(db.query("select * from voiceprints where name = ?", [name]), None)
    samples = 1
    if row:
        samples = row["samples"] + 1
        old = np.array(json.loads(row["embedding"]), np.float32)
        vector = old + (vector - old) / samples
    db.table("voiceprints").upsert(
        {
            "name": name,
            "embedding": json.dumps([round(float(x), 6) for x in vector]),
            "samples": samples,
            "updated_at": utcnow(),
        },
        pk="name",
    )


def speaker_rows(
    episode_id: str, diarization: Diarization, names: dict[str, Named]
) -> list[dict[str, Any]]:
    talk, uncertain = diarization.talk_time(), diarization.uncertain_time()
    return [
        {
            "episode_id": episode_id,
            "label": label,
            "name": names[label].name,
            "source": names[label].source,
            "talk_time": round(talk.get(label, 0.0), 2),
            "uncertain_time": round(uncertain.get(label, 0.0), 2),
            "centroid": json.dumps(diarization.centroids[label])
            if diarization.centroids.get(label)
            else None,
        }
        for label in names
    ]


def save_speakers(db: sqlite_utils.Database, episode_id: str, rows: list[dict[str, Any]]) -> None:
    """Inside the caller's transaction: the episode's speakers, and what they teach."""
    db.execute("delete from episode_speakers where episode_id = ?", [episode_id])
    db.table("episode_speakers").insert_all(rows)
    for row in rows:
        if row["source"] in TRUSTED:
            teach(db, row["name"], json.loads(row["centroid"]) if row["centroid"] else None)


def sync_mention_speakers(db: sqlite_utils.Database, episode_id: str) -> None:
    """Theme mentions carry the speaker of their segment, where diarization is sure of
    it; the rest count as unattributed (a voice split in two, or a turn near a change of
    speaker, must not be credited with what someone else said)."""
    db.execute(
        "update theme_mentions set speaker = (select case when s.speaker_confidence is null"
        " or s.speaker_confidence >= ? then s.speaker end from segments s where s.id = segment_id)"
        " where episode_id = ?",
        [LOW_CONFIDENCE, episode_id],
    )


def expected_speakers(persons: list[dict[str, Any]]) -> int | None:
    """How many people the feed says speak in the episode (hosts, co-hosts, guests, and
    persons with no role, whom the namespace makes hosts): a prior for diarization's
    count, None when the feed is silent."""
    speaking = {
        p.get("name") for p in persons if not p.get("role") or feed_role(p["role"]) != MENTIONED
    }
    return len(speaking) or None


def rename(db: sqlite_utils.Database, episode_id: str, old: str, new: str, source: str) -> None:
    """Call one of an episode's speakers by another name, everywhere it appears."""
    db.execute(
        "update episode_speakers set name = ?, source = ? where episode_id = ? and name = ?",
        [new, source, episode_id, old],
    )
    db.execute(
        "update segments set speaker = ? where episode_id = ? and speaker = ?",
        [new, episode_id, old],
    )
    for row in list(
        db.query(
            "select id, words from segments where episode_id = ? and words like ?",
            [episode_id, f"%{json.dumps(old)}%"],
        )
    ):
        words = [
            w[:4] + [new] if len(w) > 4 and w[4] == old else w for w in json.loads(row["words"])
        ]
        db.execute("update segments set words = ? where id = ?", [json.dumps(words), row["id"]])
    sync_mention_speakers(db, episode_id)


def correct(db: sqlite_utils.Database, episode_id: str, old: str, new: str) -> dict[str, Any]:
    """A user's correction: rename, and teach the registry this voice is ``new``."""
    row = next(
        db.query(
            "select * from episode_speakers where episode_id = ? and name = ?", [episode_id, old]
        ),
        None,
    )
    if row is None:
        known = [
            r["name"]
            for r in db.query(
                "select name from episode_speakers where episode_id = ?", [episode_id]
            )
        ]
        raise SpeakerError(
            f"Episode {episode_id} has no speaker {old!r}"
            + (f": its speakers are {', '.join(known)}." if known else ": run diarize first.")
        )
    with transaction(db):
        rename(db, episode_id, old, new, "correction")
        teach(db, new, json.loads(row["centroid"]) if row["centroid"] else None)
    return {**row, "name": new, "source": "correction"}


def recognise_again(db: sqlite_utils.Database) -> int:
    """Voices named only by role, or not at all, checked again against the registry
    (which later episodes may have taught); returns how many were renamed."""
    renamed = 0
    rows = list(
        db.query(
            "select * from episode_speakers where source in ('feed-role', 'unresolved')"
            " and centroid is not null"
        )
    )
    for row in rows:
        name = _voiceprint(db, json.loads(row["centroid"]))
        taken = {
            r["name"]
            for r in db.query(
                "select name from episode_speakers where episode_id = ? and label != ?",
                [row["episode_id"], row["label"]],
            )
        }
        if name and name not in taken and name != row["name"]:
            with transaction(db):
                rename(db, row["episode_id"], row["name"], name, "voiceprint")
            renamed += 1
        elif name == row["name"]:
            db.execute(
                "update episode_speakers set source = 'voiceprint' where episode_id = ?"
                " and label = ?",
                [row["episode_id"], row["label"]],
            )
    return renamed


def speakers_summary(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return list(
        db.query(
            """
        select s.name, e.id as episode_id, e.title as episode, s.label, s.source,
               round(s.talk_time, 1) as talk_time,
               round(coalesce(s.uncertain_time / nullif(s.talk_time, 0), 0), 2) as uncertain
        from episode_speakers s join episodes e on e.id = s.episode_id
        order by s.name, e.published
        """
        )
    )


def pending_diarization(db: sqlite_utils.Database, force: bool = False) -> list[dict[str, Any]]:
    """Whisper-transcribed episodes with audio and (unless force) no speakers yet."""
    done = "" if force else "and e.id not in (select episode_id from episode_speakers)"
    return list(
        db.query(
            f"select e.* from episodes e join transcripts t on t.episode_id = e.id"
            f" where t.source = 'whisper' and e.audio_path is not null {done} order by e.published"
        )
    )


def diarize_episodes(
    db: sqlite_utils.Database, data_dir: Any, *, force: bool = False, limit: int | None = None
) -> Iterator[tuple[dict[str, Any], dict[str, Named]]]:
    """Diarize transcribed episodes, oldest first (so voiceprints build up in order), name
    the voices and put the names on their segments, words and theme mentions."""
    from pipeline.speakers.diarize import VoiceEncoder, assign_speakers, diarize_file

    episodes = pending_diarization(db, force)[:limit]
    if not episodes:
        return
    encoder = VoiceEncoder()
    for episode in episodes:
        persons = json.loads(episode.get("persons") or "[]")
        diarization = diarize_file(
            data_dir / episode["audio_path"], encoder, expected=expected_speakers(persons)
        )
        rows = list(
            db.query("select * from segments where episode_id = ? order by idx", [episode["id"]])
        )
        segments = [segment_from_row(row) for row in rows]
        names = name_speakers(db, persons, segments, diarization)
        assign_speakers(segments, diarization, {k: v.name for k, v in names.items()})
        with transaction(db):
            for row, segment in zip(rows, segments, strict=True):
                db.execute(
                    "update segments set speaker = ?, speaker_confidence = ?, words = ?"
                    " where id = ?",
                    [
                        segment.speaker,
                        segment.speaker_confidence,
                        words_json(segment.words),
                        row["id"],
                    ],
                )
            save_speakers(db, episode["id"], speaker_rows(episode["id"], diarization, names))
            sync_mention_speakers(db, episode["id"])
        yield episode, names
    recognise_again(db)

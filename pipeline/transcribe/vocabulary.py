"""The words Whisper should expect in an episode, given to it as a prompt.

Whisper spells what it cannot place by ear ("a jailer" for Ira Chaleff, "prime artist"
for pragmatist). Names from the episode's ``podcast:person`` tags and its show notes,
the codebook's key terms (a ``vocabulary`` list per theme) and the user's own list
(``vocabulary.txt`` beside the codebook) tell it which spellings to prefer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

USER_FILE = "vocabulary.txt"
# Whisper keeps at most 223 prompt tokens; a glossary entry is about 3 tokens, and a
# shorter prompt leaves the decoder its attention for the audio (docs/benchmarks.md).
MAX_TERMS = 40
PREFIX = "Glossary:"

# "Antonio (Tony) Marino" -> the full name and the nickname with the surname.
_NICKNAME = re.compile(r"\b([A-Z][\w'’-]+) \(([A-Z][\w'’-]+)\) ([A-Z][\w'’-]+)")
# Two or more capitalised words in a row: a name ("Priya Shah", "Ira Chaleff").
_NAME = re.compile(r"\b[A-Z][a-z][\w'’-]*(?: (?:van |de |da |von )?[A-Z][a-z][\w'’-]*)+")
_POSSESSIVE = re.compile(r"['’]s$")


def names_in_notes(notes: str | None) -> list[str]:
    """Name-like runs of capitalised words in show notes, nicknames unfolded."""
    if not notes:
        return []
    text = re.sub(r"<[^>]+>", " ", notes)
    found: list[str] = []
    for full, nick, surname in _NICKNAME.findall(text):
        found += [f"{full} {surname}", f"{nick} {surname}"]
    text = _NICKNAME.sub(lambda m: f"{m[1]} {m[3]}", text)
    for sentence in re.split(r"(?<=[.!?:;])\s+|\n", text):
        for match in _NAME.finditer(sentence):
            words = match.group().split()
            if match.start() == 0 and len(words) == 2 and words[0].lower() in _OPENERS:
                continue  # "Sales director", "Organisational psychologist" open sentences
            found.append(_POSSESSIVE.sub("", match.group()))
    return found


# Capitalised only because they open a sentence.
_OPENERS = {"sales", "organisational", "organizational", "this", "today", "in", "on", "the"}


def feed_people(persons: str | Sequence[dict[str, Any]] | None) -> list[str]:
    """Names from ``podcast:person`` tags (stored as JSON on the episode)."""
    if isinstance(persons, str):
        try:
            persons = json.loads(persons)
        except ValueError:
            return []
    if not isinstance(persons, list | tuple):
        return []  # not the list the feed parser stores: no names, not a failed night
    return [str(p["name"]) for p in persons if isinstance(p, dict) and p.get("name")]


def feed_names(feed: dict[str, Any]) -> list[str]:
    """The show's own names: its author, and names in its description."""
    author = [feed["author"]] if feed.get("author") else []
    return [*author, *names_in_notes(feed.get("description"))]


def load_user_vocabulary(path: Path | None) -> list[str]:
    """One term a line; blank lines and lines starting with # are ignored."""
    if path is None or not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def episode_vocabulary(
    episode: dict[str, Any], terms: Iterable[str] = (), feed: dict[str, Any] | None = None
) -> list[str]:
    """The episode's names first (its own tags, then its show notes, then the show's),
    then the codebook's and user's terms; each once."""
    names = [
        *feed_people(episode.get("persons")),
        *names_in_notes(episode.get("description")),
        *feed_names(feed or {}),
    ]
    return unique([*names, *terms])


def transcription_terms(codebook: Path | None = None) -> list[str]:
    """The codebook's vocabulary, then the user's list beside it."""
    from pipeline.analysis.codebook import load_codebook

    book = load_codebook(codebook, validate=False)
    return unique([*book.vocabulary, *load_user_vocabulary(book.path.parent / USER_FILE)])


def unique(words: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for word in words:
        word = " ".join(word.split())
        if word and word.lower() not in seen:
            seen.add(word.lower())
            kept.append(word)
    return kept


def prompt(words: Sequence[str]) -> str | None:
    """The glossary as Whisper reads a prompt: text said just before this audio."""
    return f"{PREFIX} {', '.join(words[:MAX_TERMS])}." if words else None

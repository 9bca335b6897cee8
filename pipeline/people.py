"""People: who is named in an episode, merged across spellings, with a role.

Names come from the feed's ``podcast:person`` tags, the show notes and the
transcript (spaCy PERSON entities and speaker labels). "Antonio (Tony) Belgrave",
"Tony Belgrave" and "Antonio Belgrave" are one person. Roles: the feed's, else how
the person is introduced ("I'm your host ...", "my guest today is ...",
"joined by ...", "led by ..."), else "mentioned".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

HOST, GUEST, MENTIONED = "host", "guest", "mentioned"
RANK = {HOST: 0, GUEST: 1, MENTIONED: 2}

# Common English nicknames, so "Tony Belgrave" and "Antonio Belgrave" meet.
NICKNAMES = {
    "tony": {"antonio", "anthony"},
    "bill": {"william"},
    "will": {"william"},
    "bob": {"robert"},
    "rob": {"robert"},
    "bobby": {"robert"},
    "mike": {"michael"},
    "chris": {"christopher", "christine", "christina"},
    "jim": {"james"},
    "jimmy": {"james"},
    "kate": {"katherine", "kathryn", "catherine"},
    "katie": {"katherine", "catherine"},
    "liz": {"elizabeth"},
    "beth": {"elizabeth"},
    "alex": {"alexander", "alexandra"},
    "sam": {"samuel", "samantha"},
    "dan": {"daniel"},
    "danny": {"daniel"},
    "jon": {"jonathan"},
    "john": {"jonathan"},
    "nick": {"nicholas"},
    "tom": {"thomas"},
    "matt": {"matthew"},
    "andy": {"andrew"},
    "drew": {"andrew"},
    "jen": {"jennifer"},
    "jenny": {"jennifer"},
    "ben": {"benjamin"},
    "joe": {"joseph"},
    "steve": {"stephen", "steven"},
    "dave": {"david"},
    "ed": {"edward"},
    "ted": {"edward"},
    "pat": {"patrick", "patricia"},
    "rick": {"richard"},
    "dick": {"richard"},
    "rich": {"richard"},
    "greg": {"gregory"},
    "jeff": {"jeffrey"},
    "sue": {"susan"},
    "meg": {"margaret"},
    "maggie": {"margaret"},
    "peggy": {"margaret"},
    "vicky": {"victoria"},
    "nat": {"natalie", "nathan"},
}
TITLES = {"dr", "mr", "mrs", "ms", "miss", "prof", "professor", "sir", "dame", "md", "phd"}

I_AM = r"(?:I'm|I am|this is|my name is)"
NAME = r"(?P<name>[A-Z][\w'’.-]+(?:\s+\([A-Z][\w'’-]+\))?(?:\s+[A-Z][\w'’-]+){0,2})"
INTRODUCTIONS = [
    (HOST, rf"\b{I_AM}\s+your\s+host,?\s+{NAME}"),
    (
        HOST,
        rf"\b{I_AM}\s+{NAME},?\s+(?:and\s+)?(?:I'm\s+|I am\s+)?your\s+host",
    ),
    (HOST, rf"\byour\s+host(?:\s+for\s+(?:today|tonight))?,?\s+{NAME}"),
    (HOST, rf"\bhosted\s+by\s+{NAME}"),
    (HOST, rf"\bthanks?(?:\s+you)?\s+for\s+having\s+me,?\s+{NAME}"),
    (
        GUEST,
        rf"\bmy\s+guests?(?:\s+(?:today|this\s+week|on\s+the\s+show))?\s+(?:is|are)\s+(?:the\s+\w+\s+)?{NAME}",
    ),
    (
        GUEST,
        rf"\b(?:I'm|I am|we're|we are)\s+joined\s+(?:\w+\s+)?by\s+(?:the\s+\w+\s+)?{NAME}",
    ),
    (GUEST, rf"\bjoined\s+(?:today\s+)?by\s+(?:the\s+\w+\s+)?{NAME}"),
    (GUEST, rf"\bwith\s+me\s+(?:today|in\s+the\s+studio|here)\s+(?:is|are)\s+{NAME}"),
    (GUEST, rf"\bled\s+by\s+(?:the\s+\w+\s+)?{NAME}"),
    (GUEST, rf"\b(?:please\s+)?welcome(?:\s+to\s+the\s+show)?,?\s+{NAME}"),
    (GUEST, rf"\bour\s+guests?\s+(?:today\s+)?(?:is|are)\s+{NAME}"),
]
SELF_INTRODUCTION = rf"(?:^|[.!?]\s+|,\s+|\b(?:hi|hello|hey),?\s+(?:\w+,?\s+)?){I_AM}\s+{NAME}"


@dataclass
class Person:
    """One person within one episode (or one text)."""

    name: str
    aliases: set[str] = field(default_factory=set)
    role: str = MENTIONED
    role_from_feed: bool = False
    mentions: int = 0
    sources: set[str] = field(default_factory=set)

    def names(self) -> set[str]:
        return {self.name, *self.aliases}


def split_name(raw: str) -> tuple[str, set[str]]:
    """'Antonio (Tony) Belgrave' -> ('Antonio Belgrave', {'Tony Belgrave', 'Tony'})."""
    text = " ".join(raw.replace("’", "'").split()).strip(" ,.;:!?'\"")
    words = [w for w in text.split() if w.lower().strip(".") not in TITLES]
    text = " ".join(words)
    nickname = re.search(r"\(([^)]+)\)", text)
    canonical = " ".join(re.sub(r"\([^)]*\)", " ", text).split())
    aliases: set[str] = set()
    if nickname and canonical:
        short = nickname.group(1).strip()
        rest = canonical.split()[1:]
        aliases = {short, " ".join([short, *rest]).strip()}
    if canonical.endswith("'s"):
        canonical = canonical[:-2]
    return canonical, aliases


def same_person(a: str, b: str) -> bool:
    """Do two names (canonical or alias) refer to the same person?"""
    wa, wb = a.lower().split(), b.lower().split()
    if not wa or not wb:
        return False
    if wa == wb:
        return True
    if len(wa) > 1 and len(wb) > 1:
        return wa[-1] == wb[-1] and _first_names_agree(wa[0], wb[0])
    short, full = (wa, wb) if len(wa) == 1 else (wb, wa)
    return _first_names_agree(short[0], full[0])


def _first_names_agree(a: str, b: str) -> bool:
    return a == b or b in NICKNAMES.get(a, ()) or a in NICKNAMES.get(b, ())


class Roster:
    """People found in one episode, merged as they are added."""

    def __init__(self) -> None:
        self.people: list[Person] = []

    def add(
        self,
        raw: str,
        *,
        role: str | None = None,
        source: str,
        count: int = 1,
        from_feed: bool = False,
    ) -> Person | None:
        name, aliases = split_name(raw)
        if not name or not name[0].isupper():
            return None
        full = len(name.split()) > 1
        person = self.find(name, *(a for a in aliases if len(a.split()) > 1 or not full))
        if person is None and full:
            person = self._same_surname_on_the_show(name)
        if person is None:
            if len(name.split()) == 1 and role is None and not from_feed:
                return None  # a lone first name nobody introduced: too ambiguous to keep
            person = Person(name)
            self.people.append(person)
        elif len(name.split()) > len(person.name.split()) and not aliases:
            person.aliases.add(person.name)
            person.name = name
        person.aliases |= aliases
        if name != person.name:
            person.aliases.add(name)
        person.mentions += count
        person.sources.add(source)
        self._set_role(person, role, from_feed)
        return person

    def _set_role(self, person: Person, role: str | None, from_feed: bool) -> None:
        if role is None or person.role_from_feed and not from_feed:
            return
        if from_feed or RANK[role] < RANK[person.role]:
            person.role = role
            person.role_from_feed = person.role_from_feed or from_feed

    def _same_surname_on_the_show(self, name: str) -> Person | None:
        """Speech recognition mangles first names ("Gain Whitfield" for "Dana Whitfield"):
        a surname shared with exactly one host or guest from the feed is that person."""
        surname = name.split()[-1].lower()
        if len(surname) < 4:
            return None
        fits = [
            p
            for p in self.people
            if p.role_from_feed and p.role != MENTIONED and p.name.split()[-1].lower() == surname
        ]
        return fits[0] if len(fits) == 1 else None

    def find(self, *names: str) -> Person | None:
        """The one person these names fit; None when none or several do (ambiguous)."""
        fits = [
            person
            for person in self.people
            if any(same_person(n, known) for n in names for known in person.names())
        ]
        return fits[0] if len(fits) == 1 else None


def feed_role(role: str | None) -> str:
    """podcast:person roles beyond host and guest (producer, cover art...) are credits."""
    role = (role or "").lower()
    return (
        HOST if role in ("host", "co-host", "cohost") else GUEST if role == "guest" else MENTIONED
    )


def introductions(text: str) -> Iterable[tuple[str, str]]:
    """(name, role) for every introduction in the text."""
    for role, pattern in INTRODUCTIONS:
        for match in re.finditer(pattern, text):
            yield _trim(match.group("name")), role


def self_introductions(text: str) -> Iterable[str]:
    for match in re.finditer(SELF_INTRODUCTION, text):
        yield _trim(match.group("name"))


def _trim(name: str) -> str:
    """Drop trailing words that are not part of a name ("Dana Whitfield And")."""
    words = name.split()
    while len(words) > 1 and words[-1].lower() in {"and", "the", "from", "here", "today", "i"}:
        words.pop()
    return " ".join(words)

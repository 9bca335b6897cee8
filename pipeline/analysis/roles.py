"""Hosts and guests from how a sentence is built, not from its exact wording.

The introduction patterns in pipeline.analysis.people list wordings ("I'm your host ...");
shows say it in many more ("presented by", "steered by", "on the line from Leeds
is", "joining us today is"). spaCy's dependency parse finds the person whatever the
wording: the agent of a hosting verb, the one called host or co-host, the subject
of "join us", the complement of a "with us / on the line / joining us is" clause. It
also finds the people a story is about (``story_people``): "So Priya walks in ... she".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pipeline.analysis.people import ANOTHER_EPISODE, GUEST, HOST, MENTIONED, PARTICLES

# A story's pronouns say its subject is a person: "So Priya walks in ... she just".
PERSONAL = re.compile(r"\b(?:he|she|him|her|his|hers)\b", re.IGNORECASE)
STORY_DEPS = {"nsubj", "nsubjpass", "npadvmod", "appos", "dobj"}
# "with Marek", "listen to Mick", but not "in Oban" or "from Leeds": places follow these
PLACE_PREPOSITIONS = set(
    ["in", "from", "at", "near", "across", "around", "into", "outside", "inside", "of", "on"]
)
# spaCy's labels for a capitalised word that is not a person
NOT_PEOPLE = {"GPE", "LOC", "ORG", "FAC", "NORP", "PRODUCT", "EVENT", "WORK_OF_ART", "LANGUAGE"}


HOST_VERBS = {"present", "host", "co-host", "cohost", "lead", "steer", "front", "anchor", "helm"}
HOST_NOUNS = {"host", "co-host", "cohost", "presenter", "co-presenter", "anchor"}
# What a show calls the one who runs this episode, and who it is about: "your guide
# tonight is ...", "your moderator, ...", "our panellists are ...", "next caller is ...".
RUNS_IT = HOST_NOUNS | {"guide", "moderator", "compère", "compere", "emcee", "mc"}
ON_IT = {"guest", "panellist", "panelist", "caller", "speaker"}
# Words that may stand between a host noun and the name: "my fellow host Raj Patel".
_BETWEEN = {"my", "our", "your", "fellow", "co", "-", ",", "the", "regular", "usual", "trusty"}
JOIN = "join"
# "On the line is X", "With me is X", "In the studio is X": where a guest sits.
GUEST_PLACES = {("on", "line"), ("on", "phone"), ("with", "me"), ("with", "us"), ("in", "studio")}
SHOW_NOUNS = {"show", "podcast", "programme", "program", "pod", "studio", "episode", "series"}
# what a host runs on air, unlike an event a guest led ("our masterclass was led by")
ON_AIR = SHOW_NOUNS | {"discussion", "debate", "conversation"}


@dataclass
class Name:
    """A run of proper nouns, hyphenated parts and particles ("Pieter-Jan de Vries",
    "Ngaio Hemi-Pritchard"), whatever the parse makes of its inside."""

    start: int
    end: int  # exclusive
    doc: Any

    @property
    def text(self) -> str:
        return str(self.doc[self.start : self.end].text)

    def outward(self) -> list[Any]:
        """The tokens that hang the name on the rest of the sentence."""
        tokens = list(self.doc[self.start : self.end])
        hung = [t for t in tokens if t.head == t or t.head not in self]
        return [t for t in hung if t.pos_ == "PROPN"] or [tokens[-1]]

    def __contains__(self, token: Any) -> bool:
        return bool(self.start <= token.i < self.end)


def parsed_roles(doc: Any) -> Iterator[tuple[str, str]]:
    """(name, host or guest) for every person the parse places in that role; with a
    co-host named, whoever introduces themselves ("I'm Sam Lee") hosts too. A name
    joined to one with a role ("hosted by Ana Ruiz and Li Wei") shares it."""
    names = list(_names(doc))
    cohost = any(_called_host(t, n) for n in names for t in n.outward())
    roles: dict[int, str] = {}
    for n in names:
        role = next(filter(None, (_role(t, n) for t in n.outward())), None)
        if role is None and cohost and any(_self_introduced(t) for t in n.outward()):
            role = HOST
        if role:
            roles[n.start] = role
    for n in names:
        first = next(filter(None, (_first_conjunct(t) for t in n.outward())), None)
        other = next((m for m in names if first is not None and first in m), None)
        if n.start not in roles and other is not None and other.start in roles:
            roles[n.start] = roles[other.start]
    for n in names:
        if n.start in roles:
            yield n.text, MENTIONED if _another_episode(n) else roles[n.start]


def story_people(doc: Any, after: str = "") -> Iterator[tuple[str, str]]:
    """A lone name a story is about is a person (mentioned): the subject, the one
    addressed or set beside a noun ("the charge nurse, Bernadette"), when a "he" or "she"
    follows in the segment or the rest of the turn (``after``). "Amazon walks in and
    undercuts everyone" has none."""
    for n in _names(doc):
        if len(n.text.split()) > 2 or not any(_in_a_story(t) for t in n.outward()):
            continue
        if _opens_sentence(n):
            continue
        if PERSONAL.search(f"{doc[n.end :].text} {after}"):
            yield n.text, MENTIONED


def _in_a_story(token: Any) -> bool:
    """Subjects, objects and appositions, and (when spaCy does not call the word a place,
    a firm or a title) the object of a preposition and an owner: "with Marek", "Priya's
    analysis"."""
    if token.dep_ in ("pobj", "poss"):
        if token.ent_type_ in NOT_PEOPLE:
            return False
        return token.dep_ == "poss" or token.head.lower_ not in PLACE_PREPOSITIONS
    return token.dep_ in STORY_DEPS


def _opens_sentence(name: Name) -> bool:
    """Any word is capitalised first in a sentence ("Charisma's overrated. ... his
    face"): there a name counts only if spaCy says person or a comma or a place
    follows ("Okafor in procurement signed")."""
    first = name.doc[name.start]
    if not first.is_sent_start or first.ent_type_ == "PERSON" or name.end >= len(name.doc):
        return False
    return name.doc[name.end].lower_ not in {",", "in", "from", "at"}


def _another_episode(name: Name) -> bool:
    """ "next week we'll have Lars Sandvold joining us": a guest of another episode."""
    sentence = name.doc[name.start].sent
    return bool(ANOTHER_EPISODE.search(sentence.text))


def _names(doc: Any) -> Iterator[Name]:
    i = 0
    while i < len(doc):
        if doc[i].pos_ != "PROPN":
            i += 1
            continue
        end = i + 1
        while end < len(doc) and _continues(doc, end):
            end += 1
        while doc[end - 1].pos_ != "PROPN":
            end -= 1
        yield Name(i, end, doc)
        i = end


def _continues(doc: Any, i: int) -> bool:
    """Does token i belong to the name that the token before it is part of?"""
    token, previous = doc[i], doc[i - 1]
    if not previous.whitespace_ and "-" in (token.text, previous.text):
        return True  # "Pryce-Jones", "Pieter-Jan": no space either side of the hyphen
    if token.lower_ in PARTICLES:
        return i + 1 < len(doc) and doc[i + 1].pos_ == "PROPN"
    return bool(token.pos_ == "PROPN")


def _first_conjunct(token: Any) -> Any:
    """The first of "X and Y" or "X, Y and Z" for Y or Z; None for a name not in a list."""
    if token.dep_ != "conj":
        return None
    while token.dep_ == "conj":
        token = token.head
    return token


def _self_introduced(token: Any) -> bool:
    """ "I'm Sam Lee": the name completes "I am"."""
    be = token.head
    return token.dep_ == "attr" and be.lemma_ == "be" and _has(be, "nsubj", {"i"})


def _role(token: Any, name: Name) -> str | None:
    if _called_host(token, name):
        return HOST
    head = token.head
    if token.dep_ in ("compound", "appos") and head.pos_ == "NOUN" and head not in name:
        # "is the soil scientist Ingeborg Aalto": the role of the phrase the name is in
        return _role(head, name) if head.head != head else None
    called = _called(token)
    if called:
        return called
    if token.dep_ == "pobj" and head.dep_ == "agent":
        verb = head.head.lemma_.lower()
        if verb in HOST_VERBS and _a_person(token, name, verb) and _a_show(head.head):
            return HOST  # "presented by Maya Okafor"
        if verb == JOIN:
            return GUEST  # "I'm joined by Kate Lin"
    if _by_me(token):
        return HOST  # "steered as ever by me, Aroha Ngata"
    if token.dep_ == "nsubj" and head.lemma_ == JOIN and _has(head, "dobj", {"us", "me"}):
        return GUEST  # "Kate Lin joins us from Perth"
    if token.dep_ in ("attr", "nsubj") and head.lemma_ == "be" and _guest_clause(head):
        # "with me as always is Raj": a regular beside the host is a co-host
        return HOST if _as_always(head) else GUEST
    if token.dep_ == "pobj" and head.lower_ == "with" and head.head.lemma_ in SHOW_NOUNS:
        return GUEST  # "back on the show with Kate Lin"
    return None


def _called(token: Any) -> str | None:
    """The name is said to be the show's host or one of its guests: "your guide tonight
    is Cormac", "next caller is Bongani", "X is our moderator", "your moderator, X"."""
    head = token.head
    if token.dep_ == "appos":
        nouns = [head]
    elif token.dep_ in ("attr", "nsubj") and head.lemma_ == "be":
        other = "nsubj" if token.dep_ == "attr" else "attr"
        nouns = [c for c in head.children if c.dep_ == other]
    else:
        return None
    for noun in nouns:
        if not any(c.lower_ in ("my", "our", "your", "tonight", "today") for c in noun.subtree):
            continue  # "the host of the awards was ...": another event's
        word = noun.lemma_.lower()
        if word in RUNS_IT:
            return HOST
        if word in ON_IT:
            return GUEST
    return None


def _a_person(token: Any, name: Name, verb: str) -> bool:
    """ "hosted by" also names hosting companies ("hosted by Buzzsprout"): a person
    only when spaCy says so or the name has a given name and a surname."""
    return verb != "host" or token.ent_type_ == "PERSON" or len(name.text.split()) > 1


def _by_me(token: Any) -> bool:
    """The name set beside the "me" of "presented by me": "by me, Aroha Ngata"."""
    me = token.head if token.dep_ == "appos" else None
    if me is None and token.dep_ in ("npadvmod", "appos", "dobj"):
        me = next((c for c in token.head.children if c.dep_ == "agent"), None)
        me = next((c for c in me.children if c.dep_ == "pobj"), None) if me else None
    if me is None or me.lower_ != "me" or me.head.dep_ != "agent":
        return False
    return me.head.head.lemma_.lower() in HOST_VERBS


def _as_always(be: Any) -> bool:
    words = {t.lower_ for t in be.subtree}
    return "as" in words and bool(words & {"always", "ever", "usual"})


def _a_show(verb: Any) -> bool:
    """What the verb's agent leads is the show ("The Growth Desk is presented by",
    "This is Harbour Lights, the podcast for ..., presented by"), not an evening or an
    event they led."""
    led = verb.head if verb.dep_ in ("acl", "advcl") else None
    led = led or next((c for c in verb.children if c.dep_ == "nsubjpass"), None)
    while led is not None:
        if led.pos_ == "PROPN" or led.lemma_.lower() in ON_AIR:
            return True
        if led.lemma_ == "be" and any(c.dep_ == "attr" and c.pos_ == "PROPN" for c in led.children):
            return True  # "This is The Quiet Ledger, steered by ..."
        led = led.head if led.head != led else None
    return False


def _called_host(token: Any, name: Name) -> bool:
    """The name is put beside a host noun: "my co-host Priya Nair", "fellow host Raj"."""
    if token.head.lemma_.lower() in HOST_NOUNS and token.dep_ in ("appos", "dobj", "attr"):
        return True
    for previous in reversed(token.doc[max(0, name.start - 4) : name.start]):
        if previous.lemma_.lower() in HOST_NOUNS:
            return True
        if previous.lower_ not in _BETWEEN:
            return False
    return False


def _guest_clause(be: Any) -> bool:
    for child in be.children:
        if child.dep_ == "csubj" and child.lemma_ == JOIN:
            return True
        if child.dep_ == "prep":
            objects = [g.lower_ for g in child.children if g.dep_ == "pobj"]
            if any((child.lower_, o) in GUEST_PLACES for o in objects):
                return True
    return False


def _has(token: Any, dep: str, words: set[str]) -> bool:
    return any(c.dep_ == dep and c.lower_ in words for c in token.children)

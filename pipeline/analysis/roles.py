"""Hosts and guests from how a sentence is built, not from its exact wording.

The introduction patterns in pipeline.analysis.people list wordings ("I'm your host ...");
shows say it in many more ("presented by", "steered by", "on the line from Leeds
is", "joining us today is"). spaCy's dependency parse finds the person whatever the
wording: the agent of a hosting verb, the one called host or co-host, the subject
of "join us", the complement of a "with us / on the line / joining us is" clause.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.analysis.people import GUEST, HOST

HOST_VERBS = {"present", "host", "co-host", "cohost", "lead", "steer", "front", "anchor", "helm"}
HOST_NOUNS = {"host", "co-host", "cohost", "presenter", "co-presenter", "anchor"}
# Words that may stand between a host noun and the name: "my fellow host Raj Patel".
_BETWEEN = {"my", "our", "your", "fellow", "co", "-", ",", "the", "regular", "usual", "trusty"}
JOIN = "join"
# "On the line is X", "With me is X", "In the studio is X": where a guest sits.
GUEST_PLACES = {("on", "line"), ("on", "phone"), ("with", "me"), ("with", "us"), ("in", "studio")}
SHOW_NOUNS = {"show", "podcast", "programme", "program", "pod", "studio", "episode", "series"}


def parsed_roles(doc: Any) -> Iterator[tuple[str, str]]:
    """(name, host or guest) for every person the parse places in that role; with a
    co-host named, whoever introduces themselves ("I'm Sam Lee") hosts too."""
    heads = [t for t in doc if t.pos_ == "PROPN" and t.dep_ != "compound"]
    cohost = any(_called_host(t) for t in heads)
    for head in heads:
        role = _role(head) or (HOST if cohost and _self_introduced(head) else None)
        if role:
            yield _name(head), role


def _self_introduced(token: Any) -> bool:
    """ "I'm Sam Lee": the name completes "I am"."""
    be = token.head
    return token.dep_ == "attr" and be.lemma_ == "be" and _has(be, "nsubj", {"i"})


def _name(head: Any) -> str:
    """The proper-noun run ending at ``head`` ("Maya Okafor", "Dr Lena Brandt")."""
    start = head.i
    while start > 0 and head.doc[start - 1].pos_ == "PROPN" and head.doc[start - 1].head == head:
        start -= 1
    return head.doc[start : head.i + 1].text


def _role(token: Any) -> str | None:
    if _called_host(token):
        return HOST
    head = token.head
    if token.dep_ == "pobj" and head.dep_ == "agent":
        verb = head.head.lemma_.lower()
        # "hosted by" also names hosting companies ("hosted by Buzzsprout"): a person only.
        person = verb != "host" or token.ent_type_ == "PERSON"
        if verb in HOST_VERBS and person and _a_show(head.head):
            return HOST  # "presented by Maya Okafor"
        if verb == JOIN:
            return GUEST  # "I'm joined by Kate Lin"
    if token.dep_ == "nsubj" and head.lemma_ == JOIN and _has(head, "dobj", {"us", "me"}):
        return GUEST  # "Kate Lin joins us from Perth"
    if token.dep_ in ("attr", "nsubj") and head.lemma_ == "be" and _guest_clause(head):
        return GUEST  # "joining us today is Ben Ortiz", "on the line from Leeds is ..."
    if token.dep_ == "pobj" and head.lower_ == "with" and head.head.lemma_ in SHOW_NOUNS:
        return GUEST  # "back on the show with Kate Lin"
    return None


def _a_show(verb: Any) -> bool:
    """What the verb's agent leads is the show ("The Growth Desk is presented by",
    "Shop Floor, led by"), not an evening or an event they led."""
    led = verb.head if verb.dep_ == "acl" else None
    led = led or next((c for c in verb.children if c.dep_ == "nsubjpass"), None)
    return led is not None and (led.pos_ == "PROPN" or led.lemma_.lower() in SHOW_NOUNS)


def _called_host(token: Any) -> bool:
    """The name is put beside a host noun: "my co-host Priya Nair", "fellow host Raj"."""
    if token.head.lemma_.lower() in HOST_NOUNS and token.dep_ in ("appos", "dobj", "attr"):
        return True
    first = token.i - len(_name(token).split()) + 1
    for previous in reversed(token.doc[max(0, first - 4) : first]):
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

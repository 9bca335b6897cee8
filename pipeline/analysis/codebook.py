"""The codebook: themes a researcher edits in data/themes.toml, loaded and validated."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError

# The codebook that ships in the package (data/themes.toml in a checkout links to it):
# found through importlib.resources, so an installed wheel has it too.
DEFAULT_CODEBOOK = Path(str(resources.files("pipeline") / "defaults" / "themes.toml"))
CATEGORIES = ("social-identity-leadership", "leadership", "followership", "commercial")
REQUIRED = ("id", "label", "category", "definition")


class CodebookError(PipelineError):
    """The codebook cannot be used; the message names the theme and the problem."""


@dataclass(frozen=True)
class Theme:
    id: str
    label: str
    category: str
    definition: str
    examples: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    patterns: tuple[Any, ...] = ()
    exclude: tuple[Any, ...] = ()  # phrases (str) or token patterns (lists)
    semantic_threshold: float | None = None  # overrides the codebook's for this theme
    # Names and terms Whisper should expect (pipeline.transcribe.vocabulary); not used in matching.
    vocabulary: tuple[str, ...] = ()


# Part of the digest: raised when the analysis itself changes what a codebook yields,
# so every episode is analysed again (2: disputed keyword hits kept, marked low).
ANALYSIS_RULES = 2


@dataclass(frozen=True)
class Codebook:
    themes: tuple[Theme, ...]
    semantic_threshold: float
    path: Path
    digest: str = field(default="")
    classifier: Path | None = None  # trained on data/training (pipeline.analysis.classifier)

    def threshold(self, theme: Theme) -> float:
        return theme.semantic_threshold or self.semantic_threshold

    @property
    def vocabulary(self) -> list[str]:
        return [term for theme in self.themes for term in theme.vocabulary]

    def get(self, theme_id: str) -> Theme:
        for theme in self.themes:
            if theme.id == theme_id:
                return theme
        known = ", ".join(t.id for t in self.themes)
        raise CodebookError(f"No theme {theme_id!r} in {self.path}: use one of {known}.")


def load_codebook(path: str | Path | None = None, *, validate: bool = True) -> Codebook:
    """Read and check the codebook; validate=False skips the spaCy pattern checks (which
    import spaCy), for callers that only need its themes and hash."""
    path = Path(path) if path else DEFAULT_CODEBOOK
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CodebookError(f"No codebook at {path}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CodebookError(f"{path} is not valid TOML: {exc}.") from exc
    raw = document.get("themes")
    if not isinstance(raw, list) or not raw:
        raise CodebookError(f"{path} has no [[themes]].")
    themes = tuple(
        _theme(entry, number, path, validate) for number, entry in enumerate(raw, start=1)
    )
    ids = [t.id for t in themes]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CodebookError(f"{path} defines theme {duplicates[0]!r} more than once.")
    threshold = document.get("semantic_threshold", 0.6)
    if not isinstance(threshold, int | float) or not 0 < threshold < 1:
        raise CodebookError(f"{path}: semantic_threshold must be a number between 0 and 1.")
    classifier = _classifier_path(document.get("classifier"), path)
    # The vocabulary steers transcription, not analysis: editing it re-analyses nothing.
    matching = [{k: v for k, v in asdict(t).items() if k != "vocabulary"} for t in themes]
    content = json.dumps(matching + [threshold, ANALYSIS_RULES], sort_keys=True).encode()
    if classifier:  # a retrained classifier re-analyses every episode, as a codebook edit does
        content += classifier.read_bytes()
    digest = hashlib.sha256(content).hexdigest()[:16]
    return Codebook(themes, float(threshold), path, digest, classifier)


def _classifier_path(name: Any, codebook: Path) -> Path | None:
    """Looked up beside the codebook, then beside the packaged default (so a copy of
    the codebook elsewhere still finds the shipped classifier)."""
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip():
        raise CodebookError(f"{codebook}: classifier must be a file name.")
    for folder in (codebook.parent, DEFAULT_CODEBOOK.parent):
        if (folder / name).is_file():
            return folder / name
    raise CodebookError(f"{codebook}: classifier file {name!r} not found.")


def _theme(entry: Any, number: int, path: Path, validate: bool) -> Theme:
    if not isinstance(entry, dict):
        raise CodebookError(f"{path}: theme number {number} is not a table.")
    missing = [key for key in REQUIRED if not entry.get(key)]
    name = entry.get("id") or f"number {number}"
    if missing:
        raise CodebookError(f"{path}: theme {name!r} has no {', '.join(missing)}.")
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", str(entry["id"])):
        raise CodebookError(
            f"{path}: theme id {name!r} must be lowercase letters and digits joined by hyphens."
        )
    if entry["category"] not in CATEGORIES:
        raise CodebookError(
            f"{path}: theme {name!r} has category {entry['category']!r}; "
            f"use one of {', '.join(CATEGORIES)}."
        )
    unknown = set(entry) - {f for f in Theme.__dataclass_fields__}
    if unknown:
        raise CodebookError(f"{path}: theme {name!r} has unknown key {sorted(unknown)[0]!r}.")
    for key in ("examples", "phrases", "vocabulary"):
        if not all(isinstance(v, str) and v.strip() for v in entry.get(key, [])):
            raise CodebookError(f"{path}: theme {name!r} has an empty or non-text {key} entry.")
    threshold = entry.get("semantic_threshold")
    if threshold is not None and not (isinstance(threshold, int | float) and 0 < threshold <= 1):
        raise CodebookError(f"{path}: theme {name!r} semantic_threshold must be in (0, 1].")
    for index, pattern in enumerate(entry.get("patterns", []), start=1):
        if validate:
            _check_pattern(pattern, f"{path}: theme {name!r} pattern {index}")
    for index, pattern in enumerate(entry.get("exclude", []), start=1):
        if validate and not isinstance(pattern, str):
            _check_pattern(pattern, f"{path}: theme {name!r} exclusion {index}")
    return Theme(
        id=entry["id"],
        label=entry["label"],
        category=entry["category"],
        definition=entry["definition"],
        examples=tuple(entry.get("examples", [])),
        phrases=tuple(entry.get("phrases", [])),
        patterns=tuple(entry.get("patterns", [])),
        exclude=tuple(entry.get("exclude", [])),
        semantic_threshold=threshold,
        vocabulary=tuple(entry.get("vocabulary", [])),
    )


def _check_pattern(pattern: Any, where: str) -> None:
    """spaCy's own schema check, so a bad pattern is reported before any matching."""
    from spacy.matcher import Matcher
    from spacy.vocab import Vocab

    if (
        not isinstance(pattern, list)
        or not pattern
        or not all(isinstance(t, dict) for t in pattern)
    ):
        raise CodebookError(
            f'{where} must be a list of token tables, like [{{ LEMMA = "trust" }}].'
        )
    try:
        Matcher(Vocab(), validate=True).add("check", [pattern])
    except Exception as exc:  # spaCy raises ValueError or MatchPatternError
        detail = " ".join(str(exc).split())
        raise CodebookError(f"{where} is not a valid spaCy token pattern: {detail[:300]}") from exc

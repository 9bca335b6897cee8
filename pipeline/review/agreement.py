"""Agreement between two coders on the segments both coded: per theme and overall,
percent agreement, Cohen's kappa and Krippendorff's alpha (nominal), the kinds of
disagreement and the segments they disagree on.

The unit is a (segment, theme) pair and the value whether the coder applied the theme
there. A coder has coded a segment when they recorded any decision on it; the machine
has coded every searchable segment of an analysed episode. On a coded segment a theme
the coder did not apply counts as not applied, and "rejected" (an explicit no) and
"absent" (never applied) are told apart only in the disagreement counts. Themes
neither coder applied on any shared segment say nothing and are left out; "overall"
pools every remaining (segment, theme) pair.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from pipeline.review.codings import APPLIED, MACHINE, NO_THEME, REJECTED, CodingError
from pipeline.transcribe.guard import SEARCHABLE

ABSENT = "absent"
Key = tuple[str, int]  # (episode id, segment idx)


@dataclass
class Scores:
    units: int
    agreed: int
    percent_agreement: float | None
    kappa: float | None
    alpha: float | None
    applied: dict[str, int]  # per coder: how many units they applied the theme to
    disagreements: dict[str, int] = field(default_factory=dict)  # "applied/rejected": n


@dataclass
class Report:
    coders: tuple[str, str]
    segments: int  # coded by both
    themes: dict[str, Scores]
    overall: Scores | None
    disagreements: list[dict[str, Any]]


def coder_decisions(db: sqlite_utils.Database, coder: str) -> dict[Key, dict[str, str]]:
    """Every segment the coder coded, with their decision on each theme they decided."""
    if coder == MACHINE:
        return _machine_decisions(db)
    rows = db.execute(
        "select episode_id, segment_idx, theme_id, decision from human_codes where coder = ?",
        [coder],
    ).fetchall()
    decisions: dict[Key, dict[str, str]] = {}
    for episode, idx, theme, value in rows:
        themes = decisions.setdefault((episode, idx), {})
        if theme != NO_THEME:
            themes[theme] = value
    return decisions


def _machine_decisions(db: sqlite_utils.Database) -> dict[Key, dict[str, str]]:
    marks = ",".join("?" * len(SEARCHABLE))
    decisions: dict[Key, dict[str, str]] = {
        (episode, idx): {}
        for episode, idx in db.execute(
            f"select s.episode_id, s.idx from segments s join analyses a"
            f" on a.episode_id = s.episode_id where s.quality in ({marks})",
            list(SEARCHABLE),
        )
    }
    for episode, idx, theme in db.execute(
        "select episode_id, segment_idx, theme_id from machine_codes"
    ):
        decisions.setdefault((episode, idx), {})[theme] = APPLIED
    return decisions


def agreement(
    db: sqlite_utils.Database, coder_a: str, coder_b: str, theme: str | None = None
) -> Report:
    if coder_a == coder_b:
        raise CodingError("Agreement needs two different coders.")
    a, b = coder_decisions(db, coder_a), coder_decisions(db, coder_b)
    for name, decisions in ((coder_a, a), (coder_b, b)):
        if not decisions:
            raise CodingError(f"{name!r} has coded nothing: `podinsights review` first.")
    shared = sorted(set(a) & set(b))
    if theme:
        themes = [theme]
    else:
        themes = sorted({t for k in shared for t, v in {**a[k], **b[k]}.items() if v == APPLIED})
    report = Report((coder_a, coder_b), len(shared), {}, None, [])
    pooled: list[tuple[str, str]] = []
    for name in themes:
        pairs = [(a[k].get(name, ABSENT), b[k].get(name, ABSENT)) for k in shared]
        report.themes[name] = scores(pairs, report.coders)
        pooled += pairs
        report.disagreements += [
            {"episode_id": k[0], "idx": k[1], "theme": name, coder_a: x, coder_b: y}
            for k, (x, y) in zip(shared, pairs, strict=True)
            if (x == APPLIED) != (y == APPLIED)
        ]
    if pooled:
        report.overall = scores(pooled, report.coders)
    _add_text(db, report.disagreements)
    return report


def scores(pairs: list[tuple[str, str]], coders: tuple[str, str]) -> Scores:
    """The statistics of one theme (or the pool) from each unit's pair of decisions."""
    a = [int(x == APPLIED) for x, _ in pairs]
    b = [int(y == APPLIED) for _, y in pairs]
    agreed = sum(x == y for x, y in zip(a, b, strict=True))
    kinds = Counter(f"{x}/{y}" for x, y in pairs if (x == APPLIED) != (y == APPLIED))
    return Scores(
        units=len(pairs),
        agreed=agreed,
        percent_agreement=round(100 * agreed / len(pairs), 2) if pairs else None,
        kappa=_round(cohen_kappa(a, b)),
        alpha=_round(krippendorff_alpha(a, b)),
        applied={coders[0]: sum(a), coders[1]: sum(b)},
        disagreements=dict(sorted(kinds.items())),
    )


def cohen_kappa(a: list[int], b: list[int]) -> float | None:
    """(p_o - p_e) / (1 - p_e) for two coders' binary decisions; None where chance
    agreement is already total (both coders gave one value throughout)."""
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    yes_a, yes_b = sum(a) / n, sum(b) / n
    expected = yes_a * yes_b + (1 - yes_a) * (1 - yes_b)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def krippendorff_alpha(a: list[int], b: list[int]) -> float | None:
    """Krippendorff's alpha, nominal, by the krippendorff package; None where the data
    hold a single value (alpha is undefined there)."""
    import krippendorff

    if len(set(a) | set(b)) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=[a, b], level_of_measurement="nominal"))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _add_text(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        found = db.execute(
            "select id, start_time, text from segments where episode_id = ? and idx = ?",
            [row["episode_id"], row["idx"]],
        ).fetchone()
        row["segment_id"], row["start_time"], row["text"] = found or (None, None, None)


__all__ = ["ABSENT", "APPLIED", "REJECTED", "Report", "Scores", "agreement", "cohen_kappa"]

"""The prompts of `podinsights review`: one segment at a time, one proposed theme at a
time. A segment's decisions are saved together when it is done (one transaction), so
quitting or skipping half-way through a segment leaves it for the next session."""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlite_utils
from rich.prompt import Prompt

from pipeline.cli.common import err, out, say
from pipeline.review.codings import APPLIED, NO_THEME, REJECTED, Coding, save_codings
from pipeline.text import markup_safe
from pipeline.timecodes import clock

ON_PROPOSAL = {
    "a": "accept",
    "r": "reject",
    "c": "recode",
    "t": "add theme",
    "m": "memo",
    "s": "skip",
    "p": "play",
    "q": "quit",
}
ON_SEGMENT = {"n": "no theme", "t": "add theme", "m": "memo", "s": "skip", "p": "play", "q": "quit"}
AFTER = {"d": "done", "t": "add theme", "m": "memo", "p": "play", "q": "quit"}


class Quit(Exception):
    pass


class Skip(Exception):
    pass


class Session:
    def __init__(self, db: sqlite_utils.Database, coder: str):
        self.db = db
        self.coder = coder
        self.themes = {
            row[0]: row[1] for row in db.execute("select id, label from themes order by id")
        }
        self.counts: Counter[str] = Counter()

    def run(self, items: list[Any]) -> None:
        say(out, f"{len(items)} segments to review as {self.coder}. Decisions save as you go.")
        try:
            for number, item in enumerate(items, start=1):
                show_item(f"[{number}/{len(items)}]", item)
                try:
                    self._save(item, *self._segment(item))
                except Skip:
                    self.counts["skipped"] += 1
        except (Quit, EOFError, KeyboardInterrupt):
            out.print()
        done = self.counts["segments"]
        say(
            err,
            f"Reviewed {done} segments: {self.counts[APPLIED]} themes applied, "
            f"{self.counts[REJECTED]} rejected, {self.counts[NO_THEME]} segments with none; "
            f"{len(items) - done} left for next time.",
        )

    def _segment(self, item: Any) -> tuple[list[tuple[str, str]], str | None]:
        decisions: list[tuple[str, str]] = []
        self.memo: str | None = None
        for proposal in item.proposals:
            out.print(
                f"  proposed: [bold magenta]{markup_safe(proposal.label)}[/] "
                f"({markup_safe(proposal.theme)}; {markup_safe(proposal.method)}, "
                f"{proposal.confidence} confidence)",
                highlight=False,
            )
            decisions += self._decide(item, proposal.theme)
        if not item.proposals:
            out.print("  [dim]no theme proposed[/]")
            decisions += self._decide(item, None)
        while (key := self._ask(item, AFTER, "Anything else?")) != "d":
            if key == "t":
                decisions.append((self._theme(), APPLIED))
        return decisions, self.memo

    def _decide(self, item: Any, theme: str | None) -> list[tuple[str, str]]:
        """The decisions on one proposed theme (or, with none, on the segment)."""
        added: list[tuple[str, str]] = []
        while True:
            key = self._ask(item, ON_PROPOSAL if theme else ON_SEGMENT, "Decision")
            if key == "t":
                added.append((self._theme(), APPLIED))
                if not theme:
                    return added
            elif theme and key in ("a", "r", "c"):
                recoded = [(self._theme(), APPLIED)] if key == "c" else []
                return [*added, (theme, APPLIED if key == "a" else REJECTED), *recoded]
            elif key == "n":
                return [*added, (NO_THEME, REJECTED)]

    def _ask(self, item: Any, choices: dict[str, str], question: str) -> str:
        """One prompt; memo, play, skip and quit are the same everywhere."""
        legend = ", ".join(f"{k} {v}" for k, v in choices.items())
        key = Prompt.ask(
            f"  {question} [dim]({legend})[/]",
            choices=list(choices),
            console=out,
            show_choices=False,
        )
        if key == "m":
            self.memo = Prompt.ask("  Memo", console=out) or self.memo
        elif key == "p":
            say(out, f"  {item.link or 'no audio link for this episode'}")
        elif key == "s":
            raise Skip
        elif key == "q":
            raise Quit
        return key

    def _theme(self) -> str:
        say(out, "  themes: " + ", ".join(self.themes))
        return Prompt.ask("  Theme id", choices=list(self.themes), console=out, show_choices=False)

    def _save(self, item: Any, decisions: list[tuple[str, str]], memo: str | None) -> None:
        latest = dict(decisions)  # a theme decided twice: the last word counts
        if any(theme != NO_THEME and value == APPLIED for theme, value in latest.items()):
            latest.pop(NO_THEME, None)
        save_codings(
            self.db,
            [
                Coding(self.coder, item.episode_id, item.idx, theme, value, memo)
                for theme, value in latest.items()
            ],
        )
        self.counts["segments"] += 1
        self.counts.update(value if theme else NO_THEME for theme, value in latest.items())


def show_item(position: str, item: Any) -> None:
    """One segment as the reviewer sees it: where, who, its neighbours, the proposals."""
    speaker = f" [cyan]{markup_safe(item.speaker)}[/]" if item.speaker else ""
    out.print(
        f"\n[bold]{position}[/] {markup_safe(item.show or '')} — "
        f"{markup_safe(item.episode or '')} [green]{clock(item.start_time)}[/]{speaker}"
        f" [dim]({item.episode_id}:{item.idx})[/]",
        highlight=False,
    )
    if item.before:
        out.print(f"  [dim]{markup_safe(item.before)}[/]", highlight=False)
    out.print(f"  [bold]> {markup_safe(item.text)}[/]", highlight=False)
    if item.after:
        out.print(f"  [dim]{markup_safe(item.after)}[/]", highlight=False)

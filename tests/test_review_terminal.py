"""`podinsights review` in a real pseudo-terminal: the prompts a person sees, decisions
saved as they go, a session stopped half-way resumed with the same seeded sample."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect

from pipeline.review.queue import QueueFilter, review_queue
from pipeline.store.db import connect

from .conftest import ROOT
from .test_review import copy_db

PROPOSAL = r"Decision.{0,12}\(a accept, r reject, c recode"
NOTHING = r"Decision.{0,12}\(n no theme"
AFTER = r"Anything else\?.{0,12}\(d done"


def spawn(db: Path, *args: str) -> pexpect.spawn:
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160"}
    return pexpect.spawn(
        sys.executable,
        ["-m", "pipeline", "--db", str(db), "review", *args],
        cwd=str(ROOT),
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 160),
    )


def decide(child: pexpect.spawn, segments: int) -> None:
    """Accept every proposal, say "no theme" where there is none, for `segments` segments."""
    done = 0
    while done < segments:
        found = child.expect([PROPOSAL, NOTHING, AFTER])
        child.sendline(["a", "n", "d"][found])
        done += found == 2


def coded_segments(db: Path, coder: str) -> set[tuple[str, int]]:
    return {
        (r[0], r[1])
        for r in connect(db).execute(
            "select episode_id, segment_idx from codings where coder = ?", [coder]
        )
    }


def test_review_sample_works_in_a_terminal_and_resumes(demo_db, tmp_path):
    db = copy_db(demo_db, tmp_path / "demo.db")
    queue = review_queue(connect(db), "x", QueueFilter(sample=5))
    sample = {(i.episode_id, i.idx) for i in queue}
    second = queue[1]
    proposed = [p.theme for p in second.proposals]
    other = next(t for t in ("creativity", "trust", "confidence") if t not in proposed)
    child = spawn(db, "--sample", "5", "--coder", "tester")
    child.expect("5 segments to review as tester")
    child.expect(r"\[1/5\]")
    found = child.expect([PROPOSAL, NOTHING])
    child.sendline("p")  # play: the link to the moment
    child.expect(r"#t=\d+")
    child.expect([PROPOSAL, NOTHING][found])
    child.sendline("m")
    child.expect("Memo")
    child.sendline("checked against the audio")
    child.expect([PROPOSAL, NOTHING][found])
    child.sendline("a" if found == 0 else "n")
    decide(child, 1)  # the rest of the first segment
    child.expect(r"\[2/5\]")  # recode the first proposal, or add a theme where there is none
    child.expect(PROPOSAL if proposed else NOTHING)
    child.sendline("c" if proposed else "t")
    child.expect("Theme id")
    child.sendline(other)
    decide(child, 1)
    child.expect(r"\[3/5\]")
    child.expect([PROPOSAL, NOTHING])
    child.sendline("q")
    child.expect("Reviewed 2 segments")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    first = coded_segments(db, "tester")
    assert len(first) == 2 and first <= sample
    decisions = dict(
        connect(db)
        .execute(
            "select theme_id, decision from codings where coder = 'tester' and episode_id = ?"
            " and segment_idx = ?",
            [second.episode_id, second.idx],
        )
        .fetchall()
    )
    assert decisions[other] == "applied"
    assert not proposed or decisions[proposed[0]] == "rejected"
    memos = [r[0] for r in connect(db).execute("select memo from codings where memo is not null")]
    assert memos and set(memos) == {"checked against the audio"}

    again = spawn(db, "--sample", "5", "--coder", "tester")
    again.expect("3 segments to review as tester")
    decide(again, 3)
    again.expect("Reviewed 3 segments")
    again.expect(pexpect.EOF)
    again.close()
    assert again.exitstatus == 0
    assert coded_segments(db, "tester") == sample

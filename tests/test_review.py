"""People's codes (codings), `review set/import`, agreement between coders."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from pipeline.analysis.engine import Analysis, ThemeMention
from pipeline.analysis.stage import save_analysis
from pipeline.cli import app
from pipeline.review.agreement import agreement, cohen_kappa, krippendorff_alpha
from pipeline.review.codings import Coding, CodingError, save_codings
from pipeline.review.queue import QueueFilter, review_queue
from pipeline.store.db import connect

from .conftest import DEMO

TEXTS = [
    "Welcome to the show.",
    "Good followers push back on a leader who is wrong.",
    "We built trust by keeping every promise.",
    "A customer shouted at my staff for an hour.",
    "That's all for today.",
]


def corpus(db, mentions=(("followership", 1), ("trust", 2), ("trust", 3))):
    """One analysed episode of five segments and a codebook of three themes."""
    db["feeds"].insert({"id": 1, "url": "https://example.com/feed.xml", "title": "Show"})
    db["episodes"].insert(
        {
            "id": "ep1",
            "feed_id": 1,
            "guid": "g1",
            "title": "One",
            "published": "2025-01-01",
            "enclosure_url": "https://example.com/1.mp3",
            "status": "analysed",
        }
    )
    for idx, text in enumerate(TEXTS):
        db["segments"].insert(
            {
                "episode_id": "ep1",
                "idx": idx,
                "start_time": idx * 10.0,
                "end_time": idx * 10.0 + 9,
                "text": text,
                "speaker": "Dana",
            }
        )
    for theme in ("followership", "trust", "difficult-customers"):
        db["themes"].insert({"id": theme, "label": theme.title(), "category": "leadership"})
    db["analyses"].insert({"episode_id": "ep1", "analysed_at": "2025-01-02T00:00:00Z"})
    analyse(db, mentions)
    return db


def analyse(db, mentions):
    ids = [row[0] for row in db.execute("select id from segments order by idx")]
    analysis = Analysis(
        mentions=[
            ThemeMention(t, i, i * 10.0, i * 10.0 + 9, TEXTS[i], "keyword", 1.0)
            for t, i in mentions
        ]
    )
    save_analysis(db, "ep1", ids, analysis, {})


def test_cohen_kappa_equals_the_hand_computed_value():
    # Ten units. Both apply on 3, both leave out 4, A alone on 2, B alone on 1:
    # p_o = 7/10; A applies 5/10, B 4/10; p_e = .5 * .4 + .5 * .6 = .5;
    # kappa = (.7 - .5) / (1 - .5) = 0.4.
    a = [1, 1, 1, 0, 0, 0, 0, 1, 1, 0]
    b = [1, 1, 1, 0, 0, 0, 0, 0, 0, 1]
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    # Krippendorff (nominal, two coders, no missing): n = 20 values, 9 ones, 11 zeros;
    # D_o = 2 * 3 / 20 = 0.3 (each disagreeing unit is two ordered pairs);
    # D_e = 2 * 9 * 11 / (20 * 19); alpha = 1 - D_o / D_e = 0.4242.
    assert krippendorff_alpha(a, b) == pytest.approx(1 - 0.3 / (2 * 9 * 11 / 380))
    assert cohen_kappa([1, 1], [1, 1]) is None  # no variation: kappa is undefined


def test_agreement_of_a_person_with_the_machine_counts_each_kind_of_disagreement(db):
    corpus(db)
    save_codings(
        db,
        [
            Coding("ann", "ep1", 1, "followership", "applied"),
            Coding("ann", "ep1", 2, "trust", "rejected", memo="a promise, not trust"),
            Coding("ann", "ep1", 3, "difficult-customers", "applied"),
            Coding("ann", "ep1", 0, "", "rejected"),  # saw it: no theme
        ],
    )
    report = agreement(db, "machine", "ann")
    assert report.segments == 4  # segment 4 only the machine coded
    trust = report.themes["trust"]
    assert (trust.units, trust.agreed) == (4, 2)
    assert trust.disagreements == {"applied/rejected": 1, "applied/absent": 1}
    assert report.themes["followership"].kappa == 1.0
    assert report.themes["difficult-customers"].disagreements == {"absent/applied": 1}
    assert {(d["idx"], d["theme"]) for d in report.disagreements} == {
        (2, "trust"),
        (3, "trust"),
        (3, "difficult-customers"),
    }
    assert report.overall is not None and report.overall.units == 12


def test_two_people_agree_on_the_segments_both_coded_only(db):
    corpus(db)
    save_codings(db, [Coding("ann", "ep1", i, "trust", "applied") for i in (1, 2, 3)])
    save_codings(db, [Coding("bob", "ep1", i, "trust", "applied") for i in (2, 3, 4)])
    report = agreement(db, "ann", "bob", theme="trust")
    assert report.segments == 2 and report.themes["trust"].percent_agreement == 100.0


def test_a_persons_decision_survives_reanalysis_and_retranscription(db):
    corpus(db)
    save_codings(db, [Coding("ann", "ep1", 2, "trust", "rejected", memo="no")])
    analyse(db, [("followership", 1)])  # re-analysis replaces every machine code
    analyse(db, [("trust", 2), ("trust", 3)])
    # Re-transcription replaces the segments (new ids), keeping their (episode, idx).
    rows = list(db["segments"].rows)
    db.execute("delete from segments where episode_id = 'ep1'")
    db["segments"].insert_all({k: v for k, v in r.items() if k != "id"} for r in rows)
    analyse(db, [("trust", 2), ("trust", 3)])
    (coding,) = db["codings"].rows
    assert (coding["segment_idx"], coding["decision"], coding["memo"]) == (2, "rejected", "no")
    statuses = {
        r["segment_idx"]: r["review_status"] for r in db.query("select * from code_reviews")
    }
    assert statuses == {2: "rejected", 3: "unreviewed"}


def test_a_theme_removed_from_the_codebook_keeps_the_persons_codings(db):
    corpus(db)
    save_codings(db, [Coding("ann", "ep1", 3, "difficult-customers", "applied")])
    db.execute("delete from themes where id = 'difficult-customers'")
    assert db["codings"].count == 1


def test_saving_checks_every_coding_and_saves_none_when_one_is_wrong(db):
    corpus(db)
    good = Coding("ann", "ep1", 1, "trust", "applied")
    for bad, message in [
        (Coding("ann", "ep1", 9, "trust", "applied"), "no segment 9"),
        (Coding("ann", "ep1", 1, "nope", "applied"), "Unknown theme"),
        (Coding("machine", "ep1", 1, "trust", "applied"), "pipeline's own coder"),
        (Coding("ann", "ep1", 1, "trust", "applied", start_char=5, end_char=2), "empty"),
    ]:
        with pytest.raises(CodingError, match=message):
            save_codings(db, [good, bad])
    assert db["codings"].count == 0


def test_the_same_decision_again_replaces_it_and_keeps_the_memo(db):
    corpus(db)
    save_codings(db, [Coding("ann", "ep1", 1, "trust", "applied", memo="first thought")])
    save_codings(db, [Coding("ann", "ep1", 1, "trust", "rejected")])
    (row,) = db["codings"].rows
    assert (row["decision"], row["memo"]) == ("rejected", "first thought")


def test_the_review_queue_resumes_and_its_sample_is_seeded(db):
    corpus(db)
    queue = review_queue(db, "ann", QueueFilter())
    assert [i.idx for i in queue] == [1, 2, 3]
    assert [p.theme for p in queue[0].proposals] == ["followership"]
    assert queue[1].before and queue[1].after and queue[1].link.endswith("#t=20")
    save_codings(db, [Coding("ann", "ep1", 1, "followership", "applied")])
    assert [i.idx for i in review_queue(db, "ann", QueueFilter())] == [2, 3]
    sample = [i.idx for i in review_queue(db, "bob", QueueFilter(sample=3, seed=4))]
    assert len(sample) == 3 and sample == [
        i.idx for i in review_queue(db, "bob", QueueFilter(sample=3, seed=4))
    ]
    everything = review_queue(db, "bob", QueueFilter(sample=10))
    assert {i.idx for i in everything} == {0, 1, 2, 3, 4}  # uncoded segments too


def test_review_set_and_import_record_decisions_through_the_cli(runner, tmp_path):
    path = tmp_path / "p.db"
    corpus(connect(path))
    cli = ["--db", str(path), "review"]
    result = runner.invoke(
        app, [*cli, "set", "ep1:2", "trust", "--reject", "--coder", "ann", "--memo", "a promise"]
    )
    assert result.exit_code == 0, result.stderr
    seg = connect(path).execute("select id from segments where idx = 3").fetchone()[0]
    rows = tmp_path / "codes.jsonl"
    rows.write_text(
        json.dumps({"segment": str(seg), "theme": "difficult-customers", "decision": "accept"})
        + "\n"
        + json.dumps(
            {"episode": "ep1", "idx": 0, "theme": "", "decision": "rejected", "coder": "bob"}
        )
        + "\n"
    )
    result = runner.invoke(app, [*cli, "import", str(rows), "--coder", "ann"])
    assert result.exit_code == 0, result.stderr
    got = {
        (r["coder"], r["segment_idx"], r["theme_id"], r["decision"], r["memo"])
        for r in connect(path)["codings"].rows
    }
    assert got == {
        ("ann", 2, "trust", "rejected", "a promise"),
        ("ann", 3, "difficult-customers", "applied", None),
        ("bob", 0, "", "rejected", None),
    }
    bad = tmp_path / "bad.csv"
    bad.write_text("segment,theme,decision\nep1:1,trust,maybe\n")
    result = runner.invoke(app, [*cli, "import", str(bad), "--coder", "ann"])
    assert result.exit_code == 1 and "bad.csv row 2" in result.stderr
    assert "Traceback" not in result.stderr


def copy_db(source: Path, target: Path) -> Path:
    """A copy of the session's demo database (WAL included) that a test may change."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def script_coder(db_path: Path) -> tuple[list[dict], dict]:
    """A second coder from the demo scripts: each segment gets the themes of the script
    lines it overlaps most (the lines were written to say those themes)."""
    db = connect(db_path)
    episodes = {row["guid"]: row["id"] for row in db["episodes"].rows}
    rows, truth = [], {}
    for turns_file in sorted((DEMO / "audio").glob("ep*.turns.json")):
        episode = episodes[f"long-table-{turns_file.name[:4]}"]
        turns = json.loads(turns_file.read_text())
        for seg in db.query(
            "select idx, start_time, end_time from segments"
            " where episode_id = ? and quality in ('ok', 'estimated-time')",
            [episode],
        ):
            best = max(
                turns,
                key=lambda t: min(t["end"], seg["end_time"]) - max(t["start"], seg["start_time"]),
            )
            themes = best["themes"]
            truth[(episode, seg["idx"])] = set(themes)
            for theme in themes or [""]:
                rows.append(
                    {
                        "segment": f"{episode}:{seg['idx']}",
                        "theme": theme,
                        "decision": "applied" if theme else "rejected",
                    }
                )
    return rows, truth


def demo_with_script_coder(demo_db, tmp_path, runner):
    """A copy of the demo database with the scripts' labels imported as coder "script";
    (its path, the labels by segment)."""
    path = copy_db(demo_db, tmp_path / "demo.db")
    rows, truth = script_coder(path)
    codes = tmp_path / "script.jsonl"
    codes.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = runner.invoke(
        app, ["--db", str(path), "review", "import", str(codes), "--coder", "script"]
    )
    assert result.exit_code == 0, result.stderr
    return path, truth


def test_a_second_coder_from_the_demo_scripts_gets_the_kappa_computed_by_hand(
    demo_db, tmp_path, runner
):
    path, truth = demo_with_script_coder(demo_db, tmp_path, runner)
    cli = ["--db", str(path)]
    result = runner.invoke(
        app,
        [
            *cli,
            "agreement",
            "--coder",
            "machine",
            "--coder",
            "script",
            "--theme",
            "followership",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    machine = {
        (r["episode_id"], r["segment_idx"])
        for r in connect(path).query("select * from machine_codes where theme_id = 'followership'")
    }
    # By hand: the 2x2 table of machine and script decisions on every shared segment.
    both = sum(k in machine and "followership" in t for k, t in truth.items())
    machine_only = sum(k in machine and "followership" not in t for k, t in truth.items())
    script_only = sum(k not in machine and "followership" in t for k, t in truth.items())
    n = len(truth)
    neither = n - both - machine_only - script_only
    observed = (both + neither) / n
    p_m, p_s = (both + machine_only) / n, (both + script_only) / n
    expected = p_m * p_s + (1 - p_m) * (1 - p_s)
    kappa = (observed - expected) / (1 - expected)
    scores = report["themes"]["followership"]
    assert report["segments"] == n and scores["units"] == n
    assert scores["kappa"] == pytest.approx(kappa, abs=1e-4)
    assert scores["percent_agreement"] == pytest.approx(100 * observed, abs=0.01)
    assert 0 < kappa < 1 and scores["alpha"] is not None
    text = runner.invoke(app, [*cli, "agreement", "--coder", "machine", "--coder", "script"])
    assert "kappa" in text.stdout and "alpha" in text.stdout and "overall" in text.stdout

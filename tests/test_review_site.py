"""What the reviews are for: --confirmed counts, Datasette's review status and disputed
codes (a real Datasette on a free port), training passages from reviews."""

from __future__ import annotations

import json

import httpx
import pytest

from pipeline.analysis.classifier import load_classifier, load_training, training_hash
from pipeline.cli import app
from pipeline.review.codings import Coding, reviewed_passages, save_codings
from pipeline.store.db import connect

from .conftest import ROOT
from .test_classify import needs_semantic
from .test_datasette import served
from .test_review import corpus


@pytest.fixture
def reviewed(tmp_path):
    """The small corpus with two people's reviews: ann and bob disagree on segment 2."""
    path = tmp_path / "reviewed.db"
    db = corpus(connect(path))
    save_codings(
        db,
        [
            Coding("ann", "ep1", 1, "followership", "applied"),
            Coding("ann", "ep1", 2, "trust", "rejected", memo="a promise, not trust"),
            Coding("bob", "ep1", 2, "trust", "applied"),
            Coding("ann", "ep1", 3, "trust", "rejected"),
            Coding("ann", "ep1", 3, "difficult-customers", "applied"),
            Coding("ann", "ep1", 0, "", "rejected"),
        ],
    )
    return path


def test_confirmed_counts_only_what_people_applied_and_nobody_rejected(reviewed, runner):
    cli = ["--db", str(reviewed)]
    all_codes = json.loads(runner.invoke(app, [*cli, "themes", "--json"]).stdout)
    confirmed = json.loads(runner.invoke(app, [*cli, "themes", "--confirmed", "--json"]).stdout)
    mentions = {r["id"]: r["mentions"] for r in all_codes}
    kept = {r["id"]: (r["mentions"], r["human"]) for r in confirmed}
    assert mentions == {"trust": 2, "followership": 1, "difficult-customers": 0}
    assert kept == {"followership": (1, 0), "difficult-customers": (1, 1), "trust": (0, 0)}
    hits = json.loads(
        runner.invoke(app, [*cli, "search", "--theme", "trust", "--confirmed", "--json"]).stdout
    )
    assert hits == []
    hits = json.loads(
        runner.invoke(app, [*cli, "search", "customer", "--confirmed", "--json"]).stdout
    )
    assert [h["themes"] for h in hits] == [["difficult-customers"]]
    # ... a theme a person added, with words: the machine never tagged it in the index.
    hits = json.loads(
        runner.invoke(
            app,
            [*cli, "search", "customer", "--theme", "difficult-customers", "--confirmed", "--json"],
        ).stdout
    )
    assert [h["segment_id"] for h in hits] == [4]


def test_reviewed_segments_become_training_passages(reviewed):
    passages = {p["text"]: p["themes"] for p in reviewed_passages(connect(reviewed))}
    assert passages == {
        "Welcome to the show.": [],
        "Good followers push back on a leader who is wrong.": ["followership"],
        "A customer shouted at my staff for an hour.": ["difficult-customers"],
    }  # segment 2 is disputed: left out


def test_train_classifier_with_reviews_needs_reviews(runner, tmp_path):
    path = tmp_path / "none.db"
    corpus(connect(path))
    result = runner.invoke(app, ["--db", str(path), "train-classifier", "--with-reviews"])
    assert result.exit_code == 1 and "No reviewed segments" in result.stderr


@pytest.fixture
def site(reviewed):
    with served(reviewed) as base:
        yield f"{base}/{reviewed.stem}"


def test_datasette_shows_review_status_and_disputed_codes(site):
    def rows(path, **params):
        response = httpx.get(f"{site}/{path}.json", params={"_shape": "array", **params})
        assert response.status_code == 200, response.text[:300]
        return response.json()

    status = {(r["segment_idx"], r["theme_id"]): r["review_status"] for r in rows("code_reviews")}
    assert status == {
        (1, "followership"): "confirmed",
        (2, "trust"): "disputed",
        (3, "trust"): "rejected",
    }
    disputed = rows("disputed_codes")
    assert [(d["segment"], d["theme"]) for d in disputed] == [
        ("ep1:2", "trust"),
        ("ep1:3", "trust"),
    ]
    first = disputed[0]
    assert set(first["applied_by"].split(", ")) == {"machine", "bob"}
    assert first["rejected_by"] == "ann" and first["memos"] == "a promise, not trust"
    assert first["audio"].endswith("#t=20")
    facets = httpx.get(f"{site}/code_reviews.json").json()["facet_results"]
    assert "review_status" in facets.get("results", facets)


@needs_semantic
def test_train_classifier_with_reviews_trains_on_the_reviewed_segments(reviewed, runner, tmp_path):
    training = tmp_path / "training"
    training.mkdir()
    for name in ("followership.jsonl", "no-theme.jsonl"):  # a few passages: it is quick
        lines = (ROOT / "data" / "training" / name).read_text().splitlines()[:40]
        (training / name).write_text("\n".join(lines) + "\n")
    calibration = tmp_path / "calibration.jsonl"
    calibration.write_text(
        json.dumps(
            {
                "text": "Why do people follow one manager and not another?",
                "themes": ["followership"],
            }
        )
        + "\n"
        + json.dumps({"text": "Follow the signs to the car park.", "themes": []})
        + "\n"
    )
    output = tmp_path / "theme-classifier.npz"
    args = [
        "--db",
        str(reviewed),
        "train-classifier",
        "--training",
        str(training),
        "--calibration",
        str(calibration),
        "--output",
        str(output),
        "--with-reviews",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert "with 3 reviewed segments" in result.stderr
    reviews = [
        {"text": p["text"], "themes": p["themes"]} for p in reviewed_passages(connect(reviewed))
    ]
    hash_with = training_hash(load_training(training) + reviews)
    assert (
        load_classifier(output).training_hash == hash_with != training_hash(load_training(training))
    )

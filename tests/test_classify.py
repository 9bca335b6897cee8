"""The theme classifier: its file, how analysis uses it, retraining it, and its quality."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import pipeline.analysis.semantic as semantic
from pipeline.analysis.classifier import (
    ClassifierError,
    ThemeClassifier,
    load_classifier,
    load_training,
    save_classifier,
    training_hash,
)
from pipeline.analysis.codebook import DEFAULT_CODEBOOK, CodebookError, load_codebook
from pipeline.analysis.engine import CLASSIFIER, AnalysisError, Analyzer
from pipeline.cli import app

from .conftest import ROOT

CODEBOOK = ROOT / "data" / "themes.toml"
needs_semantic = pytest.mark.skipif(not semantic.available(), reason="needs [semantic]")


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer(use_semantic=True) if semantic.available() else None


def tiny_classifier(**changes) -> ThemeClassifier:
    rng = np.random.default_rng(7)
    fields = dict(
        themes=["trust", "creativity", "confidence"],
        vocabulary={"trust": 0, "idea": 1, "trust me": 2},
        idf=np.array([1.5, 2.0, 3.0], np.float32),
        weights=rng.normal(size=(4 + 3 + 3, 3)).astype(np.float32),
        bias=np.zeros(3, np.float32),
        threshold=0.5,
        embedding_model="all-MiniLM-L6-v2",
        training_hash="abc",
    )
    return ThemeClassifier(**{**fields, **changes})


def test_classifier_file_round_trips_and_scores_the_same(tmp_path):
    classifier = tiny_classifier()
    path = tmp_path / "c.npz"
    save_classifier(classifier, path)
    loaded = load_classifier(path)
    vectors = np.eye(2, 4, dtype=np.float32)
    args = (vectors, [{"trust"}, set()], ["Trust me, trust me.", "An idea"])
    assert np.allclose(loaded.probabilities(*args), classifier.probabilities(*args))
    assert loaded.themes == classifier.themes and loaded.vocabulary == classifier.vocabulary


def test_classifier_accepts_at_most_top_k_themes_above_its_threshold():
    classifier = tiny_classifier(top_k=2, threshold=0.5)
    probabilities = np.array([[0.9, 0.8, 0.7], [0.4, 0.6, 0.1]])
    assert classifier.accepted(probabilities).tolist() == [
        [True, True, False],
        [False, True, False],
    ]


def test_a_file_that_is_not_a_classifier_gets_a_clear_error(tmp_path):
    path = tmp_path / "c.npz"
    path.write_text("not numpy")
    with pytest.raises(ClassifierError, match="is not a theme classifier"):
        load_classifier(path)


def test_a_bad_training_line_is_named(tmp_path):
    (tmp_path / "trust.jsonl").write_text('{"text": "x", "themes": []}\n{"text": "y"}\n')
    with pytest.raises(ClassifierError, match="trust.jsonl line 2"):
        load_training(tmp_path)


def test_shipped_classifier_was_trained_on_the_shipped_passages_and_codebook():
    """Editing data/training/ or the theme list without retraining fails here."""
    codebook = load_codebook()
    classifier = load_classifier(codebook.classifier)
    assert classifier.training_hash == training_hash(load_training())
    assert classifier.themes == [t.id for t in codebook.themes]


def test_codebook_names_a_missing_classifier(tmp_path):
    copy = tmp_path / "themes.toml"
    copy.write_text(CODEBOOK.read_text().replace("theme-classifier.npz", "nope.npz"))
    with pytest.raises(CodebookError, match="nope.npz"):
        load_codebook(copy)


def test_a_retrained_classifier_changes_the_codebook_hash(tmp_path):
    """So the next run re-analyses every episode with it."""
    copy = tmp_path / "themes.toml"
    shutil.copy(CODEBOOK, copy)
    before = load_codebook(copy)
    # A copy elsewhere finds the classifier shipped with the package.
    assert before.classifier == DEFAULT_CODEBOOK.parent / "theme-classifier.npz"
    classifier = load_classifier(before.classifier)
    classifier.threshold = 0.99
    save_classifier(classifier, tmp_path / "theme-classifier.npz")
    after = load_codebook(copy)
    assert after.classifier == tmp_path / "theme-classifier.npz"  # beside the codebook wins
    assert after.digest != before.digest


@needs_semantic
def test_a_classifier_trained_on_other_embeddings_is_refused(tmp_path):
    copy = tmp_path / "themes.toml"
    shutil.copy(CODEBOOK, copy)
    save_classifier(
        tiny_classifier(embedding_model="other-model"), tmp_path / "theme-classifier.npz"
    )
    with pytest.raises(AnalysisError, match="other-model"):
        Analyzer(load_codebook(copy), use_semantic=True)


@needs_semantic
def test_classifier_finds_a_theme_said_in_other_words(analyzer):
    result = analyzer.analyze_text(
        "On exercise she always ate last, after every single private in the platoon had been fed."
    )
    found = {m.theme: m for m in result.mentions}
    assert found["servant-leadership"].method == CLASSIFIER
    assert 0.5 < found["servant-leadership"].score <= 1.0


@needs_semantic
def test_keyword_hits_the_classifier_disputes_are_kept_at_low_confidence(analyzer):
    """The codebook's words always count; on a false friend the classifier's doubt is
    recorded (confidence low, its probability as the score), not a silent drop."""
    keyword_only = Analyzer(analyzer.codebook, use_semantic=False)
    for text, theme in [
        (
            "I had to transform the spreadsheet into a pivot table before the call.",
            "change-and-reinvention",
        ),
        (
            "My nephew is a proper extrovert, he'll talk to anyone at a wedding.",
            "charismatic-leadership",
        ),
    ]:
        assert theme in {m.theme for m in keyword_only.analyze_text(text).mentions}
        (mention,) = [m for m in analyzer.analyze_text(text).mentions if m.theme == theme]
        assert (mention.method, mention.confidence) == ("keyword", "low")
        assert 0 <= mention.score < analyzer.classifier.threshold


@needs_semantic
def test_every_codebook_phrase_said_plainly_yields_its_theme(analyzer):
    """One plain sentence per phrase of the shipped codebook: each finds its theme
    (at whatever confidence), so no phrase a researcher wrote is vetoed."""
    sentences = [
        (theme.id, f"Today we talked about {phrase} with our guests.")
        for theme in analyzer.codebook.themes
        for phrase in theme.phrases
    ]
    assert len(sentences) > 80
    missing = [
        (theme, text)
        for theme, text in sentences
        if theme not in {m.theme for m in analyzer.analyze_text(text).mentions}
    ]
    assert not missing, missing


@needs_semantic
def test_the_fourth_principle_making_us_matter_is_a_mention(runner):
    result = runner.invoke(
        app, ["analyze-text", "-", "--json"], input="And the fourth principle is making us matter."
    )
    themes = {t["id"]: t for t in json.loads(result.stdout)["themes"]}
    assert "identity-impresarioship" in themes
    assert themes["identity-impresarioship"]["confidence"] in ("high", "low")


@needs_semantic
def test_train_classifier_command_writes_a_classifier_analysis_can_use(runner, tmp_path):
    training = tmp_path / "training"
    training.mkdir()
    for name in ("followership.jsonl", "no-theme.jsonl"):
        shutil.copy(ROOT / "data" / "training" / name, training / name)
    calibration = tmp_path / "calibration.jsonl"
    calibration.write_text(
        "\n".join(
            json.dumps(p)
            for p in [
                {
                    "text": "Why do people choose to follow one manager and not another?",
                    "themes": ["followership"],
                },
                {"text": "Follow the signs to the car park at the back.", "themes": []},
            ]
        )
    )
    output = tmp_path / "theme-classifier.npz"
    result = runner.invoke(
        app,
        [
            "train-classifier",
            "--training",
            str(training),
            "--calibration",
            str(calibration),
            "--output",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.stderr
    classifier = load_classifier(output)
    assert classifier.training_hash == training_hash(load_training(training))
    copy = tmp_path / "themes.toml"
    shutil.copy(CODEBOOK, copy)
    themes = {
        m.theme
        for m in Analyzer(load_codebook(copy), use_semantic=True)
        .analyze_text("Nobody stood behind him when it mattered; the team simply went elsewhere.")
        .mentions
    }
    assert "followership" in themes


def test_train_classifier_command_reports_a_missing_training_folder(runner, tmp_path):
    result = runner.invoke(app, ["train-classifier", "--training", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "No labelled passages" in result.stderr or "[semantic]" in result.stderr


@needs_semantic
def test_classifier_quality_on_the_held_out_passages_does_not_regress(analyzer):
    """A little under the figures in docs/benchmarks.md (test split: never trained or
    calibrated on)."""
    from benchmarks.themes import evaluate

    test = evaluate(analyzer)["parts"]["test"]  # passages split into sentences
    precision, recall, f1 = test["combined"].prf()  # measured 0.791 / 0.809 / 0.800
    assert precision >= 0.77 and recall >= 0.79 and f1 >= 0.78, (precision, recall, f1)
    precision, recall, f1 = test["high"].prf()  # measured 0.854 / 0.746 / 0.796
    assert precision >= 0.84 and f1 >= 0.78, (precision, recall, f1)


@needs_semantic
def test_segments_too_short_to_classify_keep_only_their_keyword_hits(analyzer):
    """Caption fragments: a lone "people" is about nothing, "Followers matter." still is."""
    assert analyzer.analyze_text("people").mentions == []
    found = analyzer.analyze_text("Followers matter.").mentions
    assert [(m.theme, m.method) for m in found] == [("followership", "keyword")]

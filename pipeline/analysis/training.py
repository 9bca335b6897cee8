"""Retraining the theme classifier: load the labelled passages, train on data/training
with the analysis engine's embeddings, calibrate on the dev half, save.

Apart from classifier.py because it drives the whole analysis engine (engine.Analyzer),
which itself loads classifiers: classifier -> engine -> classifier would be an import cycle.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pipeline.analysis.semantic as semantic
from pipeline.analysis.classifier import (
    DEFAULT_FILE,
    TRAINING,
    ClassifierError,
    ThemeClassifier,
    load_training,
    save_classifier,
    train_classifier,
)
from pipeline.analysis.engine import Analyzer

log = logging.getLogger(__name__)

# Labelled passages (tests/eval/README.md) whose dev half calibrates a retrained classifier.
PASSAGES = Path(__file__).resolve().parents[2] / "tests" / "eval" / "themes.jsonl"


def retrain(
    codebook: Any,
    *,
    training: Path = TRAINING,
    calibration: Path | None = None,
    output: Path | None = None,
    extra: list[dict[str, Any]] | None = None,
) -> ThemeClassifier:
    """Train the codebook's classifier on the training folder (and the `extra` passages:
    people's reviews), calibrate it on the labelled passages in `calibration` (default:
    the dev half of tests/eval) and save it where the codebook looks for it."""
    if not semantic.available():
        raise ClassifierError("Training needs the extra: pip install 'podinsights[semantic]'.")
    target = output or codebook.classifier or codebook.path.parent / DEFAULT_FILE
    known = {t.id for t in codebook.themes}
    rows = load_training(training) + [
        {"text": r["text"], "themes": [t for t in r["themes"] if t in known]} for r in extra or []
    ]
    if calibration is None and not PASSAGES.exists():  # an installed package, not a checkout
        raise ClassifierError(
            "The labelled passages that set the threshold ship only in a checkout"
            f" ({PASSAGES.name}); give your own with --calibration FILE."
        )
    passages = load_passages(calibration) if calibration else split(load_passages(PASSAGES), "dev")
    analyzer = Analyzer(replace(codebook, classifier=None), use_semantic=True)
    classifier = train_classifier(rows, analyzer, passages)
    save_classifier(classifier, target)
    log.info("wrote %s", target)
    return classifier


def load_passages(path: Path = PASSAGES) -> list[dict[str, Any]]:
    """Labelled passages, one JSON object a line (tests/eval/README.md)."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ClassifierError(f"Cannot read the labelled passages {path}: {error}.") from None
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def split(passages: list[dict[str, Any]], part: str) -> list[dict[str, Any]]:
    """The dev half (odd ids, tuned on) or the test half (even ids, measured only)."""
    parity = 1 if part == "dev" else 0
    return [p for p in passages if int(p["id"].lstrip("p")) % 2 == parity]

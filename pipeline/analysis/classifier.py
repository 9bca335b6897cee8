"""The theme classifier: one logistic regression per theme over what a segment says
(its sentence embedding), the codebook's keyword hits in it, and its words and word
pairs (TF-IDF), trained on the passages in data/training/.

Keywords alone miss talk that makes a point in other words ("she'd be the last one to
eat"), and prototype similarity alone cannot tell a theme from its neighbours; a model
trained on a few thousand labelled passages, near misses included, does both, and it
also vetoes keyword hits on false friends the exclusions do not list.

Applying it needs numpy and scipy, training scikit-learn: the ``[semantic]`` extra
brings all three with sentence-transformers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError

log = logging.getLogger(__name__)

TRAINING = Path(str(resources.files("pipeline") / "defaults" / "training"))  # shipped with it
DEFAULT_FILE = "theme-classifier.npz"
TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default, so training and use agree
# Picked among neighbouring settings on tests/eval (docs/benchmarks.md says how): the
# regularisation, how much the word features count beside the embedding, and at most
# two themes a segment.
REGULARISATION = 3.0
NGRAM_WEIGHT = 1.5
TOP_K = 2
# Shorter segments (caption fragments, one-word cues) say too little to classify: a
# lone "people" scored 0.98 for followership. Their keyword hits stand as they are.
MIN_WORDS = 4
MIN_DOCUMENTS = 2  # a word or pair seen in one training passage only says nothing general
THRESHOLDS = [round(0.3 + 0.05 * i, 2) for i in range(13)]
CALIBRATION_PRECISION = 0.88
# What the classifier file keeps as JSON; the arrays are stored as they are.
META = ("themes", "threshold", "embedding_model", "training_hash", "top_k", "ngram_weight")


class ClassifierError(PipelineError):
    pass


@dataclass
class ThemeClassifier:
    themes: list[str]
    vocabulary: dict[str, int]
    idf: np.ndarray  # per vocabulary entry
    weights: np.ndarray  # [embedding + keyword columns + vocabulary, themes]
    bias: np.ndarray  # per theme
    threshold: float
    embedding_model: str
    training_hash: str
    top_k: int = TOP_K
    ngram_weight: float = NGRAM_WEIGHT

    def features(
        self, vectors: np.ndarray, keyword_hits: Sequence[set[str]], texts: Sequence[str]
    ) -> Any:
        """A sparse row per text: its embedding, which themes' keywords it matched, and
        the sublinear TF-IDF of its known words and word pairs (L2-normalised, scaled
        by ngram_weight)."""
        from scipy import sparse

        hits = [[t in found for t in self.themes] for found in keyword_hits]
        words = sparse.lil_matrix((len(texts), len(self.vocabulary)), dtype=np.float32)
        for row, text in enumerate(texts):
            counts = Counter(c for c in map(self.vocabulary.get, ngrams(text)) if c is not None)
            values = {c: (1 + math.log(n)) * float(self.idf[c]) for c, n in counts.items()}
            norm = math.sqrt(sum(v * v for v in values.values())) or 1.0
            for column, value in values.items():
                words[row, column] = self.ngram_weight * value / norm
        hit_columns = np.array(hits, np.float32).reshape(len(texts), len(self.themes))
        dense = sparse.csr_matrix(np.hstack([vectors, hit_columns]))
        return sparse.hstack([dense, words.tocsr()]).tocsr()

    def probabilities(
        self, vectors: np.ndarray, keyword_hits: Sequence[set[str]], texts: Sequence[str]
    ) -> np.ndarray:
        """[len(texts), len(themes)] probability that each text is about each theme."""
        logits = self.features(vectors, keyword_hits, texts) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.asarray(logits)))

    def accepted(self, probabilities: np.ndarray, margin: float | np.ndarray = 0.0) -> np.ndarray:
        """Above the threshold (plus a margin, per row) and among the text's top_k themes."""
        ranks = np.argsort(np.argsort(-probabilities, axis=1), axis=1)
        above = probabilities >= self.threshold + np.reshape(margin, (-1, 1))
        return above & (ranks < self.top_k)


def ngrams(text: str) -> list[str]:
    words = TOKEN.findall(text.lower())
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def load_classifier(path: Path) -> ThemeClassifier:
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            return ThemeClassifier(
                vocabulary={w: i for i, w in enumerate(data["vocabulary"].tolist())},
                idf=data["idf"],
                weights=data["weights"],
                bias=data["bias"],
                **{k: meta[k] for k in META},
            )
    except (OSError, ValueError, KeyError) as exc:
        raise ClassifierError(f"{path} is not a theme classifier: {exc}.") from exc


def save_classifier(classifier: ThemeClassifier, path: Path) -> None:
    meta = {k: getattr(classifier, k) for k in META}
    words = sorted(classifier.vocabulary, key=classifier.vocabulary.__getitem__)
    with path.open("wb") as out:  # np.savez would add ".npz" to any other name
        np.savez_compressed(
            out,
            meta=np.array(json.dumps(meta, sort_keys=True)),
            vocabulary=np.array(words),
            idf=classifier.idf.astype(np.float32),
            weights=classifier.weights.astype(np.float32),
            bias=classifier.bias.astype(np.float32),
        )


def load_training(directory: Path = TRAINING) -> list[dict[str, Any]]:
    """Every labelled passage in the directory's *.jsonl files."""
    rows: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                rows.append({"text": str(row["text"]), "themes": list(row["themes"])})
            except (ValueError, KeyError, TypeError) as exc:
                raise ClassifierError(f"{path} line {number} is not a labelled passage.") from exc
    if not rows:
        raise ClassifierError(f"No labelled passages (*.jsonl) in {directory}.")
    return rows


def training_hash(rows: Sequence[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(list(rows), sort_keys=True).encode()).hexdigest()[:16]


def train_classifier(
    rows: Sequence[dict[str, Any]],
    analyzer: Any,
    calibration: Sequence[dict[str, Any]],
    *,
    regularisation: float = REGULARISATION,
) -> ThemeClassifier:
    """Fit a theme classifier for the analyzer's codebook and embedding model on the
    labelled rows, then set its threshold on the calibration passages."""
    from sklearn.linear_model import LogisticRegression

    if analyzer.semantic is None:
        raise ClassifierError("Training needs the [semantic] extra (sentence embeddings).")
    themes = [t.id for t in analyzer.codebook.themes]
    texts = [r["text"] for r in rows]
    vocabulary, idf = _vocabulary(texts)
    classifier = ThemeClassifier(
        themes,
        vocabulary,
        idf,
        weights=np.zeros((0, len(themes))),
        bias=np.zeros(len(themes)),
        threshold=0.5,
        embedding_model=analyzer.semantic.name,
        training_hash=training_hash(rows),
    )
    features = classifier.features(
        analyzer.semantic.embed(texts), analyzer.keyword_themes(texts), texts
    )
    columns, biases = [], []
    for theme in themes:
        labels = np.array([theme in r["themes"] for r in rows])
        if labels.all() or not labels.any():  # nothing to learn from: never predicted
            log.warning("no positive and negative training passages for %s", theme)
            columns.append(np.zeros(features.shape[1]))
            biases.append(-30.0)
            continue
        model = LogisticRegression(C=regularisation, class_weight="balanced", max_iter=3000)
        model.fit(features, labels)
        columns.append(model.coef_[0])
        biases.append(float(model.intercept_[0]))
    classifier.weights = np.stack(columns, axis=1).astype(np.float32)
    classifier.bias = np.array(biases, np.float32)
    classifier.threshold = calibrate(classifier, analyzer, calibration)
    return classifier


def calibrate(
    classifier: ThemeClassifier, analyzer: Any, passages: Sequence[dict[str, Any]]
) -> float:
    """The threshold with the best F1 over the passages whose precision is at least
    CALIBRATION_PRECISION (a margin over the 0.85 target, for new passages)."""
    texts = [p["text"] for p in passages]
    probabilities = classifier.probabilities(
        analyzer.semantic.embed(texts), analyzer.keyword_themes(texts), texts
    )
    gold = np.array([[t in p["themes"] for t in classifier.themes] for p in passages])
    best = (-1.0, 0.5)
    for threshold in THRESHOLDS:
        classifier.threshold = threshold
        found = classifier.accepted(probabilities)
        tp, predicted, actual = (found & gold).sum(), found.sum(), gold.sum()
        precision = tp / predicted if predicted else 1.0
        f1 = 2 * tp / (predicted + actual) if predicted + actual else 0.0
        if precision >= CALIBRATION_PRECISION and f1 > best[0]:
            best = (f1, threshold)
    log.info("classifier threshold %.2f (calibration F1 %.3f)", best[1], best[0])
    return best[1]


def _vocabulary(texts: Sequence[str]) -> tuple[dict[str, int], np.ndarray]:
    """Words and word pairs in at least MIN_DOCUMENTS texts, with smoothed IDF."""
    documents = Counter(term for text in texts for term in set(ngrams(text)))
    terms = sorted(t for t, n in documents.items() if n >= MIN_DOCUMENTS)
    idf = np.array([math.log((1 + len(texts)) / (1 + documents[t])) + 1 for t in terms])
    return {t: i for i, t in enumerate(terms)}, idf.astype(np.float32)

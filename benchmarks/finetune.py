"""Does fine-tuning the sentence encoder beat the frozen one? (`python -m benchmarks finetune`)

The theme classifier is a logistic regression per theme over all-MiniLM-L6-v2
embeddings, keyword hits and words (pipeline.analysis.classifier). Here the encoder is
first fine-tuned on the classifier's own training passages (pipeline/defaults/training/)
in the SetFit manner: pairs of passages that share a theme are pulled together, pairs
that share none pushed apart (cosine-similarity loss), with each theme's near misses
(the passages of its file that are about no theme) as hard negatives. The same
logistic regression is then trained over the fine-tuned embeddings and calibrated on
dev, and the two are compared on dev only (tests/eval odd passages): the test half and
the sealed set are not read here.
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import pipeline.analysis.semantic as semantic
from pipeline.analysis.classifier import TRAINING, load_training, train_classifier
from pipeline.analysis.engine import Analyzer
from pipeline.analysis.training import load_passages, split

from .themes import predict, theme_scores


@dataclass
class Variant:
    name: str
    pairs_per_anchor: int = 1  # positives and as many negatives per themed passage
    hard_share: float = 0.5  # of the negatives, this share is the theme's own near misses
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 2e-5
    loss: str = "cosine"  # "cosine" (SetFit) or "ranking" (in-batch negatives)
    seed: int = 0
    max_tokens: int = 128  # the passages average 33 words; longer ones are cut here
    train_layers: int = 6  # of MiniLM's 6: the lower ones (and the word embeddings) stay frozen


def training_rows(directory: Path = TRAINING) -> list[dict[str, Any]]:
    """The training passages with the theme whose file they came from ("trust-2.jsonl"
    -> "trust"; "no-theme" for the general negatives)."""
    rows = []
    for path in sorted(directory.glob("*.jsonl")):
        source = path.stem.removesuffix("-2")
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                rows.append({"text": row["text"], "themes": row["themes"], "file": source})
    return rows


def make_pairs(rows: list[dict[str, Any]], variant: Variant) -> list[tuple[str, str, float]]:
    """(text, text, 1.0 if they share a theme else 0.0), seeded."""
    rng = random.Random(variant.seed)
    themed = [r for r in rows if r["themes"]]
    by_theme: dict[str, list[dict[str, Any]]] = {}
    misses: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        for theme in row["themes"]:
            by_theme.setdefault(theme, []).append(row)
        if not row["themes"]:
            misses.setdefault(row["file"], []).append(row)
    pairs = []
    for anchor in themed:
        for _ in range(variant.pairs_per_anchor):
            theme = rng.choice(anchor["themes"])
            positive = rng.choice([r for r in by_theme[theme] if r is not anchor])
            pairs.append((anchor["text"], positive["text"], 1.0))
            hard = misses.get(theme, [])
            if hard and rng.random() < variant.hard_share:
                negative = rng.choice(hard)
            else:
                negative = rng.choice(rows)
                while set(negative["themes"]) & set(anchor["themes"]):
                    negative = rng.choice(rows)
            pairs.append((anchor["text"], negative["text"], 0.0))
    rng.shuffle(pairs)
    return pairs


def finetune(
    model: Any, pairs: list[tuple[str, str, float]], variant: Variant
) -> tuple[float, float]:
    """Fine-tune the SentenceTransformer in place; returns the (wall, CPU) seconds it took."""
    import torch
    import torch.nn.functional as functional

    torch.manual_seed(variant.seed)
    started, cpu = time.perf_counter(), time.process_time()
    model.max_seq_length = variant.max_tokens
    _freeze_below(model, variant.train_layers)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=variant.learning_rate)
    steps = variant.epochs * -(-len(pairs) // variant.batch_size)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup)))
    )
    device = model.device

    def embed(texts: list[str]) -> Any:
        features = {
            k: v.to(device) if hasattr(v, "to") else v for k, v in model.preprocess(texts).items()
        }
        return model(features)["sentence_embedding"]

    for _ in range(variant.epochs):
        for start in range(0, len(pairs), variant.batch_size):
            if start % (50 * variant.batch_size) == 0:
                print(
                    f"  pair {start}/{len(pairs)} {time.perf_counter() - started:.0f} s", flush=True
                )
            batch = pairs[start : start + variant.batch_size]
            left = embed([a for a, _, _ in batch])
            right = embed([b for _, b, _ in batch])
            if variant.loss == "cosine":
                labels = torch.tensor([y for _, _, y in batch], dtype=torch.float32)
                loss = functional.mse_loss(functional.cosine_similarity(left, right), labels)
            else:
                loss = _ranking_loss(left, right, batch)
            loss.backward()
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
    model.eval()
    model.max_seq_length = 256  # as the frozen model reads at analysis time
    return time.perf_counter() - started, time.process_time() - cpu


def _freeze_below(model: Any, train_layers: int) -> None:
    """Only the top ``train_layers`` transformer layers learn (cheaper backward pass)."""
    bert = model[0].auto_model
    layers = bert.encoder.layer
    for parameter in bert.embeddings.parameters():
        parameter.requires_grad = train_layers >= len(layers)
    for index, layer in enumerate(layers):
        for parameter in layer.parameters():
            parameter.requires_grad = index >= len(layers) - train_layers


def _ranking_loss(left: Any, right: Any, batch: list[tuple[str, str, float]]) -> Any:
    """Multiple-negatives ranking over the positive pairs of the batch: each anchor's
    positive must beat every other text in the batch (scale 20, as sentence-transformers)."""
    import torch
    import torch.nn.functional as functional

    keep = torch.tensor([y > 0 for _, _, y in batch])
    anchors = functional.normalize(left[keep], dim=-1)
    others = functional.normalize(torch.cat([right[keep], right[~keep]]), dim=-1)
    scores = 20.0 * anchors @ others.T
    return functional.cross_entropy(scores, torch.arange(len(anchors)))


def dev_figures(analyzer: Analyzer) -> dict[str, Any]:
    dev = split(load_passages(), "dev")
    found = predict(analyzer, dev)
    every, high = theme_scores(dev, found.combined), theme_scores(dev, found.high)
    themes = [t.id for t in analyzer.codebook.themes]
    return {
        "every": every.prf(),
        "high": high.prf(),
        "per_theme": {t: every.prf(t) for t in themes},
        "threshold": analyzer.classifier.threshold if analyzer.classifier else None,
    }


class Encoder(semantic.Embedder):
    """An embedder around a given (fine-tuned) SentenceTransformer."""

    def __init__(self, model: Any) -> None:
        self.model, self.name = model, f"{semantic.MODEL_NAME} fine-tuned"


def use_encoder(analyzer: Analyzer, model: Any) -> None:
    """Put a (fine-tuned) encoder into the analyzer and retrain its classifier over it."""
    assert analyzer.semantic is not None
    analyzer.semantic.embedder = Encoder(model)  # its own: the shared embedder stays frozen
    analyzer.semantic.prototypes = analyzer.semantic.embed(prototype_texts(analyzer))
    dev = split(load_passages(), "dev")
    classifier = analyzer.classifier
    analyzer.classifier = None  # keyword_themes and embed only while training
    trained = train_classifier(load_training(), analyzer, dev)
    analyzer.classifier = trained if classifier else None


def prototype_texts(analyzer: Analyzer) -> list[str]:
    return [s for t in analyzer.codebook.themes for s in (t.definition, *t.examples)]


def main(argv: list[str]) -> int:
    import torch
    from sentence_transformers import SentenceTransformer

    parser = argparse.ArgumentParser(prog="python -m benchmarks finetune")
    parser.add_argument("--variant", action="append", default=[], help="name=key:value,...")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--baseline", action="store_true", help="Also measure the frozen one.")
    parser.add_argument("--out", type=Path, default=Path("/tmp/finetune-results.jsonl"))
    args = parser.parse_args(argv)
    analyzer = Analyzer(use_semantic=True)
    assert analyzer.semantic is not None
    if args.baseline:
        _record(args.out, {"variant": "frozen", **dev_figures(analyzer)})
    base = importlib.import_module(semantic.PACKAGE).get_model_path()
    for spec in args.variant:
        name, _, options = spec.partition("=")
        fields = dict(o.split(":", 1) for o in options.split(",") if o)
        typed = {k: type(getattr(Variant, k))(v) for k, v in fields.items()}
        variant = Variant(name, **typed)
        torch.set_num_threads(args.threads)
        model = SentenceTransformer(str(base), device="cpu")
        pairs = make_pairs(training_rows(), variant)
        seconds, cpu = finetune(model, pairs, variant)
        torch.set_num_threads(1)
        use_encoder(analyzer, model)
        figures = dev_figures(analyzer)
        _record(
            args.out,
            {
                "variant": name,
                "options": fields,
                "pairs": len(pairs),
                "train_s": seconds,
                "train_cpu_s": cpu,
                **figures,
            },
        )
    return 0


def _record(path: Path, row: dict[str, Any]) -> None:
    with path.open("a") as out:
        out.write(json.dumps(row, default=float) + "\n")
    every, high = row["every"], row["high"]
    print(
        f"{row['variant']}: every {np.round(every, 3).tolist()} high {np.round(high, 3).tolist()}"
        f" threshold {row['threshold']} train {row.get('train_s', 0):.0f} s",
        flush=True,
    )

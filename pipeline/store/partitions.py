"""k-means partitions of the segment vectors, so that a search reads a few of them.

An inverted-file index: each vector belongs to its nearest centroid's partition, and
a query scans the few partitions whose centroids are nearest to it. Plain
numpy, seeded, so the same vectors always give the same partitions.
"""

from __future__ import annotations

import math

import numpy as np

SAMPLE_PER_CENTROID = 64  # training sample size per centroid (k-means needs no more)
ROUNDS = 10
SEED = 13
BATCH = 50_000  # vectors assigned at a time: bounds the distance matrix's memory


def partition_count(vectors: int) -> int:
    """sqrt(N) partitions (at least one): scanning a share of them then costs about
    sqrt(N) vectors per partition, the balance of centroid and partition scans."""
    return max(1, round(math.sqrt(vectors)))


def train(sample: np.ndarray, count: int) -> np.ndarray:
    """``count`` unit centroids of the unit vectors ``sample`` (spherical k-means)."""
    rng = np.random.default_rng(SEED)
    count = min(count, len(sample))
    centroids = sample[rng.choice(len(sample), count, replace=False)].copy()
    for _ in range(ROUNDS):
        labels = assign(sample, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, sample)
        empty = np.bincount(labels, minlength=count) == 0
        sums[empty] = centroids[empty]  # a centroid nobody is nearest to stays put
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return centroids.astype(np.float32)


def assign(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Each vector's nearest centroid (by cosine: the vectors are unit length)."""
    labels = [
        np.argmax(vectors[start : start + BATCH] @ centroids.T, axis=1)
        for start in range(0, len(vectors), BATCH)
    ]
    return np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64)


def probes(partitions: int, share: float) -> int:
    """How many partitions a search scans: ``share`` of them, at least one."""
    return min(partitions, max(1, math.ceil(partitions * share)))


def nearest_partitions(query: np.ndarray, centroids: np.ndarray) -> list[int]:
    """Every partition, nearest centroid to ``query`` first."""
    return [int(i) for i in np.argsort(-(centroids @ query), kind="stable")]

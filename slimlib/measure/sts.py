"""STS on labelled pairs, per pair: each pair's cosine, so intervals can resample pairs."""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.stats import spearmanr

from ..data.pairs import Pair


def pair_cosines(embed: Callable[[list[str]], np.ndarray], pairs: list[Pair]) -> np.ndarray:
    """The cosine of each pair's two sentences; every distinct sentence is embedded once."""
    unique = list(dict.fromkeys([p.sentence1 for p in pairs] + [p.sentence2 for p in pairs]))
    vectors = np.asarray(embed(unique), dtype=np.float32)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    index = {sentence: i for i, sentence in enumerate(unique)}
    first = vectors[[index[p.sentence1] for p in pairs]]
    second = vectors[[index[p.sentence2] for p in pairs]]
    return np.sum(first * second, axis=1).astype(np.float64)


def spearman_x100(cosines: np.ndarray, pairs: list[Pair]) -> float:
    """STS Spearman x100, rounded as every STS figure of slimlib is (metrics.sts_spearman)."""
    gold = np.array([p.score for p in pairs])
    return round(float(spearmanr(cosines, gold).statistic) * 100, 4)

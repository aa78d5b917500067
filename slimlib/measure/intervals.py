"""95% intervals for accuracy figures, from a paired bootstrap.

Paired: the baseline and the compressed model are scored on the SAME resamples of the pairs (STS) or
queries (retrieval), so the interval of their difference, and of the retained ratio, reflects only how
the two models differ, not how hard the resampled items happen to be. A difference whose interval holds
0 is "within noise": the data cannot tell the two models apart.

Deterministic: a fixed seed, so the same inputs always give the same interval (results are cached and
compared across runs).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

RESAMPLES = 1000
SEED = 20261208
LEVEL = 0.95
WITHIN_NOISE = "within noise"


@dataclass(frozen=True)
class PairedInterval:
    """One metric's baseline and compressed values, each with its interval, and the retained ratio's."""

    baseline: float
    compressed: float
    baseline_ci: tuple[float, float]
    compressed_ci: tuple[float, float]
    retained_ci: tuple[float, float] | None  # compressed / baseline; None when the baseline is 0
    difference_ci: tuple[float, float]

    @property
    def within_noise(self) -> bool:
        low, high = self.difference_ci
        return low <= 0.0 <= high

    def verdict(self) -> str:
        if self.within_noise:
            return WITHIN_NOISE
        return "better than the baseline" if self.difference_ci[0] > 0 else "worse than the baseline"


def _bounds(samples: np.ndarray, digits: int) -> tuple[float, float]:
    tail = (1.0 - LEVEL) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return round(float(low), digits), round(float(high), digits)


def _indices(n: int, resamples: int) -> np.ndarray:
    return np.random.default_rng(SEED).integers(0, n, size=(resamples, n))


def _summarise(base: np.ndarray, comp: np.ndarray, base_value: float, comp_value: float, digits: int) -> PairedInterval:
    safe = np.where(base == 0, np.nan, base)
    ratios = comp / safe
    return PairedInterval(
        baseline=base_value, compressed=comp_value,
        baseline_ci=_bounds(base, digits), compressed_ci=_bounds(comp, digits),
        retained_ci=_bounds(ratios[np.isfinite(ratios)], 4) if base_value and np.isfinite(ratios).any() else None,
        difference_ci=_bounds(comp - base, digits),
    )


def paired_mean_interval(baseline: np.ndarray, compressed: np.ndarray, resamples: int = RESAMPLES,
                         digits: int = 6) -> PairedInterval:
    """Intervals of two per-item score arrays' means (per-query nDCG, recall, MRR), items resampled together."""
    baseline, compressed = np.asarray(baseline, float), np.asarray(compressed, float)
    if baseline.shape != compressed.shape or baseline.ndim != 1 or len(baseline) == 0:
        raise ValueError("paired scores need two equally long, non-empty 1-d arrays")
    idx = _indices(len(baseline), resamples)
    return _summarise(baseline[idx].mean(axis=1), compressed[idx].mean(axis=1),
                      round(float(baseline.mean()), digits), round(float(compressed.mean()), digits), digits)


def _row_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman of each row of x with the same row of y (average ranks for ties, as scipy does)."""
    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denom = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    return np.where(denom > 0, (rx * ry).sum(axis=1) / np.where(denom > 0, denom, 1.0), np.nan)


def paired_spearman_interval(baseline_cos: np.ndarray, compressed_cos: np.ndarray, gold: np.ndarray,
                             resamples: int = RESAMPLES) -> PairedInterval:
    """Intervals of STS Spearman x100 for two models' pair cosines against the same gold scores."""
    baseline_cos, compressed_cos, gold = (np.asarray(a, float) for a in (baseline_cos, compressed_cos, gold))
    if not (len(baseline_cos) == len(compressed_cos) == len(gold)) or len(gold) < 3:
        raise ValueError("paired STS intervals need equally long cosines and gold scores, at least 3 pairs")
    idx = _indices(len(gold), resamples)
    golds = gold[idx]
    base = _row_spearman(baseline_cos[idx], golds) * 100
    comp = _row_spearman(compressed_cos[idx], golds) * 100
    keep = np.isfinite(base) & np.isfinite(comp)
    full_base = float(_row_spearman(baseline_cos[None], gold[None])[0] * 100)
    full_comp = float(_row_spearman(compressed_cos[None], gold[None])[0] * 100)
    return _summarise(base[keep], comp[keep], round(full_base, 4), round(full_comp, 4), 4)

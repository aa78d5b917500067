"""Retrieval metrics by hand, exact ranking with ties broken by id, and the paired intervals."""
import math

import numpy as np
import pytest

from slimlib.data.retrieval import RetrievalSet
from slimlib.measure import intervals
from slimlib.measure.retrieval import score_rankings, top_k


def _set(doc_ids, qrels):
    return RetrievalSet(tuple(doc_ids), tuple(doc_ids), tuple(qrels), tuple(qrels), qrels)


def test_metrics_match_a_hand_computation():
    data = _set(["a", "b", "c", "d"], {"q": {"b": 2, "d": 1}})
    scores = score_rankings(data, [[0, 1, 2, 3]])  # ranking a, b, c, d: relevant at ranks 2 (grade 2) and 4 (grade 1)
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert scores.per_query["ndcg_at_10"][0] == pytest.approx(dcg / idcg)
    assert scores.per_query["recall_at_10"][0] == 1.0
    assert scores.per_query["mrr_at_10"][0] == 0.5


def test_only_the_top_ten_count():
    ids = [f"d{i:02d}" for i in range(12)]
    data = _set(ids, {"q": {"d11": 1}})
    scores = score_rankings(data, [list(range(12))])
    assert scores.means() == {"ndcg_at_10": 0.0, "recall_at_10": 0.0, "mrr_at_10": 0.0}


def test_ranking_is_exact_and_ties_are_broken_by_id():
    docs = np.eye(3, dtype=np.float32)[[0, 1, 1, 1, 2]]  # documents 1, 2, 3 tie for the query
    query = np.array([[0.0, 1.0, 0.0]], dtype=np.float32)
    ids = ["e", "c", "a", "b", "d"]
    assert top_k(query, docs, ids, k=2) == [[2, 3]]  # "a" then "b", whatever their order in the file
    assert top_k(query, docs, ids, k=10)[0][:3] == [2, 3, 1]  # k larger than the corpus: every document


def test_paired_interval_of_identical_scores_is_a_point_within_noise():
    values = np.linspace(0, 1, 50)
    span = intervals.paired_mean_interval(values, values)
    assert span.difference_ci == (0.0, 0.0) and span.within_noise and span.retained_ci == (1.0, 1.0)
    assert span.baseline_ci[0] < span.baseline < span.baseline_ci[1]


def test_paired_interval_sees_a_real_loss_and_is_deterministic():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.4, 0.9, 200)
    worse = base - 0.1 + rng.normal(0, 0.01, 200)
    span = intervals.paired_mean_interval(base, worse)
    assert span.verdict() == "worse than the baseline" and span.difference_ci[1] < 0
    assert span == intervals.paired_mean_interval(base, worse)
    low, high = span.retained_ci
    assert low < span.compressed / span.baseline < high < 1.0
    noisy = base + rng.normal(0, 0.05, 200)  # no systematic change: noise only
    assert intervals.paired_mean_interval(base, noisy).within_noise


def test_spearman_interval_matches_scipy_on_the_full_sample_and_pairs_resamples():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(1)
    gold = rng.uniform(0, 5, 300)
    base = gold + rng.normal(0, 1.0, 300)
    comp = base + rng.normal(0, 0.05, 300)
    span = intervals.paired_spearman_interval(base, comp, gold)
    assert span.baseline == pytest.approx(spearmanr(base, gold).statistic * 100, abs=1e-3)
    # Paired resamples: the difference's interval is far narrower than either model's own interval.
    assert (span.difference_ci[1] - span.difference_ci[0]) < (span.baseline_ci[1] - span.baseline_ci[0]) / 3
    with pytest.raises(ValueError, match="at least 3 pairs"):
        intervals.paired_spearman_interval(base[:2], comp[:2], gold[:2])

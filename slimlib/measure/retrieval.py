"""Retrieval accuracy of an embedding model on a BEIR-style set: exact search, per-query metrics.

Every query is scored against the whole corpus by cosine similarity (no approximate index), and ties
are broken by document id (string order), so a ranking, and therefore a score, is reproducible. The
metrics are the ones MTEB and BEIR report, as trec_eval defines them:

- ndcg_at_10: graded gain (the qrels score) discounted by log2(rank + 1), over the ideal ordering of
  all the query's relevant documents;
- recall_at_10: the share of the query's relevant documents found in the top 10;
- mrr_at_10: 1 / rank of the first relevant document in the top 10 (0 when none is there).

Per-query values are returned so intervals can resample queries (measure/intervals.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.retrieval import RetrievalSet

K = 10
METRICS = ("ndcg_at_10", "recall_at_10", "mrr_at_10")
ENCODE_BATCH = 32


def prompt_for(st_model, role: str) -> str | None:
    """The model's own prompt name for `role` ("query" or "document"; "passage" and "corpus" count as
    document), from its sentence-transformers config; None when it has none or it is empty (MiniLM)."""
    prompts = getattr(st_model, "prompts", None) or {}
    names = ("query",) if role == "query" else ("document", "passage", "corpus")
    return next((name for name in names if prompts.get(name)), None)


def encode_texts(st_model, texts, role: str, batch_size: int = ENCODE_BATCH) -> np.ndarray:
    """Unit-length embeddings of `texts` as a query or a document, with the model's prompt for that role."""
    kwargs = {}
    name = prompt_for(st_model, role)
    if name is not None:
        kwargs["prompt_name"] = name
    with torch.inference_mode():
        out = st_model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False,
                              normalize_embeddings=False, **kwargs)
    out = np.asarray(out, dtype=np.float32)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def top_k(query_vectors: np.ndarray, doc_vectors: np.ndarray, doc_ids, k: int = K) -> list[list[int]]:
    """For each query, the indices of its k best documents: highest cosine first, ties by document id.

    Exact: every document whose score reaches the k-th best is sorted, so a tie at the cut is decided
    by id and never by the order of the corpus file."""
    scores = query_vectors @ doc_vectors.T
    id_rank = np.argsort(np.argsort(np.asarray(doc_ids, dtype=object)))  # position of each id in string order
    k = min(k, scores.shape[1])
    ranked = []
    for row in scores:
        cut = np.partition(row, -k)[-k]
        candidates = np.flatnonzero(row >= cut)
        order = np.lexsort((id_rank[candidates], -row[candidates]))
        ranked.append(candidates[order][:k].tolist())
    return ranked


@dataclass
class RetrievalScores:
    """Per-query metrics (aligned with the set's query_ids) and their means."""

    per_query: dict[str, np.ndarray]

    def means(self) -> dict[str, float]:
        return {name: round(float(np.mean(values)), 6) for name, values in self.per_query.items()}


def score_rankings(data: RetrievalSet, rankings: list[list[int]], k: int = K) -> RetrievalScores:
    """nDCG@k, Recall@k and MRR@k of each query's ranking (document indices into data.doc_ids)."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ndcg, recall, mrr = [], [], []
    for qid, ranking in zip(data.query_ids, rankings):
        relevant = data.qrels[qid]
        gains = np.array([relevant.get(data.doc_ids[i], 0) for i in ranking[:k]], dtype=float)
        ideal = np.sort(np.array(list(relevant.values()), dtype=float))[::-1][:k]
        dcg = float(np.sum(gains * discounts[: len(gains)]))
        idcg = float(np.sum(ideal * discounts[: len(ideal)]))
        ndcg.append(dcg / idcg if idcg > 0 else 0.0)
        recall.append(float(np.count_nonzero(gains)) / len(relevant))
        hits = np.flatnonzero(gains > 0)
        mrr.append(1.0 / (hits[0] + 1) if len(hits) else 0.0)
    return RetrievalScores({"ndcg_at_10": np.array(ndcg), "recall_at_10": np.array(recall),
                            "mrr_at_10": np.array(mrr)})


def retrieval_scores(query_vectors: np.ndarray, doc_vectors: np.ndarray, data: RetrievalSet) -> RetrievalScores:
    """Exact search of every query over the whole corpus, scored against the qrels."""
    return score_rankings(data, top_k(query_vectors, doc_vectors, data.doc_ids))

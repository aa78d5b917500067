"""Accuracy on the user's task, for one evaluation: STS on labelled pairs or retrieval on a BEIR folder.

`load_eval_data` reads `--data` (a pair file or a retrieval folder; the kind is detected) and cuts the
quick subset; `measure_accuracy` scores the baseline and the compressed model on it and returns the
fields evaluate() merges into its JSON: values, 95% paired-bootstrap intervals (`..._ci`), retained
ratios with their intervals, and a verdict per metric ("within noise" when the data cannot tell the
two models apart).

The baseline's side is computed once: STS cosines per process, retrieval embeddings on disk (keyed by
the model's content, the data's digest, the documents used and the runtime), because embedding a
corpus is the slow part and the baseline never changes.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.pairs import QUICK_PAIRS, Pair, read_pairs, stratified_sample
from ..data.public_sets import fetch_named_set, is_named_set
from ..data.retrieval import RetrievalSet, is_retrieval_folder, quick_subset, read_retrieval
from ..errors import Cancelled
from ..measure import intervals
from ..measure.metrics import encode
from ..measure.retrieval import METRICS as RETRIEVAL_METRICS, encode_texts, prompt_for, retrieval_scores
from ..measure.sts import pair_cosines, spearman_x100
from ..paths import cache_dir

PAIRS, RETRIEVAL = "pairs", "retrieval"
ENCODE_CHUNK = 128  # documents per progress step (and per chance to stop)
BASELINE_RUNTIME = "torch-fp32"  # the runtime the baseline's cached embeddings come from


@dataclass(frozen=True)
class EvalData:
    """What an evaluation scores accuracy on: pairs or a retrieval set (a quick subset or all of it)."""

    kind: str | None  # PAIRS, RETRIEVAL, or None (no data: fidelity only)
    path: str | None = None
    pairs: list[Pair] | None = None
    all_pairs: list[Pair] | None = None
    retrieval: RetrievalSet | None = None
    full_retrieval: RetrievalSet | None = None

    def measurement(self) -> dict:
        """The measurement fields that say what was scored."""
        out: dict = {"data_file": self.path, "data_kind": self.kind}
        pairs, total = self.pairs, self.all_pairs
        out["data_pairs"] = len(pairs) if pairs else None
        out["data_pairs_total"] = len(total) if total else None
        out["data_sample"] = (f"stratified: {len(pairs)} of {len(total)} pairs, evenly spaced over the score range "
                              "within each genre" if pairs and len(pairs) < len(total) else None)
        if self.retrieval is not None:
            out.update(data_queries=self.retrieval.queries, data_documents=self.retrieval.documents,
                       data_queries_total=self.full_retrieval.queries,
                       data_documents_total=self.full_retrieval.documents, data_sample=self.retrieval.sample)
        return out


_sets: dict[tuple, RetrievalSet] = {}
_sets_lock = threading.Lock()


def _retrieval_set(path: Path) -> RetrievalSet:
    """A folder's retrieval set, read once per process while its files are unchanged."""
    stamp = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in
                  (path / "corpus.jsonl", path / "queries.jsonl", path / "qrels" / "test.tsv") if p.exists())
    key = (str(path.resolve()), stamp)
    with _sets_lock:
        if key not in _sets:
            if len(_sets) > 8:
                _sets.clear()
            _sets[key] = read_retrieval(path)
        return _sets[key]


def load_eval_data(path: str | None, quick: bool, max_pairs: int | None = None) -> EvalData:
    """The evaluation data of `path`: a retrieval folder (BEIR layout), a named public set
    ("nanobeir:scifact", downloaded once) or a labelled pair file."""
    if not path:
        return EvalData(None)
    if is_named_set(path):
        folder = fetch_named_set(path)
        full = _retrieval_set(folder)
        return EvalData(RETRIEVAL, path, retrieval=quick_subset(full) if quick else full, full_retrieval=full)
    if Path(path).is_dir():
        if not is_retrieval_folder(path):
            read_retrieval(path)  # raises the one-line message naming the missing file
        full = _retrieval_set(Path(path))
        return EvalData(RETRIEVAL, path, retrieval=quick_subset(full) if quick else full, full_retrieval=full)
    all_pairs = read_pairs(path)
    wanted = max_pairs or (QUICK_PAIRS if quick else None)
    pairs = stratified_sample(all_pairs, wanted) if wanted else all_pairs
    return EvalData(PAIRS, path, pairs=pairs, all_pairs=all_pairs)


# ---------------------------------------------------------------------------------------------- STS
_sts_cache: dict[tuple, np.ndarray] = {}


def _pair_key(pairs: list[Pair]) -> str:
    digest = hashlib.sha256()
    for p in pairs:
        digest.update(f"{p.sentence1}\t{p.sentence2}\t{p.score}\n".encode())
    return digest.hexdigest()[:16]


def _sts(base, model, pairs: list[Pair]) -> tuple[dict, dict, dict, dict]:
    key = (base.content_hash, _pair_key(pairs))
    with base.lock:
        if key not in _sts_cache:
            if len(_sts_cache) > 16:
                _sts_cache.clear()
            _sts_cache[key] = pair_cosines(lambda s: encode(base.model, s), pairs)
        base_cos = _sts_cache[key]
    comp_cos = pair_cosines(lambda s: encode(model, s), pairs)
    gold = np.array([p.score for p in pairs])
    span = intervals.paired_spearman_interval(base_cos, comp_cos, gold)
    baseline = {"sts_spearman": spearman_x100(base_cos, pairs), "sts_spearman_ci": list(span.baseline_ci)}
    compressed = {"sts_spearman": spearman_x100(comp_cos, pairs), "sts_spearman_ci": list(span.compressed_ci)}
    ratios = {"sts_retained_ci": list(span.retained_ci) if span.retained_ci else None}
    verdicts = {"sts_spearman": {"difference_ci": list(span.difference_ci), "verdict": span.verdict()}}
    return baseline, compressed, ratios, verdicts


# ----------------------------------------------------------------------------------------- retrieval
def _check(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("evaluation stopped")


def _embed(model, data: RetrievalSet, progress, should_stop, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Query and document vectors of `model`, the corpus in chunks with progress and a chance to stop."""
    queries = encode_texts(model, data.query_texts, "query")
    chunks = []
    total = data.documents
    for start in range(0, total, ENCODE_CHUNK):
        _check(should_stop)
        progress(f"{label}: embedding documents {start:,}-{min(start + ENCODE_CHUNK, total):,} of {total:,}",
                 start / max(total, 1))
        chunks.append(encode_texts(model, data.doc_texts[start:start + ENCODE_CHUNK], "document"))
    return queries, np.concatenate(chunks) if chunks else np.zeros((0, queries.shape[1]), np.float32)


def _baseline_cache_file(base, data: RetrievalSet) -> Path:
    digest = hashlib.sha256()
    for part in (base.content_hash, data.digest, BASELINE_RUNTIME, str(prompt_for(base.model, "query")),
                 str(prompt_for(base.model, "document")), *data.query_ids, "\0", *data.doc_ids):
        digest.update(part.encode())
        digest.update(b"\n")
    return cache_dir("retrieval") / f"{digest.hexdigest()[:24]}.npz"


def baseline_vectors(base, data: RetrievalSet, progress=None, should_stop=None) -> tuple[np.ndarray, np.ndarray]:
    """The base model's query and document vectors for `data`, from the disk cache or computed and stored
    (written to a temporary name first, so a stopped run never leaves a half-written cache)."""
    progress = progress or (lambda _m, _f: None)
    path = _baseline_cache_file(base, data)
    if path.exists():
        try:
            with np.load(path) as saved:
                return saved["queries"], saved["documents"]
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a damaged cache file is recomputed
    with base.lock:
        queries, documents = _embed(base.model, data, progress, should_stop, "baseline")
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, queries=queries, documents=documents)
    partial.replace(path)
    return queries, documents


def _retrieval(base, model, data: RetrievalSet, progress, should_stop) -> tuple[dict, dict, dict, dict]:
    base_q, base_d = baseline_vectors(base, data, progress, should_stop)
    comp_q, comp_d = _embed(model, data, progress, should_stop, "compressed model")
    base_scores = retrieval_scores(base_q, base_d, data)
    comp_scores = retrieval_scores(comp_q, comp_d, data)
    baseline, compressed, ratios, verdicts = {}, {}, {}, {}
    for name in RETRIEVAL_METRICS:
        span = intervals.paired_mean_interval(base_scores.per_query[name], comp_scores.per_query[name])
        baseline[name], baseline[f"{name}_ci"] = span.baseline, list(span.baseline_ci)
        compressed[name], compressed[f"{name}_ci"] = span.compressed, list(span.compressed_ci)
        ratios[f"{name}_retained"] = round(span.compressed / span.baseline, 4) if span.baseline else None
        ratios[f"{name}_retained_ci"] = list(span.retained_ci) if span.retained_ci else None
        verdicts[name] = {"difference_ci": list(span.difference_ci), "verdict": span.verdict()}
    return baseline, compressed, ratios, verdicts


@dataclass
class Accuracy:
    """The fields one evaluation's JSON gains from its data: per section, plus the verdicts."""

    baseline: dict
    compressed: dict
    ratios: dict
    significance: dict


def measure_accuracy(base, model, data: EvalData, progress=None, should_stop=None) -> Accuracy:
    """Score the base and the compressed model on `data` (nothing for no data)."""
    progress = progress or (lambda _m, _f: None)
    if data.kind == PAIRS:
        return Accuracy(*_sts(base, model, data.pairs))
    if data.kind == RETRIEVAL:
        return Accuracy(*_retrieval(base, model, data.retrieval, progress, should_stop))
    return Accuracy({}, {}, {}, {})

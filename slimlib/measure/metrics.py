"""Measurement shared by the app, the CLI, sweeps and benchmarks.

- params: logical weights (a shared weight counts once, a packed 4-bit weight counts as one);
- size_bytes: bytes of the folder you would export, measured by writing it;
- sentences_per_s: on a fixed sentence set, always timed together with the baseline in the same call,
  quick and full alike (`paired_throughput`, slimlib/measure/timing.py): the two models alternate batch
  by batch, each batch's best round counts, and the timing carries its spread; a wide spread or a ratio
  beyond what compute and kernels explain repeats it, then labels it noisy. An int8 ONNX model is timed
  (and scored) as an exported folder runs it: tokenizers, the ONNX Runtime session, numpy pooling;
- sts_spearman: Spearman x100 of cosine similarity against gold scores of a pair file;
- fidelity: mean cosine to the original model's embeddings of the same sentences, and the
  Spearman correlation of the two models' pairwise similarities.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from scipy.stats import spearmanr

from ..data.corpus import project_sentences, sentences_hash
from ..model.files import folder_bytes, write_model_files
from ..model.onnx_session import deployed_encoder
from ..model.parts import count_params  # noqa: F401  (measuring code reads every number from here)
from ..data.pairs import Pair
from . import timing
from .timing import PairedTiming  # noqa: F401  (re-exported: callers import it from here)

BATCH_SIZE = 32
SPEED_RUNS = 5  # rounds of a full evaluation's paired timing (~350 sentences; quick: QUICK_ROUNDS on ~100)
FIDELITY_SENTENCES = 300
QUICK_ROUNDS = 3  # rounds of a quick evaluation's paired timing (see paired_throughput)


def clock() -> float:
    """The timer every speed measurement reads (tests replace it with a deterministic stub)."""
    return time.perf_counter()


def artifact_size(st_model) -> int:
    """Bytes of the exported model folder (written to a temp dir and counted)."""
    # Memory-backed scratch space when there is one: the bytes are the same, the write is faster.
    scratch = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="slimlib-size-", dir=scratch) as tmp:
        write_model_files(st_model, Path(tmp))
        return folder_bytes(Path(tmp))


def encode(st_model, sentences, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Embeddings (float32, unnormalized unless the model normalizes). An int8 ONNX model runs its
    deployed path (tokenizers, the ONNX Runtime session, numpy pooling: what an exported folder runs),
    in sentence-transformers' batches, so its embeddings are those of `st_model.encode`."""
    deployed = deployed_encoder(st_model)
    if deployed is not None:
        return deployed.encode(sentences, batch_size)
    with torch.inference_mode():
        out = st_model.encode(list(sentences), batch_size=batch_size, convert_to_numpy=True,
                              show_progress_bar=False, normalize_embeddings=False)
    return np.asarray(out, dtype=np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(_unit(a) * _unit(b), axis=1)


def fidelity(original: np.ndarray, compressed: np.ndarray) -> dict:
    """Label-free agreement between two models' embeddings of the same sentences.

    fidelity_cosine (mean cosine of each sentence's two embeddings) needs one space: it is None when
    the widths differ (a static model's 96 dims against 384); fidelity_spearman (agreement of the
    pairwise similarities) is defined for any widths."""
    same_space = original.shape[1] == compressed.shape[1]
    mean_cos = float(np.mean(cosine_rows(original, compressed))) if same_space else None
    upper = np.triu_indices(len(original), k=1)
    sims_a = (_unit(original) @ _unit(original).T)[upper]
    sims_b = (_unit(compressed) @ _unit(compressed).T)[upper]
    rho = spearmanr(sims_a, sims_b).statistic if len(sims_a) > 2 else float("nan")
    return {"fidelity_cosine": None if mean_cos is None else round(mean_cos, 6),
            "fidelity_spearman": round(float(rho) * 100, 4)}


def sts_spearman(st_model, pairs: list[Pair], batch_size: int = BATCH_SIZE, embed: Callable | None = None) -> float:
    """Spearman x100 between cosine similarity and gold scores."""
    embed = embed or (lambda sents: encode(st_model, sents, batch_size))
    unique = list(dict.fromkeys([p.sentence1 for p in pairs] + [p.sentence2 for p in pairs]))
    vectors = dict(zip(unique, _unit(embed(unique))))
    cos = np.array([float(vectors[p.sentence1] @ vectors[p.sentence2]) for p in pairs])
    gold = np.array([p.score for p in pairs])
    return round(float(spearmanr(cos, gold).statistic) * 100, 4)


def speed_bound(models: dict[str, object]) -> tuple[float, str] | None:
    """The plausibility bound of a timing: how fast its compressed model can be against the baseline."""
    if "baseline" not in models or len(models) < 2:
        return None
    other = next(model for name, model in models.items() if name != "baseline")
    limit, why = timing.speed_bound(models["baseline"], other)
    return None if limit is None else (limit, why)


def paired_throughput(models: dict[str, object], sentences, rounds: int = QUICK_ROUNDS,
                      batch_size: int = BATCH_SIZE, should_stop: Callable[[], bool] | None = None,
                      attempts: int = 1) -> PairedTiming:
    """Sentences per second of each model, timed in one call, alternating the models batch by batch,
    each batch's best round, checked, and tried up to `attempts` times while noisy (a noisy result
    says so: slimlib/measure/timing.py). Quick evaluations time once (interactive); full ones
    (`throughput`, or attempts=timing.ATTEMPTS) repeat.

    MiniLM timed against its own copy (101 sentences x 3 rounds, 2 threads) read 0.93-1.11 over five
    calls on a 2-core machine at load 12-18 (whole-pass timing against an earlier baseline: 1.12-1.71).
    """
    # encode and clock are looked up here, at call time: tests replace them in this module.
    return timing.timed_speeds(models, sentences, rounds, batch_size, encode=lambda m, s, b: encode(m, s, b),
                               clock=lambda: clock(), should_stop=should_stop, attempts=attempts,
                               bound=speed_bound(models), threads=torch.get_num_threads())


def throughput(models: dict[str, object], sentences, runs: int = SPEED_RUNS, batch_size: int = BATCH_SIZE,
               warmup: bool = True) -> dict[str, float]:
    """Sentences per second of each model (the speeds of `paired_throughput` with `runs` rounds).

    Kept for callers that want the speeds alone; `warmup` is accepted and unused (the best round of
    each batch already leaves the cold first round out)."""
    return dict(paired_throughput(models, sentences, rounds=runs, batch_size=batch_size,
                                  attempts=timing.ATTEMPTS).speeds)


def speed_sentences(quick: bool = False) -> list[str]:
    """Every other corpus sentence (all lengths and topics, ~350) for full runs; 160 for quick ones."""
    sentences = list(project_sentences())
    return sentences[:160] if quick else sentences[::2]


def fidelity_sentences(quick: bool = False) -> list[str]:
    """300 sentences for full runs; for quick ones every 7th (~100, still all topics and lengths)."""
    sentences = list(project_sentences())
    return sentences[::7] if quick else sentences[:FIDELITY_SENTENCES]


_embedding_cache: dict[tuple, np.ndarray] = {}


def base_embeddings(base, sentences) -> np.ndarray:
    """The base model's embeddings, cached per (model content, sentences) for this process."""
    key = (base.content_hash, sentences_hash(sentences))
    with base.lock:  # the shared base's tokenizer is not thread-safe across app sessions
        if key not in _embedding_cache:
            if len(_embedding_cache) > 16:
                _embedding_cache.clear()
            _embedding_cache[key] = encode(base.model, sentences)
        return _embedding_cache[key]

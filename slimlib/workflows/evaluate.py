"""One evaluation of a recipe against its baseline: the JSON the CLI prints and the app plots."""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..measure import metrics as measure
from ..measure.hardware import cpu_info, library_versions
from ..model.base import load_base, set_threads
from ..data.pairs import read_pairs
from ..ops.pipeline import CompressedModel, apply_recipe
from ..ops.recipe import Recipe

MEASURED = "measured"


@dataclass
class EvalOptions:
    data: str | None = None  # a labelled pair file for STS Spearman
    threads: int | None = None
    quick: bool = False  # a subset for interactive use; the full set on request
    max_pairs: int | None = None  # score STS on the first N pairs only (the app's quick evaluations)
    speed_runs: int = measure.SPEED_RUNS


_baseline_cache: dict[tuple, dict] = {}


def _baseline_static(base, pairs_key, pairs) -> dict:
    """Baseline params, size and STS: deterministic, so computed once per process."""
    key = (base.content_hash, pairs_key)
    with base.lock:
        return _baseline_static_locked(base, key, pairs)


def _baseline_static_locked(base, key, pairs) -> dict:
    if key not in _baseline_cache:
        _baseline_cache[key] = {
            "params": measure.count_params(base.model),
            "size_bytes": measure.artifact_size(base.model),
            "sts_spearman": measure.sts_spearman(base.model, pairs) if pairs else None,
        }
    return dict(_baseline_cache[key])


def evaluate(recipe: Recipe, options: EvalOptions | None = None, progress: Callable[[str, float], None] | None = None,
             should_stop: Callable[[], bool] | None = None, compressed: CompressedModel | None = None) -> dict:
    options = options or EvalOptions()
    progress = progress or (lambda _m, _f: None)
    threads = set_threads(options.threads)
    pairs = read_pairs(options.data) if options.data else None
    if pairs and options.max_pairs:
        pairs = pairs[: options.max_pairs]
    base = load_base(recipe.base_model)
    if compressed is None:
        compressed = apply_recipe(recipe, base, progress=progress, should_stop=should_stop)
    progress("measuring size and accuracy", 0.0)
    baseline = _baseline_static(base, options.data and f"{Path(options.data).resolve()}:{options.max_pairs}", pairs)
    model = compressed.st_model
    result = {
        "params": measure.count_params(model),
        "size_bytes": measure.artifact_size(model),
        "sts_spearman": measure.sts_spearman(model, pairs) if pairs else None,
    }
    labels = {key: MEASURED for key in ("params", "size_bytes", "sentences_per_s", "sts_spearman", "fidelity_cosine")}
    labels.update(compressed.labels)
    speed_measured = labels["sentences_per_s"].startswith(MEASURED)
    progress("measuring fidelity and speed", 0.5)
    if options.quick:
        sentences, speeds, embeddings, baseline_speed_how = _quick_speed_and_fidelity(base, model, speed_measured, threads)
        fid_sentences = sentences
    else:
        fid_sentences = measure.fidelity_sentences(False)
        embeddings = measure.encode(model, fid_sentences)
        sentences = measure.speed_sentences(False)
        timed = {"baseline": base.model, "compressed": model} if speed_measured else {"baseline": base.model}
        with base.lock:
            speeds = measure.throughput(timed, sentences, runs=options.speed_runs)
        speeds.setdefault("compressed", None)  # no kernel: the baseline alone is reported
        baseline_speed_how = "interleaved with the compressed model in this process"
    result.update(measure.fidelity(measure.base_embeddings(base, fid_sentences), embeddings))
    baseline["sentences_per_s"] = speeds["baseline"]
    result["sentences_per_s"] = speeds["compressed"]
    progress("done", 1.0)
    return {
        "base_model": recipe.base_model,
        "recipe": compressed.recipe.to_dict(),
        "recipe_key": recipe.key(),
        "baseline": baseline,
        "compressed": result,
        "ratios": _ratios(baseline, result),
        "labels": labels,
        "notes": compressed.notes,
        "measurement": {
            "threads": threads,
            "batch_size": measure.BATCH_SIZE,
            "speed_sentences": len(sentences),
            "speed_runs": QUICK_RUNS if options.quick else options.speed_runs,
            "baseline_speed": baseline_speed_how,
            "fidelity_sentences": len(fid_sentences),
            "data_file": options.data,
            "data_pairs": len(pairs) if pairs else None,
            "quick": options.quick,
            "hardware": cpu_info(),
            "versions": library_versions(),
            "torch_threads": torch.get_num_threads(),
        },
    }


QUICK_RUNS = 2
_quick_baseline_speed: dict[tuple, float] = {}


def _quick_speed_and_fidelity(base, model, speed_measured: bool, threads: int):
    """Interactive evaluations: one pass of timed encodes serves both speed and fidelity.

    The baseline's speed on the same sentences is measured once per process (same threads) and
    reused, which keeps a quick evaluation within a few seconds; full evaluations interleave.
    """
    sentences = measure.fidelity_sentences(True)
    key = (base.content_hash, threads, len(sentences))
    how = "measured earlier in this process (quick mode)"
    with base.lock:
        if key not in _quick_baseline_speed:
            _quick_baseline_speed[key] = measure.throughput({"baseline": base.model}, sentences, runs=QUICK_RUNS)["baseline"]
            how = "measured just before, in this process (quick mode)"
    speeds = {"baseline": _quick_baseline_speed[key], "compressed": None}
    if speed_measured:
        measure.encode(model, sentences[:16])  # warm-up: first calls allocate and pick kernels
        times = []
        for _ in range(QUICK_RUNS):
            start = time.perf_counter()
            embeddings = measure.encode(model, sentences)
            times.append(time.perf_counter() - start)
        speeds["compressed"] = round(len(sentences) / statistics.median(times), 2)
    else:
        embeddings = measure.encode(model, sentences)
    return sentences, speeds, embeddings, how


def _ratio(a, b, digits=4):
    if a is None or b in (None, 0):
        return None
    return round(a / b, digits)


def _ratios(baseline: dict, compressed: dict) -> dict:
    return {
        "speedup": _ratio(compressed["sentences_per_s"], baseline["sentences_per_s"]),
        "size": _ratio(compressed["size_bytes"], baseline["size_bytes"]),
        "params": _ratio(compressed["params"], baseline["params"]),
        "sts_retained": _ratio(compressed["sts_spearman"], baseline["sts_spearman"]),
    }

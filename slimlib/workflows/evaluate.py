"""One evaluation of a recipe against its baseline: the JSON the CLI prints and the app plots."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..measure import metrics as measure
from ..measure.hardware import cpu_info, library_versions
from ..model.base import load_base, set_threads
from ..data.pairs import QUICK_PAIRS, read_pairs, stratified_sample
from ..ops.pipeline import CompressedModel, apply_recipe
from ..ops.recipe import Recipe

MEASURED = "measured"
QUICK_ROUNDS = measure.QUICK_ROUNDS
# Names the quick definition below; stores keyed by it (the app's history) never mix two definitions.
# 2: speed paired with the baseline in the same call, STS on a stratified sample (1: first pairs, cached baseline speed).
QUICK_DEFINITION = 2


@dataclass
class EvalOptions:
    """How to evaluate. Quick (the app's live points, `eval --quick`, sweeps unless --full): speed timed
    against the baseline in the same call on ~100 sentences x QUICK_ROUNDS rounds, fidelity on those
    sentences, STS on a fixed stratified sample of QUICK_PAIRS pairs. Full: every pair, more sentences."""

    data: str | None = None  # a labelled pair file for STS Spearman
    threads: int | None = None
    quick: bool = False
    max_pairs: int | None = None  # STS on a stratified sample of this many pairs (quick default: QUICK_PAIRS)
    speed_runs: int = measure.SPEED_RUNS  # full evaluations' whole passes per model

    def pairs_wanted(self) -> int | None:
        """How many pairs to score (None: all of them)."""
        return self.max_pairs or (QUICK_PAIRS if self.quick else None)


_baseline_cache: dict[tuple, dict] = {}


def _pairs_key(data: str, wanted: int | None) -> str:
    path = Path(data).resolve()
    stat = path.stat()
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}:{wanted or 'all'}"


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
    all_pairs = read_pairs(options.data) if options.data else None
    pairs = stratified_sample(all_pairs, options.pairs_wanted()) if all_pairs and options.pairs_wanted() else all_pairs
    base = load_base(recipe.base_model)
    if compressed is None:
        compressed = apply_recipe(recipe, base, progress=progress, should_stop=should_stop)
    progress("measuring size and accuracy", 0.0)
    baseline = _baseline_static(base, options.data and _pairs_key(options.data, options.pairs_wanted()), pairs)
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
        # One paired timing serves speed and fidelity: the compressed model's timed encodes are its embeddings.
        sentences = fid_sentences = measure.fidelity_sentences(True)
        timed = {"baseline": base.model, "compressed": model} if speed_measured else {"baseline": base.model}
        with base.lock:
            timing = measure.paired_throughput(timed, sentences, rounds=QUICK_ROUNDS)
        speeds = {"compressed": None, **timing.speeds}
        embeddings = timing.embeddings["compressed"] if speed_measured else measure.encode(model, sentences)
        speed_runs, speed_how = timing.rounds, timing.describe()
    else:
        fid_sentences = measure.fidelity_sentences(False)
        embeddings = measure.encode(model, fid_sentences)
        sentences = measure.speed_sentences(False)
        timed = {"baseline": base.model, "compressed": model} if speed_measured else {"baseline": base.model}
        with base.lock:
            speeds = measure.throughput(timed, sentences, runs=options.speed_runs)
        speeds.setdefault("compressed", None)  # no kernel: the baseline alone is reported
        speed_runs = options.speed_runs
        speed_how = (f"{'interleaved with the baseline' if speed_measured else 'the baseline alone'} in this call, "
                     f"whole passes: {len(sentences)} sentences x {speed_runs} runs after a warm-up, the median run")
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
            "speed_runs": speed_runs,
            "speed": speed_how,
            "baseline_speed": speed_how,
            "fidelity_sentences": len(fid_sentences),
            "data_file": options.data,
            "data_pairs": len(pairs) if pairs else None,
            "data_pairs_total": len(all_pairs) if all_pairs else None,
            "data_sample": (f"stratified: {len(pairs)} of {len(all_pairs)} pairs, evenly spaced over the score range "
                            "within each genre" if pairs and len(pairs) < len(all_pairs) else None),
            "quick": options.quick,
            "hardware": cpu_info(),
            "versions": library_versions(),
            "torch_threads": torch.get_num_threads(),
        },
    }


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

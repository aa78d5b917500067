"""One evaluation of a recipe against its baseline: the JSON the CLI prints and the app plots."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..measure import metrics as measure
from ..measure.hardware import cpu_info, library_versions
from ..model.base import load_base, set_threads
from ..data.pairs import QUICK_PAIRS
from ..ops.pipeline import CompressedModel, apply_recipe
from ..ops.recipe import Recipe
from .accuracy import load_eval_data, measure_accuracy

MEASURED = "measured"
PENDING = "pending: timed in the background"
QUICK_ROUNDS = measure.QUICK_ROUNDS
# Names the quick definition below; stores keyed by it (the app's history) never mix two definitions.
# 2: speed paired with the baseline in the same call, STS on a stratified sample (1: first pairs, cached baseline speed).
QUICK_DEFINITION = 2


@dataclass
class EvalOptions:
    """How to evaluate. Quick (the app's live points, `eval --quick`, sweeps unless --full): speed timed
    against the baseline in the same call on ~100 sentences x QUICK_ROUNDS rounds, fidelity on those
    sentences, STS on a fixed stratified sample of QUICK_PAIRS pairs, retrieval on a fixed stratified subset of
    queries and documents (data.retrieval.quick_subset). Full: every pair or query and document, more sentences."""

    data: str | None = None  # a labelled pair file (STS Spearman) or a BEIR retrieval folder (nDCG@10, ...)
    threads: int | None = None
    quick: bool = False
    max_pairs: int | None = None  # STS on a stratified sample of this many pairs (quick default: QUICK_PAIRS)
    speed_runs: int = measure.SPEED_RUNS  # full evaluations' rounds per model
    # Quick only: leave speed out (labelled PENDING) for `time_quick_speed` to add later, so an interactive
    # point lands in the time of size + STS + fidelity and its speed follows from a background thread.
    defer_speed: bool = False

    def pairs_wanted(self) -> int | None:
        """How many pairs to score (None: all of them)."""
        return self.max_pairs or (QUICK_PAIRS if self.quick else None)


_baseline_cache: dict[tuple, dict] = {}


def _baseline_static(base) -> dict:
    """Baseline params and size: deterministic, so computed once per process."""
    with base.lock:
        if base.content_hash not in _baseline_cache:
            _baseline_cache[base.content_hash] = {"params": measure.count_params(base.model),
                                                  "size_bytes": measure.artifact_size(base.model)}
        return dict(_baseline_cache[base.content_hash])


def evaluate(recipe: Recipe, options: EvalOptions | None = None, progress: Callable[[str, float], None] | None = None,
             should_stop: Callable[[], bool] | None = None, compressed: CompressedModel | None = None) -> dict:
    options = options or EvalOptions()
    progress = progress or (lambda _m, _f: None)
    threads = set_threads(options.threads)
    data = load_eval_data(options.data, options.quick, options.max_pairs)
    base = load_base(recipe.base_model)
    if compressed is None:
        compressed = apply_recipe(recipe, base, progress=progress, should_stop=should_stop)
    progress("measuring size and accuracy", 0.0)
    baseline = _baseline_static(base)
    model = compressed.st_model
    result = {"params": measure.count_params(model), "size_bytes": measure.artifact_size(model)}
    accuracy = measure_accuracy(base, model, data, progress, should_stop)
    baseline.update({"sts_spearman": None, **accuracy.baseline})
    result.update({"sts_spearman": None, **accuracy.compressed})
    labels = {key: MEASURED for key in ("params", "size_bytes", "sentences_per_s", "sts_spearman", "fidelity_cosine",
                                        *(k for k in accuracy.compressed if not k.endswith("_ci")))}
    labels.update(compressed.labels)
    speed_measured = labels["sentences_per_s"].startswith(MEASURED)
    timed_label = timing = None
    progress("measuring fidelity and speed", 0.5)
    if options.quick and (options.defer_speed or not speed_measured):
        sentences = fid_sentences = measure.fidelity_sentences(True)
        embeddings = measure.encode(model, fid_sentences)
        speeds, speed_runs = {"baseline": None, "compressed": None}, None
        speed_how = "pending: timed in the background" if speed_measured else "no kernel: the compressed model is not timed"
        if speed_measured:
            timed_label = labels["sentences_per_s"]  # e.g. "measured (dequantized ...)": what the timing will say
            labels["sentences_per_s"] = PENDING
        elif not options.defer_speed:  # the baseline's own speed still belongs to the result
            with base.lock:
                timing = measure.paired_throughput({"baseline": base.model}, sentences, rounds=QUICK_ROUNDS)
            speeds, speed_runs, speed_how = {"compressed": None, **timing.speeds}, timing.rounds, timing.describe()
    elif options.quick:
        # One paired timing serves speed and fidelity: the compressed model's timed encodes are its embeddings.
        sentences = fid_sentences = measure.fidelity_sentences(True)
        with base.lock:
            timing = measure.paired_throughput({"baseline": base.model, "compressed": model}, sentences,
                                               rounds=QUICK_ROUNDS)
        speeds = timing.speeds
        embeddings = timing.embeddings["compressed"]
        speed_runs, speed_how = timing.rounds, timing.describe()
    else:
        fid_sentences = measure.fidelity_sentences(False)
        embeddings = measure.encode(model, fid_sentences)
        sentences = measure.speed_sentences(False)
        timed = {"baseline": base.model, "compressed": model} if speed_measured else {"baseline": base.model}
        with base.lock:  # the same interleaved best-of-rounds scheme as quick runs, repeated while noisy
            timing = measure.paired_throughput(timed, sentences, rounds=options.speed_runs,
                                               attempts=measure.timing.ATTEMPTS, should_stop=should_stop)
        speeds = {"compressed": None, **timing.speeds}  # no kernel: the baseline alone is reported
        speed_runs, speed_how = timing.rounds, timing.describe()
    if timing is not None and timing.noisy and speed_measured:
        labels["sentences_per_s"] = f"noisy: {timing.reason}"
    original = measure.base_embeddings(base, fid_sentences)
    result.update(measure.fidelity(original, embeddings))
    if result["fidelity_cosine"] is None:
        labels["fidelity_cosine"] = (f"not measured: {embeddings.shape[1]} dims against the original's {original.shape[1]} "
                                     "have no common space (the pairwise-similarity agreement is measured)")
    baseline["sentences_per_s"] = speeds["baseline"]
    result["sentences_per_s"] = speeds["compressed"]
    progress("done", 1.0)
    return {
        "base_model": recipe.base_model,
        "recipe": compressed.recipe.to_dict(),
        "recipe_key": recipe.key(),
        "baseline": baseline,
        "compressed": result,
        "ratios": {**_ratios(baseline, result), **accuracy.ratios},
        "labels": labels,
        "notes": compressed.notes,
        "significance": accuracy.significance,
        "measurement": {
            "threads": threads,
            "batch_size": measure.BATCH_SIZE,
            "speed_sentences": len(sentences),
            "speed_runs": speed_runs,
            "speed": speed_how,
            "baseline_speed": speed_how,
            "fidelity_sentences": len(fid_sentences),
            **data.measurement(),
            "quick": options.quick,
            "hardware": cpu_info(),
            "versions": library_versions(),
            "torch_threads": torch.get_num_threads(),
            **({"speed_label": timed_label} if timed_label else {}),
            **_timing_fields(timing),
        },
    }


def _timing_fields(timing) -> dict:
    """How far a speed ratio can be trusted: its spread, whether it was noisy, tries, the plausible bound."""
    if timing is None:
        return {}
    return {"speed_spread": timing.spread, "speed_noisy": timing.noisy, "speed_attempts": timing.attempts,
            "speed_bound": timing.bound}


def time_quick_speed(result: dict, compressed_model, should_stop: Callable[[], bool] | None = None) -> dict:
    """The result of a quick evaluation made with `defer_speed`, with its speed measured now: the
    compressed model timed against the baseline in this call, as a quick evaluation does.
    Raises Cancelled (via should_stop) without touching `result`."""
    base = load_base(result["base_model"])
    sentences = measure.fidelity_sentences(True)
    with base.lock:
        timing = measure.paired_throughput({"baseline": base.model, "compressed": compressed_model}, sentences,
                                           rounds=QUICK_ROUNDS, should_stop=should_stop)
    label = f"noisy: {timing.reason}" if timing.noisy else result["measurement"].get("speed_label", MEASURED)
    out = {**result, "baseline": dict(result["baseline"]), "compressed": dict(result["compressed"]),
           "labels": {**result["labels"], "sentences_per_s": label},
           "measurement": {**result["measurement"], "speed_runs": timing.rounds, "speed": timing.describe(),
                           "baseline_speed": timing.describe(), "speed_sentences": len(sentences),
                           **_timing_fields(timing)}}
    out["baseline"]["sentences_per_s"] = timing.speeds["baseline"]
    out["compressed"]["sentences_per_s"] = timing.speeds["compressed"]
    out["ratios"] = {**result["ratios"], **_ratios(out["baseline"], out["compressed"])}
    return out


def speed_pending(result: dict) -> bool:
    return result.get("labels", {}).get("sentences_per_s") == PENDING


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

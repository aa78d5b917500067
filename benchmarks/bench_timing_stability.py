"""Is a full evaluation's speed a fact? Five consecutive full `eval`s of examples/int8.json on MiniLM,
and the baseline recipe against itself (each recipe applied once, then evaluated with `compressed=`:
the runs differ only by their measurement).

Targets (issue #28): the five int8 speedups within +-15% of their median; the baseline against itself
within 0.95-1.05. Each evaluation is `slimlib.workflows.evaluate.evaluate(recipe, EvalOptions(quick=False))`
without data (speed and fidelity only); the timing's spread and noisy verdict are recorded from
slimlib.measure.metrics.paired_throughput, which every full evaluation's timing goes through.
Others may share this CPU: the machine load is recorded with every run.

    python benchmarks/bench_timing_stability.py [--runs 5] [--threads 2]
Writes benchmarks/results/timing_stability.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from common import RESULTS, ROOT, run_metadata


def _recording():
    """Wrap metrics.paired_throughput so each evaluation's PairedTiming is kept (speeds alone reach the JSON)."""
    from slimlib.measure import metrics

    seen = []
    real = metrics.paired_throughput

    def paired_throughput(*args, **kwargs):
        timing = real(*args, **kwargs)
        seen.append(timing)
        return timing

    metrics.paired_throughput = paired_throughput
    return seen


_compressed: dict = {}


def _one(recipe_file: str, threads: int, seen: list) -> dict:
    from slimlib.model.base import load_base
    from slimlib.ops.pipeline import apply_recipe
    from slimlib.ops.recipe import Recipe
    from slimlib.workflows.evaluate import EvalOptions, evaluate

    recipe = Recipe.from_dict(json.loads((ROOT / "examples" / recipe_file).read_text()))
    if recipe_file not in _compressed:  # built once: the runs differ only by their timing
        _compressed[recipe_file] = apply_recipe(recipe, load_base(recipe.base_model))
    load = os.getloadavg()[0]
    start = time.perf_counter()
    result = evaluate(recipe, EvalOptions(quick=False, threads=threads), compressed=_compressed[recipe_file])
    timing = seen[-1]
    return {"recipe": recipe_file, "speedup": result["ratios"]["speedup"],
            "baseline_sentences_per_s": result["baseline"]["sentences_per_s"],
            "sentences_per_s": result["compressed"]["sentences_per_s"], "spread": timing.spread,
            "noisy": timing.noisy, "reason": timing.reason, "attempts": timing.attempts, "bound": timing.bound,
            "round_ratios": timing.round_ratios, "how": timing.describe(),
            "fidelity_cosine": result["compressed"]["fidelity_cosine"],
            "speed_sentences": result["measurement"]["speed_sentences"], "load_before": round(load, 2),
            "load_after": round(os.getloadavg()[0], 2), "seconds": round(time.perf_counter() - start, 1)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sentences", type=int, default=0, help="time the first N speed sentences (0: all ~350)")
    args = parser.parse_args(argv)
    seen = _recording()
    if args.sentences:
        from slimlib.measure import metrics

        every = metrics.speed_sentences
        metrics.speed_sentences = lambda quick=False: every(quick)[:args.sentences]

    print(f"{args.runs} full evaluations of examples/int8.json (all-MiniLM-L6-v2), {args.threads} threads", flush=True)
    runs = []
    for i in range(args.runs):
        runs.append(_one("int8.json", args.threads, seen))
        r = runs[-1]
        print(f"  run {i + 1}: {r['speedup']:.2f}x  spread {r['spread'] or 0:.1%}  noisy={r['noisy']}  "
              f"attempts {r['attempts']}  load {r['load_before']:.1f}->{r['load_after']:.1f}  {r['seconds']} s"
              + (f"  ({r['reason']})" if r["noisy"] else ""), flush=True)
    speedups = [r["speedup"] for r in runs]
    median = statistics.median(speedups)
    deviation = max(abs(s / median - 1) for s in speedups)
    print(f"median {median:.2f}x, max deviation from the median {deviation:+.1%} (target within 15%): "
          f"{'PASS' if deviation <= 0.15 else 'FAIL'}", flush=True)

    self_run = _one("baseline.json", args.threads, seen)
    ok = 0.95 <= self_run["speedup"] <= 1.05
    print(f"baseline against itself: {self_run['speedup']:.3f}x (target 0.95-1.05): {'PASS' if ok else 'FAIL'}; "
          f"spread {self_run['spread'] or 0:.1%}, noisy={self_run['noisy']}", flush=True)

    out = {"format": "slimlib.bench/v1", "section": "timing_stability", **run_metadata(args.threads),
           "speed_sentences": runs[0]["speed_sentences"],
           "cpu_info": __import__("slimlib.measure.hardware", fromlist=["cpu_info"]).cpu_info(),
           "int8_runs": runs, "int8_median": median, "int8_max_deviation": round(deviation, 4),
           "int8_within_15pct": deviation <= 0.15, "baseline_self": self_run, "baseline_self_ok": ok}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "timing_stability.json"
    path.write_text(json.dumps(out, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])

"""Where STS and retrieval disagree: every op's STS-B dev retained beside its Cranfield nDCG@10 retained.

Each variant is compressed once and measured twice with the same compressed model: a full evaluate()
on STS-B dev (all 1,500 pairs; size, speed against the baseline, fidelity) and the retrieval accuracy of
the same evaluation on Cranfield (all 225 queries over all 1,400 documents, exact cosine search;
workflows.accuracy.measure_accuracy, so speed is not timed twice). Both
figures carry their 95% paired-bootstrap interval; "within noise" means the data cannot tell the
variant from the baseline. The baselines' nDCG@10 is also computed by trec_eval (pytrec_eval, when
installed: `pip install pytrec-eval-terrier`) from the same rankings, as an independent check of
slimlib's metric code, and the collection's BM25 figure (its README.txt: nDCG@10 0.316) is quoted as a
sanity anchor.

Writes benchmarks/results/retrieval.json (rows appended as they land, so a stopped run keeps them).
Run: .venv/bin/python benchmarks/bench_retrieval.py [minilm|mpnet] [row-label substrings ...]
"""
from __future__ import annotations

import json
import sys
import time

from common import RESULTS, ROOT, STSB_DEV, STSB_TRAIN, describe_machine, run_metadata

CRANFIELD = ROOT.parent / "shared" / "data" / "cranfield"
OUT = RESULTS / "retrieval.json"
BM25_NDCG = 0.316  # Cranfield's README.txt

EXAMPLES = ROOT / "examples"


def _example(name: str) -> list[dict]:
    return json.loads((EXAMPLES / f"{name}.json").read_text())["steps"]


MINILM_ROWS = [  # the headline rows first: a stopped run keeps what landed
    ("baseline (fp32)", []),
    ("int8 ONNX Runtime, self-checked", _example("int8")),
    ("static (model2vec-style)", _example("static")),
    ("drop_layers keep 3 + distill 300 steps", _example("three_layers_distilled")),
    ("3 layers + distill + int8", _example("three_layers_distilled_int8")),
    ("bf16", _example("bf16")),
    ("int4 g32, packed", _example("int4")),
    ("prune_heads taylor (examples/prune_heads_taylor)", _example("prune_heads_taylor")),
    ("prune_ffn keep 0.5", _example("ffn_half")),
    ("low_rank FFN (examples/low_rank_ffn)", _example("low_rank_ffn")),
    ("factorize_embeddings r128", [{"op": "factorize_embeddings", "rank": 128}]),
    ("trim_vocab (examples/small_vocab)", _example("small_vocab")),
    ("share_layers [[4,5]]", [{"op": "share_layers", "groups": [[4, 5]]}]),
    ("drop_layers keep 3, no recovery", _example("three_layers")),
]
MPNET_DISTILL = {"op": "distill", "corpus": str(STSB_TRAIN), "steps": 300, "lr": 3e-4, "batch_size": 64,
                 "max_seq_length": 64, "loss": "mse+cosine", "seed": 0}
MPNET_ROWS = [
    ("baseline (fp32)", []),
    ("int8 ONNX Runtime, self-checked", [{"op": "quantize", "bits": 8}]),
    ("drop_layers keep 3 + distill 300 steps", [{"op": "drop_layers", "keep": 3}, MPNET_DISTILL]),
    ("static (model2vec-style)", [{"op": "static"}]),
]
MODELS = {"minilm": ("all-MiniLM-L6-v2", MINILM_ROWS), "mpnet": ("all-mpnet-base-v2", MPNET_ROWS)}


def trec_eval_ndcg(base, data) -> float | None:
    """nDCG@10 of the base model's rankings as trec_eval computes it (None without pytrec_eval)."""
    try:
        import pytrec_eval
    except ImportError:
        return None
    import numpy as np

    from slimlib.workflows.accuracy import baseline_vectors

    queries, docs = baseline_vectors(base, data)
    scores = queries @ docs.T
    run = {}
    for qid, row in zip(data.query_ids, scores):
        top = np.argsort(-row)[:100]
        run[qid] = {data.doc_ids[i]: float(row[i]) for i in top}
    evaluator = pytrec_eval.RelevanceEvaluator(data.qrels, {"ndcg_cut.10"})
    return round(float(np.mean([v["ndcg_cut_10"] for v in evaluator.evaluate(run).values()])), 6)


def _row(model: str, label: str, sts: dict, ret, seconds: float) -> dict:
    c, r, b = ret.compressed, ret.ratios, ret.baseline
    c = {**sts["compressed"], **c}
    return {
        "model": model, "variant": label, "steps": sts["recipe"].get("steps", []),
        "size_mb": round(c["size_bytes"] / 1e6, 1), "params": c["params"],
        "speedup": sts["ratios"]["speedup"], "speed_how": sts["labels"].get("sentences_per_s"),
        "sts": sts["compressed"]["sts_spearman"], "sts_ci": sts["compressed"].get("sts_spearman_ci"),
        "baseline_sts": sts["baseline"]["sts_spearman"],
        "sts_retained": sts["ratios"]["sts_retained"], "sts_retained_ci": sts["ratios"].get("sts_retained_ci"),
        "sts_verdict": sts.get("significance", {}).get("sts_spearman", {}).get("verdict"),
        "ndcg_at_10": c["ndcg_at_10"], "ndcg_at_10_ci": c["ndcg_at_10_ci"],
        "baseline_ndcg_at_10": b["ndcg_at_10"],
        "ndcg_at_10_retained": r["ndcg_at_10_retained"], "ndcg_at_10_retained_ci": r["ndcg_at_10_retained_ci"],
        "ndcg_verdict": ret.significance["ndcg_at_10"]["verdict"],
        "recall_at_10": c["recall_at_10"], "mrr_at_10": c["mrr_at_10"],
        "recall_at_10_retained": r["recall_at_10_retained"], "mrr_at_10_retained": r["mrr_at_10_retained"],
        "fidelity_cosine": c.get("fidelity_cosine"), "seconds": round(seconds, 1),
        "notes": sts.get("notes", []),
    }


def _save(payload: dict) -> None:
    """Merge this run's rows and baselines into the results file under a lock (one run per model may
    write at the same time), newest row per (model, variant)."""
    import fcntl

    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        on_disk = json.loads(OUT.read_text()) if OUT.exists() else {"rows": [], "baselines": {}}
        mine = {(r["model"], r["variant"]) for r in payload["rows"]}
        merged = {**on_disk, **{k: v for k, v in payload.items() if k not in ("rows", "baselines")}}
        merged["rows"] = [r for r in on_disk.get("rows", []) if (r["model"], r["variant"]) not in mine] + payload["rows"]
        merged["baselines"] = {**on_disk.get("baselines", {}), **payload["baselines"]}
        OUT.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> dict:
    from slimlib.model.base import load_base, set_threads
    from slimlib.model.named import installed_named_models
    from slimlib.ops.pipeline import apply_recipe
    from slimlib.ops.recipe import FORMAT, Recipe
    from slimlib.workflows.accuracy import load_eval_data, measure_accuracy
    from slimlib.workflows.evaluate import EvalOptions, evaluate

    argv = list(argv or [])
    models = [m for m in MODELS if m in argv] or list(MODELS)
    wanted = [a for a in argv if a not in MODELS]
    payload = {"format": "slimlib.bench/v1", "rows": [], "baselines": {}, **run_metadata()}
    payload["data"] = {"sts": "STS-B dev (1,500 pairs)", "retrieval": "Cranfield (225 queries, 1,400 documents)",
                       "bm25_ndcg_at_10": BM25_NDCG}
    set_threads(2)
    print(f"# STS vs retrieval — {describe_machine()}", flush=True)
    for key in models:
        name, rows = MODELS[key]
        if name != "all-MiniLM-L6-v2" and name not in installed_named_models():
            print(f"{name}: not installed (`make mpnet`), skipped")
            continue
        base = load_base(name)
        for label, steps in rows:
            if wanted and not any(w in label for w in wanted):
                continue
            start = time.perf_counter()
            recipe = Recipe.from_dict({"format": FORMAT, "base_model": name, "steps": steps})
            compressed = apply_recipe(recipe, base)
            sts = evaluate(recipe, EvalOptions(data=str(STSB_DEV), threads=2), compressed=compressed)
            ret = measure_accuracy(base, compressed.st_model, load_eval_data(str(CRANFIELD), quick=False))
            row = _row(name, label, sts, ret, time.perf_counter() - start)
            payload["rows"] = [r for r in payload["rows"] if (r["model"], r["variant"]) != (name, label)] + [row]
            if not steps:
                data = load_eval_data(str(CRANFIELD), quick=False).retrieval
                payload["baselines"][name] = {"ndcg_at_10": row["baseline_ndcg_at_10"],
                                              "ndcg_at_10_trec_eval": trec_eval_ndcg(base, data),
                                              "recall_at_10": ret.baseline["recall_at_10"],
                                              "mrr_at_10": ret.baseline["mrr_at_10"],
                                              "sts": row["baseline_sts"]}
                print(f"{name} baseline: nDCG@10 {row['baseline_ndcg_at_10']:.4f} "
                      f"(trec_eval: {payload['baselines'][name]['ndcg_at_10_trec_eval']}; BM25 {BM25_NDCG})", flush=True)
            _save(payload)
            print(f"| {name} | {label} | STS {row['sts_retained']:.1%} {row['sts_retained_ci']} {row['sts_verdict']} "
                  f"| nDCG {row['ndcg_at_10_retained']:.1%} {row['ndcg_at_10_retained_ci']} {row['ndcg_verdict']} "
                  f"| {row['speedup']}x | {row['size_mb']} MB | {row['seconds']} s |", flush=True)
    return payload


def run() -> dict:
    return main([])


if __name__ == "__main__":
    main(sys.argv[1:])

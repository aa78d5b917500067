"""Where int8's speed goes between the ONNX graph and the number `eval` shows: the paths side by side.

In one process, on the full evaluation's speed sentences (~350, batch 32), interleaved batch by batch,
each batch's best round, equal threads for every runtime:
- torch fp32 through sentence-transformers (the baseline every ratio is against);
- int8 through the sentence-transformers wrapper around the ONNX session (what eval timed before:
  HF tokenizer -> torch tensors -> SlimModel.forward -> int64 numpy copies -> ORT -> torch pooling);
- int8 on the deployed path (what eval times now: metrics.encode -> tokenizers with dynamic padding,
  the ORT session, numpy pooling; slimlib/model/onnx_session.py DeployedEncoder);
- the same graph in a session with ORT's default spinning threads (what a lean loop may use).
Also: the wrapper's cost outside the ORT run, measured with the session stubbed (load-robust),
and the largest difference between the two int8 paths' embeddings (they must agree).

    python benchmarks/bench_speed_paths.py [--threads 2] [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time

import numpy as np

from common import ROOT

BATCH = 32


def _cpu_line() -> str:
    out = subprocess.run([sys.executable, "-m", "slimlib", "inspect", "all-MiniLM-L6-v2"], cwd=ROOT,
                         capture_output=True, text=True).stdout
    return next((line.strip() for line in out.splitlines() if line.strip().startswith("This CPU")), "?")


class _StubSession:
    """A session that answers instantly with zeros of the right shape: what remains is the wrapper."""

    def __init__(self, session, hidden: int):
        self.real, self.hidden, self.slimlib_threads = session, hidden, session.slimlib_threads

    def get_inputs(self):
        return self.real.get_inputs()

    def run(self, _outputs, feed):
        ids = feed["input_ids"]
        return [np.zeros((*ids.shape, self.hidden), dtype=np.float32)]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    import torch

    from slimlib.measure import metrics
    from slimlib.measure.hardware import cpu_info
    from slimlib.model.base import load_base, set_threads
    from slimlib.model.onnx_session import deployed_encoder
    from slimlib.ops.pipeline import apply_recipe
    from slimlib.ops.recipe import Recipe

    set_threads(args.threads)
    base = load_base("all-MiniLM-L6-v2")
    recipe = Recipe.from_dict(json.loads((ROOT / "examples" / "int8.json").read_text()))
    st = apply_recipe(recipe, base).st_model
    slim = st[0].model
    deployed = deployed_encoder(st)

    def wrapper(texts):  # the path eval timed before this change
        with torch.inference_mode():
            return st.encode(texts, batch_size=BATCH, convert_to_numpy=True, show_progress_bar=False,
                             normalize_embeddings=False)

    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.log_severity_level = 3
    spin_session = ort.InferenceSession(slim.onnx_bytes, sess_options=options, providers=["CPUExecutionProvider"])
    spin_session.slimlib_threads = args.threads

    def deployed_spinning(texts):
        own = slim._session
        slim._session = spin_session
        try:
            return deployed.encode(texts, BATCH)
        finally:
            slim._session = own

    paths = {
        "torch fp32 (sentence-transformers)": lambda texts: metrics.encode(base.model, texts),
        "int8 via the sentence-transformers wrapper (before)": wrapper,
        "int8 deployed path: tokenizers + ORT + numpy (now)": lambda texts: metrics.encode(st, texts),
        "int8 deployed path, ORT default spinning threads": deployed_spinning,
    }
    sentences = metrics.speed_sentences(False)
    order = sorted(range(len(sentences)), key=lambda i: -len(sentences[i]))
    batches = [[sentences[i] for i in order[k:k + BATCH]] for k in range(0, len(order), BATCH)]
    for encode in paths.values():
        encode(batches[0])
    names = list(paths)
    best = {name: [math.inf] * len(batches) for name in names}
    per_round = {name: [0.0] * args.rounds for name in names}
    for r in range(args.rounds):
        for b, texts in enumerate(batches):
            for name in (names if (r + b) % 2 == 0 else names[::-1]):
                start = time.perf_counter()
                paths[name](texts)
                took = time.perf_counter() - start
                best[name][b] = min(best[name][b], took)
                per_round[name][r] += took
    baseline = sum(best[names[0]])
    rows = []
    print(f"\n## int8 speed paths — {_cpu_line()}; {args.threads} threads; {len(sentences)} sentences, "
          f"batch {BATCH}, {args.rounds} rounds, best round per batch\n")
    print("| path | sentences/s | vs torch fp32 | per-round ratio range |")
    print("|---|---|---|---|")
    for name in names:
        ratios = [per_round[names[0]][r] / per_round[name][r] for r in range(args.rounds)]
        rows.append({"path": name, "sentences_per_s": round(len(sentences) / sum(best[name]), 1),
                     "ratio": round(baseline / sum(best[name]), 3),
                     "round_ratios": [round(x, 3) for x in ratios]})
        print(f"| {name} | {rows[-1]['sentences_per_s']} | {rows[-1]['ratio']:.2f}x | "
              f"{min(ratios):.2f}-{max(ratios):.2f} |", flush=True)

    # The wrapper's own cost: the ORT run stubbed out, both paths, best of rounds per batch.
    real = slim._session
    stub = _StubSession(real, st.get_sentence_embedding_dimension())
    overhead = {"wrapper": math.inf, "deployed": math.inf}
    slim._session = stub
    try:
        for _ in range(args.rounds):
            for key, encode in (("wrapper", wrapper), ("deployed", lambda t: deployed.encode(t, BATCH))):
                start = time.perf_counter()
                for texts in batches:
                    encode(texts)
                overhead[key] = min(overhead[key], time.perf_counter() - start)
    finally:
        slim._session = real
    ort_seconds = sum(best[names[2]]) - overhead["deployed"]
    print(f"\nOutside the ORT run, per batch: wrapper {1000 * overhead['wrapper'] / len(batches):.1f} ms, "
          f"deployed path {1000 * overhead['deployed'] / len(batches):.1f} ms; the ORT run itself "
          f"~{1000 * ort_seconds / len(batches):.1f} ms per batch here")
    a = np.concatenate([wrapper(texts) for texts in batches])
    b = np.concatenate([deployed.encode(texts, BATCH) for texts in batches])
    diff = float(np.abs(a - b).max())
    print(f"largest difference between the two int8 paths' embeddings: {diff:.2e}")
    import os

    load = os.getloadavg()[0]
    print(f"machine load (1 min) at the end: {load:.1f} on {os.cpu_count()} cores "
          "(others share this CPU: torch's threads slow down more than ORT's under load)")
    return {"cpu": cpu_info(), "rows": rows, "overhead_ms_per_batch": {k: round(1000 * v / len(batches), 2)
            for k, v in overhead.items()}, "max_abs_diff": diff, "load": load}


if __name__ == "__main__":
    main(sys.argv[1:])

"""The bit-width and structural tables on the second real model, all-mpnet-base-v2 (12 layers, 768 hidden).

Same measurement as MiniLM's tables (benchmarks/common.py: every ratio against fp32 torch in one
process, speed interleaved, STS-B dev Spearman on all 1,500 pairs, fidelity on held-out sentences),
so the two models' rows can be read side by side. Needs the model: `make mpnet`.

The layer rows compare how `drop_layers` chooses which 6 of 12 layers stay: by Taylor importance,
evenly spaced (as DistilBERT initialises its student) and "auto" (the default: both kinds of
candidate, the one closest to the model on held-out sentences wins); the last two rows ask the same
question when distillation recovers the dropped layers.

Run standalone: .venv/bin/python benchmarks/bench_mpnet.py [row-label substrings ...]
"""
from __future__ import annotations

import sys

from common import STSB_TRAIN, describe_machine, evaluate_rows

MODEL = "all-mpnet-base-v2"

BIT_WIDTH = [
    ("fp32 (32, no-op)", [{"op": "quantize", "bits": 32}]),
    ("bf16", [{"op": "quantize", "bits": 16, "float16": "bf16"}]),
    ("int8 ONNX Runtime, self-checked", [{"op": "quantize", "bits": 8}]),
    ("int4 g32, packed", [{"op": "quantize", "bits": 4}]),
    ("int3 g32, packed", [{"op": "quantize", "bits": 3}]),
    ("int2 g32, packed", [{"op": "quantize", "bits": 2}]),
]
STRUCTURAL = [
    ("prune_heads 4/layer taylor", [{"op": "prune_heads", "per_layer": 4}]),
    ("drop_layers keep 6 (taylor)", [{"op": "drop_layers", "keep": 6, "choose": "taylor"}]),
    ("drop_layers keep 6 (spread)", [{"op": "drop_layers", "keep": 6, "choose": "spread"}]),
    ("drop_layers keep 6 (auto, default)", [{"op": "drop_layers", "keep": 6}]),
    ("prune_ffn keep 0.5 taylor", [{"op": "prune_ffn", "keep": 0.5}]),
    ("low_rank r384 FFN", [{"op": "low_rank", "rank": 384, "targets": ["ffn_in", "ffn_out"]}]),
    ("factorize_embeddings r256", [{"op": "factorize_embeddings", "rank": 256}]),
    ("trim_vocab 16,000 (default corpus)", [{"op": "trim_vocab", "corpus": "default", "max_tokens": 16000}]),
    ("share_layers [[10,11]]", [{"op": "share_layers", "groups": [[10, 11]]}]),
]

# Which layers to keep when distillation recovers them: a 6-layer mpnet student costs ~2.4 s a step on 2
# cores, so these train 300 steps (MiniLM's rows: 1,000) on STS-B train sentences, otherwise as bench_distill.
SHORT_DISTILL = {"op": "distill", "corpus": str(STSB_TRAIN), "steps": 300, "lr": 3e-4, "batch_size": 64,
                 "max_seq_length": 64, "loss": "mse+cosine", "seed": 0}
LAYERS_WITH_DISTILL = [
    ("drop_layers keep 6 (taylor) + distill 300 steps",
     [{"op": "drop_layers", "keep": 6, "choose": "taylor"}, SHORT_DISTILL]),
    ("drop_layers keep 6 (spread) + distill 300 steps",
     [{"op": "drop_layers", "keep": 6, "choose": "spread"}, SHORT_DISTILL]),
]


def main(argv: list[str] | None = None) -> list[dict]:
    from slimlib.model.named import installed_named_models

    if MODEL not in installed_named_models():
        print(f"\n## {MODEL}: not installed (`make mpnet`), skipped\n")
        return []
    wanted = argv or []
    rows = [r for r in BIT_WIDTH + STRUCTURAL + LAYERS_WITH_DISTILL if not wanted or any(w in r[0] for w in wanted)]
    print(f"\n## {MODEL}: bit-width and structural ops (no recovery) — {describe_machine()}\n", flush=True)
    return evaluate_rows(rows, base_model=MODEL)


def run() -> list[dict]:
    return main([])


if __name__ == "__main__":
    main(sys.argv[1:])

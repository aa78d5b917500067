"""Published compression results, for context on the trade-off chart.

These are other people's numbers on other models and hardware: they are drawn apart from what
slimlib measures, labelled "published, not measured here", and every one quotes its source. The
metrics use the chart's ratio scale (size and params as a fraction of the original model, speedup
as a multiple, quality retained as a fraction). Where a source states no number for a metric, it is
None; nothing is interpolated.
"""
from __future__ import annotations

LABEL = "published, not measured here"

REFERENCES: list[dict] = [
    {"short": "ONNX int8", "name": "ONNX Runtime int8 (sentence-transformers CPU backend benchmark)",
     "claim": "2.34x faster at 99.68% of the quality", "speedup": 2.34, "sts_retained": 0.9968,
     "source": "sentence-transformers docs, efficiency.rst (backends_benchmark_cpu.png)"},
    {"short": "OpenVINO int8", "name": "OpenVINO int8 (sentence-transformers CPU backend benchmark)",
     "claim": "4.78x faster at 99.64% of the quality", "speedup": 4.78, "sts_retained": 0.9964,
     "source": "sentence-transformers docs, efficiency.rst (backends_benchmark_cpu.png)"},
    {"short": "6/12 layers + distill", "name": "stsb-roberta-base, 6 of 12 layers + distillation",
     "claim": "-0.2% STS at 1.7x speed", "speedup": 1.7, "sts_retained": 0.998,
     "source": "sentence-transformers examples, distillation README"},
    {"short": "4/12 layers + distill", "name": "stsb-roberta-base, 4 of 12 layers + distillation",
     "claim": "-0.6% STS at 2.3x speed", "speedup": 2.3, "sts_retained": 0.994,
     "source": "sentence-transformers examples, distillation README"},
    {"short": "DistilBERT", "name": "DistilBERT (GLUE, not STS embeddings)",
     "claim": "40% smaller, 97% of the quality retained, 60% faster", "size": 0.6, "params": 0.6, "speedup": 1.6,
     "sts_retained": 0.97, "source": "Sanh et al. 2019, DistilBERT paper"},
    {"short": "TinyBERT-4L", "name": "TinyBERT 4 layers (GLUE, not STS embeddings)",
     "claim": "96.8% of the quality at 9.4x speed", "speedup": 9.4, "sts_retained": 0.968,
     "source": "Jiao et al. 2020, TinyBERT paper"},
    {"short": "Q8BERT", "name": "Q8BERT 8-bit quantization-aware training",
     "claim": "4x smaller with minimal accuracy loss (no single retention number)", "size": 0.25, "params": 1.0,
     "sts_retained": None, "source": "Zafrir et al. 2019, Q8BERT paper"},
    {"short": "Q-BERT 2-bit", "name": "Q-BERT 2-bit weights (mixed precision)",
     "claim": "13x smaller weights with at most 2.3% accuracy drop", "size": 1 / 13, "sts_retained": 0.977,
     "source": "Shen et al. 2020, Q-BERT paper"},
    {"short": "model2vec", "name": "model2vec static distillation of MiniLM",
     "claim": "93% of MiniLM's MTEB score, up to 500x faster", "speedup": 500.0, "sts_retained": 0.93,
     "source": "model2vec README", "on_chart": False},  # "up to" 500x would flatten every measured point
]


def references() -> list[dict]:
    """Copies of the published anchors, each carrying the 'published, not measured here' label."""
    return [{"kind": "published", "label": LABEL, **ref} for ref in REFERENCES]

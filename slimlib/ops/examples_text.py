"""One example step per op, shown by `python -m slimlib ops` and --help."""

OP_EXAMPLES = {
    "prune_heads": '{"op": "prune_heads", "fraction": 0.5, "score": "taylor"}',
    "drop_layers": '{"op": "drop_layers", "keep": 3}',
    "prune_ffn": '{"op": "prune_ffn", "keep": 0.5}',
    "low_rank": '{"op": "low_rank", "rank": 128, "targets": ["ffn_in", "ffn_out"]}',
    "factorize_embeddings": '{"op": "factorize_embeddings", "rank": 128}',
    "trim_vocab": '{"op": "trim_vocab", "corpus": "default", "max_tokens": 8000}',
    "share_layers": '{"op": "share_layers", "groups": [[0, 1], [2, 3]]}',
    "distill": '{"op": "distill", "steps": 300, "lr": 1e-4, "batch_size": 32, "seed": 0}',
    "quantize": '{"op": "quantize", "bits": 8}',
}

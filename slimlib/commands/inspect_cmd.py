"""`python -m slimlib inspect MODEL [--json]`: architecture, where the parameters live, which ops apply."""
from __future__ import annotations

from .common import print_json


def add_parser(sub) -> None:
    p = sub.add_parser("inspect", help="show a model's architecture, parameter breakdown and applicable ops",
                       description="MODEL is all-MiniLM-L6-v2 (bundled), a local sentence-transformers folder "
                                   "(compressed ones too) or a hub id.")
    p.add_argument("model", help="bundled name, folder or hub id")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def describe(model_name: str) -> dict:
    from ..measure.inspection import param_breakdown, param_summary
    from ..measure.metrics import artifact_size
    from ..model.base import load_base
    from ..model.parts import encoder_of
    from ..model.shape import model_shape
    from ..ops.registry import op_names

    base = load_base(model_name)
    rows = param_breakdown(base.model)
    common = {"model": model_name, "path": base.path, "architecture": base.arch.model_type,
              "params": param_summary(rows), "size_bytes": artifact_size(base.model), "content_hash": base.content_hash}
    if encoder_of(base.model) is None:  # an int8 ONNX graph: no layers to list
        return {**common, "backend": "onnx", "ops": []}
    shape = model_shape(base.model, base.arch)
    layers = [{"layer": r["label"], **{c["label"]: c["params"] for c in rows if c["parent"] == r["id"]}}
              for r in rows if r["parent"] == "model" and r["id"].startswith("layer ")]
    return {
        **common,
        "backend": "torch",
        "layers": shape.num_layers,
        "heads_per_layer": shape.heads,
        "head_dim": shape.head_dim,
        "hidden": shape.hidden,
        "ffn_per_layer": shape.intermediate,
        "vocab": shape.vocab,
        "params_per_layer": layers,
        "ops": op_names(),
    }


def run(args) -> int:
    from ..measure.hardware import bit_width_advice

    info = describe(args.model)
    if args.json:
        print_json(info)
        return 0
    p = info["params"]
    total = p["total"] or 1
    print(f"{info['model']} ({info['architecture']}, {info['backend']}) at {info['path']}")
    if info["backend"] == "onnx":
        print(f"  an int8 ONNX graph: {p['total']:,} parameters, exported size {info['size_bytes'] / 1e6:.1f} MB")
        return 0
    print(f"  {info['layers']} layers, heads per layer {info['heads_per_layer']} (head dim {info['head_dim']}), "
          f"hidden {info['hidden']}, FFN {info['ffn_per_layer']}, vocabulary {info['vocab']:,}")
    print(f"  {p['total']:,} parameters, exported size {info['size_bytes'] / 1e6:.1f} MB")
    for kind in ("embeddings", "attention", "ffn", "norms", "other"):
        print(f"    {kind:<11} {p[kind]:>12,}  {p[kind] / total:6.1%}")
    print("  per layer:")
    for layer in info["params_per_layer"]:
        print("    " + layer["layer"] + ": " + ", ".join(f"{k} {v:,}" for k, v in layer.items() if k != "layer"))
    print("  ops that apply: " + ", ".join(info["ops"]))
    print("  " + bit_width_advice())
    return 0

"""Where a model's parameters live: embeddings, attention, FFN and norms, per layer.

`param_breakdown` returns flat rows (id, parent, label, params) that a treemap draws directly and
the CLI `inspect` command prints. Counting follows `slimlib.model.parts.count_params`: a parameter
shared by several layers counts once (at the first layer that uses it), and modules that pack
their weights report their logical count through `slim_param_count`.
"""
from __future__ import annotations


from ..model.architectures import arch_for, get_module
from ..model.parts import ParamCounter, count_params, encoder_of

ROOT = "model"


def _first(path: str) -> str:
    return path.split(".", 1)[0]


def param_breakdown(st_model) -> list[dict]:
    """Rows {id, parent, label, params} from the whole model down to each layer's blocks.

    Parent rows hold the sum of their children, so the tree can be drawn with branchvalues="total".
    """
    total = count_params(st_model)
    inner = encoder_of(st_model)
    if inner is None:  # an ONNX-backed model: one opaque graph
        return [{"id": ROOT, "parent": "", "label": "model", "params": total},
                {"id": "onnx graph", "parent": ROOT, "label": "ONNX graph", "params": total}]
    arch = arch_for(inner.config.model_type)
    count = ParamCounter()
    rows: list[dict] = []

    def add(row_id: str, parent: str, label: str, params: int) -> None:
        rows.append({"id": row_id, "parent": parent, "label": label, "params": int(params)})

    word = count(get_module(inner, arch.word_embeddings))
    embeddings_root = get_module(inner, _first(arch.word_embeddings))
    other_embeddings = count(embeddings_root)
    add("embeddings/word", "embeddings", "word embeddings", word)
    add("embeddings/other", "embeddings", "positions, types, norm", other_embeddings)
    add("embeddings", ROOT, "embeddings", word + other_embeddings)

    encoder_total = 0
    for index, layer in enumerate(get_module(inner, arch.layers)):
        attention = count(get_module(layer, _first(arch.self_attention)))
        ffn = count(get_module(layer, arch.ffn_in)) + count(get_module(layer, arch.ffn_out))
        rest = count(layer)  # layer norms and anything else the layer holds
        name = f"layer {index}"
        add(f"{name}/attention", name, "attention", attention)
        add(f"{name}/ffn", name, "FFN", ffn)
        add(f"{name}/norms", name, "norms", rest)
        add(name, ROOT, name, attention + ffn + rest)
        encoder_total += attention + ffn + rest

    other = total - (word + other_embeddings + encoder_total)
    add("other", ROOT, "other (pooler, heads, shared tables)", max(other, 0))
    rows.insert(0, {"id": ROOT, "parent": "", "label": "model", "params": sum(r["params"] for r in rows if r["parent"] == ROOT)})
    return rows


def param_summary(rows: list[dict]) -> dict[str, int]:
    """Totals by kind across layers: embeddings, attention, ffn, norms, other, total."""
    summary = {"embeddings": 0, "attention": 0, "ffn": 0, "norms": 0, "other": 0}
    for row in rows:
        leaf = row["id"].rsplit("/", 1)[-1]
        if row["parent"] == "embeddings":
            summary["embeddings"] += row["params"]
        elif leaf in ("attention", "ffn", "norms") and row["parent"].startswith("layer "):
            summary[leaf] += row["params"]
        elif row["id"] in ("other", "onnx graph"):
            summary["other"] += row["params"]
    summary["total"] = sum(summary.values())
    return summary

"""Where a model's parameters live: embeddings, attention, FFN and norms, per layer.

`param_breakdown` returns flat rows (id, parent, label, params) that a treemap draws directly and
the CLI `inspect` command prints. Counting follows `slimlib.measure.metrics.count_params`: a parameter
shared by several layers counts once (at the first layer that uses it), and modules that pack
their weights report their logical count through `slim_param_count`.
"""
from __future__ import annotations

from torch import nn

from ..model.architectures import arch_for, get_module
from .metrics import count_params

ROOT = "model"


def _inner_encoder(st_model):
    """The HF encoder inside a plain or slimlib SentenceTransformer (None for an ONNX-backed one)."""
    from ..model.slim import SlimModel

    model = st_model[0].auto_model
    return model.inner if isinstance(model, SlimModel) else model


class _Counter:
    """Counts parameters not counted before, so shared weights are attributed once."""

    def __init__(self):
        self.seen: set[int] = set()

    def __call__(self, module: nn.Module | None) -> int:
        if module is None:
            return 0
        total = 0
        stack = [module]
        while stack:
            current = stack.pop()
            if id(current) in self.seen:
                continue
            self.seen.add(id(current))
            logical = getattr(current, "slim_param_count", None)
            if logical is not None:
                for parameter in current.parameters():  # its packed storage is part of the logical count
                    self.seen.add(id(parameter))
                total += int(logical() if callable(logical) else logical)
                continue
            for parameter in current.parameters(recurse=False):
                if id(parameter) not in self.seen:
                    self.seen.add(id(parameter))
                    total += parameter.numel()
            stack.extend(current.children())
        return total


def _first(path: str) -> str:
    return path.split(".", 1)[0]


def param_breakdown(st_model) -> list[dict]:
    """Rows {id, parent, label, params} from the whole model down to each layer's blocks.

    Parent rows hold the sum of their children, so the tree can be drawn with branchvalues="total".
    """
    total = count_params(st_model)
    inner = _inner_encoder(st_model)
    if inner is None:  # an ONNX-backed model: one opaque graph
        return [{"id": ROOT, "parent": "", "label": "model", "params": total},
                {"id": "onnx graph", "parent": ROOT, "label": "ONNX graph", "params": total}]
    arch = arch_for(inner.config.model_type)
    count = _Counter()
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

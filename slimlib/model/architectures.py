"""One table of where things live inside each supported transformer architecture.

Every op finds modules through this table, never through hard-coded attribute names, so adding
an architecture is adding a row. Paths are dotted attribute paths; layer-relative paths start
from one element of the layer list.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ModelLoadError


@dataclass(frozen=True)
class ArchSpec:
    model_type: str
    layers: str  # the ModuleList of transformer layers, from the HF base model
    self_attention: str  # the module holding query/key/value (layer-relative)
    query: str
    key: str
    value: str
    attention_output: str  # Linear from all heads back to hidden size (layer-relative)
    ffn_in: str
    ffn_out: str
    word_embeddings: str  # from the HF base model
    # MPNet shares one relative-position bias table across layers, one column per head:
    # a head-pruned layer must select its own columns.
    relative_position_bias: str | None = None
    # Where the attention output Linear lives: inside the self-attention module (MPNet) or in
    # a sibling module (BERT). Matters when every head of a layer is removed.
    output_inside_self_attention: bool = False


ARCHITECTURES: dict[str, ArchSpec] = {
    "bert": ArchSpec(
        model_type="bert",
        layers="encoder.layer",
        self_attention="attention.self",
        query="attention.self.query",
        key="attention.self.key",
        value="attention.self.value",
        attention_output="attention.output.dense",
        ffn_in="intermediate.dense",
        ffn_out="output.dense",
        word_embeddings="embeddings.word_embeddings",
    ),
    "mpnet": ArchSpec(
        model_type="mpnet",
        layers="encoder.layer",
        self_attention="attention.attn",
        query="attention.attn.q",
        key="attention.attn.k",
        value="attention.attn.v",
        attention_output="attention.attn.o",
        ffn_in="intermediate.dense",
        ffn_out="output.dense",
        word_embeddings="embeddings.word_embeddings",
        relative_position_bias="encoder.relative_attention_bias",
        output_inside_self_attention=True,
    ),
}


def supported_types() -> str:
    return ", ".join(sorted(ARCHITECTURES))


def arch_for(model_type: str, source: str = "the model") -> ArchSpec:
    try:
        return ARCHITECTURES[model_type]
    except KeyError:
        raise ModelLoadError(
            f"{source}: architecture '{model_type}' is not supported; supported model types: {supported_types()}"
        ) from None


def get_module(root, path: str):
    obj = root
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def set_module(root, path: str, module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = get_module(root, parent_path) if parent_path else root
    if name.isdigit():
        parent[int(name)] = module
    else:
        setattr(parent, name, module)

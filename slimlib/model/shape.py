"""A model's shape: the sizes a recipe step is checked against (layers, heads, FFN widths, vocabulary).

It lives with the model, below the ops: the op registry, the recipe and every op read it, and
`model_shape` measures it from a loaded (possibly compressed) SentenceTransformer.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import RecipeError
from .architectures import ArchSpec, get_module
from .parts import encoder_of, head_dim_of, layers_of


@dataclass
class ModelShape:
    """The sizes a recipe step can be checked against; each step returns the shape after it."""

    num_layers: int
    heads: list[int]  # heads per layer
    head_dim: int
    hidden: int
    intermediate: list[int]  # FFN width per layer
    vocab: int
    embedding_rank: int | None = None

    def copy(self) -> "ModelShape":
        return dataclasses.replace(self, heads=list(self.heads), intermediate=list(self.intermediate))


# all-MiniLM-L6-v2's shape: what examples and docs are written for when no model is at hand.
REFERENCE_SHAPE = ModelShape(num_layers=6, heads=[12] * 6, head_dim=32, hidden=384, intermediate=[1536] * 6, vocab=30522)


def model_shape(st_model, arch: ArchSpec) -> ModelShape:
    """The current sizes of a (possibly compressed) model, for recipe checks."""
    inner = encoder_of(st_model)
    if inner is None:
        raise RecipeError("this model runs as an ONNX int8 graph; its layer shapes cannot be changed")
    head_dim = head_dim_of(inner)
    layers = layers_of(inner, arch)
    heads, intermediate = [], []
    for layer in layers:
        attention = get_module(layer, arch.self_attention)
        attention = getattr(attention, "attn", attention)  # through a head-selecting wrapper
        query = getattr(attention, arch.query.rsplit(".", 1)[1], None)
        heads.append(query.out_features // head_dim if query is not None else 0)
        intermediate.append(get_module(layer, arch.ffn_in).out_features)
    vocab = get_module(inner, arch.word_embeddings).num_embeddings
    return ModelShape(num_layers=len(layers), heads=heads, head_dim=head_dim, hidden=inner.config.hidden_size,
                      intermediate=intermediate, vocab=vocab)

"""Small nn.Modules that compressed models are made of.

Each describes itself with `slim_spec()` (a JSON-able dict) and is rebuilt from that spec by a
function registered in `BUILDERS`, so a saved model reloads with exactly these shapes before its
weights are loaded (see slim.py). `recurse` says whether the module's children are
recorded separately (wrappers) or belong to the spec (leaf replacements).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

BUILDERS: dict[str, Callable[[dict, nn.Module | None], nn.Module]] = {}


def builder(type_name: str):
    def register(fn):
        BUILDERS[type_name] = fn
        return fn

    return register


class LowRankLinear(nn.Module):
    """y = B(A x) + b: a Linear factorized through `rank` dimensions (truncated SVD)."""

    recurse = False

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.down = nn.Linear(in_features, rank, bias=False)
        self.up = nn.Linear(rank, out_features, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))

    def slim_spec(self) -> dict:
        return {"type": "low_rank_linear", "in": self.in_features, "out": self.out_features,
                "rank": self.rank, "bias": self.up.bias is not None}


@builder("low_rank_linear")
def _build_low_rank(spec: dict, _existing) -> nn.Module:
    return LowRankLinear(spec["in"], spec["out"], spec["rank"], spec["bias"])


class FactorizedEmbedding(nn.Module):
    """ALBERT-style word embeddings: a (vocab x r) table followed by an (r x hidden) projection."""

    recurse = False

    def __init__(self, num_embeddings: int, rank: int, embedding_dim: int, padding_idx: int | None = None):
        super().__init__()
        self.num_embeddings, self.rank, self.embedding_dim = num_embeddings, rank, embedding_dim
        self.padding_idx = padding_idx
        self.table = nn.Embedding(num_embeddings, rank, padding_idx=padding_idx)
        self.project = nn.Linear(rank, embedding_dim, bias=False)

    @property
    def weight(self) -> torch.Tensor:
        # Some HF code reads word_embeddings.weight (dtype/device, tying): give it the full matrix.
        return self.project(self.table.weight)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.project(self.table(input_ids))

    def slim_spec(self) -> dict:
        return {"type": "factorized_embedding", "num": self.num_embeddings, "rank": self.rank,
                "dim": self.embedding_dim, "padding_idx": self.padding_idx}


@builder("factorized_embedding")
def _build_factorized(spec: dict, _existing) -> nn.Module:
    return FactorizedEmbedding(spec["num"], spec["rank"], spec["dim"], spec.get("padding_idx"))


class EmptySelfAttention(nn.Module):
    """Stands in for a self-attention module whose every head was pruned.

    With no heads the attention context is empty, so the block's output projection contributes
    only its bias. `out_proj` is kept (as a Linear with 0 inputs) when the architecture puts the
    output projection inside the self-attention module (MPNet); BERT keeps it in its sibling.
    """

    recurse = False

    def __init__(self, out_features: int | None = None):
        super().__init__()
        self.out_proj = nn.Linear(0, out_features) if out_features else None

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs):
        empty = hidden_states[..., :0]
        context = self.out_proj(empty) if self.out_proj is not None else empty
        return context, None

    def slim_spec(self) -> dict:
        return {"type": "empty_self_attention", "out": self.out_proj.out_features if self.out_proj is not None else None}


@builder("empty_self_attention")
def _build_empty_attention(spec: dict, _existing) -> nn.Module:
    return EmptySelfAttention(spec.get("out"))


class HeadSelectingAttention(nn.Module):
    """Wraps an MPNet self-attention whose heads were pruned: selects its heads' columns of the
    relative position bias that MPNet computes once for all layers."""

    recurse = True

    def __init__(self, attn: nn.Module, kept_heads: list[int]):
        super().__init__()
        self.attn = attn
        self.kept_heads = list(kept_heads)
        self.register_buffer("head_index", torch.tensor(self.kept_heads, dtype=torch.long), persistent=False)
        # MPNet's forward reshapes by all_head_size, so a rebuilt (reloaded) attention needs the
        # pruned head count too, not the count its config was built with.
        if hasattr(attn, "attention_head_size"):
            attn.num_attention_heads = len(self.kept_heads)
            attn.all_head_size = len(self.kept_heads) * attn.attention_head_size

    def forward(self, hidden_states, attention_mask=None, position_bias=None, *args, **kwargs):
        if position_bias is not None:
            position_bias = position_bias.index_select(1, self.head_index)
        return self.attn(hidden_states, attention_mask, position_bias, *args, **kwargs)

    def slim_spec(self) -> dict:
        return {"type": "head_select", "heads": self.kept_heads}


@builder("head_select")
def _build_head_select(spec: dict, existing) -> nn.Module:
    return HeadSelectingAttention(existing, spec["heads"])


@builder("linear")
def _build_linear(spec: dict, _existing) -> nn.Module:
    return nn.Linear(spec["in"], spec["out"], bias=spec["bias"])


@builder("embedding")
def _build_embedding(spec: dict, _existing) -> nn.Module:
    return nn.Embedding(spec["num"], spec["dim"], padding_idx=spec.get("padding_idx"))


def spec_of(module: nn.Module) -> dict | None:
    """The spec of a shape-bearing module, or None for modules whose shape never changes."""
    if hasattr(module, "slim_spec"):
        return module.slim_spec()
    if isinstance(module, nn.Linear):
        return {"type": "linear", "in": module.in_features, "out": module.out_features, "bias": module.bias is not None}
    if isinstance(module, nn.Embedding):
        return {"type": "embedding", "num": module.num_embeddings, "dim": module.embedding_dim,
                "padding_idx": module.padding_idx}
    return None


def slice_linear(linear: nn.Linear, index: torch.Tensor, dim: int) -> nn.Linear:
    """A new Linear keeping rows (dim 0, outputs) or columns (dim 1, inputs) `index` of `linear`."""
    index = index.to(linear.weight.device)
    weight = linear.weight.index_select(dim, index).detach().clone()
    bias = linear.bias
    if bias is not None:
        bias = (bias.index_select(0, index) if dim == 0 else bias).detach().clone()
    out_f, in_f = weight.shape
    new = nn.Linear(in_f, out_f, bias=bias is not None, device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        new.weight.copy_(weight)
        if bias is not None:
            new.bias.copy_(bias)
    return new

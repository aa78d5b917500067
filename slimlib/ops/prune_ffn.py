"""prune_ffn: keep the most important intermediate neurons of every layer's feed-forward block."""
from __future__ import annotations

import numpy as np
import torch

from ..model import parts
from ..model.architectures import set_module
from .importance import scores_for_step
from ..model.modules import slice_linear
from .pipeline import OpContext, register_op
from .recipe import PruneFFN


def kept_width(keep: float, width: int) -> int:
    """Neurons kept out of `width` (the same rounding as the recipe's shape check)."""
    return max(1, int(round(keep * width)))


def top_neurons(scores: np.ndarray, count: int) -> torch.Tensor:
    """Indices of the `count` highest-scoring neurons, ascending (so weights keep their order)."""
    order = np.argsort(-np.asarray(scores), kind="stable")[:count]
    return torch.as_tensor(np.sort(order), dtype=torch.long)


@register_op("prune_ffn")
def prune_ffn(ctx: OpContext, step: PruneFFN) -> None:
    scores = scores_for_step(ctx, step.score, "ffn").ffn
    layers = parts.layers_of(ctx.inner, ctx.arch)
    before = after = 0
    for index, layer in enumerate(layers):
        ctx.check_stop()
        ctx.progress(f"slicing the FFN of layer {index}", 0.8 + 0.2 * index / len(layers))
        ffn_in = parts.require_plain_linear(parts.ffn_in(layer, ctx.arch), "prune_ffn", step.where)
        ffn_out = parts.require_plain_linear(parts.ffn_out(layer, ctx.arch), "prune_ffn", step.where)
        keep = top_neurons(scores[index], kept_width(step.keep, ffn_in.out_features))
        set_module(layer, ctx.arch.ffn_in, slice_linear(ffn_in, keep, dim=0))
        set_module(layer, ctx.arch.ffn_out, slice_linear(ffn_out, keep, dim=1))
        before += ffn_in.out_features
        after += len(keep)
    ctx.notes.append(f"prune_ffn: kept {after} of {before} FFN neurons (by {step.score} importance)")


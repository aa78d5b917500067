"""prune_ffn: keep the most important intermediate neurons of every layer's feed-forward block."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..model import parts
from ..model.architectures import set_module
from .importance import scores_for_step
from ..model.modules import slice_linear
from .pipeline import OpContext
from ..model.shape import ModelShape
from .recipe import Step, setting
from .registry import OpSpec, register_op


@dataclass
class PruneFFN(Step):
    keep: float = setting("Fraction of each layer's FFN neurons to keep, chosen by importance.", default=0.5)
    score: str = setting('How neurons are ranked: "taylor" or "magnitude".', default="taylor")

    def __post_init__(self) -> None:
        self._require_fraction("keep")
        self._require_choice("score", ("taylor", "magnitude"))

    def check(self, shape: ModelShape) -> ModelShape:
        out = shape.copy()
        out.intermediate = [max(1, int(round(self.keep * i))) for i in shape.intermediate]
        return out


def kept_width(keep: float, width: int) -> int:
    """Neurons kept out of `width` (the same rounding as the recipe's shape check)."""
    return max(1, int(round(keep * width)))


def top_neurons(scores: np.ndarray, count: int) -> torch.Tensor:
    """Indices of the `count` highest-scoring neurons, ascending (so weights keep their order)."""
    order = np.argsort(-np.asarray(scores), kind="stable")[:count]
    return torch.as_tensor(np.sort(order), dtype=torch.long)


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


register_op(OpSpec(
    name="prune_ffn",
    settings=PruneFFN,
    apply=prune_ffn,
    order=30,
    title="FFN width",
    summary=("Removes the least important FFN neurons of every layer (same count per layer). MiniLM, keep 50%: 16% smaller, 1.4x, 99.7% of STS kept without recovery."),
    example=lambda shape: {"keep": 0.5},
    label=lambda s: f"FFN {s['keep']:.0%}",
    trains=False,
    keeps_units=frozenset({"heads", "layers"}),
    search_axes=lambda shape: {"prune_ffn.keep": [0, 0.75, 0.5, 0.25]},
    not_smaller_because=None,
))

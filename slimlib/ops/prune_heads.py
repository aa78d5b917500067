"""prune_heads: remove whole attention heads physically.

transformers 5 has no prune_heads, so the surgery is done here: Q/K/V lose the heads' rows, the
output projection loses their columns, and the attention module's head count is updated (its
forward reshapes by head size, so fewer heads just work). A layer that loses every head keeps
only the output projection's bias (`EmptySelfAttention`). MPNet layers that keep some heads are
wrapped so they pick their heads' columns of the relative position bias shared by all layers.
"""
from __future__ import annotations

from dataclasses import dataclass

import warnings

import numpy as np
import torch
from torch import nn

from ..model import parts
from ..model.architectures import ArchSpec, set_module
from .importance import scores_for_step
from ..model.modules import EmptySelfAttention, HeadSelectingAttention, slice_linear
from .pipeline import OpContext
from ..model.shape import ModelShape
from .recipe import Step, setting
from .registry import OpSpec, register_op


@dataclass
class PruneHeads(Step):
    per_layer: int | None = setting("Remove this many heads from every layer (the least important).", default=None)
    fraction: float | None = setting("Remove this fraction of all heads, ranked globally.", default=None)
    heads: dict[str, list[int]] | None = setting(
        'Explicit heads to remove, {"layer": [head ids]}, layer indices as strings.', default=None
    )
    score: str = setting('How heads are ranked: "taylor" (gradient of a fidelity loss) or "magnitude".', default="taylor")

    def __post_init__(self) -> None:
        which = self._require_one_of(("per_layer", "fraction", "heads"))
        self._require_choice("score", ("taylor", "magnitude"))
        if which == "per_layer":
            self._require_int("per_layer", low=1)
        elif which == "fraction":
            self._require_fraction("fraction", allow_one=False)
        else:
            if not isinstance(self.heads, dict) or not self.heads:
                raise self.fail("heads", 'expected a non-empty mapping {"layer": [head ids]}')
            clean: dict[str, list[int]] = {}
            for layer, ids in self.heads.items():
                if not str(layer).lstrip("-").isdigit():
                    raise self.fail("heads", f"layer key {layer!r} is not a layer index")
                if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                    raise self.fail(f"heads.{layer}", f"expected a list of head ids, got {ids!r}")
                clean[str(int(layer))] = sorted(set(ids))
            self.heads = dict(sorted(clean.items(), key=lambda kv: int(kv[0])))

    def check(self, shape: ModelShape) -> ModelShape:
        out = shape.copy()
        if self.per_layer is not None:
            most = max(shape.heads)
            if self.per_layer > most:
                raise self.fail("per_layer", f"{self.per_layer} exceeds {most}, the most heads any layer has")
            out.heads = [max(0, h - self.per_layer) for h in shape.heads]
        elif self.fraction is not None:
            total = sum(shape.heads)
            removed = int(round(self.fraction * total))
            if removed >= total:
                raise self.fail("fraction", f"{self.fraction} would remove all {total} heads")
            # Which layers lose heads is decided by the importance scores at apply time.
            out.heads = list(shape.heads)
        else:
            for layer, ids in self.heads.items():
                index = int(layer)
                if not 0 <= index < shape.num_layers:
                    raise self.fail("heads", f"layer {index} does not exist (the model has layers 0-{shape.num_layers - 1})")
                bad = [i for i in ids if not 0 <= i < shape.heads[index]]
                if bad:
                    raise self.fail(f"heads.{layer}", f"head ids {bad} do not exist (layer {index} has heads 0-{shape.heads[index] - 1})")
                out.heads[index] = shape.heads[index] - len(ids)
            if sum(out.heads) == 0:
                raise self.fail("heads", "would remove every head of the model; keep at least one")
        return out


def plan_per_layer(scores: list[np.ndarray], count: int) -> dict[int, list[int]]:
    """The `count` lowest-scoring heads of every layer (all of them where a layer has fewer)."""
    plan = {}
    for layer, layer_scores in enumerate(scores):
        order = np.argsort(layer_scores, kind="stable")
        chosen = sorted(int(h) for h in order[:count])
        if chosen:
            plan[layer] = chosen
    return plan


def plan_global(scores: list[np.ndarray], fraction: float) -> dict[int, list[int]]:
    """The lowest-scoring `fraction` of all heads, ranked across layers; at least one head stays."""
    units = [(float(s), layer, head) for layer, row in enumerate(scores) for head, s in enumerate(row)]
    total = len(units)
    remove = min(int(round(fraction * total)), total - 1)
    plan: dict[int, list[int]] = {}
    for _score, layer, head in sorted(units)[:remove]:
        plan.setdefault(layer, []).append(head)
    return {layer: sorted(heads) for layer, heads in sorted(plan.items())}


def search_counts(heads: int) -> list[int]:
    """Heads removed per layer worth searching: a quarter, half and three quarters of a layer's heads."""
    return sorted({max(1, round(heads * f)) for f in (0.25, 0.5, 0.75) if round(heads * f) < heads})


def head_rows(heads: list[int], head_dim: int) -> torch.Tensor:
    """Row indices of the given heads in a (heads * head_dim)-wide projection."""
    if not heads:
        return torch.zeros(0, dtype=torch.long)
    return torch.cat([torch.arange(h * head_dim, (h + 1) * head_dim) for h in heads])


def _empty_attention(layer: nn.Module, arch: ArchSpec, output: nn.Linear) -> None:
    """Replace a layer's self-attention once it has no heads left."""
    with warnings.catch_warnings():  # initializing a 0-input Linear warns that it is a no-op
        warnings.simplefilter("ignore", UserWarning)
        if arch.output_inside_self_attention:
            empty = EmptySelfAttention(output.out_features)
            with torch.no_grad():
                empty.out_proj.bias.copy_(output.bias)
            set_module(layer, arch.self_attention, empty)
        else:
            set_module(layer, arch.self_attention, EmptySelfAttention(None))
            set_module(layer, arch.attention_output, slice_linear(output, head_rows([], 1), dim=1))


def remove_heads(layer: nn.Module, arch: ArchSpec, heads: list[int], head_dim: int, where: str) -> None:
    """Remove heads (ids in the layer's current numbering) from one layer, in place."""
    count = parts.head_count(layer, arch, head_dim)
    removed = set(heads)
    keep = [h for h in range(count) if h not in removed]
    if len(keep) == count:
        return
    holder = parts.attention_holder(layer, arch)
    core = parts.attention_core(layer, arch)
    output = parts.require_plain_linear(parts.attention_output(layer, arch), "prune_heads", where)
    if not keep:
        _empty_attention(layer, arch, output)
        return
    rows = head_rows(keep, head_dim)
    for name in parts.projection_names(arch):
        projection = parts.require_plain_linear(getattr(core, name), "prune_heads", where)
        setattr(core, name, slice_linear(projection, rows, dim=0))
    sliced_output = slice_linear(output, rows, dim=1)
    if arch.output_inside_self_attention:
        setattr(core, parts.output_name(arch), sliced_output)
    else:
        set_module(layer, arch.attention_output, sliced_output)
    core.num_attention_heads = len(keep)
    core.all_head_size = len(keep) * head_dim
    if arch.relative_position_bias:
        # Bias columns are numbered by the ORIGINAL heads; compose with an earlier selection.
        original = holder.kept_heads if isinstance(holder, HeadSelectingAttention) else list(range(count))
        set_module(layer, arch.self_attention, HeadSelectingAttention(core, [original[h] for h in keep]))


def choose_heads(ctx: OpContext, step: PruneHeads) -> dict[int, list[int]]:
    if step.heads is not None:
        return {int(layer): ids for layer, ids in step.heads.items() if ids}
    scores = scores_for_step(ctx, step.score, "heads").heads
    if step.per_layer is not None:
        return plan_per_layer(scores, step.per_layer)
    return plan_global(scores, step.fraction)


def prune_heads(ctx: OpContext, step: PruneHeads) -> None:
    plan = choose_heads(ctx, step)
    encoder = ctx.inner
    head_dim = parts.head_dim_of(encoder)
    layers = parts.layers_of(encoder, ctx.arch)
    for number, (layer, heads) in enumerate(sorted(plan.items())):
        ctx.check_stop()
        ctx.progress(f"removing heads of layer {layer}", 0.8 + 0.2 * number / max(1, len(plan)))
        remove_heads(layers[layer], ctx.arch, heads, head_dim, step.where)
    removed = sum(len(h) for h in plan.values())
    emptied = [layer for layer in range(len(layers)) if parts.head_count(layers[layer], ctx.arch, head_dim) == 0]
    how = "explicit" if step.heads is not None else f"by {step.score} importance"
    ctx.notes.append(f"prune_heads: removed {removed} heads ({how})"
                     + (f"; layers {emptied} have no attention left" if emptied else ""))


register_op(OpSpec(
    name="prune_heads",
    settings=PruneHeads,
    apply=prune_heads,
    order=20,
    title="Attention heads",
    summary=("Removes whole attention heads (their Q/K/V rows and output columns). MiniLM, 4 of 12 per layer by Taylor importance: 5% smaller, 1.15x, 99.1% of STS kept without recovery."),
    example=lambda shape: {"fraction": 0.5, "score": "taylor"},
    label=lambda s: (f"heads -{s['per_layer']}/layer" if "per_layer" in s else f"heads -{s['fraction']:.0%}" if "fraction" in s else f"heads -{sum(len(v) for v in s['heads'].values())} chosen"),
    trains=False,
    keeps_units=frozenset({"ffn", "layers"}),
    search_axes=lambda shape: {"prune_heads.per_layer": [0] + search_counts(max(shape.heads))},
    not_smaller_because=None,
))

"""drop_layers: remove whole transformer layers, explicitly or keeping the most important ones."""
from __future__ import annotations

import numpy as np
from torch import nn

from ..model import parts
from ..model.architectures import set_module
from .importance import scores_for_step
from .pipeline import OpContext, register_op
from .recipe import DropLayers


def most_important(scores: np.ndarray, keep: int) -> list[int]:
    """Indices of the `keep` highest-scoring layers, in their original order."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    return sorted(int(i) for i in order[:keep])


def keep_layers(ctx: OpContext, kept: list[int]) -> None:
    """Keep only the given layers, and make the saved config agree so the model reloads exactly."""
    encoder = ctx.inner
    layers = parts.layers_of(encoder, ctx.arch)
    count = len(layers)
    new_layers = nn.ModuleList([layers[i] for i in kept])
    for new_index, layer in enumerate(new_layers):
        for module in layer.modules():  # caches and attention kernels look layers up by index
            if hasattr(module, "layer_idx"):
                module.layer_idx = new_index
    set_module(encoder, ctx.arch.layers, new_layers)
    # A config that still says N layers would rebuild N layers at load time (the guide's trap:
    # it loads "successfully" with random weights), so both configs must change.
    saved = ctx.slim.config.base_config  # what the model is rebuilt from at load time
    encoder.config.num_hidden_layers = saved["num_hidden_layers"] = len(kept)
    per_layer = getattr(encoder.config, "layer_types", None)  # newer configs list a type per layer
    if isinstance(per_layer, list) and len(per_layer) == count:
        encoder.config.layer_types = saved["layer_types"] = [per_layer[i] for i in kept]


@register_op("drop_layers")
def drop_layers(ctx: OpContext, step: DropLayers) -> None:
    count = len(parts.layers_of(ctx.inner, ctx.arch))
    if step.layers is not None:
        kept = [i for i in range(count) if i not in set(step.layers)]
        how = "explicit"
    else:
        kept = most_important(scores_for_step(ctx, "taylor", "layers").layers, step.keep)
        how = "by taylor importance"
    ctx.progress("dropping layers", 0.9)
    keep_layers(ctx, kept)
    dropped = [i for i in range(count) if i not in kept]
    ctx.notes.append(f"drop_layers: removed layers {dropped}, kept {kept} ({how})")

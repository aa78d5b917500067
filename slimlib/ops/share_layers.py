"""The `share_layers` op: ALBERT-style cross-layer weight sharing.

Every group of layers becomes one module object placed at each of the group's positions in the
layer list, so the forward runs it once per position while its weights exist once: counted once
by measure.count_params and saved once (slim_model records the other positions as tied).
Sharing changes what the layers compute; a `distill` step afterwards recovers most of it.
"""
from __future__ import annotations

import torch
from torch import nn

from ..model.architectures import get_module
from .pipeline import OpContext, register_op
from .recipe import ShareLayers


@register_op("share_layers")
def share_layers(ctx: OpContext, step: ShareLayers) -> None:
    layers = get_module(ctx.inner, ctx.arch.layers)
    for group in step.groups:
        members = [layers[i] for i in group]
        owner = members[0]
        if len({id(m) for m in members}) < len(members):
            raise step.fail("groups", f"layers {group} already share weights")
        if step.init == "mean":
            try:
                average_into(owner, members)
            except ValueError as exc:
                raise step.fail("groups", f"layers {group} cannot be averaged: {exc}") from None
        for index in group[1:]:
            layers[index] = owner
    shared = sum(len(g) - 1 for g in step.groups)
    ctx.notes.append(f"share_layers: {shared} layer(s) reuse another layer's weights ({step.init} initialisation)")


def average_into(owner: nn.Module, members: list[nn.Module]) -> None:
    """Set each parameter of `owner` to the mean of that parameter over `members` (owner included)."""
    states = [dict(m.named_parameters()) for m in members]
    names = list(states[0])
    for other in states[1:]:
        if list(other) != names:
            raise ValueError("their modules differ (an earlier step changed one of them)")
        mismatched = [n for n in names if other[n].shape != states[0][n].shape]
        if mismatched:
            raise ValueError(f"{mismatched[0]} has different shapes")
    with torch.no_grad():
        for name in names:
            mean = torch.stack([state[name] for state in states]).mean(dim=0)
            states[0][name].copy_(mean)

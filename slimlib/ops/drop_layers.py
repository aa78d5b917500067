"""drop_layers: remove whole transformer layers, explicitly or keeping the most important ones."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from ..model import parts
from ..model.architectures import set_module
from .importance import scores_for_step
from .pipeline import OpContext
from ..model.shape import ModelShape
from .recipe import Step, setting
from .registry import OpSpec, register_op


@dataclass
class DropLayers(Step):
    layers: list[int] | None = setting("Indices of the layers to remove.", default=None)
    keep: int | None = setting("Keep this many layers, chosen by `choose`.", default=None)
    choose: str = setting(
        'With keep: which layers stay. "taylor" (the most important by Taylor score), "spread" (evenly '
        'spaced, as DistilBERT initialises its student), or "auto": both kinds of candidate are tried and '
        "the set whose embeddings stay closest to the model's on held-out sentences wins.", default="auto")

    def __post_init__(self) -> None:
        which = self._require_one_of(("layers", "keep"))
        self._require_choice("choose", CHOICES)
        if which == "keep":
            self._require_int("keep", low=1)
        else:
            if not isinstance(self.layers, list) or not self.layers or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in self.layers
            ):
                raise self.fail("layers", f"expected a non-empty list of layer indices, got {self.layers!r}")
            self.layers = sorted(set(self.layers))

    def check(self, shape: ModelShape) -> ModelShape:
        n = shape.num_layers
        if self.keep is not None:
            if self.keep > n:
                raise self.fail("keep", f"{self.keep} exceeds {n}, the number of layers")
            kept = list(range(self.keep))  # which ones is decided by importance; sizes are alike
        else:
            bad = [i for i in self.layers if not 0 <= i < n]
            if bad:
                raise self.fail("layers", f"layers {bad} do not exist (the model has layers 0-{n - 1})")
            if len(self.layers) >= n:
                raise self.fail("layers", f"would drop all {n} layers; keep at least one")
            kept = [i for i in range(n) if i not in self.layers]
        out = shape.copy()
        out.num_layers = len(kept)
        out.heads = [shape.heads[i] for i in kept]
        out.intermediate = [shape.intermediate[i] for i in kept]
        return out


CHOICES = ("auto", "taylor", "spread")
# Held-out sentences that judge the candidate layer sets (apart from the fidelity sentences).
JUDGING_SENTENCES = 96


def spread_candidates(count: int, keep: int) -> list[list[int]]:
    """Evenly spaced layer sets: first-to-last, and every k-th from the bottom or from the top."""
    if keep >= count:
        return [list(range(count))]
    if keep == 1:
        return [[count - 1], [0]]
    stride = max(1, count // keep)
    candidates = [
        sorted({int(round(i * (count - 1) / (keep - 1))) for i in range(keep)}),
        [i * stride for i in range(keep)],
        sorted(count - 1 - i * stride for i in range(keep)),
    ]
    unique = []
    for kept in candidates:
        if len(kept) == keep and min(kept) >= 0 and kept not in unique:
            unique.append(kept)
    return unique


def closest_to_model(ctx: OpContext, candidates: list[list[int]]) -> tuple[list[int], list[float]]:
    """The candidate whose embeddings have the highest mean cosine to the current model's, and every
    candidate's cosine. Each candidate runs by swapping the layer list in place (no model copy)."""
    from ..measure.metrics import encode
    from .importance import scoring_sentences

    sentences = scoring_sentences()[:JUDGING_SENTENCES]
    encoder = ctx.inner
    layers = parts.layers_of(encoder, ctx.arch)
    reference = encode(ctx.st_model, sentences)
    cosines = []
    try:
        for number, kept in enumerate(candidates):
            ctx.check_stop()
            ctx.progress(f"judging layer set {kept}", 0.8 + 0.1 * number / len(candidates))
            set_module(encoder, ctx.arch.layers, nn.ModuleList([layers[i] for i in kept]))
            trial = encode(ctx.st_model, sentences)
            cosines.append(float(np.mean(np.sum(reference * trial, axis=1) /
                                         (np.linalg.norm(reference, axis=1) * np.linalg.norm(trial, axis=1) + 1e-12))))
    finally:
        set_module(encoder, ctx.arch.layers, layers)
    best = int(np.argmax(cosines))
    return candidates[best], cosines


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


def drop_layers(ctx: OpContext, step: DropLayers) -> None:
    count = len(parts.layers_of(ctx.inner, ctx.arch))
    if step.layers is not None:
        kept = [i for i in range(count) if i not in set(step.layers)]
        how = "explicit"
    elif step.choose == "spread":
        kept = spread_candidates(count, step.keep)[0]
        how = "evenly spaced"
    else:
        by_taylor = most_important(scores_for_step(ctx, "taylor", "layers").layers, step.keep)
        kept, how = by_taylor, "by taylor importance"
        if step.choose == "auto":
            candidates = [by_taylor] + [c for c in spread_candidates(count, step.keep) if c != by_taylor]
            kept, cosines = closest_to_model(ctx, candidates)
            tried = ", ".join(f"{c}: {cos:.3f}" for c, cos in zip(candidates, cosines))
            how = f"auto: closest to the model on held-out sentences among taylor and evenly spaced sets ({tried})"
    ctx.progress("dropping layers", 0.9)
    keep_layers(ctx, kept)
    dropped = [i for i in range(count) if i not in kept]
    ctx.notes.append(f"drop_layers: removed layers {dropped}, kept {kept} ({how})")


register_op(OpSpec(
    name="drop_layers",
    settings=DropLayers,
    apply=drop_layers,
    order=50,
    title="Layers",
    summary=("Removes whole transformer layers. MiniLM, keep 4 of 6 by importance: 16% smaller, 1.4x, 98.2% of STS kept without recovery; keep 3 + distillation: 97%."),
    example=lambda shape: {"keep": max(1, shape.num_layers // 2)},
    label=lambda s: f"keep {s['keep']} layers" + (f" ({s['choose']})" if s.get("choose", "auto") != "auto" else "")
    if "keep" in s else f"drop layers {s['layers']}",
    trains=False,
    keeps_units=frozenset(),
    search_axes=lambda shape: {"drop_layers.keep": [0] + list(range(shape.num_layers - 1, 0, -1))},
    not_smaller_because=None,
))

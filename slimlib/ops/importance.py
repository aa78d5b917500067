"""Importance scores of attention heads, layers and FFN neurons, for choosing what to prune.

Two methods:

- "taylor": how far the sentence embedding moves, to first order, when one unit is switched off.
  Each head, FFN neuron and layer (its residual branch) gets a multiplicative mask m = 1, and the
  score is E_sentences ||d emb / d m||^2. Why not the gradient of a loss, as in Michel et al.
  2019? Our loss is label-free: the distance to the ORIGINAL model's embeddings. At m = 1 the
  pruned model *is* the original, so that loss and its gradient are exactly zero. Its second-order
  (Gauss-Newton) term is ||J dm||^2 with J = d emb / d m, so for removing unit h (dm = -e_h) the
  predicted loss increase is ||J_h||^2: the quantity scored here. Computing ||J_h||^2 exactly would
  need one backward pass per embedding dimension; instead each sentence gets a random unit vector
  r and we backprop <emb, r>: E_r[<J_h, r>^2] = ||J_h||^2 / dim. The masks carry a batch axis (one
  mask row per sentence), so one backward pass yields every sentence's gradient separately and the
  estimate averages over sentences, not over batches. All masks are present at once, so one pass
  scores heads, neurons and layers together. Embeddings are L2-normalized first because fidelity
  is measured by cosine. Scores are absolute (movement of the same embedding), so they compare
  across layers without per-layer normalization.
- "magnitude": L2 norms of the weights a unit owns (a head's Q/K/V rows and output columns; a
  neuron's input row and output column; a layer's weights that write into the residual stream).

Scores of a base model are computed once and cached on disk (.npz, no pickle) keyed by the
model's content hash and the method, so the app can recombine them instantly. Scoring always runs
on a deep copy: hooks never touch the cached base model.
"""
from __future__ import annotations

import copy
import json
import threading
import warnings
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from ..model import parts
from ..data.corpus import project_sentences
from ..model.files import write_file_atomically
from ..paths import cache_dir
from .registry import UNIT_KINDS, ops_keeping

METHODS = ("taylor", "magnitude")
SCORE_VERSION = 1  # bump when the scoring changes, so old cache files are not reused
# The fidelity measurement uses the first 300 project sentences; score on the rest so the
# evaluation never sees the sentences the pruning decisions were made on.
SCORING_SENTENCES = slice(300, 300 + 256)
BATCH_SIZE = 16
SEED = 0

Progress = Callable[[str, float], None]


@dataclass
class Scores:
    """One score per unit: heads[layer][head], layers[layer], ffn[layer][neuron]. Higher = more important."""

    heads: list[np.ndarray]
    layers: np.ndarray
    ffn: list[np.ndarray]

    def sizes(self) -> tuple[list[int], list[int]]:
        return [len(h) for h in self.heads], [len(f) for f in self.ffn]


def _require_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"importance method {method!r} is not one of {', '.join(METHODS)}")


def model_sizes(st_model, arch) -> tuple[list[int], list[int]]:
    """Heads per layer and FFN width per layer of a (possibly compressed) model."""
    encoder = parts.encoder_of(st_model)
    head_dim = parts.head_dim_of(encoder)
    layers = parts.layers_of(encoder, arch)
    return ([parts.head_count(layer, arch, head_dim) for layer in layers],
            [parts.ffn_in(layer, arch).out_features for layer in layers])


# Magnitude -----------------------------------------------------------------------------------

def _magnitude(st_model, arch) -> Scores:
    encoder = parts.encoder_of(st_model)
    head_dim = parts.head_dim_of(encoder)
    heads, layer_scores, ffn = [], [], []
    with torch.no_grad():
        for layer in parts.layers_of(encoder, arch):
            n = parts.head_count(layer, arch, head_dim)
            squares = torch.zeros(n)
            for linear in parts.qkv(layer, arch):
                squares += linear.weight.float().pow(2).sum(1).view(n, head_dim).sum(1)
            output = parts.attention_output(layer, arch)
            if n:
                squares += output.weight.float().pow(2).sum(0).view(n, head_dim).sum(1)
            heads.append(squares.sqrt().numpy())
            w_in, w_out = parts.ffn_in(layer, arch).weight.float(), parts.ffn_out(layer, arch).weight.float()
            ffn.append((w_in.pow(2).sum(1) + w_out.pow(2).sum(0)).sqrt().numpy())
            # A crude layer proxy: the size of what the layer can write into the residual stream.
            residual = w_out.pow(2).sum() + (output.weight.float().pow(2).sum() if output is not None else 0.0)
            layer_scores.append(float(residual.sqrt()))
    return Scores(heads, np.array(layer_scores, dtype=np.float64), ffn)


# Taylor -------------------------------------------------------------------------------------------

def _mask_heads(masks: dict, index: int, head_dim: int, _module, args):
    context = args[0]  # (batch, tokens, heads * head_dim), the input of the output projection
    shape = context.shape
    mask = masks["heads"][index][:, None, :, None]
    masked = (context.reshape(shape[0], shape[1], -1, head_dim) * mask).reshape(shape)
    return (masked, *args[1:])


def _mask_ffn(masks: dict, index: int, _module, args):
    return (args[0] * masks["ffn"][index][:, None, :], *args[1:])


def _mask_layer(masks: dict, index: int, _module, args, kwargs, output):
    # The layer's residual branch scaled by m: m = 0 turns the layer into the identity.
    hidden_in = args[0] if args else kwargs["hidden_states"]
    hidden_out = output[0] if isinstance(output, tuple) else output
    mask = masks["layers"][:, index][:, None, None]
    mixed = hidden_in + mask * (hidden_out - hidden_in)
    return (mixed, *output[1:]) if isinstance(output, tuple) else mixed


def _taylor(model, arch, sentences: list[str], progress: Progress, batch_size: int = BATCH_SIZE,
            seed: int = SEED) -> Scores:
    """Scores `model`, which this function owns: it gets hooks and gradient masks."""
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    encoder = parts.encoder_of(model)
    head_dim = parts.head_dim_of(encoder)
    layers = parts.layers_of(encoder, arch)
    n_heads, n_ffn = model_sizes(model, arch)
    masks: dict = {}
    for i, layer in enumerate(layers):
        if n_heads[i]:
            parts.attention_output(layer, arch).register_forward_pre_hook(partial(_mask_heads, masks, i, head_dim))
        parts.ffn_out(layer, arch).register_forward_pre_hook(partial(_mask_ffn, masks, i))
        layer.register_forward_hook(partial(_mask_layer, masks, i), with_kwargs=True)

    generator = torch.Generator().manual_seed(seed)
    sums_heads = [torch.zeros(n, dtype=torch.float64) for n in n_heads]
    sums_ffn = [torch.zeros(n, dtype=torch.float64) for n in n_ffn]
    sums_layers = torch.zeros(len(layers), dtype=torch.float64)
    batches = [sentences[i:i + batch_size] for i in range(0, len(sentences), batch_size)]
    for number, batch in enumerate(batches):
        progress(f"scoring importance (taylor): batch {number + 1}/{len(batches)}", number / len(batches))
        size = len(batch)
        masks["heads"] = [torch.ones(size, n, requires_grad=True) for n in n_heads]
        masks["ffn"] = [torch.ones(size, n, requires_grad=True) for n in n_ffn]
        masks["layers"] = torch.ones(size, len(layers), requires_grad=True)
        features = model.preprocess(batch)
        embedding = F.normalize(model(features)["sentence_embedding"].float(), dim=-1)
        directions = F.normalize(torch.randn(embedding.shape, generator=generator), dim=-1)
        # dim * <J_h, r>^2 has expectation ||J_h||^2: the expected squared movement of the embedding.
        (embedding * directions).sum().backward()
        dim = embedding.shape[-1]
        for total, mask in zip(sums_heads + sums_ffn, masks["heads"] + masks["ffn"]):
            total += dim * mask.grad.double().pow(2).sum(0)
        sums_layers += dim * masks["layers"].grad.double().pow(2).sum(0)
    progress("scoring importance (taylor): done", 1.0)
    count = float(len(sentences))
    return Scores([(t / count).numpy() for t in sums_heads], (sums_layers / count).numpy(),
                  [(t / count).numpy() for t in sums_ffn])


def scoring_sentences() -> list[str]:
    sentences = list(project_sentences()[SCORING_SENTENCES])
    return sentences or list(project_sentences())


def compute_scores(st_model, arch, method: str = "taylor", progress: Progress | None = None,
                   sentences: list[str] | None = None, copy_model: Callable[[], object] | None = None) -> Scores:
    """Score every head, layer and FFN neuron of `st_model` (never modified: Taylor runs on a copy).

    `copy_model` makes that copy when plain deepcopy is unsafe: a shared base model must be copied
    under its lock (its fast tokenizer raises "Already borrowed" if another session encodes meanwhile).
    """
    _require_method(method)
    progress = progress or (lambda _m, _f: None)
    if method == "magnitude":
        return _magnitude(st_model, arch)
    model = copy_model() if copy_model else copy.deepcopy(st_model)
    return _taylor(model, arch, sentences or scoring_sentences(), progress)


# Disk cache -----------------------------------------------------------------------------------------

def cache_path(base, method: str) -> Path:
    return cache_dir("importance") / f"{base.content_hash}-{method}-v{SCORE_VERSION}.npz"


def _write(path: Path, scores: Scores, meta: dict) -> None:
    arrays = {"layers": np.asarray(scores.layers, dtype=np.float64), "meta": np.array(json.dumps(meta))}
    for i, (h, f) in enumerate(zip(scores.heads, scores.ffn)):
        arrays[f"heads_{i}"] = np.asarray(h, dtype=np.float64)
        arrays[f"ffn_{i}"] = np.asarray(f, dtype=np.float64)
    write_file_atomically(path, lambda out: np.savez(out, **arrays))


def _read(path: Path, heads: list[int], ffn: list[int]) -> Scores:
    """Load and check a cache file; raises ValueError when it is unreadable or does not fit."""
    try:
        with np.load(path, allow_pickle=False) as data:
            layers = data["layers"]
            scores = Scores([data[f"heads_{i}"] for i in range(len(heads))], layers,
                            [data[f"ffn_{i}"] for i in range(len(ffn))])
    except (OSError, KeyError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        raise ValueError(f"unreadable ({type(exc).__name__})") from None
    if scores.sizes() != (heads, ffn) or len(layers) != len(heads):
        raise ValueError("its sizes do not match the model")
    every = np.concatenate([layers, *scores.heads, *scores.ffn])
    if not np.all(np.isfinite(every)):
        raise ValueError("it holds non-finite values")
    return scores


# App sessions are threads: when several ask for the same base's scores at once, one computes them
# and the others wait for its cache file instead of each spending the time again.
_SCORING_LOCKS: dict[Path, threading.Lock] = {}
_SCORING_LOCKS_GUARD = threading.Lock()


def _scoring_lock(path: Path) -> threading.Lock:
    with _SCORING_LOCKS_GUARD:
        return _SCORING_LOCKS.setdefault(path, threading.Lock())


def base_scores(base, method: str = "taylor", progress: Progress | None = None) -> Scores:
    """Scores of a base model, from the disk cache when present and valid, else computed and cached."""
    _require_method(method)
    path = cache_path(base, method)
    with _scoring_lock(path):
        return _cached_or_computed(base, method, path, progress)


def _cached_or_computed(base, method: str, path: Path, progress: Progress | None) -> Scores:
    heads, ffn = model_sizes(base.model, base.arch)
    if path.exists():
        try:
            return _read(path, heads, ffn)
        except ValueError as problem:
            warnings.warn(f"importance cache {path.name} is corrupted ({problem}); recomputing it", stacklevel=2)
    scores = compute_scores(base.model, base.arch, method, progress, copy_model=base.fresh_copy)
    meta = {"model": base.name, "content_hash": base.content_hash, "method": method, "version": SCORE_VERSION,
            "sentences": len(scoring_sentences()) if method == "taylor" else 0}
    try:
        _write(path, scores, meta)
    except OSError as exc:  # a read-only cache must not stop pruning
        warnings.warn(f"could not write the importance cache {path} ({exc.strerror})", stacklevel=2)
    return scores


def _padded(rows: list[np.ndarray]) -> np.ndarray:
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), np.nan)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


def head_importance(base, method: str = "taylor", progress: Progress | None = None) -> np.ndarray:
    """(layers x heads) scores for the heatmap; NaN where a layer has fewer heads."""
    return _padded(base_scores(base, method, progress).heads)


def layer_importance(base, method: str = "taylor", progress: Progress | None = None) -> np.ndarray:
    """One score per layer."""
    return np.asarray(base_scores(base, method, progress).layers)


def ffn_importance(base, method: str = "taylor", progress: Progress | None = None) -> np.ndarray:
    """(layers x neurons) scores; NaN where a layer's FFN is narrower."""
    return _padded(base_scores(base, method, progress).ffn)


# Which earlier ops leave the units a score refers to in place (same layers, same indices), so
# the base model's cached scores still name them: each op says so itself (OpSpec.keeps_units).
# After such ops the base scores are used, so the app recombines them instantly; rescoring the
# intermediate model measured no better (README, "Structural ops") and cost seconds per change.
# After any other op (layers dropped or shared, low rank, distillation) the intermediate model is
# scored afresh.

# Scores of a rescored intermediate model depend only on the base and the steps before: the app
# re-applies the same prefix on every change of a control further down the recipe, so the last
# few are kept in memory; they are small (one float per unit).
_PREFIX_SCORES: "OrderedDict[tuple, Scores]" = OrderedDict()
PREFIX_SCORES_MAX = 32
_PREFIX_LOCK = threading.Lock()


def base_scores_apply(kind: str, earlier_ops) -> bool:
    """Whether the base model's scores of `kind` units still name the units after `earlier_ops`."""
    return set(earlier_ops) <= ops_keeping(kind)


def scores_for_step(ctx, method: str, kind: str) -> Scores:
    """Scores for an op running inside apply_recipe that prunes `kind` units (heads, ffn, layers).

    The base model's cached scores when the steps before kept those units in place (always so
    for the first step); otherwise the intermediate model is scored, and those scores are kept
    by (base, method, the steps before) for the next application.
    """
    def report(message: str, fraction: float) -> None:
        ctx.check_stop()
        ctx.progress(message, 0.8 * fraction)

    if kind not in UNIT_KINDS:
        raise ValueError(f"kind: expected one of {sorted(UNIT_KINDS)}, got {kind!r}")
    if ctx.step_index == 0 or base_scores_apply(kind, ctx.earlier_ops):
        return base_scores(ctx.base, method, report)
    if not ctx.prefix_key:  # a context built by hand: nothing says which model this is
        return compute_scores(ctx.st_model, ctx.arch, method, report)
    key = (ctx.base.content_hash, method, ctx.prefix_key)
    with _PREFIX_LOCK:
        if key in _PREFIX_SCORES:
            _PREFIX_SCORES.move_to_end(key)
            return copy.deepcopy(_PREFIX_SCORES[key])
    scores = compute_scores(ctx.st_model, ctx.arch, method, report)
    with _PREFIX_LOCK:
        _PREFIX_SCORES[key] = copy.deepcopy(scores)
        while len(_PREFIX_SCORES) > PREFIX_SCORES_MAX:
            _PREFIX_SCORES.popitem(last=False)
    return scores

"""The `distill` op: recover what earlier steps took away by training the student on the base model's
embeddings of unlabelled sentences.

The training itself lives in slimlib/ops/training.py; this module does the recipe plumbing: the
corpus, a teacher of another width (its embeddings reduced by PCA, or a Dense projection added to
the student), the two caches (teacher embeddings, trained weights) and the checks that the model
can still be trained. A trained result is cached under a key made of the base model's content hash,
a fingerprint of the exact student the training starts from (so it covers whatever the earlier
steps did, even if their code changes), the distill settings and the corpus hash.
"""
from __future__ import annotations

from dataclasses import dataclass

import hashlib
import json
import os
import shutil
import time
import warnings
from pathlib import Path

import torch
from safetensors.torch import load_file

from . import training as distillation
from ..data.corpus import load_sentences, sentences_hash
from ..errors import DataFileError
from ..model.files import WRITE_ERRORS, staged_folder, write_error_reason
from ..paths import cache_dir
from .pipeline import OpContext
from .recipe import Step, setting
from .registry import OpSpec, register_op
from ..model.slim import WEIGHTS_NAME, is_derived_buffer, under_tied


PROJECTIONS = ("pca", "dense")


@dataclass
class Distill(Step):
    # Defaults are what the distillation benchmark measured best within 10 minutes on 2 cores
    # (README, "Distillation"): 1,000 steps, lr 3e-4, 64 sentences in length buckets, 64 tokens.
    steps: int = setting("Optimizer steps.", default=1000)
    lr: float = setting("AdamW learning rate.", default=3e-4)
    batch_size: int = setting("Sentences per step.", default=64)
    corpus: str = setting('"default" (the project sentences) or a text / pair file of training sentences, or a BEIR retrieval folder (its queries and documents).', default="default")
    seed: int = setting("Seed for shuffling and dropout: the same seed trains the same weights.", default=0)
    max_seq_length: int = setting("Token limit per sentence while training.", default=64)
    loss: str = setting(
        '"mse", "cosine" or "mse+cosine" between student and teacher embeddings; "similarity" between the '
        "cosine similarities of the batch's sentences to each other (the student learns the teacher's "
        "similarities at its own width: a teacher of any width, no projection).", default="mse+cosine")
    corpus_sha256: str | None = setting("Hash of the training sentences, filled in when the step runs.", default=None)
    teacher: str | None = setting(
        "The model to learn from: null for the uncompressed base, or any base model source (a named model such as "
        "all-mpnet-base-v2, a local folder, a hub id). A teacher of another width meets the student as "
        "`projection` says.", default=None)
    # Left out of the recipe at "pca" (omit_default): recipes and trained-weights caches written before
    # this setting existed keep their keys, since "pca" is what they did.
    projection: str = setting(
        'Only for a teacher whose width differs from the student\'s: "pca" reduces the teacher\'s embeddings to '
        'the student\'s width by their top singular directions on the corpus; "dense" has the student learn a '
        "Dense layer onto the teacher's width, saved with the model (its embeddings become the teacher's width).",
        default="pca", omit_default=True)
    base_weight: float = setting(
        "Only with a teacher other than the base: the weight of a second target, the uncompressed base's own "
        "embeddings, for the student's own embedding (before a Dense projection; without one, the output itself, "
        "which then learns a blend of both). "
        "0: the teacher alone. It keeps what the base learned while the student takes the teacher's view.",
        default=0.0, omit_default=True)

    def __post_init__(self) -> None:
        self._require_int("steps", low=1, high=100_000)
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not 0 < self.lr <= 1:
            raise self.fail("lr", f"expected a learning rate in (0, 1], got {self.lr!r}")
        self._require_int("batch_size", low=1, high=4096)
        self._require_int("seed", low=0)
        self._require_int("max_seq_length", low=8, high=8192)
        self._require_choice("loss", distillation.LOSSES)
        self._require_choice("projection", PROJECTIONS)
        if self.loss == distillation.SIMILARITY_LOSS and self.projection != "pca":
            raise self.fail("projection", f"{self.projection!r} does not apply with loss \"similarity\", which needs "
                                          "no projection: leave it out")
        if isinstance(self.base_weight, bool) or not isinstance(self.base_weight, (int, float)) \
                or not 0 <= self.base_weight <= 100:
            raise self.fail("base_weight", f"expected a weight from 0 to 100, got {self.base_weight!r}")
        if self.base_weight and self.teacher is None:
            raise self.fail("base_weight", "only applies with a teacher other than the base: set `teacher` too")
        if not isinstance(self.corpus, str) or not self.corpus:
            raise self.fail("corpus", f'expected "default" or a file path, got {self.corpus!r}')
        if self.teacher is not None and (not isinstance(self.teacher, str) or not self.teacher.strip()):
            raise self.fail("teacher", f"expected a model name, folder or hub id, got {self.teacher!r}")


MAX_TRAINED_CACHE_ENTRIES = 6
PROGRESS_UPDATES = 100


def distill(ctx: OpContext, step: Distill) -> None:
    require_trainable(ctx, step)
    sentences = corpus_sentences(step)
    corpus_hash = sentences_hash(sentences)
    if step.corpus_sha256 and step.corpus_sha256 != corpus_hash:
        message = (f"{step.where}.corpus: the sentences changed since this recipe was written "
                   f"(hash {step.corpus_sha256} then, {corpus_hash} now); training on the current ones")
        warnings.warn(message, stacklevel=2)
        ctx.notes.append(message)
    step.corpus_sha256 = corpus_hash

    key = trained_cache_key(ctx, step)
    folder = cache_dir("distilled") / key
    if load_trained(ctx, folder):
        ctx.notes.append(f"distill: trained weights loaded from the cache ({key[:12]}{_trained_how(folder)})")
        return

    settings = distillation.TrainSettings(steps=step.steps, lr=step.lr, batch_size=step.batch_size, seed=step.seed,
                                          max_seq_length=step.max_seq_length, loss=step.loss)
    ctx.progress(f"distill: teacher embeddings of {len(sentences)} sentences", 0.0)
    targets = corpus_embeddings(ctx, _teacher(step, ctx), step, sentences, corpus_hash)
    base_targets = base_target(ctx, step, sentences, corpus_hash) if step.base_weight else None
    targets, projection = meet_teacher_width(ctx, step, sentences, targets)
    second = None
    if base_targets is not None:
        second = distillation.SecondTarget(base_targets, float(step.base_weight), projection)
        ctx.notes.append(f"distill: the student's own embedding also learns the base's (weight {step.base_weight:g})"
                         + (" before the projection" if projection is not None else ""))
    started = time.perf_counter()
    losses = train(ctx, sentences, targets, settings, second)
    seconds = time.perf_counter() - started
    final_loss = sum(losses[-10:]) / len(losses[-10:])
    store_trained(ctx, folder, {"seconds": round(seconds, 1), "loss_first": losses[0], "loss_last": final_loss,
                                "threads": torch.get_num_threads()}, projection)
    ctx.notes.append(f"distill: {step.steps} steps on {len(sentences)} sentences, loss {losses[0]:.4f} -> "
                     f"{final_loss:.4f} in {seconds:.0f} s")


def _teacher(step: Distill, ctx: OpContext):
    if step.teacher is None:
        return ctx.base
    from ..errors import ModelLoadError
    from ..model.base import load_base

    try:
        return load_base(step.teacher)
    except ModelLoadError as exc:
        raise step.fail("teacher", str(exc)) from None


def corpus_embeddings(ctx: OpContext, source, step: Distill, sentences: list[str], corpus_hash: str):
    """A loaded base model's embeddings of the corpus, from the teacher-embedding cache when there."""
    key = distillation.teacher_cache_key(source.content_hash, corpus_hash, step.max_seq_length)
    with source.lock:  # a shared base model: one user of it at a time
        return distillation.cached_teacher_embeddings(source.model, sentences, step.max_seq_length,
                                                      cache_dir("teacher"), key, ctx.check_stop)


def base_target(ctx: OpContext, step: Distill, sentences: list[str], corpus_hash: str):
    """The uncompressed base's embeddings of the corpus, checked against the student's own width."""
    targets = corpus_embeddings(ctx, ctx.base, step, sentences, corpus_hash)
    width = ctx.st_model.get_embedding_dimension()
    if targets.shape[1] != width:
        raise step.fail("base_weight", f"the base's embeddings ({targets.shape[1]} dims) and the student's "
                                       f"({width}) differ in width")
    return targets


def meet_teacher_width(ctx: OpContext, step: Distill, sentences: list[str], targets):
    """(targets, projection) for a teacher of any width: unchanged when the widths agree or the loss
    compares similarities (any width can); with "pca" the targets reduced to the student's width; with
    "dense" the full targets and the Dense layer now in the student, mapping its embedding onto the
    teacher's width (it is trained with the rest)."""
    width = ctx.st_model.get_embedding_dimension()
    teacher_width = targets.shape[1]
    if teacher_width == width:
        return targets, None
    if step.loss == distillation.SIMILARITY_LOSS:
        ctx.notes.append(f"distill: the student learns the {teacher_width}-dim teacher's similarities between "
                         f"sentences at its own {width} dims (no projection)")
        return targets, None
    if step.projection == "dense":
        ctx.progress(f"distill: fitting a {width} -> {teacher_width} projection", 0.0)
        projection = distillation.fit_projection(ctx.st_model, sentences, targets, step.max_seq_length,
                                                 ctx.check_stop)
        distillation.insert_projection(ctx.st_model, projection)
        ctx.notes.append(projection_note(projection))
        return targets, projection
    try:
        reduced = project_to_width(targets, width)
    except ValueError as exc:
        raise step.fail("teacher", str(exc)) from None
    ctx.notes.append(f"distill: the teacher's {teacher_width}-dim embeddings projected onto the student's "
                     f"{width} dims by their top singular directions on the corpus")
    return reduced, None


def projection_note(projection) -> str:
    return (f"distill: a Dense projection {projection.in_features} -> {projection.out_features} was learned and "
            f"saved with the model: its embeddings are now {projection.out_features}-dim (the teacher's width)")


def project_to_width(targets, width: int):
    """Teacher embeddings of another width onto `width` dims: the top right singular vectors of the
    (uncentered) targets, so cosine structure is kept as well as `width` directions can; rows are
    renormalized when the teacher's were unit length."""
    import numpy as np

    if width > targets.shape[1]:
        raise ValueError(f"the student ({width} dims) is wider than the teacher ({targets.shape[1]} dims)")
    _, _, vt = np.linalg.svd(targets.astype(np.float64), full_matrices=False)
    projected = targets.astype(np.float64) @ vt[:width].T
    if np.allclose(np.linalg.norm(targets, axis=1), 1.0, atol=1e-3):
        projected /= np.maximum(np.linalg.norm(projected, axis=1, keepdims=True), 1e-12)
    return projected.astype(np.float32)


def require_trainable(ctx: OpContext, step: Distill) -> None:
    """Only float32 torch weights can be trained: quantized models must be distilled before quantize."""
    slim = ctx.slim
    if slim.config.backend != "torch" or slim.inner is None:
        raise step.fail("op", f"the model is already a {slim.config.backend} graph and cannot be trained; "
                              "put distill before quantize")
    dtypes = {p.dtype for p in ctx.st_model.parameters()}
    if dtypes - {torch.float32}:
        names = ", ".join(sorted(str(d).removeprefix("torch.") for d in dtypes))
        raise step.fail("op", f"the model's weights are {names}, which cannot be trained; put distill before quantize")


def corpus_sentences(step: Distill) -> list[str]:
    try:
        return load_sentences(step.corpus)
    except DataFileError as exc:
        raise step.fail("corpus", str(exc)) from None


def trained_cache_key(ctx: OpContext, step: Distill) -> str:
    settings = {k: v for k, v in step.to_dict().items() if k != "corpus"}  # the hash names the sentences
    body = {
        "base": ctx.base.content_hash,
        "student": distillation.student_fingerprint(ctx.inner),
        "distill": settings,
        "threads": torch.get_num_threads(),  # float sums differ with the thread count
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]


def train(ctx: OpContext, sentences, targets, settings: distillation.TrainSettings,
          second: distillation.SecondTarget | None = None) -> list[float]:
    frozen = distillation.frozen_parameter_ids(ctx.inner, ctx.arch.word_embeddings)
    parameters = list(dict.fromkeys(ctx.st_model.parameters()))  # shared weights once
    trainable = [p for p in parameters if id(p) not in frozen]
    # The copy inherits requires_grad=False from the read-only base: switch it on for training only.
    previous = [p.requires_grad for p in parameters]
    for p in parameters:
        p.requires_grad_(id(p) not in frozen)
    every = max(1, settings.steps // PROGRESS_UPDATES)

    def report(done: int, loss: float) -> None:
        if done % every == 0 or done == settings.steps:
            ctx.progress(f"distill: step {done}/{settings.steps}, loss {loss:.4f}", done / settings.steps)

    try:
        return distillation.train_student(ctx.st_model, sentences, targets, settings, trainable, report,
                                          ctx.check_stop, second)
    finally:
        for p, flag in zip(parameters, previous):
            p.requires_grad_(flag)


# Trained-weights cache ------------------------------------------------------------------------

TRAINING_RECORD = "training.json"
PROJECTION_FOLDER = "projection"  # the Dense layer a "dense" projection added, as sentence-transformers saves it


def store_trained(ctx: OpContext, folder: Path, record: dict, projection=None) -> None:
    """Save the student's weights with the slimlib save path (shared weights once, safetensors),
    beside a record of how the training went (its wall time is reported again on a cache hit) and
    the Dense projection the training added, if any (it lives outside the encoder)."""
    try:
        with staged_folder(folder, prefix=".distilled-") as staging:
            ctx.slim.save_pretrained(staging, standard=False)
            (staging / TRAINING_RECORD).write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
            if projection is not None:
                (staging / PROJECTION_FOLDER).mkdir()
                projection.save(str(staging / PROJECTION_FOLDER))
    except WRITE_ERRORS as exc:  # a cache that cannot be written only costs time
        warnings.warn(f"{folder}: could not cache the distilled weights ({write_error_reason(exc)})", stacklevel=2)
        return
    _evict_old_entries(folder.parent)


def _trained_how(folder: Path) -> str:
    """", trained in N s" from the cache entry's record, or nothing for an entry without one."""
    try:
        record = json.loads((folder / TRAINING_RECORD).read_text(encoding="utf-8"))
        return f", trained in {float(record['seconds']):.0f} s"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def load_trained(ctx: OpContext, folder: Path) -> bool:
    """Load a cache entry into the student: its encoder weights, and the Dense projection it holds
    (inserted as the training inserted it, with its note). False on a miss or an unusable entry."""
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        return False
    before = {k: v.clone() for k, v in ctx.inner.state_dict().items()}
    try:
        state = load_file(str(weights))
        ctx.slim.refresh_manifest()  # records which modules are shared (their weights are saved once)
        tied = ctx.slim.config.tied
        result = ctx.inner.load_state_dict(state, strict=False)
        missing = [k for k in result.missing_keys if not under_tied(k, tied) and not is_derived_buffer(k)]
        if missing or result.unexpected_keys:
            raise ValueError(f"missing {missing[:3]}, unexpected {result.unexpected_keys[:3]}")
        projection = _load_projection(folder)
    except Exception as exc:  # corrupt or stale entry: undo any partial load and train again
        ctx.inner.load_state_dict(before)
        warnings.warn(f"{folder}: unusable distillation cache entry ({type(exc).__name__}: {exc}); retraining",
                      stacklevel=2)
        return False
    if projection is not None:
        distillation.insert_projection(ctx.st_model, projection)
        ctx.notes.append(projection_note(projection))
    os.utime(folder)  # recently used: evicted last
    return True


def _load_projection(folder: Path):
    """The entry's Dense projection (frozen like the rest of the copy), or None if it has none."""
    path = folder / PROJECTION_FOLDER
    if not path.is_dir():
        return None
    from sentence_transformers.sentence_transformer.modules import Dense

    return Dense.load(str(path)).requires_grad_(False)


def _evict_old_entries(root: Path) -> None:
    entries = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[MAX_TRAINED_CACHE_ENTRIES:]:
        shutil.rmtree(old, ignore_errors=True)


register_op(OpSpec(
    name="distill",
    settings=Distill,
    apply=distill,
    order=80,
    title="Distillation (recovery)",
    summary=("Trains the compressed model to reproduce the original's embeddings. MiniLM, 3 of 6 layers: 85% -> 97% of STS kept in about 9 minutes on 2 cores."),
    example=lambda shape: {"steps": 300, "lr": 1e-4, "batch_size": 32, "seed": 0},
    label=lambda s: f"distill {s['steps']}",
    trains=True,
    keeps_units=frozenset(),
    search_axes=lambda shape: {},
    not_smaller_because="distillation changes weights, not shapes",
))

"""Embedding distillation: train a compressed student to reproduce its teacher's sentence embeddings.

This module knows nothing about recipes: it takes two SentenceTransformer models, sentences and
`TrainSettings`. The target is the embedding each model produces *before* a trailing Normalize
module (for MiniLM: the mean-pooled vector), so the loss also sees the vector's length, which a
normalized output would hide.

Determinism: the batch order comes from a generator seeded by `settings.seed` and dropout draws
from torch's global generator, seeded inside `torch.random.fork_rng` so the caller's random
state is left as it was. On CPU the same seed and thread count give bit-identical weights.
"""
from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from ..model.files import write_file_atomically

SIMILARITY_LOSS = "similarity"  # compares the sentences' cosines to each other, not the embeddings
LOSSES = ("mse", "cosine", "mse+cosine", SIMILARITY_LOSS)
POINTWISE_LOSS = "mse+cosine"  # what a second target is matched by when the main loss compares similarities
# The similarity loss is the mean squared difference of cosines, x100: MiniLM starts about 0.07 (RMS)
# from mpnet's cosines, so the term starts near 0.5, the size of the "mse+cosine" term beside it.
SIMILARITY_SCALE = 100.0
TEACHER_BATCH = 64
WARMUP_FRACTION = 0.06  # linear warm-up, then cosine decay: stable for a few hundred steps
MAX_GRAD_NORM = 1.0


@dataclass(frozen=True)
class SecondTarget:
    """A second set of targets for the student's own embedding (the one entering `head`, or the
    output when `head` is None), weighted against the first: e.g. the uncompressed base's embeddings
    while the first targets are a wider teacher's, learned through a projection head."""

    targets: np.ndarray
    weight: float
    head: nn.Module | None = None


@dataclass(frozen=True)
class TrainSettings:
    steps: int = 300
    lr: float = 1e-4
    batch_size: int = 32
    seed: int = 0
    max_seq_length: int = 128
    loss: str = "mse+cosine"


# Forward passes ------------------------------------------------------------------------------

def _embedding_end(st_model) -> int:
    """How many of the model's modules build its embedding: all but a trailing Normalize."""
    modules = list(st_model)
    end = len(modules)
    while end and type(modules[end - 1]).__name__ == "Normalize":
        end -= 1
    return end


def _embedding_modules(st_model) -> list[nn.Module]:
    """The model's modules up to its embedding, leaving out a trailing Normalize."""
    return list(st_model)[:_embedding_end(st_model)]


def embed(st_model, sentences: list[str], max_seq_length: int) -> torch.Tensor:
    """Unnormalized sentence embeddings with autograd (the caller picks the grad mode)."""
    return embed_with_own(st_model, sentences, max_seq_length, None)[1]


def embed_with_own(st_model, sentences: list[str], max_seq_length: int,
                   head: nn.Module | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(the embedding as it enters `head`, the model's embedding): with a projection head, the
    student's own embedding and the projected one from one forward pass; without, both the same."""
    features = st_model.preprocess(list(sentences), max_length=max_seq_length)
    own = None
    for module in _embedding_modules(st_model):
        if module is head:
            own = features["sentence_embedding"]
        features = module(features)
    output = features["sentence_embedding"]
    return (output if own is None else own), output


def teacher_embeddings(teacher, sentences: list[str], max_seq_length: int,
                       check_stop: Callable[[], None] = lambda: None) -> np.ndarray:
    """The teacher's targets, computed without autograd and without touching the teacher's state."""
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))  # similar lengths pad less
    out: np.ndarray | None = None
    with torch.inference_mode():
        for start in range(0, len(order), TEACHER_BATCH):
            check_stop()
            index = order[start:start + TEACHER_BATCH]
            vectors = embed(teacher, [sentences[i] for i in index], max_seq_length).float().numpy()
            if out is None:
                out = np.empty((len(sentences), vectors.shape[1]), dtype=np.float32)
            out[index] = vectors
    return out


# Teacher cache -----------------------------------------------------------------------------------

def cached_teacher_embeddings(teacher, sentences: list[str], max_seq_length: int, folder: Path, key: str,
                              check_stop: Callable[[], None] = lambda: None) -> np.ndarray:
    """Teacher targets from `folder/<key>.npy`, computed and stored on a miss.

    A file that cannot be read or has the wrong shape is recomputed with a warning.
    """
    path = Path(folder) / f"{key}.npy"
    if path.is_file():
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.ndim == 2 and cached.shape[0] == len(sentences) and np.isfinite(cached).all():
                return cached.astype(np.float32, copy=False)
            reason = f"shape {cached.shape} does not match {len(sentences)} sentences"
        except (OSError, ValueError, EOFError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        warnings.warn(f"{path}: corrupt teacher-embedding cache ({reason}); recomputing", stacklevel=2)
    vectors = teacher_embeddings(teacher, sentences, max_seq_length, check_stop)
    _save_npy_atomically(path, vectors)
    return vectors


def _save_npy_atomically(path: Path, array: np.ndarray) -> None:
    write_file_atomically(path, lambda out: np.save(out, array, allow_pickle=False))


def teacher_cache_key(model_hash: str, sentences_hash: str, max_seq_length: int) -> str:
    return f"{model_hash}-{sentences_hash}-{max_seq_length}"


# Projection onto the teacher's width ---------------------------------------------------------

PROJECTION_FIT_SENTENCES = 2000  # ample for a closed-form 384 -> 768 map; embedding them takes seconds
# The ridge, relative to the embeddings' mean variance. Plain least squares diverges: pooled LayerNorm
# outputs are (nearly) linearly dependent (their features sum to about a constant), the exact solution
# puts huge weights along that direction (norm 1e6 on the tiny test model), and training then amplifies
# every change of the encoder (loss 0.06 -> 25000 in 20 steps). 1e-3 bounds them (norm 1.5) and
# changes the fit's error by 0.1%.
PROJECTION_RIDGE = 1e-3


def fit_projection(student, sentences: list[str], targets: np.ndarray, max_seq_length: int,
                   check_stop: Callable[[], None] = lambda: None) -> nn.Module:
    """A sentence-transformers Dense layer (linear, no activation) from the student's embedding width
    to the targets' width, set by ridge regression from the student's own embeddings to the targets.

    Training then starts from the best linear map instead of a random one, which would first have
    to be learned while its gradients shake the encoder. Fitted in closed form on up to
    PROJECTION_FIT_SENTENCES sentences spread evenly over the corpus, the bias unpenalized. Its
    parameters do not require grad, like the rest of the student's copy: training switches them on.
    """
    from sentence_transformers.sentence_transformer.modules import Dense

    index = np.linspace(0, len(sentences) - 1, min(len(sentences), PROJECTION_FIT_SENTENCES)).round().astype(int)
    own = teacher_embeddings(student, [sentences[i] for i in index], max_seq_length, check_stop)  # any model's
    inputs = torch.from_numpy(own).double()
    wanted = torch.from_numpy(np.ascontiguousarray(targets[index])).double()
    x_mean, y_mean = inputs.mean(dim=0), wanted.mean(dim=0)
    x, y = inputs - x_mean, wanted - y_mean
    gram = x.T @ x
    ridge = PROJECTION_RIDGE * gram.trace() / len(gram) + 1e-12
    weight = torch.linalg.solve(gram + ridge * torch.eye(len(gram), dtype=gram.dtype), x.T @ y)  # in x out
    dense = Dense(inputs.shape[1], wanted.shape[1], bias=True, activation_function=nn.Identity())  # default: Tanh
    with torch.no_grad():
        dense.linear.weight.copy_(weight.T)
        dense.linear.bias.copy_(y_mean - x_mean @ weight)
    return dense.requires_grad_(False)


def insert_projection(st_model, projection: nn.Module) -> None:
    """Put `projection` where the embedding ends, before a trailing Normalize: `embed` then trains
    through it and the saved model outputs its (normalized) result.

    The modules are renamed "0", "1", ... as sentence-transformers names them; a module's forward
    kwargs (`module_kwargs`, keyed by name) follow it.
    """
    entries = list(st_model._modules.items())
    entries.insert(_embedding_end(st_model), (None, projection))
    kwargs = st_model.module_kwargs
    for name in list(st_model._modules):
        del st_model._modules[name]
    renamed = {}
    for position, (name, module) in enumerate(entries):
        st_model.add_module(str(position), module)
        if kwargs and name in kwargs:
            renamed[str(position)] = kwargs[name]
    if kwargs is not None:
        st_model.module_kwargs = type(kwargs)(renamed)


# Training ------------------------------------------------------------------------------------------

def similarity_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """How far the student's cosine similarities between the batch's sentences are from the teacher's
    (every pair; relational distillation). The two widths need not match: it compares B x B matrices."""
    own, wanted = F.normalize(student, dim=1), F.normalize(teacher, dim=1)
    return ((own @ own.T - wanted @ wanted.T) ** 2).mean() * SIMILARITY_SCALE


def embedding_loss(student: torch.Tensor, teacher: torch.Tensor, kind: str) -> torch.Tensor:
    """"mse" is the squared error relative to the teacher's mean squared norm, so its size does not
    depend on the embedding dimension or scale; "cosine" is the mean of 1 - cos; "similarity" compares
    the sentences' similarities to each other instead of the embeddings (see `similarity_loss`)."""
    if kind == SIMILARITY_LOSS:
        return similarity_loss(student, teacher)
    terms = []
    if "mse" in kind:
        terms.append(((student - teacher) ** 2).sum(dim=1).mean() / (teacher ** 2).sum(dim=1).mean().clamp_min(1e-12))
    if "cosine" in kind:
        terms.append((1 - F.cosine_similarity(student, teacher, dim=1)).mean())
    return sum(terms)


def frozen_parameter_ids(inner: nn.Module, word_embeddings_path: str | None) -> set[int]:
    """Parameters left as they are: a plain word-embedding table.

    Only the rows of tokens in the training sentences would move; keeping the table fixed keeps
    every other token's row consistent with the encoder. A factorized table is trained.
    """
    if not word_embeddings_path:
        return set()
    from ..model.architectures import get_module

    table = get_module(inner, word_embeddings_path)
    if isinstance(table, nn.Embedding):
        return {id(p) for p in table.parameters()}
    return set()


def _lr_factor(step: int, total: int) -> float:
    warmup = max(1, int(total * WARMUP_FRACTION))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * progress))


BUCKET_BATCHES = 16  # batches drawn together and sorted by length before they are split


def batch_order(lengths: list[int], batch_size: int, generator: torch.Generator) -> list[list[int]]:
    """One epoch of batches, length-bucketed: shuffle, sort each run of BUCKET_BATCHES batches by
    length, cut it into batches, then shuffle the batches.

    A batch pads to its longest sentence, so random batches of short STS sentences spend most of
    their compute on padding (about 3x on STS-B train at batch 64); bucketing keeps the batches
    random in content and order but similar in length. Deterministic for a generator state.
    """
    permutation = torch.randperm(len(lengths), generator=generator).tolist()
    span = batch_size * BUCKET_BATCHES
    batches = []
    for start in range(0, len(permutation), span):
        chunk = sorted(permutation[start:start + span], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffled]


def train_student(student, sentences: list[str], targets: np.ndarray, settings: TrainSettings,
                  trainable: list[nn.Parameter], progress: Callable[[int, float], None] = lambda _i, _l: None,
                  check_stop: Callable[[], None] = lambda: None, second: SecondTarget | None = None) -> list[float]:
    """Train `trainable` (parameters of `student`) so the student's embeddings match `targets` (and,
    with `second`, its own embedding matches those targets too, weighted).

    The second target is matched point by point ("mse+cosine") when the main loss compares
    similarities: it is there to keep the student's own embedding where the base had it, which
    matching similarities alone would leave free to rotate.

    Returns the loss of every step. The student is left in eval mode, also when stopped.
    """
    if settings.loss not in LOSSES:
        raise ValueError(f"loss {settings.loss!r} is not one of {LOSSES}")
    if len(sentences) != len(targets) or (second is not None and len(second.targets) != len(sentences)):
        raise ValueError("one target per sentence expected")
    target_tensor = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32))
    second_tensor = (torch.from_numpy(np.ascontiguousarray(second.targets, dtype=np.float32))
                     if second is not None else None)
    second_loss = POINTWISE_LOSS if settings.loss == SIMILARITY_LOSS else settings.loss
    optimizer = torch.optim.AdamW(trainable, lr=settings.lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, settings.steps))
    order = torch.Generator().manual_seed(settings.seed)
    batch = min(settings.batch_size, len(sentences))
    losses: list[float] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        student.train()
        try:
            lengths = [len(s) for s in sentences]  # characters: a cheap, monotone proxy for tokens
            queue: list[list[int]] = []
            for step in range(settings.steps):
                check_stop()
                if not queue:
                    queue = batch_order(lengths, batch, order)
                index = queue.pop(0)
                batch_sentences = [sentences[i] for i in index]
                if second is None:
                    predicted = embed(student, batch_sentences, settings.max_seq_length)
                    loss = embedding_loss(predicted, target_tensor[index], settings.loss)
                else:
                    own, predicted = embed_with_own(student, batch_sentences, settings.max_seq_length, second.head)
                    loss = (embedding_loss(predicted, target_tensor[index], settings.loss)
                            + second.weight * embedding_loss(own, second_tensor[index], second_loss))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, MAX_GRAD_NORM)
                optimizer.step()
                scheduler.step()
                losses.append(float(loss.detach()))
                progress(step + 1, losses[-1])
        finally:
            student.eval()
    return losses


def student_fingerprint(inner: nn.Module) -> str:
    """Hash of a model's structure and weights: identifies the exact student a training starts from."""
    digest = hashlib.sha256()
    digest.update(repr(inner).encode())
    for name, tensor in inner.state_dict(keep_vars=False).items():
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode() + str(tensor.dtype).encode())
        digest.update(tensor.detach().contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tobytes()
                      if tensor.numel() else b"")
    return digest.hexdigest()

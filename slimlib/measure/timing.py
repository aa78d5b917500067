"""Speed timing that checks itself: interleaved best-of-rounds, a spread, a plausibility bound, repeats.

One scheme for quick and full evaluations (`timed_speeds`; slimlib.measure.metrics wraps it as
`paired_throughput` and `throughput`): the sentences are cut into batches by length, every round times
each batch once per model in an order that alternates between batches and rounds (A B, B A, ...), and a
model's time is the sum over batches of the batch's best round. A burst of other work slows a round,
and the best round of each batch leaves it out.

Each attempt is then checked, and repeated (at most `attempts` times) when it fails a check:
- spread: how far the speed ratio moves when any one round is left out (a jackknife of the best-of
  estimate). Slow rounds do not move it (they were never a batch's best); a round that alone made the
  ratio (a stalled clock, one impossibly fast round) does. Wider than NOISY_SPREAD fails.
- plausibility: the ratio must not exceed what compute and kernels can explain (`speed_bound`).
An attempt passing both is the answer; if none does, the attempt with the smallest spread is returned
with noisy=True and the reason, never as a plain fact.

The encode function and the clock are parameters, so tests drive the scheme with stubs
(metrics passes its own `encode` and `clock`, which tests replace).
"""
from __future__ import annotations

import math
import os
import statistics
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import Cancelled
from .hardware import cpu_info

NOISY_SPREAD = 0.10  # leaving one round out may move the ratio by at most 10%
ATTEMPTS = 3  # the first attempt and at most two repeats
REFERENCE = "baseline"  # the model the others' ratios are taken against

# What a kernel can gain over fp32 torch at the same matrix work (see speed_bound). Generous on purpose:
# a bound only has to catch the impossible (12.97x for a model that runs 1.7x), never the merely good.
SAME_KERNEL = 1.5  # fp32 against fp32 (or bf16 without native bf16): caches and framework overhead only
BF16_NATIVE = 4.0  # AMX / AVX-512 BF16: measured 2.99x (torch bf16, GUIDE.md section 9)
INT8_VNNI = 8.0  # VNNI/AMX: 4x the multiply-adds per instruction of fp32 FMA, x2 for ONNX Runtime's fused
#                  graph over torch eager (its fp32 graph ran 2.15x); measured 6.34x (GUIDE.md section 9)
INT8_AVX2 = 4.0  # AVX2 only: u8 x s8 pairs (vpmaddubsw) give ~2x the multiply-adds of fp32 FMA, x2 as above
ORT_FP32 = 2.5  # an fp32 ONNX Runtime graph against torch eager (measured 2.15x)


@dataclass
class PairedTiming:
    """What a timing measured: speeds, each model's embeddings, how, and how far to trust it."""

    speeds: dict[str, float]
    embeddings: dict[str, np.ndarray]  # rows in the order of the sentences given
    sentences: int
    batches: int
    rounds: int
    spread: float | None = None  # relative; None with one round (nothing to leave out)
    noisy: bool = False
    reason: str | None = None  # why it is noisy (None when it is not)
    attempts: int = 1
    ratio: float | None = None  # the first non-reference model's speed over the reference's
    bound: float | None = None  # the highest plausible ratio (None: no bound applies)
    round_ratios: list[float] = field(default_factory=list)  # the ratio of each round's total times
    threads: int | None = None
    load: float | None = None  # the machine's 1-minute load average when the timing started

    def describe(self) -> str:
        together = "interleaved with the baseline in this call" if len(self.speeds) > 1 else "the baseline alone"
        text = (f"{together}, batch by batch: {self.sentences} sentences ({self.batches} batches) x {self.rounds} "
                f"rounds, the best round of each batch")
        if self.spread is not None:
            text += f"; spread {self.spread:.1%} (the most one left-out round moves it)"
        if len(self.round_ratios) > 1:
            text += f"; per-round ratio {min(self.round_ratios):.2f}-{max(self.round_ratios):.2f}"
        if self.bound is not None:
            text += f"; plausible up to {self.bound:.1f}x"
        if self.attempts > 1:
            text += f"; {self.attempts} attempts"
        if self.threads:
            text += f"; {self.threads} threads"
        if self.load is not None:
            text += f"; machine load {self.load:.1f} on {os.cpu_count()} cores"
        if self.noisy:
            text += f"; NOISY: {self.reason}"
        return text


def machine_load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _batches(sentences: list[str], batch_size: int) -> list[list[int]]:
    order = sorted(range(len(sentences)), key=lambda i: -len(sentences[i]))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def _rounds(models: dict, sentences: list[str], batches: list[list[int]], rounds: int, batch_size: int,
            encode: Callable, clock: Callable, should_stop: Callable | None):
    """times[name][round][batch] and each model's embeddings (rows in the sentences' order)."""
    names = list(models)
    times = {name: [[math.inf] * len(batches) for _ in range(rounds)] for name in names}
    vectors: dict[str, list] = {name: [None] * len(batches) for name in names}
    for round_no in range(rounds):
        for b, rows in enumerate(batches):
            if should_stop is not None and should_stop():  # checked per batch: a stop lands within ~0.2 s
                raise Cancelled("speed timing stopped")
            texts = [sentences[i] for i in rows]
            for name in (names if (round_no + b) % 2 == 0 else names[::-1]):
                start = clock()
                out = encode(models[name], texts, batch_size)
                times[name][round_no][b] = clock() - start
                vectors[name][b] = out
    embeddings = {}
    for name in names:
        stacked = np.concatenate(vectors[name]) if batches else np.zeros((0, 0), dtype=np.float32)
        embeddings[name] = np.empty_like(stacked)
        embeddings[name][[i for rows in batches for i in rows]] = stacked
    return times, embeddings


def _best_total(per_round: list[list[float]], skip: int | None = None) -> float:
    kept = [row for r, row in enumerate(per_round) if r != skip]
    return sum(min(column) for column in zip(*kept)) if kept and kept[0] else 0.0


def _ratio(times: dict, name: str, reference: str | None, skip: int | None = None) -> float:
    """Speed of `name` over the reference's (its own speed, 1/seconds, without a reference)."""
    own = max(_best_total(times[name], skip), 1e-12)
    return (max(_best_total(times[reference], skip), 1e-12) / own) if reference else 1.0 / own


def _check(times: dict, rounds: int, compared: str, reference: str | None, bound: float | None,
           why_bound: str) -> tuple[float | None, float | None, list[float], str | None]:
    """(ratio, spread, per-round ratios, reason or None) of one attempt."""
    ratio = _ratio(times, compared, reference)
    per_round = [sum(times[reference][r]) / max(sum(times[compared][r]), 1e-12) for r in range(rounds)] if reference else []
    spread, reason = None, None
    if rounds > 1:
        moved = [abs(_ratio(times, compared, reference, skip=k) / ratio - 1.0) for k in range(rounds)]
        spread = max(moved)
        if spread > NOISY_SPREAD:
            k = moved.index(spread)
            reason = (f"the ratio moves {spread:.0%} without round {k + 1}: {_odd_one(times, k, rounds)} "
                      f"(allowed: {NOISY_SPREAD:.0%})")
    if reference and bound is not None and ratio > bound:
        implausible = (f"{compared} measured {ratio:.2f}x {reference}, more than the plausible "
                       f"{bound:.1f}x ({why_bound})")
        reason = implausible if reason is None else f"{implausible}; {reason}"
    return (ratio if reference else None), spread, per_round, reason


def _odd_one(times: dict, k: int, rounds: int) -> str:
    """Which model's round k differs most from its other rounds, in words."""
    def factor(name: str) -> float:
        others = statistics.median(sum(times[name][r]) for r in range(rounds) if r != k)
        return sum(times[name][k]) / max(others, 1e-12)

    name = max(times, key=lambda n: abs(math.log(max(factor(n), 1e-12))))
    f = factor(name)
    how = f"{1 / f:.3g}x faster" if f < 1 else f"{f:.3g}x slower"
    return f"{name} ran round {k + 1} {how} than its other rounds"


def timed_speeds(models: dict[str, object], sentences, rounds: int, batch_size: int, encode: Callable,
                 clock: Callable, should_stop: Callable[[], bool] | None = None, attempts: int = 1,
                 bound: tuple[float, str] | None = None, threads: int | None = None) -> PairedTiming:
    """Sentences per second of each model, timed in one call (see the module docstring).

    `bound`: (highest plausible speed ratio of the first non-reference model, why), e.g. from
    `speed_bound`; None checks the spread only. `attempts`: how many times a noisy timing is tried in
    all (1: labelled, not repeated)."""
    sentences = list(sentences)
    names = list(models)
    rounds = max(1, int(rounds))
    reference = REFERENCE if REFERENCE in models and len(models) > 1 else None
    compared = next((n for n in names if n != reference), names[0])
    limit, why_bound = bound if bound is not None else (None, "")
    batches = _batches(sentences, batch_size)
    load = machine_load()
    tried = []
    for attempt in range(1, max(1, attempts) + 1):
        times, embeddings = _rounds(models, sentences, batches, rounds, batch_size, encode, clock, should_stop)
        ratio, spread, per_round, reason = _check(times, rounds, compared, reference, limit, why_bound)
        speeds = {name: round(len(sentences) / max(_best_total(times[name]), 1e-9), 2) for name in names}
        timing = PairedTiming(speeds, embeddings, len(sentences), len(batches), rounds, spread=spread,
                              noisy=reason is not None, reason=reason, attempts=attempt,
                              ratio=None if ratio is None else round(ratio, 4), bound=limit,
                              round_ratios=[round(r, 4) for r in per_round], threads=threads, load=load)
        if not timing.noisy:
            return timing
        tried.append(timing)
    # Every attempt failed a check: the one to show is the most consistent, plausible ones first.
    best = min(tried, key=lambda t: (t.bound is not None and t.ratio is not None and t.ratio > t.bound,
                                     t.spread if t.spread is not None else 0.0))
    best.attempts = len(tried)
    if len(tried) > 1:
        best.reason = f"{best.reason} (still after {len(tried)} attempts)"
    return best


# Plausibility -----------------------------------------------------------------------------------------

def _slim(st_model):
    first = st_model[0] if hasattr(st_model, "__getitem__") else None
    return getattr(first, "model", None)


def _onnx_graph(st_model) -> bytes | None:
    slim = _slim(st_model)
    if getattr(getattr(slim, "config", None), "backend", None) == "onnx":
        return getattr(slim, "onnx_bytes", None)
    return None


def matmul_work(st_model) -> tuple[float, str]:
    """(multiply-adds per token of the weight matrices, the compute form) of a sentence model.

    ONNX-backed models: the sizes of the constant matrices their MatMul/MatMulInteger/Gemm nodes
    multiply by, read from the graph ("int8" when any is MatMulInteger). torch models: counted by
    running one short sentence under torch's FlopCounterMode (shared layers count at each use,
    low-rank factors as the two thin matrices they are). Attention scores are left out: at the
    corpus' ~17 tokens they are ~1% of the work."""
    graph = _onnx_graph(st_model)
    if graph is not None:
        from ..optional import require

        model = require("onnx").load_from_string(graph)
        sizes = {t.name: math.prod(t.dims) for t in model.graph.initializer if len(t.dims) == 2}
        work, int8 = 0, False
        for node in model.graph.node:
            if node.op_type in ("MatMul", "MatMulInteger", "Gemm") and len(node.input) > 1 and node.input[1] in sizes:
                work += sizes[node.input[1]]
                int8 |= node.op_type == "MatMulInteger"
        return float(work), "int8" if int8 else "onnx fp32"
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    sentence = " ".join(["word"] * 14)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        st_model.encode([sentence], batch_size=1, convert_to_numpy=True, show_progress_bar=False)
    counts = counter.get_flop_counts().get("Global", {})
    flops = sum(v for op, v in counts.items() if str(op).rsplit(".", 1)[-1] in ("mm", "addmm"))  # the Linear layers
    params = [p for p in st_model.parameters() if p.is_floating_point()]
    dtype = str(params[0].dtype).removeprefix("torch.") if params else "float32"
    # FlopCounterMode counts 2 flops per multiply-add, over the sentence's tokens.
    return flops / 2 / _tokens(st_model, sentence), dtype


def _tokens(st_model, sentence: str) -> int:
    tokenizer = getattr(st_model, "tokenizer", None)
    try:
        return max(1, len(tokenizer(sentence)["input_ids"]))
    except Exception:  # noqa: BLE001  (a tokenizer of another kind: the count only scales the work)
        return 16


def speed_bound(baseline, compressed) -> tuple[float | None, str]:
    """(the highest speed ratio `compressed` can plausibly reach over `baseline`, why).

    bound = kernel factor x (the baseline's matrix work per token / the compressed model's): a model
    doing half the multiply-adds can be twice as fast, and a kernel (int8, native bf16, another
    runtime) multiplies that by at most the factors above. None when the compressed model does no
    matrix products (a static embedding table: its speed has no compute-based limit)."""
    try:
        base_work, _ = matmul_work(baseline)
        work, form = matmul_work(compressed)
    except Exception as error:  # noqa: BLE001  (a model this cannot count is timed without a bound)
        return None, f"matrix work not countable ({type(error).__name__})"
    if work <= 0 or base_work <= 0:
        return None, "no matrix products per token: no compute-based limit"
    info = cpu_info()
    kernels = {
        "int8": (INT8_VNNI, "int8 with VNNI/AMX") if info["int8_fast"] else (INT8_AVX2, "int8 without VNNI/AMX"),
        "onnx fp32": (ORT_FP32, "fp32 ONNX Runtime graph"),
        "bfloat16": (BF16_NATIVE, "native bf16") if info["bf16_fast"] else (SAME_KERNEL, "bf16 without native bf16"),
    }
    factor, kernel = kernels.get(form, (SAME_KERNEL, f"{form} like the baseline"))
    shrink = base_work / work
    return round(factor * shrink, 2), f"{kernel}: x{factor:g}, times {shrink:.2f}x less matrix work per token"

"""The `quantize` op: the last step of a recipe, choosing a bit-width for the weights.

- 32: nothing to do.
- 16: bf16 or fp16 torch weights (the saved file stores 16-bit tensors).
- 8: the encoder is exported to ONNX and quantized with ONNX Runtime (dynamic, per-channel int8,
  embedding Gathers included); the model then runs on ONNX Runtime. We chose this by measurement:
  on all-MiniLM-L6-v2 it is ~2.5-3x faster than fp32 torch at mean cosine 0.993, while torch.ao
  dynamic quantization is deprecated and loses fidelity (0.946), and torchao int8 is not fast here.
- 4, 3, 2: group-wise weight-only codes really packed into the file (slimlib/model/packed.py).

How the numbers are labelled. Accuracy of every bit-width is *measured*: for 4/3/2 bits the model
computes with the dequantized weights, which are exactly what the packed artifact holds (there is
no other "real" computation they could stand in for), so STS and fidelity of the packed model are
the true numbers, not a simulation. Speed is where a kernel matters: 4-bit runs dequantized fp32
matmuls (measured, labelled so), and for 3/2 bits no kernel exists anywhere we could run, so the
speed is not measured rather than pretending fp32 speed is theirs.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..model.architectures import get_module, set_module
from ..measure.hardware import cpu_info
from ..model.parts import count_params
from .pipeline import OpContext
from ..model.packed import PackedEmbedding, PackedLinear
from ..model.shape import ModelShape
from .recipe import Step, setting
from .registry import OpSpec, register_op


QUANT_BITS = (32, 16, 8, 4, 3, 2)


@dataclass
class Quantize(Step):
    bits: int = setting("Weight bit-width: 32 (none), 16, 8, 4, 3 or 2.", default=8)
    embeddings: bool = setting("Quantize the word-embedding table too.", default=True)
    float16: str = setting('For bits 16: "bf16" (fast on CPUs with AVX-512 bf16) or "fp16" (slow on CPUs).', default="bf16")
    group_size: int = setting("For 4, 3, 2 bits: weights per scale group.", default=32)

    def __post_init__(self) -> None:
        if self.bits not in QUANT_BITS or isinstance(self.bits, bool):
            raise self.fail("bits", f"{self.bits!r} is not allowed; choose one of {', '.join(map(str, QUANT_BITS))}")
        if not isinstance(self.embeddings, bool):
            raise self.fail("embeddings", f"expected true or false, got {self.embeddings!r}")
        self._require_choice("float16", ("bf16", "fp16"))
        self._require_int("group_size", low=8, high=4096)
        if self.group_size & (self.group_size - 1):
            raise self.fail("group_size", f"{self.group_size} is not a power of two")

    def check(self, shape: ModelShape) -> ModelShape:
        return shape


LABEL_INT8 = "measured (ONNX Runtime int8, dynamic per-channel)"
LABEL_INT4 = "measured (dequantized to fp32 at load: no int4 kernel)"
LABEL_NO_KERNEL = "not measured: no kernel"
# Packed weights compute as their dequantized fp32 values: the accuracy is that of the real file,
# obtained by fake quantization (no integer arithmetic), and the label says both.
LABEL_PACKED_ACCURACY = "measured on the packed weights (fake-quantized: dequantized to fp32)"


def quantize(ctx: OpContext, step: Quantize) -> None:
    if ctx.slim.config.backend == "onnx":
        raise step.fail("bits", "the model is already quantized to int8; quantize must be the last step, once")
    if step.bits == 32:
        ctx.notes.append("quantize 32 bits: weights stay fp32 (nothing to do)")
    elif step.bits == 16:
        _to_half(ctx, step)
    elif step.bits == 8:
        _to_onnx_int8(ctx, step)
    else:
        _to_packed(ctx, step)


def _cpu_summary() -> str:
    info = cpu_info()
    features = ", ".join(info["features"]) or "none of AVX2/AVX-512/VNNI/BF16/AMX"
    return f"{info['cpu']} ({features})"


def _to_half(ctx: OpContext, step: Quantize) -> None:
    info = cpu_info()
    dtype = torch.bfloat16 if step.float16 == "bf16" else torch.float16
    # One dtype for the whole encoder: torch would otherwise need casts between every op, so the
    # embeddings flag cannot keep the table in fp32 here.
    ctx.inner.to(dtype)
    if step.float16 == "bf16":
        if info["bf16_fast"]:
            ctx.notes.append(f"bf16 weights: this CPU has native bf16 ({_cpu_summary()}), expect it faster than fp32")
        else:
            ctx.notes.append(f"bf16 weights: this CPU has no native bf16 ({_cpu_summary()}), expect it slower than fp32")
    else:
        ctx.notes.append(f"fp16 weights: CPUs have no fast fp16 matmul, expect it several times slower than fp32 "
                         f"(bf16 is the fast 16-bit choice on CPU); CPU: {_cpu_summary()}")
    if not step.embeddings:
        ctx.notes.append("16 bits: the embedding table is cast too (torch runs one dtype per model)")


def _judge_inputs(ctx: OpContext) -> dict:
    """Token ids of held-out sentences (apart from the fidelity sentences) as int64 arrays."""
    import numpy as np

    from .importance import scoring_sentences
    from .int8_check import JUDGE_SENTENCES

    tokenize = getattr(ctx.st_model, "preprocess", None) or ctx.st_model.tokenize
    features = tokenize(scoring_sentences()[:JUDGE_SENTENCES])
    inputs = {k: np.ascontiguousarray(v.numpy(), dtype=np.int64) for k, v in features.items() if torch.is_tensor(v)}
    inputs.setdefault("token_type_ids", np.zeros_like(inputs["input_ids"]))
    return inputs


def _to_onnx_int8(ctx: OpContext, step: Quantize) -> None:
    from .int8_check import checked_int8
    from .onnx_export import export_fp32

    logical = count_params(ctx.slim)
    inputs = _judge_inputs(ctx)
    ctx.progress("exporting to ONNX", 0.1)
    fp32 = export_fp32(ctx.inner)
    ctx.check_stop()
    ctx.progress("quantizing to int8 (ONNX Runtime) and checking it against fp32", 0.5)
    # Without VNNI/AMX, u8 x s8 pair sums saturate int16 (all-mpnet-base-v2 fell to cosine 0.01): 7-bit
    # weights keep them in range (2 * 255 * 64 < 32767), cost no speed here and <0.001 cosine, and give
    # the same integers on every x86 CPU the exported file may run on, so they are always used.
    reduce_range = True
    result = checked_int8(fp32, inputs, step.embeddings, reduce_range, ctx.progress, ctx.check_stop)
    ctx.slim.to_onnx_backend(result.graph, logical)
    ctx.labels["sentences_per_s"] = LABEL_INT8
    ctx.notes.append(result.note())
    vnni = "has" if cpu_info()["int8_fast"] else "lacks"
    ctx.notes.append(f"int8 runs on ONNX Runtime (dynamic per-channel, {torch.get_num_threads()} threads); "
                     f"this CPU {vnni} int8 dot-product instructions (VNNI/AMX): {_cpu_summary()}")
    if not step.embeddings:
        ctx.notes.append("int8 without the embedding table: it stays fp32 (about half of MiniLM's size)")


def _to_packed(ctx: OpContext, step: Quantize) -> None:
    bits, group = step.bits, step.group_size
    inner = ctx.inner.float()
    replaced: dict[int, nn.Module] = {}  # shared modules stay shared after packing
    skipped = 0

    def pack(module: nn.Module, make) -> nn.Module:
        if id(module) not in replaced:
            replaced[id(module)] = make(module)
        return replaced[id(module)]

    embedding_path = ctx.arch.word_embeddings
    table = get_module(inner, embedding_path)
    if step.embeddings and isinstance(table, nn.Embedding):
        set_module(inner, embedding_path, pack(table, lambda m: PackedEmbedding.from_embedding(m, bits, group)))
    elif step.embeddings:
        ctx.notes.append(f"the word embeddings ({type(table).__name__}) stay as they are: only plain tables are packed")

    def walk(module: nn.Module, prefix: str) -> None:
        nonlocal skipped
        for name, child in list(module.named_children()):
            path = f"{prefix}{name}"
            if isinstance(child, nn.Linear):
                if child.in_features and child.out_features:
                    set_module(inner, path, pack(child, lambda m: PackedLinear.from_linear(m, bits, group)))
            elif isinstance(child, (PackedLinear, PackedEmbedding)):
                continue
            elif hasattr(child, "slim_spec") and not getattr(child, "recurse", True):
                # Leaf replacements (low-rank, factorized) rebuild their own children at load.
                skipped += sum(isinstance(m, nn.Linear) for m in child.modules())
            else:
                walk(child, path + ".")

    ctx.progress(f"packing weights to {bits} bits", 0.2)
    walk(inner, "")
    packed_linears = sum(isinstance(m, PackedLinear) for m in replaced.values())
    with_table = any(isinstance(m, PackedEmbedding) for m in replaced.values())
    ctx.notes.append(f"{bits}-bit weights packed into uint8 bitstreams (groups of {group}, fp16 scales, "
                     f"{bits}-bit zero points): {packed_linears} Linear layers"
                     + (" and the word-embedding table" if with_table else ""))
    if skipped:
        ctx.notes.append(f"{skipped} Linear layers inside low-rank/factorized modules stay fp32")
    ctx.labels["sts_spearman"] = ctx.labels["fidelity_cosine"] = LABEL_PACKED_ACCURACY
    if bits == 4:
        ctx.notes.append("no fast int4 kernel on this CPU: weights are dequantized to fp32 at load, "
                         "so speed is that of fp32; the file is really 4-bit")
        ctx.labels["sentences_per_s"] = LABEL_INT4
    else:
        ctx.notes.append(f"no {bits}-bit kernel: speed is not measured; accuracy is measured on the packed weights")
        ctx.labels["sentences_per_s"] = LABEL_NO_KERNEL


register_op(OpSpec(
    name="quantize",
    settings=Quantize,
    apply=quantize,
    order=90,
    title="Quantization",
    summary=("Stores weights in fewer bits. MiniLM int8 (ONNX Runtime): 26% of the size, 99.7% of STS kept, 1.7x on an AVX2 CPU (3.6x with VNNI); 4/3/2 bits are packed and dequantized at load."),
    example=lambda shape: {"bits": 8},
    label=lambda s: f"{s['bits']}-bit",
    trains=False,
    final=True,
    keeps_units=frozenset(),
    search_axes=lambda shape: {"quantize.bits": [32, 16, 8, 4]},
    not_smaller_because="quantization keeps the parameter count; the stored bytes shrink",
))

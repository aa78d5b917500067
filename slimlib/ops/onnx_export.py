"""Exporting an encoder to ONNX (fp32) and quantizing it to int8 with ONNX Runtime.

The graph maps token ids to the encoder's last hidden state; pooling and normalization stay
outside (in sentence-transformers, or in a few lines of numpy: see docs/runtimes.md), so one graph
serves every pooling config. Int8 is dynamic quantization (weights per output channel, activations
per batch at run time), the fast path ONNX Runtime has on CPUs with VNNI; the word-embedding table
(a Gather) is quantized too, which is what makes the file ~4x smaller.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import torch
from torch import nn

from ..model.parts import encoder_of, top_model
from ..optional import require
from .int8 import quantize_dynamic_int8

OPSET = 17
OUTPUT_NAME = "last_hidden_state"
TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class _HiddenStateOnly(nn.Module):
    """Gives the exporter a plain tensor-in, tensor-out forward over the inputs the encoder takes."""

    def __init__(self, encoder: nn.Module, input_names: tuple[str, ...]):
        super().__init__()
        self.encoder = encoder
        self.input_names = input_names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.encoder(**dict(zip(self.input_names, tensors)), return_dict=True).last_hidden_state


def encoder_inputs(encoder: nn.Module) -> tuple[str, ...]:
    """The token inputs the encoder's forward accepts (MPNet has no token_type_ids)."""
    import inspect

    accepted = set(inspect.signature(encoder.forward).parameters)
    return tuple(name for name in TOKEN_INPUTS if name in accepted)


def dequantize_packed(encoder: nn.Module) -> int:
    """Replace packed low-bit modules by plain ones holding their dequantized weights, in place (call
    it on a copy); ONNX has no kernel for our bit packing. Returns how many were replaced."""
    replaced: dict[int, nn.Module] = {}  # shared modules stay shared
    for module in list(encoder.modules()):
        for name, child in list(module.named_children()):
            if hasattr(child, "to_plain"):
                if id(child) not in replaced:
                    replaced[id(child)] = child.to_plain()
                setattr(module, name, replaced[id(child)])
    return len(replaced)


def export_fp32(encoder: nn.Module) -> bytes:
    """The encoder as an fp32 ONNX graph with dynamic batch and sequence axes. Packed low-bit weights
    are exported dequantized (ONNX has no kernel for them); pass a copy: modules are replaced in place."""
    require("onnx")  # torch.onnx.export needs it; without it: one line naming the extra, not a traceback
    names = encoder_inputs(encoder)
    dequantize_packed(encoder)
    encoder = encoder.float().eval()
    example = tuple(torch.ones(2, 8, dtype=torch.long) for _ in names)
    dynamic = {name: {0: "batch", 1: "sequence"} for name in (*names, OUTPUT_NAME)}
    buffer = io.BytesIO()
    # The tracer warns about every Python-level branch in the HF forward (shapes are traced as
    # constants there); the dynamic axes are tested to work, so these warnings only flood stderr.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*aten::index.*")
        # dynamo=False on purpose: the dynamo exporter breaks on these encoders (see the guide).
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="torch.onnx")
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message=".*feature will be removed.*")
        torch.onnx.export(_HiddenStateOnly(encoder, names), example, buffer, input_names=list(names),
                          output_names=[OUTPUT_NAME], dynamic_axes=dynamic, opset_version=OPSET,
                          do_constant_folding=True, dynamo=False)
    return buffer.getvalue()


def export_onnx_file(st_model, path: str | Path, int8: bool = False) -> Path:
    """Write the encoder of a (compressed) SentenceTransformer as a standalone ONNX file.

    A model already quantized to int8 (ONNX backend) is written as it runs. Otherwise the torch
    encoder is exported in fp32 (bf16/fp16 weights are exported as fp32) and, with `int8`,
    quantized. Packed low-bit layers export as their dequantized fp32 weights.
    """
    import copy

    from ..model.slim import SlimModel

    model = top_model(st_model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(model, SlimModel) and model.config.backend == "onnx":
        path.write_bytes(model.onnx_bytes)
        return path
    encoder = encoder_of(st_model)
    # float() casts in place: export a copy so a bf16 model in use keeps its dtype.
    data = export_fp32(copy.deepcopy(encoder))
    path.write_bytes(quantize_dynamic_int8(data) if int8 else data)
    return path

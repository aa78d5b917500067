"""Weight-only low-bit layers (4, 3, 2 bits) whose saved weights really are packed.

Weights are quantized group-wise: each run of `group_size` consecutive weights along the input
dimension (a row of an embedding table) gets an fp16 scale and a zero point (asymmetric, so a
group whose values are all positive still uses every level). The integer codes and the zero
points are packed into uint8 bitstreams, `bits` bits per value, so a 3-bit weight costs 3 bits
on disk. These buffers are what the model file stores.

There is no fast low-bit matmul kernel on the CPUs we target, so the weights are dequantized to
fp32 once (lazily, after load) and the forward runs an ordinary fp32 matmul: the numbers the model
computes are exactly those of the packed artifact, only its speed is that of fp32.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F

from .modules import builder

CLIP_RATIOS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7)  # searched per group to minimize squared error


# Bit packing ------------------------------------------------------------------------------------
def packed_length(count: int, bits: int) -> int:
    return (count * bits + 7) // 8


# Eight codes of `bits` bits fill exactly `bits` bytes, so the stream is processed in blocks: a
# block's codes are combined into one integer (code j at bit bits*j) and split into its bytes, or
# back. Same bytes as packing bit by bit, without expanding every byte into eight ints (that cost
# ~1 s per MiniLM load at 4 bits, most of it the embedding table).
def pack_bits(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Pack integer codes in [0, 2**bits) into a little-endian uint8 bitstream (1 <= bits <= 7)."""
    flat = codes.reshape(-1).to(torch.int64)
    count = flat.numel()
    blocks = F.pad(flat, (0, (-count) % 8)).reshape(-1, 8)
    value = (blocks << (bits * torch.arange(8, dtype=torch.int64))).sum(1)
    stream = ((value.unsqueeze(1) >> (8 * torch.arange(bits, dtype=torch.int64))) & 0xFF).reshape(-1)
    return stream[: packed_length(count, bits)].to(torch.uint8)


def unpack_bits(packed: torch.Tensor, bits: int, count: int) -> torch.Tensor:
    """Inverse of `pack_bits`: `count` codes as int32."""
    stream = packed.reshape(-1).to(torch.int64)
    blocks = F.pad(stream, (0, (-stream.numel()) % bits)).reshape(-1, bits)
    value = (blocks << (8 * torch.arange(bits, dtype=torch.int64))).sum(1)
    codes = (value.unsqueeze(1) >> (bits * torch.arange(8, dtype=torch.int64))) & ((1 << bits) - 1)
    return codes.reshape(-1)[:count].to(torch.int32)


# Group-wise quantization --------------------------------------------------------------------------
def padded_cols(cols: int, group_size: int) -> int:
    """Rows are zero-padded to whole groups (pruned layers have sizes like 48 or 568)."""
    return -(-cols // group_size) * group_size


def _groups(weight: torch.Tensor, group_size: int) -> torch.Tensor:
    rows, cols = weight.shape
    weight = F.pad(weight.detach().float(), (0, padded_cols(cols, group_size) - cols))
    return weight.reshape(-1, group_size)


def _fit(groups: torch.Tensor, low: torch.Tensor, high: torch.Tensor, bits: int,
         ratio: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Codes, scales, zero points and squared error per group for one clipping ratio.

    `low`/`high` are the group minima (<= 0) and maxima (>= 0), computed once for all ratios.
    """
    levels = 2 ** bits - 1
    low, high = low * ratio, high * ratio
    # fp16 scales are what we store, so fit with them: the dequantized weights are then exact.
    scale = ((high - low) / levels).clamp(min=1e-8).half().float()
    zero = torch.round(-low / scale).clamp(0, levels)
    codes = torch.round(groups / scale[:, None]).add_(zero[:, None]).clamp_(0, levels)
    error = (codes - zero[:, None]).mul_(scale[:, None]).sub_(groups).pow_(2).sum(1)
    return codes, scale, zero, error


def quantize_groups(weight: torch.Tensor, bits: int, group_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Codes (rows*groups, group_size), fp16-exact scales and zero points, with clipping searched per group."""
    groups = _groups(weight, group_size)
    low, high = groups.min(1).values.clamp(max=0), groups.max(1).values.clamp(min=0)
    best = None
    for ratio in CLIP_RATIOS:
        codes, scale, zero, error = _fit(groups, low, high, bits, ratio)
        if best is None:
            best = [codes, scale, zero, error]
            continue
        better = error < best[3]
        best[0][better], best[1][better], best[2][better], best[3][better] = codes[better], scale[better], zero[better], error[better]
    codes, scale, zero, _ = best
    return codes.to(torch.int32), scale, zero.to(torch.int32)


# Packing the same weights again gives the same bytes, and interactive use does just that: every
# control change in the app re-applies the recipe to a fresh copy, so with 4 bits on, the embedding
# table (half of MiniLM) and every layer the change did not touch were re-packed each time (~2.5 s).
# Results are kept by weight content, within a byte budget.
_PACK_CACHE: OrderedDict[tuple, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = OrderedDict()
PACK_CACHE_BYTES = 256 * 2**20
_PACK_LOCK = threading.Lock()  # app sessions run in threads


def _content_key(weight: torch.Tensor, bits: int, group_size: int) -> tuple:
    data = weight.detach().float().contiguous().reshape(-1).view(torch.uint8).numpy()
    return tuple(weight.shape), bits, group_size, hashlib.blake2b(data, digest_size=16).hexdigest()


def _packed_buffers(weight: torch.Tensor, bits: int, group_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(packed codes, packed zero points, fp16 scales) of a weight, from the cache when seen before."""
    key = _content_key(weight, bits, group_size)
    with _PACK_LOCK:
        if key in _PACK_CACHE:
            _PACK_CACHE.move_to_end(key)
            return _PACK_CACHE[key]
    codes, scale, zero = quantize_groups(weight, bits, group_size)
    entry = (pack_bits(codes, bits), pack_bits(zero, bits), scale.half())
    with _PACK_LOCK:
        _PACK_CACHE[key] = entry
        while sum(t.numel() * t.element_size() for e in _PACK_CACHE.values() for t in e) > PACK_CACHE_BYTES:
            _PACK_CACHE.popitem(last=False)
    return entry


class PackedWeight(nn.Module):
    """A (rows x cols) weight stored as packed group-wise codes; `dequantized()` gives fp32."""

    def __init__(self, rows: int, cols: int, bits: int, group_size: int):
        super().__init__()
        self.rows, self.cols, self.bits, self.group_size = rows, cols, bits, group_size
        count = rows * padded_cols(cols, group_size)
        groups = count // group_size
        self.register_buffer("codes", torch.zeros(packed_length(count, bits), dtype=torch.uint8))
        self.register_buffer("zeros", torch.zeros(packed_length(groups, bits), dtype=torch.uint8))
        self.register_buffer("scales", torch.zeros(groups, dtype=torch.float16))
        self._cache: torch.Tensor | None = None

    @classmethod
    def from_weight(cls, weight: torch.Tensor, bits: int, group_size: int) -> "PackedWeight":
        rows, cols = weight.shape
        packed = cls(rows, cols, bits, group_size)
        codes, zeros, scales = _packed_buffers(weight, bits, group_size)
        packed.codes.copy_(codes)
        packed.zeros.copy_(zeros)
        packed.scales.copy_(scales)
        return packed

    def dequantized(self) -> torch.Tensor:
        if self._cache is None:
            groups = self.scales.numel()
            codes = unpack_bits(self.codes, self.bits, groups * self.group_size).reshape(groups, self.group_size)
            zero = unpack_bits(self.zeros, self.bits, groups)
            weight = (codes - zero[:, None]).float() * self.scales.float()[:, None]
            self._cache = weight.reshape(self.rows, -1)[:, : self.cols].contiguous()
        return self._cache

    def _load_from_state_dict(self, *args, **kwargs):
        self._cache = None  # new codes: dequantize again on next use
        super()._load_from_state_dict(*args, **kwargs)

    def _apply(self, fn, *args, **kwargs):
        self._cache = None
        return super()._apply(fn, *args, **kwargs)


class PackedLinear(nn.Module):
    """A Linear whose weight is packed low-bit codes; the bias stays a float parameter."""

    recurse = False

    def __init__(self, in_features: int, out_features: int, bits: int, group_size: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.packed = PackedWeight(out_features, in_features, bits, group_size)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    @classmethod
    def from_linear(cls, linear: nn.Linear, bits: int, group_size: int) -> "PackedLinear":
        new = cls(linear.in_features, linear.out_features, bits, group_size, linear.bias is not None)
        new.packed = PackedWeight.from_weight(linear.weight, bits, group_size)
        if linear.bias is not None:
            with torch.no_grad():
                new.bias.copy_(linear.bias.float())
        return new

    @property
    def weight(self) -> torch.Tensor:
        return self.packed.dequantized()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight.to(x.dtype), None if self.bias is None else self.bias.to(x.dtype))

    def to_plain(self) -> nn.Linear:
        """An ordinary Linear holding the dequantized weight (what an ONNX export runs)."""
        plain = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        with torch.no_grad():
            plain.weight.copy_(self.weight)
            if self.bias is not None:
                plain.bias.copy_(self.bias)
        return plain

    def slim_param_count(self) -> int:
        return self.in_features * self.out_features + (self.out_features if self.bias is not None else 0)

    def slim_spec(self) -> dict:
        p = self.packed
        return {"type": "packed_linear", "in": self.in_features, "out": self.out_features, "bits": p.bits,
                "group_size": p.group_size, "bias": self.bias is not None}


@builder("packed_linear")
def _build_packed_linear(spec: dict, _existing) -> nn.Module:
    return PackedLinear(spec["in"], spec["out"], spec["bits"], spec["group_size"], spec["bias"])


class PackedEmbedding(nn.Module):
    """An embedding table stored as packed low-bit codes (groups run along each row)."""

    recurse = False

    def __init__(self, num_embeddings: int, embedding_dim: int, bits: int, group_size: int,
                 padding_idx: int | None = None):
        super().__init__()
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.packed = PackedWeight(num_embeddings, embedding_dim, bits, group_size)

    @classmethod
    def from_embedding(cls, embedding: nn.Embedding, bits: int, group_size: int) -> "PackedEmbedding":
        new = cls(embedding.num_embeddings, embedding.embedding_dim, bits, group_size, embedding.padding_idx)
        new.packed = PackedWeight.from_weight(embedding.weight, bits, group_size)
        return new

    @property
    def weight(self) -> torch.Tensor:
        # HF code reads word_embeddings.weight (dtype, device): give it the dequantized table.
        return self.packed.dequantized()

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(input_ids, self.weight, self.padding_idx)

    def to_plain(self) -> nn.Embedding:
        """An ordinary Embedding holding the dequantized table (what an ONNX export runs)."""
        plain = nn.Embedding(self.num_embeddings, self.embedding_dim, padding_idx=self.padding_idx)
        with torch.no_grad():
            plain.weight.copy_(self.weight)
        return plain

    def slim_param_count(self) -> int:
        return self.num_embeddings * self.embedding_dim

    def slim_spec(self) -> dict:
        p = self.packed
        return {"type": "packed_embedding", "num": self.num_embeddings, "dim": self.embedding_dim,
                "bits": p.bits, "group_size": p.group_size, "padding_idx": self.padding_idx}


@builder("packed_embedding")
def _build_packed_embedding(spec: dict, _existing) -> nn.Module:
    return PackedEmbedding(spec["num"], spec["dim"], spec["bits"], spec["group_size"], spec.get("padding_idx"))

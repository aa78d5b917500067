"""Finding the parts of one transformer layer, whatever surgery already did to it.

The architecture table gives paths in an untouched model. After head pruning the self-attention
may be wrapped (`HeadSelectingAttention`) or replaced (`EmptySelfAttention`), and MPNet's output
projection moves with it, so the structural ops and the importance scorers ask this module
instead of following the table's paths blindly.
"""
from __future__ import annotations

from torch import nn

from .architectures import ArchSpec, get_module
from ..errors import RecipeError
from .modules import EmptySelfAttention, HeadSelectingAttention
from .slim import SlimModel


def top_model(st_model) -> nn.Module | None:
    """The model inside a SentenceTransformer's first module: an HF encoder or a SlimModel wrapping one
    (None for a static model, whose first module is the token table itself)."""
    return getattr(st_model[0], "model", None)


def encoder_of(st_model) -> nn.Module | None:
    """The HF encoder (BertModel, MPNetModel) of a SentenceTransformer, compressed or not; None for a
    model that runs as an ONNX int8 graph (it has no torch layers)."""
    model = top_model(st_model)
    return model.inner if isinstance(model, SlimModel) else model if isinstance(model, nn.Module) else None


def layers_of(encoder: nn.Module, arch: ArchSpec) -> nn.ModuleList:
    return get_module(encoder, arch.layers)


def head_dim_of(encoder: nn.Module) -> int:
    config = encoder.config
    return config.hidden_size // config.num_attention_heads


def _relative(path: str, prefix: str) -> str:
    return path[len(prefix) + 1:]


def attention_holder(layer: nn.Module, arch: ArchSpec) -> nn.Module:
    """What sits at the self-attention path: the HF module, a head-selecting wrapper or an empty stand-in."""
    return get_module(layer, arch.self_attention)


def attention_core(layer: nn.Module, arch: ArchSpec) -> nn.Module | None:
    """The HF self-attention module that owns Q/K/V, or None when every head was removed."""
    holder = attention_holder(layer, arch)
    if isinstance(holder, EmptySelfAttention):
        return None
    return holder.attn if isinstance(holder, HeadSelectingAttention) else holder


def projection_names(arch: ArchSpec) -> tuple[str, str, str]:
    """Attribute names of Q, K and V on the self-attention module."""
    return tuple(_relative(p, arch.self_attention) for p in (arch.query, arch.key, arch.value))


def output_name(arch: ArchSpec) -> str:
    """Attribute name of the output projection: on the self-attention (MPNet) or a layer-relative path (BERT)."""
    if arch.output_inside_self_attention:
        return _relative(arch.attention_output, arch.self_attention)
    return arch.attention_output


def qkv(layer: nn.Module, arch: ArchSpec) -> list[nn.Module]:
    core = attention_core(layer, arch)
    return [] if core is None else [getattr(core, name) for name in projection_names(arch)]


def attention_output(layer: nn.Module, arch: ArchSpec) -> nn.Module | None:
    """The Linear mapping all heads back to the hidden size (None for MPNet layers with no heads)."""
    if arch.output_inside_self_attention:
        core = attention_core(layer, arch)
        return None if core is None else getattr(core, output_name(arch))
    return get_module(layer, arch.attention_output)


def head_count(layer: nn.Module, arch: ArchSpec, head_dim: int) -> int:
    projections = qkv(layer, arch)
    return projections[0].out_features // head_dim if projections else 0


def ffn_in(layer: nn.Module, arch: ArchSpec) -> nn.Module:
    return get_module(layer, arch.ffn_in)


def ffn_out(layer: nn.Module, arch: ArchSpec) -> nn.Module:
    return get_module(layer, arch.ffn_out)


def require_plain_linear(module: nn.Module, op: str, where: str) -> nn.Linear:
    """Slicing needs real Linears; a factorized or quantized one means the steps are out of order."""
    if type(module) is not nn.Linear:
        raise RecipeError(
            f"{where}: {op} needs plain Linear layers but found {type(module).__name__}; "
            f"put {op} before low_rank and quantize steps"
        )
    return module


class ParamCounter:
    """Counts parameters not counted before, so shared weights are counted once; a module that packs its
    weights reports its logical count (`slim_param_count`). Call it on several modules in turn to
    attribute each shared weight to the first that holds it."""

    def __init__(self):
        self.seen: set[int] = set()

    def __call__(self, module: nn.Module | None) -> int:
        if module is None:
            return 0
        total = 0
        stack = [module]
        while stack:
            current = stack.pop()
            if id(current) in self.seen:
                continue
            self.seen.add(id(current))
            logical = getattr(current, "slim_param_count", None)
            if logical is not None:
                for parameter in current.parameters():  # its packed storage is part of the logical count
                    self.seen.add(id(parameter))
                total += int(logical() if callable(logical) else logical)
                continue
            for parameter in current.parameters(recurse=False):
                if id(parameter) not in self.seen:
                    self.seen.add(id(parameter))
                    total += parameter.numel()
            stack.extend(current.children())
        return total


def count_params(module: nn.Module) -> int:
    """Unique parameters of a model (a SentenceTransformer or any module), logical counts for packed ones."""
    return ParamCounter()(module)

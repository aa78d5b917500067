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


def encoder_of(st_model) -> nn.Module:
    """The HF encoder (BertModel, MPNetModel) of a SentenceTransformer, compressed or not."""
    model = st_model[0].model
    inner = getattr(model, "inner", None)  # a SlimModel wraps the encoder
    return model if inner is None else inner


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

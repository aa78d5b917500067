"""The compressed-model architecture: how a compressed model saves and reloads exactly.

A compressed model is a standard HF encoder (BertModel, MPNetModel) whose modules were sliced,
factorized, shared or quantized. transformers cannot rebuild such shapes from a standard config
(it would silently load random weights: see the guide), so a compressed model is saved as the
`slimlib` model type: `SlimConfig` holds the base config plus a *manifest* of every module whose
shape or type differs from what that config builds, and `SlimModel` rebuilds those modules first
and then loads the weights strictly. Importing slimlib registers the type with AutoModel, so
`SentenceTransformer(folder)` works without remote code.

Models quantized to int8 carry an ONNX graph instead of torch weights (backend "onnx"), because
ONNX Runtime's int8 kernels are the fast path on CPUs; `SlimModel` runs the session in forward.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput

from .architectures import arch_for, get_module, set_module
from ..errors import ModelLoadError
from .modules import BUILDERS, spec_of

WEIGHTS_NAME = "model.safetensors"
ONNX_NAME = "model.onnx"


class SlimConfig(PretrainedConfig):
    model_type = "slimlib"

    def __init__(self, base_config: dict | None = None, manifest: dict | None = None, tied: dict | None = None,
                 backend: str = "torch", inner_dtype: str = "float32", recipe: dict | None = None, **kwargs):
        self.base_config = base_config or {}
        self.manifest = manifest or {}
        self.tied = tied or {}
        self.backend = backend
        self.inner_dtype = inner_dtype
        self.recipe = recipe
        # Mirror the sizes sentence-transformers and tokenizers look for on the config.
        for key in ("hidden_size", "max_position_embeddings", "vocab_size", "pad_token_id"):
            if key in self.base_config and key not in kwargs:
                kwargs[key] = self.base_config[key]
        super().__init__(**kwargs)

    def base(self) -> PretrainedConfig:
        data = dict(self.base_config)
        model_type = data.pop("model_type")
        return AutoConfig.for_model(model_type, **data)


def _module_manifest(inner: nn.Module, reference: nn.Module) -> tuple[dict, dict]:
    """Walk `inner`; record modules whose spec differs from `reference`, and shared modules."""
    manifest: dict[str, dict] = {}
    tied: dict[str, str] = {}
    seen: dict[int, str] = {}

    def walk(module: nn.Module, prefix: str) -> None:
        # named_children() skips repeated modules; shared layers must be seen at every position.
        for name, child in ((n, c) for n, c in module._modules.items() if c is not None):
            path = f"{prefix}{name}"
            if id(child) in seen:
                tied[path] = seen[id(child)]
                continue
            seen[id(child)] = path
            spec = spec_of(child)
            if spec is not None:
                try:
                    ref_spec = spec_of(get_module(reference, path))
                except (AttributeError, IndexError):
                    ref_spec = None
                if spec != ref_spec:
                    manifest[path] = spec
                if not getattr(child, "recurse", True):
                    continue
            walk(child, path + ".")

    walk(inner, "")
    return manifest, tied


def _rebuild(inner: nn.Module, manifest: dict, tied: dict) -> None:
    """Replace modules of a freshly built base model so its shapes match a saved manifest."""
    for path, spec in manifest.items():  # pre-order: wrappers before their children
        builder = BUILDERS.get(spec.get("type"))
        if builder is None:
            raise ModelLoadError(f"saved model uses module type {spec.get('type')!r}, unknown to this slimlib version")
        try:
            existing = get_module(inner, path)
        except (AttributeError, IndexError):
            existing = None
        set_module(inner, path, builder(spec, existing))
    for path, source in tied.items():
        set_module(inner, path, get_module(inner, source))


# Why a module type keeps a folder off the standard config, in words a user can act on.
NONSTANDARD_KINDS = {
    "linear": "Linear layers resized per layer (pruned attention heads: transformers derives the head size as "
              "hidden / num_attention_heads, so fewer heads per layer has no standard config; or FFN widths "
              "that differ between layers)",
    "low_rank_linear": "low-rank (factorized) Linear layers",
    "factorized_embedding": "a factorized word-embedding table",
    "empty_self_attention": "layers whose every attention head was pruned",
    "head_select": "MPNet layers with pruned heads (they select columns of the shared position bias)",
    "packed_linear": "packed low-bit Linear weights",
    "packed_embedding": "a packed low-bit embedding table",
    "embedding": "a resized embedding table",
}


def _forward_names(module: nn.Module) -> set[str]:
    return set(inspect.signature(module.forward).parameters)


class SlimModel(PreTrainedModel):
    config_class = SlimConfig
    base_model_prefix = "slim"
    main_input_name = "input_ids"

    def __init__(self, config: SlimConfig, inner: nn.Module | None = None):
        super().__init__(config)
        if config.backend == "onnx":
            self.inner = None
            self.onnx_bytes: bytes | None = None
            self._session = None
            self.register_buffer("_anchor", torch.zeros(1), persistent=False)  # gives the module a device/dtype
        else:
            if inner is None:
                inner = AutoModel.from_config(config.base())
                _rebuild(inner, config.manifest, config.tied)
                inner.to(getattr(torch, config.inner_dtype))
            self.inner = inner
            self._inner_inputs = _forward_names(inner)
        self.eval()

    # HF plumbing ------------------------------------------------------------------------
    def _init_weights(self, module):  # weights always come from a file or an existing model
        pass

    def get_input_embeddings(self):
        return self.inner.get_input_embeddings() if self.inner is not None else None

    # Inference ------------------------------------------------------------------------------
    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                output_hidden_states=None, return_dict=None, **kwargs):
        if self.config.backend == "onnx":
            return self._onnx_forward(input_ids, attention_mask, token_type_ids)
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
                 "position_ids": position_ids, "output_hidden_states": output_hidden_states}
        args = {k: v for k, v in given.items() if v is not None and k in self._inner_inputs}
        out = self.inner(**args, return_dict=True)
        hidden = out.last_hidden_state
        if hidden.dtype != torch.float32:  # bf16/fp16 weights: hand float32 to pooling
            hidden = hidden.float()
        return BaseModelOutput(last_hidden_state=hidden, hidden_states=out.hidden_states)

    def _onnx_forward(self, input_ids, attention_mask, token_type_ids):
        from .onnx_session import run_session

        if self._session is None:
            from .onnx_session import make_session

            self._session = make_session(self.onnx_bytes)
        hidden = run_session(self._session, input_ids, attention_mask, token_type_ids)
        return BaseModelOutput(last_hidden_state=torch.from_numpy(hidden))

    def to_onnx_backend(self, onnx_bytes: bytes, logical_params: int) -> None:
        """Swap the torch encoder for an ONNX graph of it (int8 quantization ends here)."""
        self.config.backend = "onnx"
        self.config.logical_params = int(logical_params)  # packed int8 weights still count as weights
        self.config.manifest, self.config.tied = {}, {}
        self.inner, self.onnx_bytes, self._session = None, onnx_bytes, None
        if "_anchor" not in self._buffers:
            self.register_buffer("_anchor", torch.zeros(1), persistent=False)

    @property
    def device(self) -> torch.device:
        # An ONNX-backed model has no parameters for transformers to read the device from.
        return torch.device("cpu") if self.inner is None else super().device

    @property
    def slim_param_count(self) -> int | None:
        """Logical parameters of an ONNX-backed model (measure.count_params reads this)."""
        return getattr(self.config, "logical_params", None) if self.config.backend == "onnx" else None

    # Standard or slimlib type --------------------------------------------------------------------
    def standard_config(self) -> dict:
        """The base config with the sizes a standard config can say: layers, FFN width (when every
        layer has the same), vocabulary."""
        data = dict(self.config.base_config)
        if self.inner is None:
            return data
        arch = arch_for(data["model_type"])
        layers = get_module(self.inner, arch.layers)
        data["num_hidden_layers"] = len(layers)
        widths = {get_module(layer, arch.ffn_in).out_features for layer in layers
                  if hasattr(get_module(layer, arch.ffn_in), "out_features")}
        if len(widths) == 1:
            data["intermediate_size"] = widths.pop()
        table = self.inner.get_input_embeddings()
        if hasattr(table, "num_embeddings"):
            data["vocab_size"] = table.num_embeddings
        return data

    def standard_blockers(self) -> list[str]:
        """Why this model cannot be saved as a standard BERT/MPNet folder (empty: it can).

        Each reason names the modules whose shape or type a standard config cannot express."""
        if self.inner is None:
            return ["the encoder is an int8 ONNX Runtime graph (use the ONNX file, or OpenVINO)"]
        reasons = []
        dtype = str(next(self.inner.parameters()).dtype).removeprefix("torch.")
        if dtype != "float32":
            # Plain loaders upcast 16-bit weights to fp32 (sentence-transformers' default), so the
            # embeddings would not be the ones measured here; the slimlib type reloads the dtype.
            reasons.append(f"{dtype} weights (plain loaders would run them in fp32, changing the embeddings)")
        base = dict(self.standard_config())
        model_type = base.pop("model_type")
        with torch.device("meta"):
            reference = AutoModel.from_config(AutoConfig.for_model(model_type, **base))
        manifest, tied = _module_manifest(self.inner, reference)
        by_type: dict[str, list[str]] = {}
        for path, spec in manifest.items():
            by_type.setdefault(spec.get("type", "?"), []).append(path)
        for kind, paths in by_type.items():
            shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
            reasons.append(f"{NONSTANDARD_KINDS.get(kind, kind + ' modules')}: {shown}")
        if tied:
            reasons.append("shared layers (" + ", ".join(f"{a} = {b}" for a, b in list(tied.items())[:3]) + ")")
        return reasons

    def _save_standard(self, folder: Path) -> None:
        """An ordinary BERT/MPNet folder: standard config and safetensors, no slimlib needed to load it."""
        data = self.standard_config()
        for key, value in data.items():
            if key != "model_type":
                setattr(self.inner.config, key, value)
        self.inner.config.dtype = next(self.inner.parameters()).dtype
        self.inner.save_pretrained(folder, safe_serialization=True)

    # Save / load -------------------------------------------------------------------------------
    def refresh_manifest(self) -> None:
        """Record the current module shapes in the config (call after surgery, before saving)."""
        if self.inner is None:
            return
        with torch.device("meta"):
            reference = AutoModel.from_config(self.config.base())
        self.config.manifest, self.config.tied = _module_manifest(self.inner, reference)
        self.config.inner_dtype = str(next(self.inner.parameters()).dtype).removeprefix("torch.")

    def save_pretrained(self, save_directory, *args, standard: bool = True, **kwargs) -> None:
        """Standard whenever possible (plain transformers loads it); the slimlib type otherwise, or
        always with standard=False (the distillation cache reloads weights into this same structure)."""
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        if standard and not self.standard_blockers():
            self._save_standard(folder)
            return
        self.refresh_manifest()
        self.config.save_pretrained(folder)
        if self.config.backend == "onnx":
            (folder / ONNX_NAME).write_bytes(self.onnx_bytes)
            return
        state = {k: v.contiguous() for k, v in self.inner.state_dict().items() if not under_tied(k, self.config.tied)}
        save_file(state, str(folder / WEIGHTS_NAME), metadata={"format": "pt", "slimlib": "1"})

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, config=None, **kwargs):
        folder = Path(pretrained_model_name_or_path)
        if config is None or not isinstance(config, SlimConfig):
            config = SlimConfig.from_pretrained(folder)
        model = cls(config)
        if config.backend == "onnx":
            onnx_file = folder / ONNX_NAME
            if not onnx_file.is_file():
                raise ModelLoadError(f"{folder}: {ONNX_NAME} is missing")
            model.onnx_bytes = onnx_file.read_bytes()
            return model
        weights = folder / WEIGHTS_NAME
        if not weights.is_file():
            raise ModelLoadError(f"{folder}: {WEIGHTS_NAME} is missing")
        state = load_file(str(weights))
        result = model.inner.load_state_dict(state, strict=False)
        missing = [k for k in result.missing_keys if not under_tied(k, config.tied) and not is_derived_buffer(k)]
        if missing or result.unexpected_keys:
            raise ModelLoadError(
                f"{weights}: weights do not match the saved structure "
                f"(missing {missing[:3]}, unexpected {result.unexpected_keys[:3]})"
            )
        return model.eval()

    @classmethod
    def wrap(cls, inner: PreTrainedModel) -> "SlimModel":
        """Wrap an in-memory HF model (already a deep copy) so it saves as the slimlib type."""
        base_config = inner.config.to_dict()
        base_config["model_type"] = inner.config.model_type
        for key in ("architectures", "transformers_version", "_name_or_path", "torch_dtype", "dtype"):
            base_config.pop(key, None)
        config = SlimConfig(base_config=base_config)
        return cls(config, inner=inner)


def under_tied(key: str, tied: dict) -> bool:
    """True when the state-dict `key` belongs to one of the `tied` (shared) module paths: saved once."""
    return any(key == p or key.startswith(p + ".") for p in tied)


def is_derived_buffer(key: str) -> bool:
    """True for buffers a load may miss: HF registers some (position_ids) as non-persistent or recomputable."""
    return key.endswith(("position_ids", "token_type_ids"))


def install(st_model, slim: SlimModel) -> None:
    """Put a SlimModel into a SentenceTransformer's first module, keeping ST's bookkeeping right."""
    transformer = st_model[0]
    transformer.model = slim
    declared = _forward_names(slim)
    transformer._declared_forward_params = declared
    transformer.model_forward_params = None  # our forward takes **kwargs and filters itself


def slim_of(st_model) -> SlimModel:
    model = st_model[0].model
    if not isinstance(model, SlimModel):
        raise TypeError("expected a model prepared by slimlib (call pipeline.prepare first)")
    return model


AutoConfig.register(SlimConfig.model_type, SlimConfig, exist_ok=True)
AutoModel.register(SlimConfig, SlimModel, exist_ok=True)

# Registers the packed low-bit module builders, which a saved slimlib model may name (import for effect).
from . import packed  # noqa: E402,F401

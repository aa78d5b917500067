"""A core install without an extra gets one line naming the extra, not a traceback from deep inside.

The missing package is simulated with `sys.modules[name] = None` (what Python does for a blocked
import): `import onnx` then raises ModuleNotFoundError, as on a machine without it.
"""
from __future__ import annotations

import sys

import pytest

from slimlib.errors import ModelLoadError, SlimlibError
from slimlib.optional import require

INT8_HINT = "pip install 'slimlib[int8]'"


@pytest.fixture
def without(monkeypatch):
    def block(*modules: str) -> None:
        for name in modules:
            monkeypatch.setitem(sys.modules, name, None)
    return block


def test_require_names_the_extra(without):
    without("onnx")
    with pytest.raises(SlimlibError, match=r"optional package onnx: pip install 'slimlib\[int8\]'$"):
        require("onnx")


def test_an_int8_recipe_without_onnx_names_the_extra(tiny_bert, without):
    """torch.onnx.export would raise `Module onnx is not installed!` with a traceback."""
    from slimlib.ops.pipeline import apply_recipe
    from slimlib.ops.recipe import Recipe

    recipe = Recipe.from_dict({"format": "slimlib.recipe/v1", "base_model": tiny_bert.path,
                               "steps": [{"op": "quantize", "bits": 8}]})
    without("onnx")
    with pytest.raises(SlimlibError) as error:
        apply_recipe(recipe, tiny_bert)
    assert INT8_HINT in str(error.value) and "\n" not in str(error.value)


def test_an_onnx_export_without_onnx_names_the_extra(tiny_bert, without, tmp_path):
    from slimlib.ops.onnx_export import export_onnx_file

    without("onnx")
    with pytest.raises(SlimlibError, match=r"slimlib\[int8\]"):
        export_onnx_file(tiny_bert.model, tmp_path / "model.onnx")


def test_an_int8_model_without_onnxruntime_names_the_extra(without):
    from slimlib.model.onnx_session import make_session

    without("onnxruntime")
    with pytest.raises(ModelLoadError, match=r"runs on ONNX Runtime.*slimlib\[int8\]"):
        make_session(b"")

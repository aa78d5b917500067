"""Loading base models: bundled, local folders, hub ids, and what is refused."""
import json

import pytest

from slimlib.errors import ModelLoadError
from slimlib.model.base import load_base, resolve_model_path
from slimlib.model.shape import model_shape


def test_bundled_minilm(minilm):
    assert minilm.arch.model_type == "bert"
    shape = model_shape(minilm.model, minilm.arch)
    assert (shape.num_layers, shape.heads, shape.hidden, shape.intermediate, shape.vocab) == (
        6, [12] * 6, 384, [1536] * 6, 30522)
    from slimlib.measure.metrics import count_params

    assert count_params(minilm.model) == 22_713_216
    assert load_base("sentence-transformers/all-MiniLM-L6-v2") is not None


def test_tiny_models_load_from_folders(tiny):
    shape = model_shape(tiny.model, tiny.arch)
    assert shape.num_layers == 3 and shape.heads == [4, 4, 4] and shape.hidden == 64
    assert load_base(tiny.path) is load_base(tiny.path)  # cached per process


def test_missing_folder_and_file(tmp_path):
    with pytest.raises(ModelLoadError, match="folder not found"):
        resolve_model_path(str(tmp_path / "nope"))
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="is a file; expected a sentence-transformers model folder"):
        resolve_model_path(str(tmp_path / "file.bin"))


def test_folder_that_is_not_a_model(tmp_path):
    with pytest.raises(ModelLoadError, match="not a sentence-transformers model folder"):
        load_base(str(tmp_path))


def _copy_with_config(src, dst, **changes):
    import shutil

    shutil.copytree(src, dst)
    config = json.loads((dst / "config.json").read_text())
    config.update(changes)
    (dst / "config.json").write_text(json.dumps(config))
    return dst


def test_remote_code_is_refused(tiny_bert_path, tmp_path):
    folder = _copy_with_config(tiny_bert_path, tmp_path / "remote", auto_map={"AutoModel": "modeling_x.X"})
    with pytest.raises(ModelLoadError, match="needs custom remote code .* which slimlib never runs"):
        load_base(str(folder))


def test_unsupported_architecture_lists_supported(tiny_bert_path, tmp_path):
    folder = _copy_with_config(tiny_bert_path, tmp_path / "gpt", model_type="gpt2")
    with pytest.raises(ModelLoadError, match="architecture 'gpt2' is not supported; supported model types: bert, mpnet"):
        load_base(str(folder))


def test_hub_id_offline_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as info:
        resolve_model_path("someone/some-model-that-is-not-cached")
    message = str(info.value)
    assert "\n" not in message
    assert "someone/some-model-that-is-not-cached: could not download it" in message
    assert "pass its local folder instead" in message

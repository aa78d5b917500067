"""Exports deploy anywhere: standard folders load in a Python that cannot import slimlib, and `verify`
checks every runtime a folder holds against the embeddings written at export time."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense

from slimlib.cli import main
from slimlib.ops.onnx_export import export_onnx_file
from slimlib.ops.recipe import FORMAT, Recipe
from slimlib.workflows.export import export
from slimlib.workflows.verify import REFERENCE_NAME, verify_folder, write_reference

from helpers import dense_distill

HAS_OPENVINO = importlib.util.find_spec("openvino") is not None

STANDARD = {
    "drop_layers": [{"op": "drop_layers", "keep": 2}],
    "prune_ffn": [{"op": "prune_ffn", "keep": 0.5, "score": "magnitude"}],
    "trim_vocab": [{"op": "trim_vocab", "max_tokens": 4000}],
    "distill": [{"op": "drop_layers", "keep": 2, "choose": "spread"}, {"op": "distill", "steps": 3, "batch_size": 8}],
}
SLIMLIB_TYPE = {
    "prune_heads": ([{"op": "prune_heads", "per_layer": 1, "score": "magnitude"}], "pruned attention heads"),
    "low_rank": ([{"op": "low_rank", "rank": 16, "targets": ["ffn_in", "ffn_out"]}], "low-rank"),
    "share_layers": ([{"op": "share_layers", "groups": [[0, 1]]}], "shared layers"),
    "int8": ([{"op": "quantize", "bits": 8}], "int8 ONNX Runtime graph"),
    "int4": ([{"op": "quantize", "bits": 4}], "packed"),
}


def exported(base, steps, folder, onnx=True, openvino=False):
    recipe = Recipe.from_dict({"format": FORMAT, "base_model": base.path, "steps": steps})
    return export(recipe, folder, onnx=onnx, openvino=openvino, measure=False)


@pytest.mark.parametrize("name", sorted(STANDARD))
def test_standard_shapes_export_a_standard_folder_that_loads_without_slimlib(name, tiny_bert, tmp_path):
    folder = exported(tiny_bert, STANDARD[name], tmp_path / name)
    assert json.loads((folder / "config.json").read_text())["model_type"] == "bert"
    checks = {c.runtime: c for c in verify_folder(folder)}
    assert set(checks) == {"sentence-transformers", "onnxruntime"}  # the plain one runs with slimlib blocked
    assert all(c.ok for c in checks.values()), [c.line() for c in checks.values()]
    assert checks["sentence-transformers"].min_cosine > 0.99999


def test_a_standard_mpnet_folder_loads_without_slimlib(tiny_mpnet, tmp_path):
    folder = exported(tiny_mpnet, [{"op": "drop_layers", "layers": [1]}], tmp_path / "mpnet", onnx=False)
    assert json.loads((folder / "config.json").read_text())["model_type"] == "mpnet"
    (check,) = verify_folder(folder)
    assert check.runtime == "sentence-transformers" and check.ok, check.line()


@pytest.mark.parametrize("name", sorted(SLIMLIB_TYPE))
def test_other_shapes_keep_the_slimlib_type_say_why_and_verify(name, tiny_bert, tmp_path, capsys):
    steps, reason = SLIMLIB_TYPE[name]
    recipe_file = tmp_path / "recipe.json"
    recipe_file.write_text(json.dumps({"format": FORMAT, "base_model": tiny_bert.path, "steps": steps}))
    assert main(["apply", str(recipe_file), "--out", str(tmp_path / name), "--onnx", "--no-eval"]) == 0
    err = capsys.readouterr().err
    assert "slimlib model type" in err and reason.lower() in err.lower(), err
    folder = tmp_path / name
    assert json.loads((folder / "config.json").read_text())["model_type"] == "slimlib"
    assert reason.lower() in (folder / "README.md").read_text().lower()
    assert main(["verify", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["ok    sentence-transformers + slimlib", "ok    onnxruntime"]


@pytest.mark.parametrize("quantize", [[], [{"op": "quantize", "bits": 8}]], ids=["fp32", "int8"])
def test_a_dense_projection_runs_in_every_runtime(quantize, normalized_student, wide_teacher, tmp_path):
    """The graphs end at the token vectors: the portable runtimes apply the Dense after pooling, as
    sentence-transformers does, and give the teacher's width (96), not the student's (64)."""
    folder = exported(normalized_student, [dense_distill(wide_teacher)] + quantize, tmp_path / "dense",
                      openvino=HAS_OPENVINO)
    kinds = [m["type"].rsplit(".", 1)[-1] for m in json.loads((folder / "modules.json").read_text())]
    assert kinds == ["Transformer", "Pooling", "Dense", "Normalize"]
    assert "then apply the Dense layer in `2_Dense/`" in (folder / "README.md").read_text()  # the by-hand recipe
    # The reference is the in-memory model's output: with int8 its first module runs the ONNX graph
    # and the Dense still runs after it in torch.
    reference = np.asarray(json.loads((folder / REFERENCE_NAME).read_text())["embeddings"])
    assert reference.shape[1] == 96
    checks = {c.runtime: c for c in verify_folder(folder)}
    assert {"onnxruntime"} | ({"openvino"} if HAS_OPENVINO else set()) <= set(checks)
    assert all(c.ok for c in checks.values()), [c.line() for c in checks.values()]


@pytest.mark.parametrize("activation", ["Tanh", "ReLU"])
def test_a_dense_activation_runs_portably_or_the_failure_names_it(activation, tiny_bert_path, tmp_path):
    """Tanh (Dense's default) is computed in numpy; an activation the portable code does not know fails
    naming the module's folder and the activation, rather than giving other embeddings."""
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    model.append(Dense(64, 32, activation_function=getattr(torch.nn, activation)()))
    folder = tmp_path / "m"
    model.save(str(folder))
    export_onnx_file(model, folder / "onnx" / "model.onnx")
    write_reference(model, folder, "fp32")
    checks = {c.runtime: c for c in verify_folder(folder)}
    assert checks["sentence-transformers"].ok, checks["sentence-transformers"].line()
    onnx = checks["onnxruntime"]
    if activation == "Tanh":
        assert onnx.ok, onnx.line()
    else:
        named = f"{folder / '2_Dense'}: Dense activation 'torch.nn.modules.activation.ReLU' is not supported"
        assert not onnx.ok and named in onnx.line(), onnx.line()


def test_verify_fails_with_a_clear_line_on_tampered_weights(tiny_bert, tmp_path, capsys):
    folder = exported(tiny_bert, STANDARD["drop_layers"], tmp_path / "m", onnx=False)
    weights = folder / "model.safetensors"
    state = load_file(str(weights))
    torch.manual_seed(0)
    for name in [k for k in state if k.endswith("dense.weight")]:  # what a corrupted upload might do
        state[name] = state[name] + torch.randn_like(state[name]) * state[name].std() * 3
    save_file(state, str(weights), metadata={"format": "pt"})
    assert main(["verify", str(folder)]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("FAIL  sentence-transformers: min cosine") and "needs >= 0.9999" in line


def test_verify_names_what_is_missing(tmp_path):
    from slimlib.errors import SlimlibError

    with pytest.raises(SlimlibError, match="folder not found"):
        verify_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SlimlibError, match=f"no {REFERENCE_NAME}"):
        verify_folder(tmp_path / "empty")


def test_model_card_has_hub_front_matter(tiny_bert, tmp_path):
    folder = exported(tiny_bert, STANDARD["prune_ffn"], tmp_path / "card", onnx=False)
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: sentence-transformers\npipeline_tag: sentence-similarity\n")
    assert "no slimlib needed" in card and "python -m slimlib verify" in card


def test_model_card_says_what_each_op_did_also_without_measuring(tiny_bert, tmp_path):
    folder = exported(tiny_bert, [{"op": "quantize", "bits": 8}], tmp_path / "int8", onnx=False)
    card = (folder / "README.md").read_text()
    done = card.split("## What was done", 1)[1].split("## Measured", 1)[0]
    assert "int8" in done and "matrices" in done, done  # the int8 self-check's verdict


def test_portable_inputs_pad_with_the_models_own_pad_token(tiny_mpnet_path, tiny_bert_path):
    """int8 activations are scaled over every position, padding included: pad as the model's tokenizer does."""
    from tokenizers import Tokenizer

    from slimlib.workflows.portable_encode import _pad_id, _token_inputs

    for folder in (tiny_mpnet_path, tiny_bert_path):
        expected = _pad_id(Tokenizer.from_file(str(folder / "tokenizer.json")))
        inputs = _token_inputs(folder, ["a", "a much longer sentence than the first one"])
        padded = inputs["attention_mask"] == 0
        assert padded.any() and (inputs["input_ids"][padded] == expected).all()
    custom = Tokenizer.from_file(str(tiny_bert_path / "tokenizer.json"))
    custom.enable_padding(pad_id=7, pad_token="[unused6]")  # a tokenizer.json that names its pad id (mpnet's: 1)
    assert _pad_id(custom) == 7

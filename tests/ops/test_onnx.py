"""ONNX export and the int8 ONNX Runtime backend: small files, exact reloads, a standalone snippet."""
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

import slimlib  # noqa: F401  registers the model type
from slimlib.measure import metrics as measure
from slimlib.model.files import folder_bytes
from slimlib.ops.onnx_export import export_onnx_file
from slimlib.model.onnx_session import make_session
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.recipe import Recipe
from slimlib.model.slim import slim_of

from helpers import SAMPLE_SENTENCES, dense_distill

DOC = Path(__file__).resolve().parents[2] / "docs" / "runtimes.md"


def docs_embed():
    """The `embed` function of the documented snippet (the code block defining it), run as written."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    code = next(b for b in blocks if "def embed(" in b)
    code = code.split("\nvectors = embed(")[0]  # drop the usage example at the end
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace["embed"]


@pytest.fixture(scope="module")
def minilm_int8(minilm, tmp_path_factory):
    recipe = Recipe.from_dict({"format": "slimlib.recipe/v1", "base_model": minilm.path,
                               "steps": [{"op": "quantize", "bits": 8}]})
    compressed = apply_recipe(recipe, minilm)
    return compressed, compressed.save(tmp_path_factory.mktemp("minilm-int8") / "model")


def test_minilm_int8_folder_is_about_a_quarter_and_roundtrips(minilm, minilm_int8):
    compressed, folder = minilm_int8
    assert folder_bytes(folder) <= 0.27 * measure.artifact_size(minilm.model)
    before = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    reloaded = SentenceTransformer(str(folder), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), before, atol=1e-5)
    assert measure.cosine_rows(measure.encode(minilm.model, SAMPLE_SENTENCES), before).mean() > 0.98
    assert measure.count_params(reloaded) == measure.count_params(minilm.model) == 22_713_216


def test_documented_snippet_matches_slimlib_on_int8(minilm_int8):
    compressed, folder = minilm_int8
    ours = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    theirs = docs_embed()(folder, SAMPLE_SENTENCES)
    assert measure.cosine_rows(ours, theirs).min() > 0.9999


def test_documented_snippet_applies_a_dense_projection(normalized_student, wide_teacher, tmp_path):
    recipe = Recipe.from_dict({"format": "slimlib.recipe/v1", "base_model": normalized_student.path,
                               "steps": [dense_distill(wide_teacher)]})
    compressed = apply_recipe(recipe, normalized_student)
    folder = compressed.save(tmp_path / "dense")
    export_onnx_file(compressed.st_model, folder / "onnx" / "model.onnx")
    ours = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    theirs = docs_embed()(folder, SAMPLE_SENTENCES)
    assert theirs.shape == ours.shape == (len(SAMPLE_SENTENCES), 96)  # the teacher's width, not the graph's 64
    assert measure.cosine_rows(ours, theirs).min() > 0.99999


@pytest.mark.parametrize("int8", [False, True])
def test_export_onnx_file_runs_standalone(tiny, tmp_path, int8):
    compressed = apply_recipe(Recipe(base_model=tiny.path), tiny)
    folder = tmp_path / "standalone"
    export_onnx_file(compressed.st_model, folder / "model.onnx", int8=int8)
    shutil.copy(Path(tiny.path) / "tokenizer.json", folder / "tokenizer.json")
    theirs = docs_embed()(folder, SAMPLE_SENTENCES, max_length=64)
    ours = measure.encode(tiny.model, SAMPLE_SENTENCES)
    assert measure.cosine_rows(ours, theirs).min() > (0.999 if int8 else 0.99999)
    assert isinstance(slim_of(compressed.st_model).inner, torch.nn.Module)  # exporting leaves the model usable


def test_export_of_a_bf16_model_keeps_it_bf16(tiny_bert, tmp_path):
    recipe = Recipe.from_dict({"format": "slimlib.recipe/v1", "base_model": tiny_bert.path,
                               "steps": [{"op": "quantize", "bits": 16}]})
    compressed = apply_recipe(recipe, tiny_bert)
    export_onnx_file(compressed.st_model, tmp_path / "model.onnx")
    assert next(slim_of(compressed.st_model).inner.parameters()).dtype == torch.bfloat16


def test_session_uses_the_torch_thread_count_and_does_not_spin(tiny_bert, tmp_path):
    compressed = apply_recipe(Recipe(base_model=tiny_bert.path), tiny_bert)
    path = export_onnx_file(compressed.st_model, tmp_path / "model.onnx")
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        session = make_session(path.read_bytes())
        assert session.slimlib_threads == 1
        # spinning ORT threads would take the cores torch shares with it (tokenizing, pooling, the baseline)
        assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    finally:
        torch.set_num_threads(previous)


def _ort_reference_int8(fp32: bytes, tmp_path: Path, embeddings: bool) -> bytes:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source, target = tmp_path / "fp32.onnx", tmp_path / "ort-int8.onnx"
    source.write_bytes(fp32)
    quantize_dynamic(source, target, per_channel=True, reduce_range=False, weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul", "Gather"] if embeddings else ["MatMul"])
    return target.read_bytes()


@pytest.mark.parametrize("embeddings", [True, False])
def test_int8_graph_has_onnxruntime_quantize_dynamic_integers(tiny, tmp_path, embeddings):
    """Our vectorized quantizer writes what onnxruntime's reference quantize_dynamic writes."""
    import copy

    import onnx
    from onnx import numpy_helper

    from slimlib.ops.int8 import quantize_dynamic_int8 as quantize_int8
    from slimlib.ops.onnx_export import export_fp32
    from slimlib.model.onnx_session import run_session

    fp32 = export_fp32(copy.deepcopy(slim_of(apply_recipe(Recipe(base_model=tiny.path), tiny).st_model).inner))
    ours, reference = quantize_int8(fp32, embeddings), _ort_reference_int8(fp32, tmp_path, embeddings)
    mine = {t.name: numpy_helper.to_array(t) for t in onnx.load_from_string(ours).graph.initializer}
    theirs = {t.name: numpy_helper.to_array(t) for t in onnx.load_from_string(reference).graph.initializer}
    quantized = sorted(name for name in theirs if name.endswith("_quantized"))
    assert quantized and sorted(n for n in mine if n.endswith("_quantized")) == quantized
    assert any("word_embeddings" in name for name in quantized) == embeddings
    for name in theirs.keys() & mine.keys():
        assert mine[name].dtype == theirs[name].dtype and np.array_equal(mine[name], theirs[name]), name
    ids = np.array([[101, 2023, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0]])
    mask = (ids > 0).astype(np.int64)
    ours_out = run_session(make_session(ours), ids, mask)
    np.testing.assert_allclose(ours_out, run_session(make_session(reference), ids, mask), atol=1e-5)


def test_int8_quantizes_a_weight_shared_by_two_matmuls_once():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from slimlib.ops.int8 import quantize_dynamic_int8

    weight = np.random.default_rng(0).uniform(-1, 1, (8, 4)).astype(np.float32)
    # One large value per column keeps the other codes small: without VNNI, ONNX Runtime's u8 x s8 kernel
    # adds products in pairs into int16 and saturates when both codes of a pair are near their maximum.
    weight[0] = 4.0
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["a"]), helper.make_node("MatMul", ["a2", "w"], ["b"]),
         helper.make_node("Identity", ["x"], ["a2"])],
        "shared", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 8])],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, 4]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [None, 4])],
        initializer=[numpy_helper.from_array(weight, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    quantized = quantize_dynamic_int8(model.SerializeToString())
    names = [t.name for t in onnx.load_from_string(quantized).graph.initializer]
    assert sorted(names) == ["w_quantized", "w_scale", "w_zero_point"]
    x = np.random.default_rng(1).standard_normal((3, 8)).astype(np.float32)
    a, b = make_session(quantized, 1).run(None, {"x": x})
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a, x @ weight, atol=0.05)

"""int8 checks itself against fp32 and keeps the most harmed matrices in fp32 until the floor is met."""
from __future__ import annotations

import numpy as np

from slimlib.ops import int8_check
from slimlib.ops.int8 import quantizable_matmuls, quantize_dynamic_int8, symmetric_per_column  # noqa: F401
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.recipe import FORMAT, Recipe


def int8_recipe(base):
    return Recipe.from_dict({"format": FORMAT, "base_model": base.path, "steps": [{"op": "quantize", "bits": 8}]})


def int8_note(compressed) -> str:
    return next(n for n in compressed.notes if n.startswith("int8 "))


def test_a_model_above_the_floor_keeps_every_matrix_int8(tiny_bert):
    note = int8_note(apply_recipe(int8_recipe(tiny_bert), tiny_bert))
    assert note.startswith("int8 on all 18 matrices"), note  # 3 layers x (Q, K, V, O, FFN in, FFN out)


def test_below_the_floor_the_most_harmed_matrices_stay_fp32(tiny, monkeypatch):
    monkeypatch.setattr(int8_check, "FIDELITY_FLOOR", 0.999999)  # stricter than int8 can be on random weights
    compressed = apply_recipe(int8_recipe(tiny), tiny)
    note = int8_note(compressed)
    assert note.startswith("int8 except ") and "matrices kept fp32 for accuracy on this CPU" in note, note
    kept = int(note.split("int8 except ", 1)[1].split(" ", 1)[0])
    assert 2 <= kept <= 18
    graph = compressed.st_model[0].model.onnx_bytes
    import onnx

    ops = [n.op_type for n in onnx.load_from_string(graph).graph.node]
    assert ops.count("MatMulInteger") == 18 - kept and ops.count("MatMul") >= kept


def test_reduce_range_always(tiny_bert):
    compressed = apply_recipe(int8_recipe(tiny_bert), tiny_bert)
    assert "7-bit weights (reduce_range" in int8_note(compressed)
    import onnx
    from onnx import numpy_helper

    codes = [numpy_helper.to_array(t) for t in onnx.load_from_string(compressed.st_model[0].model.onnx_bytes).graph.initializer
             if t.name.endswith("_quantized") and t.data_type == onnx.TensorProto.INT8]
    assert codes and all(c.min() >= -63 and c.max() <= 63 for c in codes)


def test_seven_bit_codes_stay_in_range():
    weight = np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32)
    codes, scale = symmetric_per_column(weight, 63)
    assert codes.min() >= -63 and codes.max() <= 63
    np.testing.assert_allclose(codes * scale, weight, atol=float(scale.max()))


def test_excluded_matmuls_stay_float_and_ranking_covers_them_all(tiny_bert):
    from slimlib.model.parts import encoder_of
    from slimlib.ops.onnx_export import export_fp32
    import copy

    fp32 = export_fp32(copy.deepcopy(encoder_of(tiny_bert.model)))
    names = quantizable_matmuls(fp32)
    assert len(names) == 18
    graph = quantize_dynamic_int8(fp32, exclude={names[0], names[1]})
    import onnx

    kept = {n.name for n in onnx.load_from_string(graph).graph.node if n.op_type == "MatMul"}
    assert {names[0], names[1]} <= kept
    tokens = {"input_ids": np.array([[101, 2023, 2003, 102]], dtype=np.int64),
              "attention_mask": np.ones((1, 4), dtype=np.int64), "token_type_ids": np.zeros((1, 4), dtype=np.int64)}
    ranking = int8_check.rank_matmuls(fp32, tokens)
    assert sorted(ranking) == sorted(names)


def test_the_search_runs_once_per_graph_and_cpu_then_its_verdict_is_reused(tiny, monkeypatch):
    monkeypatch.setattr(int8_check, "FIDELITY_FLOOR", 0.999998)  # forces a search (and a key of its own)
    first = int8_note(apply_recipe(int8_recipe(tiny), tiny))
    assert first.startswith("int8 except "), first

    def no_search(*args, **kwargs):
        raise AssertionError("searched again although the verdict for this graph is recorded")

    monkeypatch.setattr(int8_check, "_search", no_search)
    assert int8_note(apply_recipe(int8_recipe(tiny), tiny)) == first

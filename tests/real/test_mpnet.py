"""Every op on the real all-mpnet-base-v2 (installed by `make mpnet`; skipped with that hint otherwise):
applies, saves, reloads with the same embeddings, and keeps at least the fidelity measured for it on this
project's sentences (floors a few points under the values measured on 2026-11-29, see README)."""
from __future__ import annotations

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import slimlib  # noqa: F401  registers the slimlib model type
from slimlib.data.corpus import project_sentences
from slimlib.measure import metrics as measure
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.recipe import FORMAT, Recipe
from slimlib.workflows.export import export
from slimlib.workflows.verify import verify_folder

pytestmark = [pytest.mark.mpnet, pytest.mark.slow]

# op steps -> fidelity floor (mean cosine to the original on 64 project sentences; measured value in the comment)
CASES = {
    "prune_heads": ([{"op": "prune_heads", "per_layer": 4}], 0.88),  # 0.920
    "drop_layers": ([{"op": "drop_layers", "keep": 6}], 0.50),  # 0.539 (auto picks [0, 2, 4, 7, 9, 11]; taylor alone 0.291)
    "prune_ffn": ([{"op": "prune_ffn", "keep": 0.5}], 0.70),  # 0.752
    "low_rank": ([{"op": "low_rank", "rank": 384, "targets": ["ffn_in", "ffn_out"]}], 0.52),  # 0.570
    "factorize_embeddings": ([{"op": "factorize_embeddings", "rank": 256}], 0.62),  # 0.664
    "trim_vocab": ([{"op": "trim_vocab", "max_tokens": 8000}], 0.999),  # 1.000 (the corpus is these sentences)
    "share_layers": ([{"op": "share_layers", "groups": [[10, 11]]}], 0.58),  # 0.631
    "int8": ([{"op": "quantize", "bits": 8}], 0.97),  # self-checked to >= 0.99 on held-out sentences
    "int4": ([{"op": "quantize", "bits": 4}], 0.96),  # 0.980
    "int3": ([{"op": "quantize", "bits": 3}], 0.88),  # 0.919
    "int2": ([{"op": "quantize", "bits": 2}], 0.60),  # 0.661
    "bf16": ([{"op": "quantize", "bits": 16, "float16": "bf16"}], 0.999),  # 0.9999
}


@pytest.fixture(scope="module")
def sentences():
    return list(project_sentences()[:64])


@pytest.fixture(scope="module")
def reference(mpnet, sentences):
    return measure.encode(mpnet.model, sentences)


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_on_real_mpnet(name, mpnet, sentences, reference, tmp_path):
    steps, floor = CASES[name]
    compressed = apply_recipe(Recipe.from_dict({"format": FORMAT, "base_model": mpnet.path, "steps": steps}), mpnet)
    got = measure.encode(compressed.st_model, sentences)
    fidelity = float(np.mean(np.sum(reference * got, 1) / np.linalg.norm(reference, axis=1) / np.linalg.norm(got, axis=1)))
    assert fidelity >= floor, f"{name}: fidelity {fidelity:.4f} below the measured floor {floor}"
    folder = compressed.save(tmp_path / name)
    reloaded = SentenceTransformer(str(folder), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, sentences), got, atol=1e-5)
    if name in ("prune_heads", "drop_layers", "prune_ffn"):
        assert measure.count_params(compressed.st_model) < measure.count_params(mpnet.model)


def test_distillation_recovers_a_dropped_mpnet(mpnet, sentences, reference):
    recipe = Recipe.from_dict({"format": FORMAT, "base_model": mpnet.path, "steps": [
        {"op": "drop_layers", "keep": 6}, {"op": "distill", "steps": 30, "batch_size": 16, "max_seq_length": 48}]})
    dropped = apply_recipe(Recipe(mpnet.path, recipe.steps[:1]), mpnet)
    distilled = apply_recipe(recipe, mpnet)

    def fidelity(model) -> float:
        got = measure.encode(model.st_model, sentences)
        return float(np.mean(np.sum(reference * got, 1) / np.linalg.norm(reference, axis=1) / np.linalg.norm(got, axis=1)))

    assert fidelity(distilled) > fidelity(dropped) + 0.05


@pytest.mark.parametrize("steps", [[{"op": "drop_layers", "keep": 6}], [{"op": "quantize", "bits": 8}]],
                         ids=["6-layers-standard", "int8"])
def test_onnx_and_openvino_exports_of_mpnet_verify(steps, mpnet, tmp_path):
    """The shipped forms of a real mpnet: every runtime in the folder (sentence-transformers, ONNX Runtime,
    OpenVINO) reproduces the export-time reference embeddings within its precision's tolerance."""
    recipe = Recipe.from_dict({"format": FORMAT, "base_model": mpnet.path, "steps": steps})
    folder = export(recipe, tmp_path / "out", onnx=True, openvino=True, measure=False)
    assert (folder / "onnx" / "model.onnx").is_file() and (folder / "openvino" / "model.xml").is_file()
    checks = verify_folder(folder)
    runtimes = {check.runtime for check in checks}
    assert {"onnxruntime", "openvino"} <= runtimes, runtimes
    assert all(check.ok for check in checks), [check.line() for check in checks]

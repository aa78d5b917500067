"""low_rank: truncated-SVD factorization of encoder Linears."""
import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from torch import nn

import slimlib  # noqa: F401  registers the model type
from slimlib.measure import metrics as measure
from slimlib.model.architectures import get_module
from slimlib.model.modules import LowRankLinear
from slimlib.ops.low_rank import factorize, rank_for_energy, saves_parameters
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.recipe import FORMAT, Recipe

from helpers import SAMPLE_SENTENCES

HIDDEN, FFN, LAYERS = 64, 128, 3  # the tiny fixtures' sizes


def recipe_for(base, *steps):
    return Recipe.from_dict({"format": FORMAT, "base_model": base.path, "steps": list(steps)})


def low_rank_modules(st_model):
    return [m for m in st_model.modules() if isinstance(m, LowRankLinear)]


def test_factorize_at_full_rank_reproduces_the_linear():
    torch.manual_seed(0)
    linear = nn.Linear(24, 40)
    x = torch.randn(5, 24)
    low = factorize(linear, 24)
    torch.testing.assert_close(low(x), linear(x), atol=1e-5, rtol=1e-5)
    assert low.down.weight.shape == (24, 24) and low.up.weight.shape == (40, 24)


def test_energy_picks_the_fewest_singular_values_reaching_it():
    s = torch.tensor([3.0, 2.0, 1.0])  # squared: 9, 4, 1 of 14
    assert rank_for_energy(s, 0.5) == 1  # 9/14 = 0.64
    assert rank_for_energy(s, 9 / 14) == 1  # exactly reached
    assert rank_for_energy(s, 0.9) == 2  # 13/14 = 0.93
    assert rank_for_energy(s, 1.0) == 3


def test_saving_rule():
    assert saves_parameters(31, 64, 64) and not saves_parameters(32, 64, 64)


def test_rank_parameter_count_is_exact(tiny):
    rank = 16
    compressed = apply_recipe(recipe_for(tiny, {"op": "low_rank", "rank": rank, "targets": ["ffn_in"]}), tiny)
    per_layer_before = HIDDEN * FFN + FFN
    per_layer_after = rank * (HIDDEN + FFN) + FFN  # r*(in+out) + bias
    expected = measure.count_params(tiny.model) - LAYERS * (per_layer_before - per_layer_after)
    assert measure.count_params(compressed.st_model) == expected
    assert len(low_rank_modules(compressed.st_model)) == LAYERS


def test_roundtrip_exact_and_file_smaller(tiny, tmp_path):
    compressed = apply_recipe(recipe_for(tiny, {"op": "low_rank", "rank": 8}), tiny)
    assert len(low_rank_modules(compressed.st_model)) == LAYERS * 6  # Q, K, V, O, ffn_in, ffn_out
    before = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    assert np.isfinite(before).all()
    folder = compressed.save(tmp_path / "out")
    reloaded = SentenceTransformer(str(folder), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), before, atol=1e-5)
    assert measure.count_params(reloaded) == measure.count_params(compressed.st_model)
    assert measure.artifact_size(compressed.st_model) < measure.artifact_size(tiny.model)


def test_energy_mode_uses_the_documented_rank_per_linear(tiny_bert):
    base_ffn = get_module(get_module(tiny_bert.model[0].auto_model, "encoder.layer")[0], "intermediate.dense")
    expected = rank_for_energy(torch.linalg.svdvals(base_ffn.weight.double()), 0.5)
    compressed = apply_recipe(recipe_for(tiny_bert, {"op": "low_rank", "energy": 0.5, "targets": ["ffn_in"]}), tiny_bert)
    layer0 = get_module(compressed.st_model[0].model.inner, "encoder.layer")[0]
    assert get_module(layer0, "intermediate.dense").rank == expected


def test_skips_linears_where_the_rank_saves_nothing(tiny_bert):
    # rank 32 on 64x64 attention Linears: 32*(64+64) == 64*64, no saving; on 64x128 FFNs it saves.
    compressed = apply_recipe(recipe_for(tiny_bert, {"op": "low_rank", "rank": 32}), tiny_bert)
    layer0 = get_module(compressed.st_model[0].model.inner, "encoder.layer")[0]
    assert type(get_module(layer0, "attention.self.query")) is nn.Linear
    assert type(get_module(layer0, "attention.output.dense")) is nn.Linear
    assert isinstance(get_module(layer0, "intermediate.dense"), LowRankLinear)
    assert isinstance(get_module(layer0, "output.dense"), LowRankLinear)
    note = next(n for n in compressed.notes if n.startswith("low_rank"))
    assert "factorized 6 Linear(s)" in note and "kept 12 whose factorization would not save parameters" in note


def test_rank_above_smallest_dimension_is_rejected(tiny):
    with pytest.raises(slimlib.RecipeError, match=r"steps\[0\]\.rank: 65 exceeds 64"):
        apply_recipe(recipe_for(tiny, {"op": "low_rank", "rank": 65}), tiny)


def test_shared_layers_are_factorized_once(tiny_bert, tmp_path):
    recipe = recipe_for(tiny_bert, {"op": "share_layers", "groups": [[0, 1]]},
                        {"op": "low_rank", "rank": 8, "targets": ["ffn_in", "ffn_out"]})
    compressed = apply_recipe(recipe, tiny_bert)
    layers = get_module(compressed.st_model[0].model.inner, "encoder.layer")
    assert layers[0] is layers[1]
    assert len({id(m) for m in low_rank_modules(compressed.st_model)}) == 2 * 2  # 2 distinct layers x 2 FFN Linears
    before = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    reloaded = SentenceTransformer(str(compressed.save(tmp_path / "out")), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), before, atol=1e-5)


def test_after_head_pruning(tiny, tmp_path):
    recipe = recipe_for(tiny, {"op": "prune_heads", "heads": {"0": [0, 1], "1": [0, 1, 2, 3]}, "score": "magnitude"},
                        {"op": "low_rank", "rank": 8, "targets": ["attention"]})
    compressed = apply_recipe(recipe, tiny)
    before = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    assert np.isfinite(before).all()
    reloaded = SentenceTransformer(str(compressed.save(tmp_path / "out")), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), before, atol=1e-5)


def test_minilm_rank_64_roundtrip(minilm, tmp_path):
    compressed = apply_recipe(recipe_for(minilm, {"op": "low_rank", "rank": 64}), minilm)
    # 6 layers: 4 x (384x384) + 384x1536 + 1536x384 per layer, biases kept.
    saved_per_layer = 4 * (384 * 384 - 64 * 768) + 2 * (384 * 1536 - 64 * 1920)
    assert measure.count_params(compressed.st_model) == measure.count_params(minilm.model) - 6 * saved_per_layer
    before = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    reloaded = SentenceTransformer(str(compressed.save(tmp_path / "out")), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), before, atol=1e-5)

"""drop_layers and prune_ffn, alone and stacked with prune_heads: exact sizes, exact reload."""
import json

import numpy as np
import pytest

from slimlib.model import parts
from slimlib.measure import metrics as measure
from slimlib import RecipeError
from slimlib.ops.prune_ffn import kept_width, top_neurons
from slimlib.ops.drop_layers import most_important

from structural_checks import assert_roundtrip, compress, weights_bytes

H, FF, LAYERS = 64, 128, 3  # the tiny fixtures: hidden, FFN (intermediate) width, layers
# Q, K, V, O with biases, two LayerNorms, FFN in and out with biases.
LAYER_PARAMS = 4 * (H * H + H) + 2 * 2 * H + (H * FF + FF) + (FF * H + H)


def widths(st_model, arch):
    return [parts.ffn_in(layer, arch).out_features for layer in parts.layers_of(parts.encoder_of(st_model), arch)]


def test_selection_helpers():
    assert most_important([0.3, 0.1, 0.9, 0.2], 2) == [0, 2]
    assert top_neurons([0.3, 0.1, 0.9, 0.2], 2).tolist() == [0, 2]
    assert kept_width(0.5, 1536) == 768 and kept_width(0.001, 10) == 1


def test_drop_explicit_layer_removes_one_layer_and_reloads(tiny, tmp_path):
    compressed = compress(tiny, {"op": "drop_layers", "layers": [1]})
    assert measure.count_params(tiny.model) - measure.count_params(compressed.st_model) == LAYER_PARAMS
    reloaded = assert_roundtrip(compressed, tmp_path / "out")
    assert len(parts.layers_of(parts.encoder_of(reloaded), tiny.arch)) == 2
    saved_config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert saved_config["model_type"] != "slimlib"  # a standard folder: plain transformers rebuilds 2 layers
    assert saved_config["num_hidden_layers"] == 2
    assert weights_bytes(compressed.st_model, tmp_path, "a") < weights_bytes(tiny.model, tmp_path, "b")


@pytest.mark.parametrize("choose", ["taylor", "spread", "auto"])
def test_keep_layers_by_importance(tiny, tmp_path, choose):
    compressed = compress(tiny, {"op": "drop_layers", "keep": 2, "choose": choose})
    assert measure.count_params(tiny.model) - measure.count_params(compressed.st_model) == LAYER_PARAMS
    how = {"taylor": "by taylor importance", "spread": "evenly spaced", "auto": "auto: closest to the model"}[choose]
    assert any(how in note for note in compressed.notes), compressed.notes
    assert_roundtrip(compressed, tmp_path / "out")


def test_auto_layer_choice_keeps_the_candidate_closest_to_the_model(tiny):
    from slimlib.ops.drop_layers import closest_to_model
    from slimlib.ops.pipeline import OpContext, prepare

    ctx = OpContext(base=tiny, st_model=prepare(tiny), progress=lambda m, f: None, should_stop=lambda: False)
    before = measure.encode(ctx.st_model, ["a sentence"])
    candidates = [[0, 1], [0, 1, 2], [1, 2]]
    kept, cosines = closest_to_model(ctx, candidates)
    assert cosines[1] == pytest.approx(1.0, abs=1e-5)  # all layers: the model itself
    assert kept == [0, 1, 2] and max(cosines) == cosines[1] and len(cosines) == 3
    np.testing.assert_allclose(measure.encode(ctx.st_model, ["a sentence"]), before, atol=1e-6)  # layers restored


@pytest.mark.parametrize("score", ["taylor", "magnitude"])
def test_prune_ffn_halves_every_layer(tiny, tmp_path, score):
    compressed = compress(tiny, {"op": "prune_ffn", "keep": 0.5, "score": score})
    assert widths(compressed.st_model, tiny.arch) == [64, 64, 64]
    removed_per_layer = (FF - 64) * (H + 1) + (FF - 64) * H  # FFN-in rows + biases, FFN-out columns
    assert measure.count_params(tiny.model) - measure.count_params(compressed.st_model) == LAYERS * removed_per_layer
    assert_roundtrip(compressed, tmp_path / "out")
    assert weights_bytes(compressed.st_model, tmp_path, "a") < weights_bytes(tiny.model, tmp_path, "b")


def test_stack_heads_layers_ffn_reloads_exactly(tiny, tmp_path):
    compressed = compress(
        tiny,
        {"op": "prune_heads", "per_layer": 1},
        {"op": "prune_ffn", "keep": 0.25},
        {"op": "drop_layers", "keep": 2},
    )
    assert widths(compressed.st_model, tiny.arch) == [32, 32]
    expected = LAYER_PARAMS + 2 * ((4 * 16 * H + 3 * 16) + (FF - 32) * (2 * H + 1))
    assert measure.count_params(tiny.model) - measure.count_params(compressed.st_model) == expected
    assert_roundtrip(compressed, tmp_path / "out")


def test_drop_layers_out_of_range_names_the_field(tiny_bert):
    with pytest.raises(RecipeError, match=r"steps\[0\]\.layers: layers \[3\] do not exist"):
        compress(tiny_bert, {"op": "drop_layers", "layers": [0, 3]})


def test_prune_ffn_keep_out_of_range_names_the_field(tiny_bert):
    with pytest.raises(RecipeError, match=r"steps\[0\]\.keep"):
        compress(tiny_bert, {"op": "prune_ffn", "keep": 1.5})


@pytest.mark.slow
def test_minilm_stack_roundtrip(minilm, tmp_path):
    compressed = compress(
        minilm,
        {"op": "prune_heads", "per_layer": 2, "score": "magnitude"},
        {"op": "prune_ffn", "keep": 0.5, "score": "magnitude"},
        {"op": "drop_layers", "layers": [2]},
    )
    assert widths(compressed.st_model, minilm.arch) == [768] * 5
    assert_roundtrip(compressed, tmp_path / "out")

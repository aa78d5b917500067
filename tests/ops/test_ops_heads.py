"""prune_heads: exact parameter arithmetic, exact save/reload, every head of a layer, errors."""
import numpy as np
import pytest
import torch

from slimlib.model import parts
from slimlib.measure import metrics as measure
from slimlib import RecipeError
from slimlib.model.modules import EmptySelfAttention, HeadSelectingAttention
from slimlib.ops.prune_heads import plan_global, plan_per_layer

from structural_checks import assert_roundtrip, compress, weights_bytes

HIDDEN, HEAD_DIM, LAYERS, HEADS = 64, 16, 3, 4  # the tiny fixtures


def heads_removed_params(heads: int, head_dim: int = HEAD_DIM, hidden: int = HIDDEN) -> int:
    """Q, K, V each lose heads*head_dim rows (weights + biases); the output loses as many columns."""
    return 3 * (heads * head_dim * hidden + heads * head_dim) + heads * head_dim * hidden


def head_counts(st_model, arch):
    encoder = parts.encoder_of(st_model)
    return [parts.head_count(layer, arch, HEAD_DIM) for layer in parts.layers_of(encoder, arch)]


def test_plans_pick_the_lowest_scores():
    scores = [np.array([3.0, 1.0, 2.0, 0.5]), np.array([0.1, 5.0, 4.0, 6.0])]
    assert plan_per_layer(scores, 2) == {0: [1, 3], 1: [0, 2]}
    assert plan_global(scores, 0.25) == {0: [3], 1: [0]}
    # Never the whole model, even when the fraction asks for it.
    assert sum(map(len, plan_global(scores, 0.99).values())) == 7


@pytest.mark.parametrize("score", ["taylor", "magnitude"])
def test_per_layer_removes_exact_parameters_and_roundtrips(tiny, tmp_path, score):
    compressed = compress(tiny, {"op": "prune_heads", "per_layer": 1, "score": score})
    assert head_counts(compressed.st_model, tiny.arch) == [3, 3, 3]
    removed = measure.count_params(tiny.model) - measure.count_params(compressed.st_model)
    assert removed == LAYERS * heads_removed_params(1)
    assert_roundtrip(compressed, tmp_path / "out")
    assert weights_bytes(compressed.st_model, tmp_path, "a") < weights_bytes(tiny.model, tmp_path, "b")


def test_explicit_heads_are_the_ones_removed(tiny, tmp_path):
    compressed = compress(tiny, {"op": "prune_heads", "heads": {"1": [0, 2]}})
    assert head_counts(compressed.st_model, tiny.arch) == [4, 2, 4]
    # The kept heads' query rows are the original heads 1 and 3.
    original = parts.qkv(parts.layers_of(parts.encoder_of(tiny.model), tiny.arch)[1], tiny.arch)[0].weight
    pruned_layer = parts.layers_of(parts.encoder_of(compressed.st_model), tiny.arch)[1]
    kept = parts.qkv(pruned_layer, tiny.arch)[0].weight
    assert torch.equal(kept, torch.cat([original[16:32], original[48:64]]))
    if tiny.arch.relative_position_bias:
        holder = parts.attention_holder(pruned_layer, tiny.arch)
        assert isinstance(holder, HeadSelectingAttention) and holder.kept_heads == [1, 3]
    assert measure.count_params(tiny.model) - measure.count_params(compressed.st_model) == heads_removed_params(2)
    assert_roundtrip(compressed, tmp_path / "out")


def test_every_head_of_a_layer_removed_leaves_only_the_output_bias(tiny, tmp_path):
    compressed = compress(tiny, {"op": "prune_heads", "heads": {"0": [0, 1, 2, 3]}})
    layer = parts.layers_of(parts.encoder_of(compressed.st_model), tiny.arch)[0]
    assert isinstance(parts.attention_holder(layer, tiny.arch), EmptySelfAttention)
    assert head_counts(compressed.st_model, tiny.arch) == [0, 4, 4]
    # Q, K, V (weights + biases) and the output weight are gone; the output bias stays.
    assert measure.count_params(tiny.model) - measure.count_params(compressed.st_model) == heads_removed_params(4)
    reloaded = assert_roundtrip(compressed, tmp_path / "out")
    assert head_counts(reloaded, tiny.arch) == [0, 4, 4]


def test_pruning_twice_composes_on_mpnet_position_bias(tiny_mpnet, tmp_path):
    compressed = compress(tiny_mpnet, {"op": "prune_heads", "heads": {"2": [0]}},
                          {"op": "prune_heads", "heads": {"2": [1]}})
    layer = parts.layers_of(parts.encoder_of(compressed.st_model), tiny_mpnet.arch)[2]
    # After removing head 0, current head 1 is original head 2.
    assert parts.attention_holder(layer, tiny_mpnet.arch).kept_heads == [1, 3]
    assert_roundtrip(compressed, tmp_path / "out")


def test_fraction_ranks_globally_and_keeps_a_head(tiny, tmp_path):
    compressed = compress(tiny, {"op": "prune_heads", "fraction": 0.9, "score": "magnitude"})
    assert sum(head_counts(compressed.st_model, tiny.arch)) == 12 - 11
    assert_roundtrip(compressed, tmp_path / "out")


def test_all_heads_of_every_layer_still_runs(tiny_bert, tmp_path):
    compressed = compress(tiny_bert, {"op": "prune_heads", "per_layer": 4, "score": "magnitude"})
    assert head_counts(compressed.st_model, tiny_bert.arch) == [0, 0, 0]
    assert_roundtrip(compressed, tmp_path / "out")


def test_head_id_out_of_range_names_the_field(tiny_bert):
    with pytest.raises(RecipeError, match=r"steps\[0\]\.heads\.1: head ids \[7\] do not exist"):
        compress(tiny_bert, {"op": "prune_heads", "heads": {"1": [0, 7]}})


def test_per_layer_above_head_count_names_the_field(tiny_bert):
    with pytest.raises(RecipeError, match=r"steps\[0\]\.per_layer"):
        compress(tiny_bert, {"op": "prune_heads", "per_layer": 5})


@pytest.mark.slow
def test_minilm_heads_magnitude_roundtrip(minilm, tmp_path):
    compressed = compress(minilm, {"op": "prune_heads", "per_layer": 4, "score": "magnitude"})
    removed = measure.count_params(minilm.model) - measure.count_params(compressed.st_model)
    assert removed == 6 * heads_removed_params(4, head_dim=32, hidden=384)
    assert_roundtrip(compressed, tmp_path / "out")

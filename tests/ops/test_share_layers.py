"""share_layers: one module object per group, counted once, saved once, reloaded exactly."""
import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

import slimlib  # noqa: F401  registers the model type
from slimlib.measure import metrics as measure
from slimlib.model.architectures import get_module
from slimlib.errors import RecipeError
from slimlib.model.files import folder_bytes
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.recipe import Recipe, make_step

from helpers import SAMPLE_SENTENCES


def _share(base, groups, init="mean"):
    return apply_recipe(Recipe(base.path, [make_step("share_layers", groups=groups, init=init)]), base)


def _layers(st_model, arch):
    return get_module(st_model[0].model.inner, arch.layers)


def _layer_params(base, index):
    layer = get_module(base.model[0].auto_model, base.arch.layers)[index]
    return sum(p.numel() for p in layer.parameters())


def test_group_members_are_one_module_and_counted_once(tiny):
    compressed = _share(tiny, [[0, 1, 2]])
    layers = _layers(compressed.st_model, tiny.arch)
    assert layers[0] is layers[1] is layers[2]
    saved = 2 * _layer_params(tiny, 0)
    assert measure.count_params(compressed.st_model) == measure.count_params(tiny.model) - saved


def test_param_count_arithmetic_over_several_groups(tiny_bert):
    compressed = _share(tiny_bert, [[0, 2]])
    layers = _layers(compressed.st_model, tiny_bert.arch)
    assert layers[0] is layers[2] and layers[1] is not layers[0]
    assert measure.count_params(tiny_bert.model) - measure.count_params(compressed.st_model) == _layer_params(tiny_bert, 0)


def test_mean_init_averages_and_first_init_copies(tiny_bert):
    originals = [dict(layer.named_parameters()) for layer in get_module(tiny_bert.model[0].auto_model, tiny_bert.arch.layers)]
    mean = _layers(_share(tiny_bert, [[0, 1]], "mean").st_model, tiny_bert.arch)[0]
    first = _layers(_share(tiny_bert, [[0, 1]], "first").st_model, tiny_bert.arch)[0]
    for name, param in mean.named_parameters():
        torch.testing.assert_close(param, (originals[0][name] + originals[1][name]) / 2)
    for name, param in first.named_parameters():
        torch.testing.assert_close(param, originals[0][name], rtol=0, atol=0)


def test_saved_file_shrinks_and_reloads_exactly(tiny, tmp_path):
    plain = apply_recipe(Recipe(tiny.path), tiny).save(tmp_path / "plain")
    compressed = _share(tiny, [[0, 1, 2]])
    folder = compressed.save(tmp_path / "shared")
    removed_bytes = 2 * _layer_params(tiny, 0) * 4  # float32
    shrink = (plain / "model.safetensors").stat().st_size - (folder / "model.safetensors").stat().st_size
    assert removed_bytes * 0.98 <= shrink <= removed_bytes * 1.02  # only safetensors header text differs
    assert folder_bytes(folder) < folder_bytes(plain)

    before = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    reloaded = SentenceTransformer(str(folder), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), before, atol=1e-5)
    layers = _layers(reloaded, tiny.arch)
    assert layers[0] is layers[1] is layers[2]
    assert measure.count_params(reloaded) == measure.count_params(compressed.st_model)


def test_sharing_changes_the_embeddings(tiny_bert):
    original = measure.encode(tiny_bert.model, SAMPLE_SENTENCES)
    shared = measure.encode(_share(tiny_bert, [[0, 1, 2]]).st_model, SAMPLE_SENTENCES)
    assert not np.allclose(original, shared, atol=1e-3)


@pytest.mark.parametrize("fields, message", [
    ({"groups": [[0, 5]]}, r"steps\[0\]\.groups: layers \[5\] do not exist"),
    ({"groups": [[0, 1], [1, 2]]}, r"steps\[0\]\.groups: a layer appears in more than one group"),
    ({"groups": [[0]]}, r"steps\[0\]\.groups: expected a list of groups"),
    ({"groups": [[0, 1]], "init": "median"}, r"steps\[0\]\.init: 'median' is not one of"),
])
def test_bad_groups_name_the_field(tiny_bert, fields, message):
    with pytest.raises(RecipeError, match=message):
        recipe = Recipe.from_dict({"format": slimlib.FORMAT, "base_model": tiny_bert.path,
                                   "steps": [{"op": "share_layers", **fields}]})
        apply_recipe(recipe, tiny_bert)

"""The slimlib model type: an uncompressed copy saves and reloads with identical embeddings."""
import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import slimlib  # noqa: F401  registers the model type
from slimlib.measure import metrics as measure
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.recipe import Recipe
from slimlib.model.slim import SlimModel

from helpers import SAMPLE_SENTENCES


def test_wrapped_copy_roundtrips_exactly(tiny, tmp_path):
    compressed = apply_recipe(Recipe(base_model=tiny.path), tiny)
    assert isinstance(compressed.st_model[0].model, SlimModel)
    before = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    original = measure.encode(tiny.model, SAMPLE_SENTENCES)
    np.testing.assert_allclose(before, original, atol=1e-6)
    folder = compressed.save(tmp_path / "out")
    reloaded = SentenceTransformer(str(folder), device="cpu")
    after = measure.encode(reloaded, SAMPLE_SENTENCES)
    np.testing.assert_allclose(after, before, atol=1e-5)
    assert (folder / "slimlib_recipe.json").is_file()
    assert Recipe.load(folder / "slimlib_recipe.json").base_model == tiny.path


def test_base_model_is_not_mutated(tiny):
    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    compressed = apply_recipe(Recipe(base_model=tiny.path), tiny)
    for p in compressed.st_model.parameters():
        p.data.mul_(0)
    after = tiny.model.state_dict()
    assert all((after[k] == v).all() for k, v in before.items())


def test_missing_weights_file_is_a_clear_error(tiny, tmp_path):
    folder = apply_recipe(Recipe(base_model=tiny.path), tiny).save(tmp_path / "out")
    (folder / "model.safetensors").unlink()
    with pytest.raises(slimlib.ModelLoadError, match="model.safetensors"):
        slimlib.load_compressed(str(folder))

"""Every registered op, on both tiny architectures, through the same checks: it applies, the model is
physically smaller (or the op says why not), it saves and reloads with `import slimlib` + plain
`SentenceTransformer` with the same embeddings, and its recipe round-trips. A newly registered op is
covered here without anyone writing a line."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import slimlib  # noqa: F401  registers the slimlib model type
from slimlib.measure import metrics as measure
from slimlib.model.files import RECIPE_NAME, folder_bytes
from slimlib.model.shape import model_shape
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.recipe import FORMAT, Recipe
from slimlib.ops.registry import op_names, op_spec

from helpers import SAMPLE_SENTENCES


@pytest.mark.parametrize("op", op_names())
def test_op_applies_shrinks_saves_and_reloads_exactly(op, tiny, tmp_path):
    spec = op_spec(op)
    step = spec.example_step(model_shape(tiny.model, tiny.arch))
    recipe = Recipe.from_dict({"format": FORMAT, "base_model": tiny.path, "steps": [step]})
    compressed = apply_recipe(recipe, tiny)

    base_folder = tiny.model.save(str(tmp_path / "base")) or tmp_path / "base"
    folder = compressed.save(tmp_path / "out")
    if spec.not_smaller_because is None:
        assert measure.count_params(compressed.st_model) < measure.count_params(tiny.model), op
    else:
        assert spec.not_smaller_because.strip()
    if op != "distill":  # distillation changes weights only: the same bytes
        assert folder_bytes(folder) < folder_bytes(base_folder), op

    before = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    assert np.all(np.isfinite(before))
    reloaded = SentenceTransformer(str(folder), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), before, atol=1e-5)

    saved = Recipe.load(folder / RECIPE_NAME)
    assert saved.to_dict() == compressed.recipe.to_dict()
    assert Recipe.from_json(json.dumps(recipe.to_dict())).to_dict() == recipe.to_dict()
    assert spec.label(step)  # a chart label exists for the step

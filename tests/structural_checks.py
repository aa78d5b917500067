"""Checks shared by the structural-op tests: exact save/reload and smaller files."""
from __future__ import annotations

import numpy as np
from sentence_transformers import SentenceTransformer

import slimlib  # noqa: F401  registers the slimlib model type
from slimlib.measure import metrics as measure
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.recipe import FORMAT, Recipe

from helpers import SAMPLE_SENTENCES


def compress(base, *steps: dict):
    """Apply steps given as recipe JSON objects (the path a user's recipe file takes)."""
    recipe = Recipe.from_dict({"format": FORMAT, "base_model": base.path, "steps": list(steps)})
    return apply_recipe(recipe, base)


def assert_roundtrip(compressed, folder) -> SentenceTransformer:
    """Save, reload with plain SentenceTransformer(folder) and compare embeddings within 1e-5."""
    before = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    assert np.all(np.isfinite(before))
    saved = compressed.save(folder)
    reloaded = SentenceTransformer(str(saved), device="cpu")
    after = measure.encode(reloaded, SAMPLE_SENTENCES)
    np.testing.assert_allclose(after, before, atol=1e-5)
    assert measure.count_params(reloaded) == measure.count_params(compressed.st_model)
    return reloaded


def weights_bytes(st_model, tmp_path, name: str) -> int:
    folder = tmp_path / name
    st_model.save(str(folder), create_model_card=False)
    return sum(p.stat().st_size for p in folder.rglob("*.safetensors"))

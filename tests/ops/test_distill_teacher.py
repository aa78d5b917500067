"""distill learns from another teacher: a wider one through a projection onto the student's width."""
from __future__ import annotations

import numpy as np
import pytest

from slimlib.errors import RecipeError
from slimlib.ops.distill import project_to_width
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.recipe import FORMAT, Recipe

from conftest import build_tiny_model


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_projection_keeps_unit_rows_and_the_main_directions():
    rng = np.random.default_rng(0)
    wide = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 16))  # rank 3 in 16 dims
    wide /= np.linalg.norm(wide, axis=1, keepdims=True)
    narrow = project_to_width(wide.astype(np.float32), 4)
    assert narrow.shape == (200, 4)
    np.testing.assert_allclose(np.linalg.norm(narrow, axis=1), 1.0, atol=1e-5)
    # rank-3 data: 4 directions keep every pairwise cosine
    np.testing.assert_allclose(narrow @ narrow.T, wide @ wide.T, atol=1e-4)
    with pytest.raises(ValueError, match="wider than the teacher"):
        project_to_width(narrow, 8)


def test_a_wider_teacher_teaches_through_the_projection(tiny_bert, tmp_path, fresh_cache):
    teacher = build_tiny_model(tmp_path / "wide", "bert", hidden=96, heads=4, intermediate=128, seed=1)
    recipe = Recipe.from_dict({"format": FORMAT, "base_model": tiny_bert.path, "steps": [
        {"op": "distill", "steps": 3, "batch_size": 8, "teacher": str(teacher)}]})
    compressed = apply_recipe(recipe, tiny_bert)
    assert any("96-dim embeddings projected onto the student's 64 dims" in n for n in compressed.notes), compressed.notes
    assert compressed.recipe.steps[0].teacher == str(teacher)


def test_a_missing_teacher_names_the_field(tiny_bert, tmp_path):
    recipe = Recipe.from_dict({"format": FORMAT, "base_model": tiny_bert.path, "steps": [
        {"op": "distill", "steps": 3, "teacher": str(tmp_path / "nope")}]})
    with pytest.raises(RecipeError, match=r"steps\[0\]\.teacher: .*nope: folder not found"):
        apply_recipe(recipe, tiny_bert)

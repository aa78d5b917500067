"""distill learns from another teacher: a wider one through a projection, either PCA of the teacher's
embeddings onto the student's width or a Dense layer the student learns onto the teacher's width."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense

from slimlib.data.corpus import project_sentences
from slimlib.errors import RecipeError
from slimlib.measure import metrics as measure
from slimlib.model.base import load_base
from slimlib.ops import training
from slimlib.ops.distill import project_to_width
from slimlib.ops.pipeline import apply_recipe, prepare
from slimlib.ops.recipe import FORMAT, Recipe, make_step

from helpers import SAMPLE_SENTENCES, build_tiny_model, dense_distill

pytestmark = pytest.mark.slow  # every test here trains (seconds each on the tiny models)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _recipe(base, *steps):
    return Recipe.from_dict({"format": FORMAT, "base_model": base.path, "steps": list(steps)})


def _losses(notes):
    note = next(n for n in notes if n.startswith("distill: ") and " steps on " in n)
    return [float(x) for x in note.split("loss ")[1].split(" in ")[0].split(" -> ")]


def _kinds(st_model):
    return [type(m).__name__ for m in st_model]


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


def test_dense_projection_learns_the_teachers_width_and_saves_as_a_plain_model(
        normalized_student, wide_teacher, tmp_path, fresh_cache):
    compressed = apply_recipe(_recipe(normalized_student, dense_distill(wide_teacher)), normalized_student)
    model = compressed.st_model
    assert _kinds(model) == ["Transformer", "Pooling", "Dense", "Normalize"]
    dense = model[2]
    assert (dense.in_features, dense.out_features) == (64, 96)
    assert isinstance(dense.activation_function, torch.nn.Identity)  # Dense's default would be Tanh
    assert model.get_embedding_dimension() == 96
    assert any("Dense projection 64 -> 96 was learned and saved with the model" in n for n in compressed.notes)
    assert not any("projected onto the student's" in n for n in compressed.notes)  # no PCA as well
    first, last = _losses(compressed.notes)
    assert last < first
    assert not any(p.requires_grad for p in model.parameters())  # frozen again, like the rest of the copy

    # The Dense was trained with the encoder: it moved away from its least-squares start.
    sentences = list(project_sentences())
    targets = training.teacher_embeddings(load_base(str(wide_teacher)).model, sentences, 32)
    start = training.fit_projection(prepare(normalized_student), sentences, targets, 32)
    assert not torch.equal(start.linear.weight, dense.linear.weight)

    embeddings = measure.encode(model, SAMPLE_SENTENCES)
    assert embeddings.shape == (len(SAMPLE_SENTENCES), 96)
    folder = compressed.save(tmp_path / "out")
    # A Dense module is ordinary sentence-transformers: the encoder still saves as a standard BERT.
    assert json.loads((folder / "config.json").read_text(encoding="utf-8"))["model_type"] == "bert"
    reloaded = SentenceTransformer(str(folder), device="cpu")
    assert _kinds(reloaded) == _kinds(model)
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), embeddings, atol=1e-5)


def test_dense_projection_cache_hit_reproduces_the_model(normalized_student, wide_teacher, fresh_cache):
    recipe = _recipe(normalized_student, dense_distill(wide_teacher, steps=5))
    trained = apply_recipe(recipe, normalized_student)
    (entry,) = (fresh_cache / "cache" / "distilled").iterdir()
    assert (entry / "projection" / "config.json").is_file()
    hit = apply_recipe(recipe, normalized_student)
    assert any("loaded from the cache" in n for n in hit.notes), hit.notes
    assert any("Dense projection 64 -> 96" in n for n in hit.notes)
    assert _kinds(hit.st_model) == ["Transformer", "Pooling", "Dense", "Normalize"]
    assert isinstance(hit.st_model[2].activation_function, torch.nn.Identity)
    np.testing.assert_array_equal(measure.encode(hit.st_model, SAMPLE_SENTENCES),
                                  measure.encode(trained.st_model, SAMPLE_SENTENCES))


def test_an_unknown_projection_names_the_field_and_the_choices(tiny_bert):
    with pytest.raises(RecipeError, match=r"steps\[0\]\.projection: 'linear' is not one of 'pca', 'dense'"):
        _recipe(tiny_bert, {"op": "distill", "projection": "linear"})


def test_pca_is_the_default_and_leaves_recipes_as_they_were():
    # Left out at its default: recipes (and the trained-weights cache keys hashed from them) written
    # before the setting existed keep their keys; "dense" is part of both.
    assert make_step("distill").projection == "pca"
    assert make_step("distill", projection="pca").to_dict() == make_step("distill").to_dict()
    assert "projection" not in make_step("distill").to_dict()
    assert make_step("distill", projection="dense").to_dict()["projection"] == "dense"


def test_a_projection_goes_at_the_end_of_a_model_without_normalize(tiny_bert):
    model = copy.deepcopy(tiny_bert.model)
    model.module_kwargs = {"1": ["some_kwarg"]}
    training.insert_projection(model, Dense(64, 96, activation_function=torch.nn.Identity()))
    assert _kinds(model) == ["Transformer", "Pooling", "Dense"]
    assert list(model._modules) == ["0", "1", "2"]
    assert model.module_kwargs == {"1": ["some_kwarg"]}
    assert measure.encode(model, SAMPLE_SENTENCES).shape == (len(SAMPLE_SENTENCES), 96)


def _own_embeddings(st_model, sentences):
    """The student's embedding before its Dense projection (the pooled vector)."""
    with torch.no_grad():
        return training.embed_with_own(st_model, sentences, 32, st_model[2])[0].numpy()


def test_base_weight_keeps_the_students_own_embedding_near_the_base(normalized_student, wide_teacher, fresh_cache):
    sentences = list(project_sentences())
    base = training.teacher_embeddings(normalized_student.model, sentences, 32)
    steps = dense_distill(wide_teacher, steps=30, lr=3e-3)

    def distance_to_base(model):
        return float(np.mean(np.sum((_own_embeddings(model, sentences) - base) ** 2, axis=1)))

    alone = apply_recipe(_recipe(normalized_student, steps), normalized_student)
    anchored = apply_recipe(_recipe(normalized_student, {**steps, "base_weight": 5.0}), normalized_student)
    assert any("also learns the base's (weight 5) before the projection" in n for n in anchored.notes)
    assert not any("also learns the base's" in n for n in alone.notes)
    assert distance_to_base(anchored.st_model) < 0.5 * distance_to_base(alone.st_model)
    assert anchored.st_model.get_embedding_dimension() == 96  # the output is still the teacher's width


def test_base_weight_needs_another_teacher_and_is_left_out_at_zero(tiny_bert):
    with pytest.raises(RecipeError, match=r"steps\[0\]\.base_weight: only applies with a teacher other than the base"):
        _recipe(tiny_bert, {"op": "distill", "base_weight": 1.0})
    with pytest.raises(RecipeError, match=r"steps\[0\]\.base_weight: expected a weight from 0 to 100, got -1"):
        _recipe(tiny_bert, {"op": "distill", "teacher": "x", "base_weight": -1})
    assert "base_weight" not in make_step("distill").to_dict()


# The similarity loss: the student learns the teacher's cosines between sentences, at its own width.

def _similarities(vectors: np.ndarray) -> np.ndarray:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit @ unit.T


def test_the_similarity_loss_compares_cosines_across_widths():
    rng = np.random.default_rng(0)
    narrow = torch.from_numpy(rng.normal(size=(8, 4)))
    rotation, _ = torch.linalg.qr(torch.from_numpy(rng.normal(size=(6, 6))))
    wide = torch.cat([narrow, torch.zeros(8, 2, dtype=narrow.dtype)], dim=1) @ rotation  # same cosines, 6 dims
    assert float(training.embedding_loss(narrow, 3.0 * wide, "similarity")) == pytest.approx(0.0, abs=1e-12)
    other = torch.from_numpy(rng.normal(size=(8, 6)))
    expected = np.mean((_similarities(narrow.numpy()) - _similarities(other.numpy())) ** 2) * training.SIMILARITY_SCALE
    assert float(training.embedding_loss(narrow, other, "similarity")) == pytest.approx(expected)


@pytest.fixture(scope="module")
def steady_student(tmp_path_factory):
    """A tiny normalized BERT without dropout. With dropout, a random 64-wide model's similarities
    under training differ more from its eval-mode ones than from the teacher's, and what the
    training learns first is robustness to the dropout (MiniLM's do not: README, Distillation)."""
    from sentence_transformers.sentence_transformer.modules import Normalize

    folder = build_tiny_model(tmp_path_factory.mktemp("steady"), "bert", dropout=0.0)
    model = SentenceTransformer(str(folder), device="cpu")
    model.append(Normalize())
    model.save(str(folder))
    return load_base(str(folder))


def test_a_wider_teacher_teaches_its_similarities_without_a_projection(steady_student, wide_teacher, fresh_cache):
    sentences = list(project_sentences())
    wanted = _similarities(training.teacher_embeddings(load_base(str(wide_teacher)).model, sentences, 32))
    pairs = np.triu_indices(len(sentences), 1)

    def match(model):
        """(mean squared difference, correlation) of the model's cosines and the teacher's, every pair."""
        own = _similarities(measure.encode(model, sentences))
        return float(np.mean((own - wanted) ** 2)), float(np.corrcoef(own[pairs], wanted[pairs])[0, 1])

    step = {**dense_distill(wide_teacher, steps=60), "loss": "similarity"}
    del step["projection"]
    compressed = apply_recipe(_recipe(steady_student, step), steady_student)
    assert any("learns the 96-dim teacher's similarities between sentences at its own 64 dims" in n
               for n in compressed.notes), compressed.notes
    assert _kinds(compressed.st_model) == ["Transformer", "Pooling", "Normalize"]  # no projection, same width
    assert compressed.st_model.get_embedding_dimension() == 64
    first, last = _losses(compressed.notes)
    assert last < first
    (error_before, agreement_before), (error_after, agreement_after) = match(steady_student.model), match(compressed.st_model)
    assert error_after < 0.9 * error_before
    assert agreement_after > agreement_before + 0.05


def test_with_similarities_the_base_is_still_matched_point_by_point(normalized_student, wide_teacher, fresh_cache):
    # Matching the base's similarities alone would let the student's embedding rotate away from the base's.
    sentences = list(project_sentences())
    base = training.teacher_embeddings(normalized_student.model, sentences, 32)
    step = {**dense_distill(wide_teacher, steps=30, lr=3e-3), "loss": "similarity"}
    del step["projection"]

    def distance_to_base(model):
        return float(np.mean(np.sum((training.teacher_embeddings(model, sentences, 32) - base) ** 2, axis=1)))

    alone = apply_recipe(_recipe(normalized_student, step), normalized_student)
    anchored = apply_recipe(_recipe(normalized_student, {**step, "base_weight": 5.0}), normalized_student)
    assert any("also learns the base's (weight 5)" in n for n in anchored.notes)
    assert distance_to_base(anchored.st_model) < 0.5 * distance_to_base(alone.st_model)


def test_a_projection_with_the_similarity_loss_names_the_field(tiny_bert):
    with pytest.raises(RecipeError, match=r"steps\[0\]\.projection: 'dense' does not apply with loss \"similarity\""):
        _recipe(tiny_bert, {"op": "distill", "teacher": "x", "loss": "similarity", "projection": "dense"})
    with pytest.raises(RecipeError, match=r"steps\[0\]\.loss: 'kl' is not one of .*'similarity'"):
        _recipe(tiny_bert, {"op": "distill", "loss": "kl"})

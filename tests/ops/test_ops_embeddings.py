"""factorize_embeddings: the word-embedding table as (vocab x r)(r x hidden)."""
import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from torch import nn

import slimlib  # noqa: F401  registers the model type
from slimlib.measure import metrics as measure
from slimlib.model.architectures import get_module
from slimlib.model.modules import FactorizedEmbedding
from slimlib.ops.factorize_embeddings import factorize_embedding
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.recipe import FORMAT, Recipe

from helpers import SAMPLE_SENTENCES

VOCAB, HIDDEN = 30522, 64  # the tiny fixtures' sizes


def recipe_for(base, *steps):
    return Recipe.from_dict({"format": FORMAT, "base_model": base.path, "steps": list(steps)})


def test_factorization_is_the_best_rank_r_approximation():
    torch.manual_seed(0)
    embedding = nn.Embedding(50, 12, padding_idx=0)
    factorized, energy = factorize_embedding(embedding, 5)
    u, s, vh = torch.linalg.svd(embedding.weight.detach().double(), full_matrices=False)
    best = (u[:, :5] * s[:5]) @ vh[:5]
    torch.testing.assert_close(factorized.weight.double(), best, atol=1e-5, rtol=1e-5)
    assert energy == pytest.approx(float((s[:5] ** 2).sum() / (s ** 2).sum()))
    ids = torch.tensor([[0, 3, 49]])
    torch.testing.assert_close(factorized(ids), factorized.weight[ids])
    assert factorized.padding_idx == 0


def test_full_rank_factorization_is_exact():
    torch.manual_seed(0)
    embedding = nn.Embedding(40, 8)
    factorized, energy = factorize_embedding(embedding, 8)
    torch.testing.assert_close(factorized.weight, embedding.weight, atol=1e-5, rtol=1e-5)
    assert energy == pytest.approx(1.0)


def test_parameter_count_forward_and_roundtrip(tiny, tmp_path):
    rank = 16
    compressed = apply_recipe(recipe_for(tiny, {"op": "factorize_embeddings", "rank": rank}), tiny)
    word = get_module(compressed.st_model[0].model.inner, tiny.arch.word_embeddings)
    assert isinstance(word, FactorizedEmbedding) and word.table.weight.shape == (VOCAB, rank)
    expected = measure.count_params(tiny.model) - VOCAB * HIDDEN + rank * (VOCAB + HIDDEN)
    assert measure.count_params(compressed.st_model) == expected
    before = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    assert np.isfinite(before).all()
    assert any("factorize_embeddings" in n and "energy kept" in n for n in compressed.notes)
    folder = compressed.save(tmp_path / "out")
    reloaded = SentenceTransformer(str(folder), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), before, atol=1e-5)
    assert measure.artifact_size(compressed.st_model) < measure.artifact_size(tiny.model)


def test_rank_must_be_below_hidden(tiny_bert):
    with pytest.raises(slimlib.RecipeError, match=r"steps\[0\]\.rank: 64 must be below the hidden size 64"):
        apply_recipe(recipe_for(tiny_bert, {"op": "factorize_embeddings", "rank": 64}), tiny_bert)


def test_twice_is_a_clear_error(tiny_bert):
    recipe = recipe_for(tiny_bert, {"op": "factorize_embeddings", "rank": 16}, {"op": "factorize_embeddings", "rank": 8})
    with pytest.raises(slimlib.RecipeError, match=r"steps\[1\]\.rank: .*already a FactorizedEmbedding"):
        apply_recipe(recipe, tiny_bert)


def test_minilm_rank_128_roundtrip(minilm, tmp_path):
    compressed = apply_recipe(recipe_for(minilm, {"op": "factorize_embeddings", "rank": 128}), minilm)
    expected = measure.count_params(minilm.model) - 30522 * 384 + 128 * (30522 + 384)
    assert measure.count_params(compressed.st_model) == expected
    before = measure.encode(compressed.st_model, SAMPLE_SENTENCES)
    reloaded = SentenceTransformer(str(compressed.save(tmp_path / "out")), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), before, atol=1e-5)

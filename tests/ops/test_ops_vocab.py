"""trim_vocab: keep the tokens a corpus needs; covered text must encode identically."""
from collections import Counter

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

import slimlib  # noqa: F401  registers the model type
from slimlib.measure import metrics as measure
from slimlib.model.architectures import get_module
from slimlib.data.corpus import project_sentences
from slimlib.model.modules import FactorizedEmbedding, LowRankLinear
from slimlib.ops.trim_vocab import BudgetTooSmall, choose_tokens, remap_tokenizer_json
from slimlib.ops.pipeline import apply_recipe
from slimlib.ops.recipe import FORMAT, Recipe

from helpers import SAMPLE_SENTENCES

UNCOVERED = ["Zyxquv blorfed the qwertyish 東京 naïve café.", "Ünïcödé ✓ emoji 🙂 and unknownwordsmithery"]


def recipe_for(base, *steps):
    return Recipe.from_dict({"format": FORMAT, "base_model": base.path, "steps": list(steps)})


@pytest.fixture
def sample_corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(SAMPLE_SENTENCES) + "\n", encoding="utf-8")
    return path


# Pure logic ---------------------------------------------------------------------------------------
TOY_VOCAB = {"[PAD]": 0, "[unused0]": 1, "[UNK]": 2, "[CLS]": 3, "[SEP]": 4, "a": 5, "##b": 6, "the": 7,
             "cat": 8, "dog": 9, "東": 10, "house": 11}


def test_choose_tokens_priorities():
    # protected ids, corpus ids, then Latin single characters, then vocab order without [unused].
    kept = choose_tokens(TOY_VOCAB, {0, 2, 3, 4}, Counter({9: 3}), max_tokens=8)
    assert kept == [0, 2, 3, 4, 5, 6, 7, 9]
    assert 1 not in choose_tokens(TOY_VOCAB, {0}, Counter(), max_tokens=11)


def test_choose_tokens_budget_too_small():
    with pytest.raises(BudgetTooSmall) as info:
        choose_tokens(TOY_VOCAB, {0, 2, 3, 4}, Counter({8: 1, 9: 1}), max_tokens=5)
    assert info.value.needed == 6


def test_remap_tokenizer_json():
    data = {
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": dict(TOY_VOCAB)},
        "added_tokens": [{"id": 3, "content": "[CLS]"}],
        "padding": {"pad_id": 0},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "TemplateProcessing", "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [3], "tokens": ["[CLS]"]}}},
            {"type": "BertProcessing", "sep": ["[SEP]", 4], "cls": ["[CLS]", 3]},
        ]},
    }
    new_id = {0: 0, 3: 1, 4: 2, 8: 3}
    out = remap_tokenizer_json(data, new_id)
    assert out["model"]["vocab"] == {"[PAD]": 0, "[CLS]": 1, "[SEP]": 2, "cat": 3}
    assert out["added_tokens"] == [{"id": 1, "content": "[CLS]"}]
    assert out["post_processor"]["processors"][0]["special_tokens"]["[CLS]"]["ids"] == [1]
    assert out["post_processor"]["processors"][1]["sep"] == ["[SEP]", 2]
    assert data["model"]["vocab"]["cat"] == 8  # the input is not modified


# The op -------------------------------------------------------------------------------------------
def test_covered_text_identical_and_roundtrip(tiny, sample_corpus, tmp_path):
    compressed = apply_recipe(recipe_for(tiny, {"op": "trim_vocab", "corpus": str(sample_corpus), "max_tokens": 300}), tiny)
    model = compressed.st_model
    assert model[0].tokenizer.backend_tokenizer.get_vocab_size() == 300
    assert get_module(model[0].model.inner, tiny.arch.word_embeddings).num_embeddings == 300
    assert model.max_seq_length == tiny.model.max_seq_length
    original = measure.encode(tiny.model, SAMPLE_SENTENCES)
    trimmed = measure.encode(model, SAMPLE_SENTENCES)
    np.testing.assert_allclose(trimmed, original, atol=1e-5)
    hidden = model[0].model.inner.config.hidden_size
    assert measure.count_params(model) == measure.count_params(tiny.model) - (30522 - 300) * hidden
    uncovered = measure.encode(model, UNCOVERED)  # falls back to characters / [UNK] without crashing
    assert np.isfinite(uncovered).all()

    folder = compressed.save(tmp_path / "out")
    reloaded = SentenceTransformer(str(folder), device="cpu")
    assert reloaded[0].tokenizer.backend_tokenizer.get_vocab_size() == 300
    assert reloaded.max_seq_length == model.max_seq_length
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), original, atol=1e-5)
    np.testing.assert_allclose(measure.encode(reloaded, UNCOVERED), uncovered, atol=1e-5)
    assert measure.artifact_size(model) < measure.artifact_size(tiny.model) / 2


def test_special_tokens_keep_working(tiny_bert, sample_corpus):
    compressed = apply_recipe(recipe_for(tiny_bert, {"op": "trim_vocab", "corpus": str(sample_corpus), "max_tokens": 300}), tiny_bert)
    old, new = tiny_bert.model[0].tokenizer, compressed.st_model[0].tokenizer
    for name in ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"):
        assert new.convert_ids_to_tokens(getattr(new, name + "_id")) == getattr(old, name)
    ids = new("the cat")["input_ids"]
    assert new.convert_ids_to_tokens(ids) == ["[CLS]", "the", "cat", "[SEP]"]
    assert compressed.st_model[0].model.inner.config.pad_token_id == new.pad_token_id


def test_missing_corpus_file_names_the_field(tiny_bert, tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(slimlib.RecipeError, match=r"steps\[0\]\.corpus: .*nope\.txt: sentence file not found"):
        apply_recipe(recipe_for(tiny_bert, {"op": "trim_vocab", "corpus": str(missing)}), tiny_bert)


def test_budget_too_small_names_the_field(tiny_bert):
    with pytest.raises(slimlib.RecipeError, match=r"steps\[0\]\.max_tokens: 1000 is too small: .* at least \d+"):
        apply_recipe(recipe_for(tiny_bert, {"op": "trim_vocab", "max_tokens": 1000}), tiny_bert)


def test_minilm_default_corpus_identical(minilm, tmp_path):
    compressed = apply_recipe(recipe_for(minilm, {"op": "trim_vocab", "max_tokens": 8000}), minilm)
    sentences = list(project_sentences())[:200]
    original = measure.encode(minilm.model, sentences)
    np.testing.assert_allclose(measure.encode(compressed.st_model, sentences), original, atol=1e-5)
    assert measure.count_params(compressed.st_model) == measure.count_params(minilm.model) - (30522 - 8000) * 384
    reloaded = SentenceTransformer(str(compressed.save(tmp_path / "out")), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, sentences[:40]), original[:40], atol=1e-5)


def test_minilm_stack_roundtrip(minilm, tmp_path):
    recipe = recipe_for(minilm, {"op": "trim_vocab", "max_tokens": 8000},
                        {"op": "low_rank", "rank": 128, "targets": ["ffn_in", "ffn_out"]},
                        {"op": "factorize_embeddings", "rank": 128})
    compressed = apply_recipe(recipe, minilm)
    model = compressed.st_model
    assert isinstance(get_module(model[0].model.inner, minilm.arch.word_embeddings), FactorizedEmbedding)
    assert sum(isinstance(m, LowRankLinear) for m in model.modules()) == 12
    saved_ffn = 6 * 2 * (384 * 1536 - 128 * (384 + 1536))
    expected = measure.count_params(minilm.model) - 30522 * 384 + 128 * (8000 + 384) - saved_ffn
    assert measure.count_params(model) == expected
    before = measure.encode(model, SAMPLE_SENTENCES + UNCOVERED)
    reloaded = SentenceTransformer(str(compressed.save(tmp_path / "out")), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES + UNCOVERED), before, atol=1e-5)


def test_trim_after_factorize_keeps_rows(tiny_bert, sample_corpus):
    recipe = recipe_for(tiny_bert, {"op": "factorize_embeddings", "rank": 16},
                        {"op": "trim_vocab", "corpus": str(sample_corpus), "max_tokens": 300})
    factorized_only = apply_recipe(recipe_for(tiny_bert, {"op": "factorize_embeddings", "rank": 16}), tiny_bert)
    compressed = apply_recipe(recipe, tiny_bert)
    np.testing.assert_allclose(measure.encode(compressed.st_model, SAMPLE_SENTENCES),
                               measure.encode(factorized_only.st_model, SAMPLE_SENTENCES), atol=1e-5)
    assert torch.is_tensor(get_module(compressed.st_model[0].model.inner, "embeddings.word_embeddings").weight)

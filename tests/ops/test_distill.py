"""distill: recovers a damaged student, is deterministic, cached exactly, stoppable, and refuses what it
cannot train."""
import warnings

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

import slimlib  # noqa: F401  registers the model type
from slimlib.ops import training as distillation
from slimlib.measure import metrics as measure
from slimlib.data.corpus import project_sentences, sentences_hash
from slimlib.errors import Cancelled, RecipeError
from slimlib.ops.distill import distill
from slimlib.ops.pipeline import OpContext, apply_recipe, prepare
from slimlib.ops.recipe import Recipe, make_step

from helpers import SAMPLE_SENTENCES

pytestmark = pytest.mark.slow  # every test here trains (seconds each on the tiny models)

# Small and quick on the tiny models; enough steps for the loss to move clearly.
FAST = dict(steps=40, lr=1e-3, batch_size=16, max_seq_length=32)
DAMAGE = {"op": "share_layers", "groups": [[0, 1, 2]], "init": "first"}


def _recipe(base, *steps):
    return Recipe.from_dict({"format": slimlib.FORMAT, "base_model": base.path, "steps": list(steps)})


def _distill(**overrides):
    return {"op": "distill", **FAST, **overrides}


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """A data dir of its own, so a test trains instead of hitting another test's cache."""
    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _state(st_model):
    return {k: v.detach().clone() for k, v in st_model.state_dict().items()}


def _damaged_context(base, seed=0):
    """An op context whose encoder weights carry strong seeded noise: a student that needs recovery."""
    ctx = OpContext(base=base, st_model=prepare(base), progress=lambda m, f: None, should_stop=lambda: False)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in ctx.inner.encoder.named_parameters():
            if name.endswith("weight") and param.dim() == 2:
                param.add_(torch.randn(param.shape, generator=generator) * param.std() * 2)
    return ctx


def test_distillation_recovers_a_damaged_student(tiny, fresh_cache):
    sentences = list(project_sentences())[:200]
    teacher = measure.encode(tiny.model, sentences)
    ctx = _damaged_context(tiny)
    before = measure.fidelity(teacher, measure.encode(ctx.st_model, sentences))["fidelity_cosine"]
    distill(ctx, make_step("distill", **{**FAST, "steps": 30}))
    after = measure.fidelity(teacher, measure.encode(ctx.st_model, sentences))["fidelity_cosine"]
    assert after > before
    note = next(n for n in ctx.notes if n.startswith("distill: 30 steps"))
    first, last = (float(x) for x in note.split("loss ")[1].split(" in ")[0].split(" -> "))
    assert last < first


def test_same_seed_trains_identical_weights(tiny_bert, tmp_path, monkeypatch):
    states = []
    for run in range(2):
        monkeypatch.setenv("SLIMLIB_DATA_DIR", str(tmp_path / f"run{run}"))
        states.append(_state(apply_recipe(_recipe(tiny_bert, DAMAGE, _distill(steps=10)), tiny_bert).st_model))
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    monkeypatch.setenv("SLIMLIB_DATA_DIR", str(tmp_path / "other-seed"))
    other = _state(apply_recipe(_recipe(tiny_bert, DAMAGE, _distill(steps=10, seed=1)), tiny_bert).st_model)
    assert not all(torch.equal(states[0][k], other[k]) for k in other)


def test_cache_hit_gives_identical_embeddings_and_exact_roundtrip(tiny, fresh_cache, tmp_path):
    recipe = _recipe(tiny, DAMAGE, _distill(steps=10))
    trained = apply_recipe(recipe, tiny)
    assert len(list((fresh_cache / "cache" / "distilled").iterdir())) == 1
    assert len(list((fresh_cache / "cache" / "teacher").glob("*.npy"))) == 1
    hit = apply_recipe(recipe, tiny)
    assert any("loaded from the cache" in n and "trained in" in n for n in hit.notes), hit.notes
    fresh = measure.encode(trained.st_model, SAMPLE_SENTENCES)
    np.testing.assert_array_equal(measure.encode(hit.st_model, SAMPLE_SENTENCES), fresh)

    # The recipe records the corpus hash, and the trained weights are what gets exported.
    applied = trained.recipe.steps[1]
    assert applied.corpus_sha256 == sentences_hash(list(project_sentences()))
    folder = trained.save(tmp_path / "out")
    assert Recipe.load(folder / "slimlib_recipe.json").steps[1].corpus_sha256 == applied.corpus_sha256
    reloaded = SentenceTransformer(str(folder), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), fresh, atol=1e-5)


def test_training_moves_the_encoder_but_not_the_word_table(tiny_bert, fresh_cache):
    compressed = apply_recipe(_recipe(tiny_bert, _distill(steps=5, lr=1e-2)), tiny_bert)
    before = tiny_bert.model[0].auto_model.state_dict()
    after = compressed.st_model[0].model.inner.state_dict()
    assert not torch.equal(after["encoder.layer.0.attention.self.query.weight"],
                           before["encoder.layer.0.attention.self.query.weight"])
    assert torch.equal(after["embeddings.word_embeddings.weight"], before["embeddings.word_embeddings.weight"])
    assert not any(p.requires_grad for p in compressed.st_model.parameters())
    assert not compressed.st_model.training


def test_stop_raises_cancelled_and_leaves_the_base_untouched(tiny_bert, fresh_cache):
    before = _state(tiny_bert.model)
    calls = {"n": 0}

    def stop_midway():
        calls["n"] += 1
        return calls["n"] > 20  # a few training steps in

    with pytest.raises(Cancelled):
        apply_recipe(_recipe(tiny_bert, DAMAGE, _distill(steps=200)), tiny_bert, should_stop=stop_midway)
    after = tiny_bert.model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())
    assert not any(p.requires_grad for p in tiny_bert.model.parameters())
    assert not (fresh_cache / "cache" / "distilled").exists() or not any((fresh_cache / "cache" / "distilled").iterdir())


def test_missing_corpus_file_names_the_field(tiny_bert, tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(RecipeError, match=rf"steps\[0\]\.corpus: {missing}: sentence file not found"):
        apply_recipe(_recipe(tiny_bert, _distill(corpus=str(missing))), tiny_bert)


def test_empty_corpus_file_names_the_field(tiny_bert, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(RecipeError, match=r"steps\[0\]\.corpus: .*empty.txt: contains no sentences"):
        apply_recipe(_recipe(tiny_bert, _distill(corpus=str(empty))), tiny_bert)


def test_pair_file_corpus_uses_its_sentences(tiny_bert, stsb_dev_small, fresh_cache):
    compressed = apply_recipe(_recipe(tiny_bert, _distill(steps=2, corpus=str(stsb_dev_small))), tiny_bert)
    sentences = slimlib.data.corpus.load_sentences(str(stsb_dev_small))
    assert compressed.recipe.steps[0].corpus_sha256 == sentences_hash(sentences)


def test_untrainable_weights_are_rejected_naming_the_step(tiny_bert):
    ctx = OpContext(base=tiny_bert, st_model=prepare(tiny_bert), progress=lambda m, f: None, should_stop=lambda: False)
    ctx.st_model.to(torch.bfloat16)
    step = make_step("distill", **FAST)
    step.where = "steps[2]"
    with pytest.raises(RecipeError, match=r"steps\[2\]\.op: .*bfloat16.*put distill before quantize"):
        distill(ctx, step)
    ctx.slim.config.backend = "onnx"
    with pytest.raises(RecipeError, match=r"steps\[2\]\.op: the model is already a onnx graph"):
        distill(ctx, step)


def test_distill_after_int8_quantize_is_rejected(tiny_bert):
    recipe = _recipe(tiny_bert, {"op": "quantize", "bits": 8}, _distill())
    # The recipe check refuses any step after quantize before the op gets to run.
    with pytest.raises(RecipeError, match=r"steps\[1\]\.op: distill cannot follow quantize \(steps\[0\]\); quantize must be the last step"):
        apply_recipe(recipe, tiny_bert)


def test_quantize_after_distill_works(tiny_bert, fresh_cache, tmp_path):
    distilled = apply_recipe(_recipe(tiny_bert, DAMAGE, _distill(steps=10)), tiny_bert)
    quantized = apply_recipe(_recipe(tiny_bert, DAMAGE, _distill(steps=10), {"op": "quantize", "bits": 8}), tiny_bert)
    a = measure.encode(distilled.st_model, SAMPLE_SENTENCES)
    b = measure.encode(quantized.st_model, SAMPLE_SENTENCES)
    assert float(np.mean(measure.cosine_rows(a, b))) > 0.98
    folder = quantized.save(tmp_path / "q")
    reloaded = SentenceTransformer(str(folder), device="cpu")
    np.testing.assert_allclose(measure.encode(reloaded, SAMPLE_SENTENCES), b, atol=1e-4)


def test_corrupt_teacher_cache_is_recomputed_with_a_warning(tiny_bert, tmp_path):
    sentences = SAMPLE_SENTENCES
    expected = distillation.teacher_embeddings(tiny_bert.model, sentences, 32)
    (tmp_path / "key.npy").write_bytes(b"not an npy file")
    with pytest.warns(UserWarning, match="corrupt teacher-embedding cache"):
        got = distillation.cached_teacher_embeddings(tiny_bert.model, sentences, 32, tmp_path, "key")
    np.testing.assert_array_equal(got, expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(distillation.cached_teacher_embeddings(tiny_bert.model, sentences, 32, tmp_path, "key"), expected)


def test_teacher_targets_match_the_models_own_embeddings(tiny_bert):
    # No Normalize module in the tiny model: the targets are its ordinary embeddings.
    targets = distillation.teacher_embeddings(tiny_bert.model, SAMPLE_SENTENCES, 64)
    np.testing.assert_allclose(targets, measure.encode(tiny_bert.model, SAMPLE_SENTENCES), atol=1e-5)


def test_batch_order_covers_every_sentence_once_in_length_buckets():
    lengths = [(i * 37) % 101 for i in range(1000)]  # lengths scattered over the corpus
    batches = distillation.batch_order(lengths, 10, torch.Generator().manual_seed(3))
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(1000))  # one epoch: every sentence exactly once
    assert all(len(batch) == 10 for batch in batches)
    # Bucketed: a batch's length spread is far below that of a random batch (padding saved).
    spread = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches])
    assert spread < 15, spread
    # Still shuffled: the batch order is not sorted by length, and the seed decides it.
    firsts = [lengths[b[0]] for b in batches]
    assert firsts != sorted(firsts)
    again = distillation.batch_order(lengths, 10, torch.Generator().manual_seed(3))
    other = distillation.batch_order(lengths, 10, torch.Generator().manual_seed(4))
    assert again == batches and other != batches

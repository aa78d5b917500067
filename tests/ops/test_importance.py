"""Importance scores: shapes, the disk cache (and its corruption), hooks never on the base."""
import copy
import threading
import time

import numpy as np
import pytest
import torch

from slimlib.ops import importance
from slimlib.model import parts


def test_shapes_for_the_heatmap_and_ops(tiny):
    heads = importance.head_importance(tiny, "taylor")
    layers = importance.layer_importance(tiny, "taylor")
    ffn = importance.ffn_importance(tiny, "taylor")
    assert heads.shape == (3, 4) and layers.shape == (3,) and ffn.shape == (3, 128)
    for scores in (heads, layers, ffn):
        assert np.all(np.isfinite(scores)) and np.all(scores >= 0)
    assert importance.head_importance(tiny, "magnitude").shape == (3, 4)


def test_scores_are_cached_on_disk_and_reused(tiny_bert, monkeypatch):
    first = importance.head_importance(tiny_bert, "magnitude")
    assert importance.cache_path(tiny_bert, "magnitude").is_file()

    def must_not_run(*_args, **_kwargs):
        raise AssertionError("recomputed although the cache is valid")

    monkeypatch.setattr(importance, "compute_scores", must_not_run)
    np.testing.assert_array_equal(importance.head_importance(tiny_bert, "magnitude"), first)


@pytest.mark.parametrize("damage", [b"not a zip file", b"PK\x03\x04 truncated"])
def test_corrupted_cache_warns_and_recomputes(tiny_bert, damage):
    expected = importance.ffn_importance(tiny_bert, "magnitude")
    path = importance.cache_path(tiny_bert, "magnitude")
    path.write_bytes(damage)
    with pytest.warns(UserWarning, match="corrupted"):
        again = importance.ffn_importance(tiny_bert, "magnitude")
    np.testing.assert_allclose(again, expected)
    np.testing.assert_allclose(importance.ffn_importance(tiny_bert, "magnitude"), expected)  # rewritten: no warning


def test_sessions_asking_at_once_score_the_base_once_on_a_copy_made_under_its_lock(tiny_bert, monkeypatch):
    importance.cache_path(tiny_bert, "taylor").unlink(missing_ok=True)
    scored_models = []
    real_taylor = importance._taylor

    def counting_taylor(model, *args, **kwargs):
        scored_models.append(model)
        return real_taylor(model, *args, **kwargs)

    monkeypatch.setattr(importance, "_taylor", counting_taylor)
    results = []
    sessions = [threading.Thread(target=lambda: results.append(importance.base_scores(tiny_bert, "taylor")))
                for _ in range(3)]
    with tiny_bert.lock:  # another session is encoding with the shared base model
        for session in sessions:
            session.start()
        time.sleep(0.5)
        assert not scored_models, "the shared base was copied while another session was using it"
    for session in sessions:
        session.join(120)
    assert len(results) == 3 and len(scored_models) == 1
    assert scored_models[0] is not tiny_bert.model
    for other in results[1:]:
        for a, b in zip(results[0].heads, other.heads):
            np.testing.assert_array_equal(a, b)


def test_cache_of_another_shape_is_not_trusted(tiny_bert):
    importance.head_importance(tiny_bert, "magnitude")
    wrong = importance.base_scores(tiny_bert, "magnitude")
    wrong.heads = [h[:2] for h in wrong.heads]
    importance._write(importance.cache_path(tiny_bert, "magnitude"), wrong, {})
    with pytest.warns(UserWarning, match="do not match"):
        assert importance.head_importance(tiny_bert, "magnitude").shape == (3, 4)


def test_scoring_reports_progress_and_leaves_the_base_untouched(tiny_mpnet):
    state = {k: v.clone() for k, v in tiny_mpnet.model.state_dict().items()}
    seen = []
    importance.compute_scores(tiny_mpnet.model, tiny_mpnet.arch, "taylor",
                              progress=lambda message, fraction: seen.append(fraction),
                              sentences=importance.scoring_sentences()[:40])
    assert seen and seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)
    for module in tiny_mpnet.model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
    assert all(torch.equal(v, state[k]) for k, v in tiny_mpnet.model.state_dict().items())


def test_a_silenced_unit_scores_exactly_zero(tiny):
    """A head whose output columns are zero, or a neuron whose output column is zero, cannot move
    the embedding: its Taylor score must be 0 (this checks the masks sit on the right tensors)."""
    model = copy.deepcopy(tiny.model)
    layer = parts.layers_of(parts.encoder_of(model), tiny.arch)[1]
    with torch.no_grad():
        parts.attention_output(layer, tiny.arch).weight[:, 32:48] = 0  # head 2 of 4, head_dim 16
        parts.ffn_out(layer, tiny.arch).weight[:, 5] = 0
    scores = importance.compute_scores(model, tiny.arch, "taylor", sentences=importance.scoring_sentences()[:32])
    assert scores.heads[1][2] == 0 and scores.ffn[1][5] == 0
    assert np.all(np.delete(scores.heads[1], 2) > 0) and scores.ffn[1][6] > 0
    magnitude = importance.compute_scores(model, tiny.arch, "magnitude")
    assert magnitude.heads[1][2] < magnitude.heads[1].max()


def test_taylor_predicts_how_far_removing_a_head_moves_the_embedding(tiny_bert):
    """Ranking check against the real effect: zeroing the top-scored head of a layer moves the
    embedding more than zeroing the lowest-scored one."""
    from slimlib.measure import metrics as measure

    sentences = importance.scoring_sentences()[:64]
    scores = importance.compute_scores(tiny_bert.model, tiny_bert.arch, "taylor", sentences=sentences).heads
    reference = measure.encode(tiny_bert.model, sentences)

    def movement(layer_index: int, head: int) -> float:
        model = copy.deepcopy(tiny_bert.model)
        layer = parts.layers_of(parts.encoder_of(model), tiny_bert.arch)[layer_index]
        with torch.no_grad():
            parts.attention_output(layer, tiny_bert.arch).weight[:, head * 16:(head + 1) * 16] = 0
        return float(np.mean(1 - measure.cosine_rows(reference, measure.encode(model, sentences))))

    wins = sum(movement(i, int(np.argmax(s))) > movement(i, int(np.argmin(s))) for i, s in enumerate(scores))
    assert wins >= 2  # of 3 layers


def test_unknown_method_is_rejected(tiny_bert):
    with pytest.raises(ValueError, match="not one of"):
        importance.head_importance(tiny_bert, "random")


def test_scores_of_an_intermediate_model_are_reused_for_the_same_earlier_steps(tiny_bert, monkeypatch):
    from slimlib.ops.pipeline import apply_recipe
    from slimlib.ops.recipe import Recipe, make_step

    def recipe(dropped: int, ffn_keep: float) -> Recipe:  # layers dropped first: FFN neurons must be rescored
        return Recipe(tiny_bert.path, [make_step("drop_layers", layers=[dropped]), make_step("prune_ffn", keep=ffn_keep)])

    monkeypatch.setattr(importance, "_PREFIX_SCORES", type(importance._PREFIX_SCORES)())  # no earlier test's entries
    scored = []
    real_compute = importance.compute_scores
    monkeypatch.setattr(importance, "compute_scores", lambda *a, **k: scored.append(1) or real_compute(*a, **k))
    first = apply_recipe(recipe(1, 0.5), tiny_bert).st_model
    assert len(scored) == 1  # the two-layer model's FFN neurons
    again = apply_recipe(recipe(1, 0.5), tiny_bert).st_model
    other_keep = apply_recipe(recipe(1, 0.25), tiny_bert).st_model  # same earlier steps: same scores
    assert len(scored) == 1
    for a, b in zip(first.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert sum(p.numel() for p in other_keep.parameters()) < sum(p.numel() for p in first.parameters())
    apply_recipe(recipe(2, 0.5), tiny_bert)  # other earlier steps: another model to score
    assert len(scored) == 2


def test_base_scores_serve_ops_after_steps_that_keep_the_units_in_place(tiny_bert, monkeypatch):
    from slimlib.ops.pipeline import apply_recipe
    from slimlib.ops.recipe import Recipe, make_step

    base = importance.base_scores(tiny_bert, "taylor")

    def must_not_run(*_args, **_kwargs):
        raise AssertionError("rescored although head pruning leaves every FFN neuron in place")

    monkeypatch.setattr(importance, "compute_scores", must_not_run)
    steps = [make_step("prune_heads", per_layer=1), make_step("prune_ffn", keep=0.5)]
    model = apply_recipe(Recipe(tiny_bert.path, steps), tiny_bert).st_model
    pruned_layers = parts.layers_of(parts.encoder_of(model), tiny_bert.arch)
    base_layers = parts.layers_of(parts.encoder_of(tiny_bert.model), tiny_bert.arch)
    for pruned, original, scores in zip(pruned_layers, base_layers, base.ffn):
        kept = np.sort(np.argsort(-scores, kind="stable")[: len(scores) // 2])  # the base's top half
        weight = parts.ffn_in(pruned, tiny_bert.arch).weight
        assert torch.equal(weight, parts.ffn_in(original, tiny_bert.arch).weight[torch.from_numpy(kept)])
    assert importance.base_scores_apply("ffn", ("trim_vocab", "prune_heads"))
    assert not importance.base_scores_apply("ffn", ("drop_layers",))
    assert not importance.base_scores_apply("heads", ("prune_heads",))

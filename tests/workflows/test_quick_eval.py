"""Quick evaluations (the app's live points, `eval --quick`, sweeps): speed paired with the baseline in
the same call, STS on a fixed stratified sample, the same definition for the app and the CLI."""
from __future__ import annotations

import pytest

from slimlib.data.pairs import QUICK_PAIRS, read_pairs, stratified_sample
from slimlib.measure import metrics
from slimlib.ops.recipe import Recipe
from slimlib.workflows.evaluate import EvalOptions, evaluate


class StubTimer:
    """A clock that only moves when a model encodes: `cost` seconds per sentence per model, times a
    machine-wide `load` factor, plus a deterministic spike (other work on a busy machine) on every
    fifth encode. Embeddings are the real ones, so fidelity and STS still compute."""

    def __init__(self, monkeypatch, base_model, compressed_cost: float = 1.0):
        self.now = 0.0
        self.calls = 0
        self.load = 1.0
        self.base_model = base_model
        self.compressed_cost = compressed_cost
        self.timed_base_calls = 0
        real_encode = metrics.encode

        def encode(model, sentences, batch_size=metrics.BATCH_SIZE):
            out = real_encode(model, sentences, batch_size)
            self.calls += 1
            spike = 1.8 if self.calls % 5 == 0 else 1.0
            cost = 1.0 if model is self.base_model else self.compressed_cost
            self.timed_base_calls += model is self.base_model
            self.now += 0.001 * cost * len(list(sentences)) * self.load * spike
            return out

        monkeypatch.setattr(metrics, "clock", lambda: self.now)
        monkeypatch.setattr(metrics, "encode", encode)


@pytest.fixture()
def base(tiny_bert):
    """The tiny BERT as evaluate() loads it. The session fixture's object may have left load_base's small
    cache (other tests load other models), and the stub timer tells the two models apart by identity."""
    from slimlib.model.base import load_base

    return load_base(tiny_bert.path)


def quick_eval(base, steps=()) -> dict:
    return evaluate(Recipe(base.path, list(steps)), EvalOptions(quick=True, threads=1))


def test_empty_recipe_reads_one_and_a_twice_slower_model_half_with_a_stub_timer(base, monkeypatch):
    tiny_bert = base
    timer = StubTimer(monkeypatch, tiny_bert.model)
    first = quick_eval(tiny_bert)
    assert first["ratios"]["speedup"] == pytest.approx(1.0, abs=0.05)
    # The baseline is timed in every call: a machine that got twice as busy since the last call slows
    # both models alike, so the empty recipe still reads 1.00x (a baseline cached from earlier would read 0.5x).
    timer.load = 2.0
    before = timer.timed_base_calls
    second = quick_eval(tiny_bert)
    assert timer.timed_base_calls - before >= metrics.QUICK_ROUNDS  # the baseline ran in this call
    assert second["ratios"]["speedup"] == pytest.approx(1.0, abs=0.05)
    assert second["baseline"]["sentences_per_s"] == pytest.approx(first["baseline"]["sentences_per_s"] / 2, rel=0.05)

    timer.compressed_cost = 2.0  # the compressed model is stubbed to take twice as long per sentence
    slow = quick_eval(tiny_bert)
    assert slow["ratios"]["speedup"] == pytest.approx(0.5, abs=0.025)

    how = slow["measurement"]["speed"]
    assert "interleaved with the baseline in this call" in how
    assert f"{slow['measurement']['speed_sentences']} sentences" in how and f"x {metrics.QUICK_ROUNDS} rounds" in how
    assert slow["measurement"]["speed_runs"] == metrics.QUICK_ROUNDS


def test_paired_throughput_alternates_the_models_and_returns_embeddings_in_order(tiny_bert, monkeypatch):
    order = []
    real_encode = metrics.encode
    monkeypatch.setattr(metrics, "encode", lambda model, s, b=32: order.append(model) or real_encode(model, s, b))
    copy = tiny_bert.fresh_copy()
    sentences = metrics.fidelity_sentences(True)
    timing = metrics.paired_throughput({"baseline": tiny_bert.model, "compressed": copy}, sentences, rounds=2)
    batches = -(-len(sentences) // metrics.BATCH_SIZE)
    assert len(order) == 2 * batches * 2
    firsts = order[::2]
    assert tiny_bert.model in firsts and copy in firsts  # neither model always runs first
    # Same rows as encoding the whole list in one call, in the caller's order.
    whole = real_encode(copy, sentences)
    assert metrics.cosine_rows(whole, timing.embeddings["compressed"]).min() > 0.9999


def test_quick_sts_is_a_stratified_sample_scored_for_both_models(tiny_bert, stsb_dev):
    result = evaluate(Recipe(tiny_bert.path, []), EvalOptions(data=str(stsb_dev), quick=True, threads=1))
    m = result["measurement"]
    assert (m["data_pairs"], m["data_pairs_total"]) == (QUICK_PAIRS, 1500)
    assert "stratified" in m["data_sample"]
    # The baseline is scored on the same sample: the empty recipe keeps 100% of it.
    assert result["compressed"]["sts_spearman"] == pytest.approx(result["baseline"]["sts_spearman"], abs=1e-3)
    full = evaluate(Recipe(tiny_bert.path, []), EvalOptions(data=str(stsb_dev), quick=False, threads=1, speed_runs=1))
    assert (full["measurement"]["data_pairs"], full["measurement"]["data_pairs_total"]) == (1500, 1500)
    assert full["measurement"]["data_sample"] is None


def test_quick_sts_of_minilm_is_close_to_the_full_dev_set(minilm, stsb_dev):
    """The first 100 pairs (all one easy genre) gave 94.33 where all 1,500 give 86.72 (GUIDE.md)."""
    pairs = stratified_sample(read_pairs(stsb_dev), QUICK_PAIRS)
    assert abs(metrics.sts_spearman(minilm.model, pairs) - 86.72) < 2.5


def test_deferred_speed_is_labelled_pending_then_timed_against_the_baseline(base, monkeypatch):
    """The app's live points: stored without speed, then timed in the background by time_quick_speed."""
    from slimlib.ops.pipeline import apply_recipe
    from slimlib.workflows.evaluate import PENDING, speed_pending, time_quick_speed

    tiny_bert = base
    StubTimer(monkeypatch, tiny_bert.model, compressed_cost=2.0)
    recipe = Recipe(tiny_bert.path, [])
    compressed = apply_recipe(recipe, tiny_bert)
    options = EvalOptions(quick=True, threads=1, defer_speed=True)
    pending = evaluate(recipe, options, compressed=compressed)
    assert speed_pending(pending) and pending["labels"]["sentences_per_s"] == PENDING
    assert pending["ratios"]["speedup"] is None and pending["compressed"]["sentences_per_s"] is None
    assert pending["compressed"]["fidelity_cosine"] == pytest.approx(1.0, abs=1e-5)  # measured without the timing

    timed = time_quick_speed(pending, compressed.st_model)
    assert not speed_pending(timed) and speed_pending(pending)  # the input is left as it was
    assert timed["ratios"]["speedup"] == pytest.approx(0.5, abs=0.025)  # stubbed: twice the cost per sentence
    assert timed["compressed"]["fidelity_cosine"] == pending["compressed"]["fidelity_cosine"]


def test_a_stopped_deferred_timing_raises_cancelled(tiny_bert):
    from slimlib.errors import Cancelled
    from slimlib.workflows.evaluate import time_quick_speed

    pending = evaluate(Recipe(tiny_bert.path, []), EvalOptions(quick=True, threads=1, defer_speed=True))
    with pytest.raises(Cancelled):
        time_quick_speed(pending, tiny_bert.model, should_stop=lambda: True)


def test_fidelity_of_another_width_is_labelled_not_guessed():
    import numpy as np

    rng = np.random.default_rng(0)
    wide, narrow = rng.normal(size=(20, 16)), rng.normal(size=(20, 4))
    out = metrics.fidelity(wide, narrow)
    assert out["fidelity_cosine"] is None and -100 <= out["fidelity_spearman"] <= 100
    assert metrics.fidelity(wide, wide)["fidelity_cosine"] == pytest.approx(1.0)


def test_a_static_model_is_evaluated_with_its_fidelity_labelled(tiny_bert):
    from slimlib.ops.recipe import FORMAT

    recipe = Recipe.from_dict({"format": FORMAT, "base_model": tiny_bert.path,
                               "steps": [{"op": "static", "dims": 8, "train_steps": 0}]})
    result = evaluate(recipe, EvalOptions(quick=True, threads=1))
    assert result["compressed"]["fidelity_cosine"] is None
    assert result["labels"]["fidelity_cosine"].startswith("not measured: 8 dims")
    assert result["compressed"]["fidelity_spearman"] is not None
    assert result["ratios"]["size"] < 1 and result["ratios"]["speedup"] > 0


@pytest.mark.parametrize("quick", [True, False])
def test_an_implausible_speedup_is_labelled_noisy_not_reported_as_fact(base, monkeypatch, quick):
    """A stub clock makes the uncompressed copy 100x faster than the baseline: no kernel explains that, so
    the evaluation says "noisy" (after its repeats, for a full one) and records why."""
    StubTimer(monkeypatch, base.model, compressed_cost=0.01)
    result = evaluate(Recipe(base.path, []), EvalOptions(quick=quick, threads=1))
    label, m = result["labels"]["sentences_per_s"], result["measurement"]
    assert label.startswith("noisy: ") and "more than the plausible" in label
    assert m["speed_noisy"] is True and m["speed_bound"] == pytest.approx(1.5)
    assert m["speed_attempts"] == (1 if quick else metrics.timing.ATTEMPTS)
    assert "NOISY" in m["speed"]
    assert result["ratios"]["speedup"] > 50  # the number is kept, next to the label that says not to trust it


def test_a_plausible_timing_is_measured_with_its_spread(base, monkeypatch):
    StubTimer(monkeypatch, base.model, compressed_cost=1.25)  # 0.8x: within what a same-shape model can do
    result = evaluate(Recipe(base.path, []), EvalOptions(quick=False, threads=1))
    assert result["labels"]["sentences_per_s"] == "measured" and result["measurement"]["speed_noisy"] is False
    assert result["measurement"]["speed_spread"] is not None and result["ratios"]["speedup"] == pytest.approx(0.8, rel=0.1)

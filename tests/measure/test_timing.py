"""Speed timing checks itself (slimlib/measure/timing.py): driven by a stub clock that only moves when
a model encodes, so every ratio, spread and verdict below is exact."""
from __future__ import annotations

import numpy as np
import pytest

from slimlib.measure import metrics, timing
from slimlib.ops.recipe import FORMAT, Recipe


class StubClock:
    """`seconds(model, round)` per sentence; the clock advances only inside encode. The round of a call
    is counted per model from its calls: every round encodes each batch once per model."""

    def __init__(self, monkeypatch, models: dict, batches: int, seconds):
        self.now = 0.0
        self.calls = {name: 0 for name in models}
        self.names = {id(model): name for name, model in models.items()}
        self.batches = batches

        def encode(model, sentences, batch_size=metrics.BATCH_SIZE):
            name = self.names[id(model)]
            attempt_round = self.calls[name] // self.batches  # rounds counted over every attempt
            self.calls[name] += 1
            self.now += seconds(name, attempt_round) * len(list(sentences))
            return np.zeros((len(list(sentences)), 4), dtype=np.float32)

        monkeypatch.setattr(metrics, "clock", lambda: self.now)
        monkeypatch.setattr(metrics, "encode", encode)


@pytest.fixture()
def pair(tiny_bert):
    """Two models of the same shape, fp32: the plausible ratio is timing.SAME_KERNEL."""
    return {"baseline": tiny_bert.model, "compressed": tiny_bert.fresh_copy()}


SENTENCES = [f"sentence number {i} " + "word " * (i % 7) for i in range(100)]  # 4 batches of 32
BATCHES = 4
ROUNDS = 3


def test_same_shape_fp32_is_bounded_by_the_kernel_factor_and_int8_by_its_own(pair, tiny_bert):
    limit, why = timing.speed_bound(pair["baseline"], pair["compressed"])
    assert limit == pytest.approx(timing.SAME_KERNEL) and "less matrix work" in why

    from slimlib.ops.pipeline import apply_recipe

    int8 = apply_recipe(Recipe.from_dict({"format": FORMAT, "base_model": tiny_bert.path,
                                          "steps": [{"op": "quantize", "bits": 8}]}), tiny_bert).st_model
    limit, why = timing.speed_bound(pair["baseline"], int8)
    factor = timing.INT8_VNNI if "with VNNI" in why else timing.INT8_AVX2
    assert limit == pytest.approx(factor, rel=0.02)  # the same matrices, in int8


def test_a_clean_stub_gives_the_exact_ratio_and_is_not_noisy(pair, monkeypatch):
    StubClock(monkeypatch, pair, BATCHES, lambda name, r: 0.001 if name == "baseline" else 0.001 / 1.25)
    result = metrics.paired_throughput(pair, SENTENCES, rounds=ROUNDS)
    assert result.speeds["compressed"] / result.speeds["baseline"] == pytest.approx(1.25, rel=1e-3)
    assert result.ratio == pytest.approx(1.25, rel=1e-3)
    assert not result.noisy and result.reason is None and result.attempts == 1
    assert result.spread == pytest.approx(0.0, abs=1e-9) and result.bound == pytest.approx(timing.SAME_KERNEL)
    assert "NOISY" not in result.describe() and f"x {ROUNDS} rounds" in result.describe()
    # throughput() keeps its old face: the dict of speeds.
    assert metrics.throughput(pair, SENTENCES, runs=ROUNDS) == result.speeds


def test_slow_rounds_do_not_make_a_timing_noisy(pair, monkeypatch):
    """A burst of other work costs a round: each batch's best round leaves it out."""
    StubClock(monkeypatch, pair, BATCHES, lambda name, r: 0.001 * (5.0 if (name, r) == ("baseline", 1) else 1.0))
    result = metrics.paired_throughput(pair, SENTENCES, rounds=ROUNDS)
    assert result.ratio == pytest.approx(1.0, rel=1e-3) and not result.noisy and result.spread == pytest.approx(0.0)
    assert max(result.round_ratios) == pytest.approx(5.0)  # the burst stays visible in the per-round ratios


def test_one_absurdly_fast_round_of_the_compressed_model_is_labelled_noisy_with_the_reason(pair, monkeypatch):
    # Round 2 of every attempt: the compressed model "runs" 100x faster (a stalled clock, a cached result).
    fast = {1 + ROUNDS * attempt for attempt in range(timing.ATTEMPTS)}
    StubClock(monkeypatch, pair, BATCHES,
              lambda name, r: 0.001 / (100.0 if name == "compressed" and r in fast else 1.0))
    result = metrics.paired_throughput(pair, SENTENCES, rounds=ROUNDS, attempts=timing.ATTEMPTS)
    assert result.noisy and result.attempts == timing.ATTEMPTS
    assert "compressed ran round 2 100x faster than its other rounds" in result.reason
    assert f"more than the plausible {timing.SAME_KERNEL:.1f}x" in result.reason
    assert result.describe().endswith(f"NOISY: {result.reason}")


def test_a_noisy_attempt_is_repeated_and_a_clean_repeat_is_the_answer(pair, monkeypatch):
    stub = StubClock(monkeypatch, pair, BATCHES,
                     lambda name, r: 0.001 / (100.0 if (name, r) == ("compressed", 1) else 1.0))  # first attempt only
    result = metrics.paired_throughput(pair, SENTENCES, rounds=ROUNDS, attempts=timing.ATTEMPTS)
    assert not result.noisy and result.attempts == 2 and result.ratio == pytest.approx(1.0)
    assert stub.calls == {"baseline": 2 * ROUNDS * BATCHES, "compressed": 2 * ROUNDS * BATCHES}


@pytest.mark.parametrize("attempts", [1, 2, timing.ATTEMPTS])
def test_repetition_stops_after_the_bound(pair, monkeypatch, attempts):
    """Always implausible (3x for the same shape in fp32): tried `attempts` times, then labelled."""
    stub = StubClock(monkeypatch, pair, BATCHES, lambda name, r: 0.001 / (3.0 if name == "compressed" else 1.0))
    result = metrics.paired_throughput(pair, SENTENCES, rounds=ROUNDS, attempts=attempts)
    assert result.noisy and result.attempts == attempts
    assert stub.calls["compressed"] == stub.calls["baseline"] == attempts * ROUNDS * BATCHES
    assert "compressed measured 3.00x baseline" in result.reason
    assert (f"after {attempts} attempts" in result.reason) == (attempts > 1)


def test_the_baseline_alone_has_a_spread_and_no_bound(tiny_bert, monkeypatch):
    models = {"baseline": tiny_bert.model}
    StubClock(monkeypatch, models, BATCHES, lambda name, r: 0.001)
    result = metrics.paired_throughput(models, SENTENCES, rounds=ROUNDS)
    assert result.speeds == {"baseline": pytest.approx(1000.0)} and result.bound is None and not result.noisy
    assert result.describe().startswith("the baseline alone")

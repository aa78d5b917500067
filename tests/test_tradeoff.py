"""Pareto front and dominated flags on hand-made points, and eval JSON -> chart metrics."""
from __future__ import annotations

import pytest

from slimlib.report.charts import marker_sizes, tradeoff_figure
from slimlib.report.presets import PRESETS, judge, verdict
from slimlib.report.references import LABEL, references
from slimlib.report.tradeoff import baseline_metrics, dominated_flags, dominates, metrics_of, objectives_for, pareto_front, pareto_mask

SIZE_ACC = objectives_for("size", "sts_retained")  # smaller size, higher accuracy


def test_objectives_follow_the_metric_direction():
    assert SIZE_ACC == {"size": "min", "sts_retained": "max"}
    assert objectives_for("speedup", "fidelity") == {"speedup": "max", "fidelity": "max"}


def test_dominates_needs_one_strict_improvement():
    a = {"size": 0.5, "sts_retained": 0.9}
    assert dominates(a, {"size": 0.6, "sts_retained": 0.9}, SIZE_ACC)
    assert not dominates(a, dict(a), SIZE_ACC)  # equal points do not dominate each other
    assert not dominates(a, {"size": 0.4, "sts_retained": 0.8}, SIZE_ACC)  # a trade-off


def test_pareto_mask_and_front_order():
    points = [
        {"id": 1, "size": 1.0, "sts_retained": 1.0},   # baseline: best accuracy
        {"id": 2, "size": 0.5, "sts_retained": 0.95},  # on the front
        {"id": 3, "size": 0.6, "sts_retained": 0.90},  # dominated by 2
        {"id": 4, "size": 0.25, "sts_retained": 0.80},  # smallest: on the front
        {"id": 5, "size": None, "sts_retained": 0.99},  # not placeable
    ]
    assert pareto_mask(points, SIZE_ACC) == [True, True, False, True, False]
    assert [p["id"] for p in pareto_front(points, SIZE_ACC)] == [4, 2, 1]
    assert dominated_flags(points, SIZE_ACC) == [False, False, True, False, False]


def test_speedup_is_maximised():
    points = [{"speedup": 1.0, "fidelity": 1.0}, {"speedup": 2.0, "fidelity": 0.99}, {"speedup": 1.5, "fidelity": 0.98}]
    assert pareto_mask(points, objectives_for("speedup", "fidelity")) == [True, True, False]


RESULT = {
    "baseline": {"params": 100, "size_bytes": 4_000_000, "sentences_per_s": 200.0, "sts_spearman": 80.0},
    "compressed": {"params": 50, "size_bytes": 1_000_000, "sentences_per_s": 400.0, "sts_spearman": 76.0,
                   "fidelity_cosine": 0.98},
    "ratios": {"speedup": 2.0, "size": 0.25, "params": 0.5, "sts_retained": 0.95},
}


def test_metrics_of_an_eval_result():
    m = metrics_of(RESULT)
    assert m["size"] == 0.25 and m["speedup"] == 2.0 and m["sts_retained"] == 0.95 and m["fidelity"] == 0.98
    assert m["latency_ms"] == 2.5 and m["size_mb"] == 1.0 and m["sts_spearman"] == 76.0
    b = baseline_metrics(RESULT)
    assert b["size"] == 1.0 and b["speedup"] == 1.0 and b["latency_ms"] == 5.0 and b["sts_retained"] == 1.0


def test_missing_speed_is_none_not_zero():
    result = {**RESULT, "compressed": {**RESULT["compressed"], "sentences_per_s": None},
              "ratios": {**RESULT["ratios"], "speedup": None}}
    m = metrics_of(result)
    assert m["speedup"] is None and m["latency_ms"] is None


def test_tradeoff_figure_fades_dominated_and_marks_references():
    points = [
        {"id": 1, "kind": "baseline", "label": "baseline", "size": 1.0, "sts_retained": 1.0, "latency_ms": 5.0},
        {"id": 2, "kind": "config", "label": "a", "size": 0.5, "sts_retained": 0.95, "latency_ms": 3.0},
        {"id": 3, "kind": "config", "label": "b", "size": 0.6, "sts_retained": 0.90, "latency_ms": 4.0},
    ]
    fig = tradeoff_figure(points, x="size", y="sts_retained", references=references(), current_id=2).to_dict()
    by_name = {t["name"]: t for t in fig["data"]}
    assert list(by_name["dominated configs"]["customdata"]) == [[3]]
    assert by_name["dominated configs"]["marker"]["opacity"] < by_name["frontier configs"]["marker"]["opacity"]
    assert list(by_name["Pareto frontier"]["x"]) == [0.5, 1.0]
    refs = by_name[LABEL]
    assert all("source:" in h for h in refs["hovertext"])
    assert "DistilBERT" in list(refs["text"])  # the only anchor with a size and an accuracy ratio
    assert "current config" in by_name


def test_marker_sizes_grow_with_latency():
    sizes = marker_sizes([1.0, None, 3.0, 2.0])
    assert sizes[0] < sizes[3] < sizes[2] and sizes[1] == sizes[0]


def test_presets_build_valid_recipes_and_judge_claims():
    for item in PRESETS:
        recipe = item.recipe("all-MiniLM-L6-v2")
        assert [s.op for s in recipe.steps] == [s.op for s in recipe.canonical().steps]
    int8 = next(p for p in PRESETS if p.key == "int8")
    outcome, checks = judge(int8, {"size": 0.26, "speedup": 2.0, "sts_retained": 0.995})
    assert outcome == "partly confirmed"
    assert [c["passed"] for c in checks] == [True, False, True]
    assert verdict([{"passed": None}]) == "not measured"
    assert judge(int8, {"size": 0.26, "speedup": None, "sts_retained": 0.995})[0].startswith("partly measured")


@pytest.mark.parametrize("ref", references(), ids=lambda r: r["short"])
def test_every_reference_quotes_a_source_and_is_labelled(ref):
    assert ref["source"] and ref["label"] == LABEL and ref["kind"] == "published"

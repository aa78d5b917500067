"""Pareto front and dominated flags on hand-made points, and eval JSON -> chart metrics."""
from __future__ import annotations

import pytest

import json

from slimlib.report.charts import parallel_dimensions, parallel_figure, tradeoff_figure
from slimlib.report.presets import PRESETS, judge, verdict
from slimlib.report.references import LABEL, references
from slimlib.report.tradeoff import axis_edge, baseline_metrics, choose_y, dominated_flags, dominates, metrics_of, objectives_for, pareto_front, pareto_mask

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


def _chart_points():
    return [
        {"id": 1, "kind": "baseline", "label": "baseline", "evaluation": "quick", "size": 1.0, "speedup": 1.0,
         "sts_retained": 1.0, "fidelity": 1.0, "latency_ms": 5.0},
        {"id": 2, "kind": "config", "label": "FFN 50%", "evaluation": "quick", "size": 0.5, "speedup": 1.6,
         "sts_retained": 0.95, "fidelity": 0.97, "latency_ms": 3.0, "size_mb": 45.0},
        {"id": 3, "kind": "config", "label": "8-bit", "evaluation": "full", "size": 0.26, "speedup": 2.5,
         "sts_retained": 0.99, "fidelity": 0.99, "latency_ms": 9.0},
        {"id": 4, "kind": "config", "label": "4-bit", "evaluation": "quick", "size": 0.15, "speedup": None,
         "sts_retained": 0.9, "fidelity": 0.95, "latency_ms": None,
         "how": {"speedup": "not measured: no 4-bit kernel on this CPU"}},
    ]


def _traces(fig):
    return {t["name"]: t for t in fig.to_dict()["data"]}


def test_hover_names_metrics_and_the_recipe_not_raw_keys_or_json():
    fig = tradeoff_figure(_chart_points(), x="size", y="sts_retained")
    hover = " ".join(h for t in fig.to_dict()["data"] for h in (t.get("hovertext") or []))
    assert "STS retained" in hover and "Size" in hover and "Latency" in hover and "8-bit" in hover
    for raw in ("sts_retained", "latency_ms", "size_mb", '"op"', "{"):
        assert raw not in hover, raw


def test_marker_size_does_not_encode_latency():
    traces = _traces(tradeoff_figure(_chart_points(), x="size", y="sts_retained"))
    sizes = [traces[name]["marker"]["size"] for name in ("frontier configs", "baseline (measured here)")]
    assert len({json.dumps(s) for s in sizes}) == 1  # 3 ms and 9 ms configs draw alike


def test_configs_without_a_speed_are_drawn_at_the_axis_edge():
    traces = _traces(tradeoff_figure(_chart_points(), x="speedup", y="sts_retained"))
    missing = next(t for name, t in traces.items() if "not measured" in name)
    assert list(missing["customdata"]) == [[4]] and list(missing["y"]) == [0.9]
    assert missing["x"][0] < 1.0  # left of every measured speedup
    assert "no 4-bit kernel" in missing["hovertext"][0]
    assert axis_edge([1.0, 2.0], log=True) == pytest.approx(0.8)


def test_without_sts_the_chart_falls_back_to_fidelity_and_says_so():
    points = [{**p, "sts_retained": None} for p in _chart_points()]
    y, note = choose_y(points, "sts_retained")
    assert y == "fidelity" and "fidelity" in note
    assert choose_y(_chart_points(), "sts_retained") == ("sts_retained", None)
    assert choose_y(points, "fidelity") == ("fidelity", None)


def test_quick_and_full_evaluations_have_different_markers_and_a_legend():
    traces = _traces(tradeoff_figure(_chart_points(), x="size", y="sts_retained"))
    symbols = {}
    for name in ("frontier configs", "dominated configs"):
        symbols.update(zip([c[0] for c in traces[name]["customdata"]], traces[name]["marker"]["symbol"]))
    assert symbols[3] != symbols[2]  # full (id 3) vs quick (id 2)
    assert any(name.startswith("quick evaluation") for name in traces)
    assert any(name.startswith("full evaluation") for name in traces)


def test_speed_axis_can_be_logarithmic():
    assert tradeoff_figure(_chart_points(), x="speedup", y="sts_retained", log_x=True).to_dict()["layout"]["xaxis"]["type"] == "log"
    assert "type" not in tradeoff_figure(_chart_points(), x="speedup", y="sts_retained").to_dict()["layout"]["xaxis"]


def test_best_for_a_goal_is_marked():
    traces = _traces(tradeoff_figure(_chart_points(), x="size", y="sts_retained", best_id=3))
    assert list(traces["best for your goal"]["customdata"]) == [[3]]


def test_parallel_coordinates_name_every_config_and_never_print_none():
    rows = [{"size": 0.5, "params": 0.5, "speedup": 1.6, "sts_retained": 0.95, "fidelity": 0.97},
            {"size": 0.15, "params": 1.0, "speedup": None, "sts_retained": 0.9, "fidelity": 0.95}]
    dims, left_out = parallel_dimensions(rows)
    assert left_out == ["speedup"] and [d["label"] for d in dims] == ["Size", "Parameters", "STS retained", "Fidelity"]
    fig = parallel_figure(rows, names=["#2 FFN 50%", "#4 4-bit"]).to_dict()
    line = fig["data"][0]["line"]
    assert line["showscale"] and list(line["colorbar"]["ticktext"]) == ["#2 FFN 50%", "#4 4-bit"]
    assert "None" not in json.dumps(fig) and "nan" not in json.dumps(fig).lower()
    assert "Speedup" in json.dumps(fig["layout"]["annotations"])  # says which metric it left out


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


def _retrieval_points():
    return [{**p, "sts_retained": None, "ndcg_retained": p["sts_retained"],
             "intervals": {} if p["kind"] == "baseline" else
             {"ndcg_retained": [p["sts_retained"] - 0.05, p["sts_retained"] + 0.02]}} for p in _chart_points()]


def test_on_retrieval_data_the_y_axis_is_ndcg_retained():
    from slimlib.report.tradeoff import default_y

    points = _retrieval_points()
    assert default_y("retrieval") == "ndcg_retained" and default_y("pairs") == default_y(None) == "sts_retained"
    assert choose_y(points, None, "retrieval") == ("ndcg_retained", None)
    y, note = choose_y(points, "sts_retained")  # asked for STS on a retrieval folder: nDCG, saying why
    assert y == "ndcg_retained" and "nDCG@10 retained" in note
    y, note = choose_y(_chart_points(), "ndcg_retained")  # asked for nDCG on pairs: STS
    assert y == "sts_retained" and "retrieval folder" in note
    y, note = choose_y([{**p, "sts_retained": None} for p in _chart_points()], "ndcg_retained")
    assert y == "fidelity" and "fidelity" in note


def test_points_with_intervals_get_error_bars_on_y():
    traces = _traces(tradeoff_figure(_retrieval_points(), x="size", y="ndcg_retained"))
    bars = traces["frontier configs"]["error_y"]
    ys = list(traces["frontier configs"]["y"])
    assert bars["type"] == "data" and bars["visible"] and not bars["symmetric"]
    assert list(bars["array"]) == pytest.approx([0.02] * len(ys)) and list(bars["arrayminus"]) == pytest.approx([0.05] * len(ys))
    assert "error_y" not in traces["baseline (measured here)"]  # 1.0 by definition: no interval
    fig = tradeoff_figure(_retrieval_points(), x="size", y="ndcg_retained").to_dict()
    assert "95% interval" in fig["layout"]["yaxis"]["title"]["text"]
    assert any("95% CI" in h for t in fig["data"] for h in (t.get("hovertext") or []))
    # No intervals (pair data from before they existed, or fidelity): no bars.
    assert all("error_y" not in t for t in _traces(tradeoff_figure(_chart_points(), x="size", y="sts_retained")).values())
    assert all("error_y" not in t for t in _traces(tradeoff_figure(_retrieval_points(), x="size", y="fidelity")).values())

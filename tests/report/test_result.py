"""The typed evaluation result and the one list of metrics every report reads."""
from __future__ import annotations

import json
import re

import pytest

from slimlib.report.result import (CARD_METRICS, METRIC_LIST, METRICS, SWEEP_METRICS, TABLE_ROWS, EvalResult,
                                   baseline_values_of, measurement_text, table_keys, table_rows, values_of)


@pytest.fixture(scope="module")
def real_result(tiny_bert_path, stsb_dev_small):
    """A real evaluate() result of the tiny random BERT (quick, with STS on a small pair file)."""
    from slimlib.ops.recipe import Recipe, make_step
    from slimlib.workflows.evaluate import EvalOptions, evaluate

    recipe = Recipe(str(tiny_bert_path), [make_step("prune_ffn", keep=0.5)])
    return evaluate(recipe, EvalOptions(data=str(stsb_dev_small), quick=True, max_pairs=50, threads=1))


def test_round_trip_of_a_real_evaluation_is_exact(real_result):
    typed = EvalResult.from_dict(real_result)
    assert typed.to_dict() == real_result
    # Byte for byte, in evaluate()'s key order (what the CLI prints and the history stores).
    assert json.dumps(typed.to_dict()) == json.dumps(real_result)
    # And through the JSON text the history keeps.
    assert EvalResult.from_dict(json.loads(json.dumps(real_result))).to_dict() == json.loads(json.dumps(real_result))
    assert [(s["op"], s["keep"]) for s in typed.recipe["steps"]] == [("prune_ffn", 0.5)]
    assert typed.quick and not typed.is_baseline


def test_every_metric_reads_a_real_result(real_result):
    values = values_of(real_result)
    assert set(values) == set(METRICS)
    c, r = real_result["compressed"], real_result["ratios"]
    assert values["size"] == r["size"] and values["speedup"] == r["speedup"]
    assert values["sts_spearman"] == c["sts_spearman"] and values["fidelity"] == c["fidelity_cosine"]
    assert values["size_mb"] == pytest.approx(c["size_bytes"] / 1e6)
    assert values["latency_ms"] == pytest.approx(1000 / c["sentences_per_s"], rel=1e-3)
    base = baseline_values_of(real_result)
    assert base["size"] == base["speedup"] == base["sts_retained"] == base["fidelity"] == 1.0
    assert base["param_count"] == real_result["baseline"]["params"]


def test_unknown_keys_ride_along_and_old_rows_read():
    newer = {"base_model": "m", "recipe": {"steps": []}, "recipe_key": "k", "baseline": {}, "compressed": {},
             "ratios": {}, "labels": {}, "notes": [], "measurement": {"quick": True, "data_pairs": 100,
                                                                     "data_pairs_total": 1500},
             "energy_joules": 3.5}
    typed = EvalResult.from_dict(newer)
    assert typed.extra == {"energy_joules": 3.5}
    assert typed.to_dict() == newer
    assert typed.pairs_text() == "100 of 1,500 pairs"
    old = {**newer, "measurement": {"quick": False, "data_pairs": 1500}}
    assert EvalResult.from_dict(old).pairs_text() == "1,500 pairs"  # no data_pairs_total: older rows
    assert "STS on 1,500 pairs" in measurement_text(old)
    assert "no pair file" in measurement_text({**newer, "measurement": {"quick": True}})
    # A hand-made row with sections missing still reads (every value None), never raises.
    assert all(v is None for v in values_of({"ratios": {}}).values())


def test_the_metric_list_is_consistent():
    assert len(METRICS) == len(METRIC_LIST)
    for m in METRIC_LIST:
        assert m.direction in ("min", "max"), m.key
        assert m.source[0] in ("compressed", "ratios"), m.key
        assert m.format(None) == "not measured"
        assert m.name and m.unit and m.help
        if m.ratio:
            assert METRICS[m.ratio].direction == m.direction, m.key
    assert set(CARD_METRICS) <= set(METRICS) and set(TABLE_ROWS) <= set(METRICS)


def test_the_sweep_objectives_can_import_this_list_unchanged():
    """slimlib.sweep.objectives.METRICS can become `from ..report.result import SWEEP_METRICS as METRICS`."""
    from slimlib.sweep import objectives

    assert SWEEP_METRICS == objectives.METRICS
    assert list(SWEEP_METRICS) == list(objectives.METRICS)


def test_reports_print_the_listed_metrics(real_result):
    from slimlib.ops.recipe import Recipe
    from slimlib.report import model_card
    from slimlib.report.html import render_report
    from slimlib.report.text import format_eval

    names = [METRICS[k].name for k in table_keys(real_result)]  # pair data: the STS row, no retrieval rows
    assert set(TABLE_ROWS) - set(table_keys(real_result)) == {"ndcg_at_10", "recall_at_10", "mrr_at_10"}
    text = format_eval(real_result)
    card = model_card.render(Recipe.from_dict(real_result["recipe"]), real_result)
    page = render_report([real_result])
    for name in names:
        assert name in text and f"| {name} |" in card and name in page
    rows = {row["key"]: row for row in table_rows(real_result)}
    sts = METRICS["sts_spearman"]
    assert rows["sts_spearman"]["compressed"] == sts.format(real_result["compressed"]["sts_spearman"])
    assert rows["sts_spearman"]["compressed"] in text and rows["sts_spearman"]["compressed"] in card
    assert rows["sentences_per_s"]["ratio"] == METRICS["speedup"].format(real_result["ratios"]["speedup"])
    assert re.search(r"\b50( of [\d,]+)? pairs", card)  # data_pairs_total, when evaluate writes it
    # The data set is named with its size (the file's name, not this machine's path) in all three reports.
    named = re.compile(r"pair file sts-dev-200\.csv: 50 of [\d,]+ pairs")
    assert named.search(text) and named.search(card) and named.search(page)
    assert rows["sts_spearman"]["interval"].startswith("95% CI ")  # STS carries its interval too
    assert rows["sts_spearman"]["interval"] in text
    assert rows["sts_spearman"]["interval"].removeprefix("95% CI ") in card


def test_the_baseline_row_says_baseline_rather_than_a_speed_ratio_against_itself(real_result):
    import copy

    baseline = copy.deepcopy(real_result)
    baseline["recipe"]["steps"] = []
    baseline["ratios"]["speedup"] = 1.05  # what timing noise against an identical copy looks like
    rows = {row["key"]: row for row in table_rows(baseline)}
    assert rows["sentences_per_s"]["ratio"] == "baseline"
    assert rows["sentences_per_s"]["compressed"] == METRICS["sentences_per_s"].format(baseline["compressed"]["sentences_per_s"])
    assert rows["sentences_per_s"]["ratio"] != table_rows(real_result)[list(TABLE_ROWS).index("sentences_per_s")]["ratio"]

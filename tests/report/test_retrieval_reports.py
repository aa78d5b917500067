"""The text report, the model card and the HTML report of a real evaluation on a tiny BEIR folder:
retrieval rows with their 95% intervals, and the data set named with its size."""
from __future__ import annotations

import re

import pytest
from beir_data import write_beir

from slimlib.report.result import METRICS, table_rows


@pytest.fixture(scope="module")
def retrieval_result(tiny_bert_path, tmp_path_factory):
    """A real evaluate() result of the tiny random BERT on a 3-query, 9-document BEIR folder (quick)."""
    from slimlib.ops.recipe import Recipe, make_step
    from slimlib.workflows.evaluate import EvalOptions, evaluate

    folder = write_beir(tmp_path_factory.mktemp("data") / "tiny-beir")
    recipe = Recipe(str(tiny_bert_path), [make_step("prune_ffn", keep=0.5)])
    return evaluate(recipe, EvalOptions(data=str(folder), quick=True, threads=1))


RETRIEVAL_ROWS = ("ndcg_at_10", "recall_at_10", "mrr_at_10")


def test_the_text_report_prints_retrieval_rows_with_intervals_and_the_data(retrieval_result):
    from slimlib.report.text import format_eval

    text = format_eval(retrieval_result)
    rows = {row["key"]: row for row in table_rows(retrieval_result)}
    assert "sts_spearman" not in rows and "STS" not in text.split("\ndata:")[0]
    header = text.splitlines()[0]
    assert header.endswith("interval")
    for key in RETRIEVAL_ROWS:
        line = next(line for line in text.splitlines() if line.startswith(METRICS[key].name + " "))
        assert rows[key]["compressed"] in line and rows[key]["interval"] in line
        assert re.search(r"95% CI [\d.]+-[\d.]+ \(baseline [\d.]+-[\d.]+\); (within noise|better|worse)", line)
    assert "data: retrieval folder tiny-beir: 3 queries over 9 documents" in text
    assert "retrieval on 3 queries over 9 documents" in text  # measurement_text
    for key in ("param_count", "fidelity"):  # rows without an interval end at their "how"
        line = next(line for line in text.splitlines() if line.startswith(METRICS[key].name + " "))
        assert line.endswith("measured")


def test_the_model_card_shows_retrieval_rows_with_intervals_and_names_the_folder(retrieval_result):
    from slimlib.ops.recipe import Recipe
    from slimlib.report import model_card

    card = model_card.render(Recipe.from_dict(retrieval_result["recipe"]), retrieval_result)
    assert "| metric | baseline | this model | ratio | how | 95% interval |" in card
    for row in table_rows(retrieval_result):
        if row["key"] in RETRIEVAL_ROWS:
            assert (f"| {row['name']} | {row['baseline']} | {row['compressed']} | {row['ratio']} | {row['how']} | "
                    f"{row['interval'].removeprefix('95% CI ')} |") in card
    assert "STS Spearman" not in card
    assert "Accuracy data: retrieval folder tiny-beir: 3 queries over 9 documents." in card
    assert str(retrieval_result["measurement"]["data_file"]) not in card  # the name, not this machine's path


def test_the_html_report_shows_retrieval_columns_intervals_and_the_data(retrieval_result):
    from slimlib.report.goal import Goal
    from slimlib.report.html import render_report, report_points

    page = render_report([retrieval_result], Goal.parse("ndcg_retained>=0.95;max:speedup"))
    table = page[page.index("<h2>Table</h2>"):]
    assert "Accuracy data: retrieval folder tiny-beir: 3 queries over 9 documents." in table
    for key in RETRIEVAL_ROWS:
        m = METRICS[key]
        low, high = m.interval(retrieval_result)
        assert f"<th>{m.name}: 95% interval</th>" in table
        assert f"<td>{m.format(low)}-{m.format(high)}; {retrieval_result['significance'][key]['verdict']}</td>" in table
    assert "STS Spearman" not in table and "<th>data</th>" not in table  # one data set: named once
    assert "nDCG@10 retained vs" in page or "vs nDCG@10 retained" in page  # the charts' y axis follows the data
    point = report_points([retrieval_result])[1]
    assert point["intervals"]["ndcg_at_10"] == retrieval_result["compressed"]["ndcg_at_10_ci"]
    assert point["verdicts"]["ndcg_at_10"] == retrieval_result["significance"]["ndcg_at_10"]["verdict"]


def test_an_html_report_of_mixed_data_names_each_rows_data(retrieval_result):
    import copy

    from slimlib.report.html import render_report

    no_data = copy.deepcopy(retrieval_result)
    no_data["measurement"].update(data_file=None, data_kind=None, data_queries=None, data_documents=None)
    for section in ("baseline", "compressed"):
        for key in RETRIEVAL_ROWS:
            no_data[section].pop(key, None)
            no_data[section].pop(f"{key}_ci", None)
    page = render_report([retrieval_result, no_data])
    table = page[page.index("<h2>Table</h2>"):]
    assert "Accuracy data differs between rows" in table and "<th>data</th>" in table
    assert "<td>tiny-beir</td>" in table and "<td>none</td>" in table


def test_cli_report_takes_a_retrieval_folder(tiny_bert_path, tmp_path, capsys):
    import json

    from slimlib.cli import main

    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"format": "slimlib.recipe/v1", "base_model": str(tiny_bert_path),
                                  "steps": [{"op": "quantize", "bits": 8}]}))
    out = tmp_path / "report.html"
    folder = write_beir(tmp_path / "my-beir")
    assert main(["report", str(recipe), "--out", str(out), "--data", str(folder), "--quick", "--threads", "1"]) == 0
    page = out.read_text(encoding="utf-8")
    assert "Accuracy data: retrieval folder my-beir: 3 queries over 9 documents." in page
    assert "<th>nDCG@10: 95% interval</th>" in page


def test_a_preset_is_judged_on_a_real_retrieval_result(retrieval_result):
    from slimlib.report.presets import PRESETS, judge
    from slimlib.report.tradeoff import metrics_of

    prune20 = next(p for p in PRESETS if p.key == "prune20")
    _outcome, checks = judge(prune20, metrics_of(retrieval_result))
    ndcg = next(c for c in checks if c["metric"] == "ndcg_retained")
    assert ndcg["measured"] == retrieval_result["ratios"]["ndcg_at_10_retained"] and ndcg["passed"] is not None
    assert "sts_retained" not in {c["metric"] for c in checks}

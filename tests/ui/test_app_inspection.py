"""param_breakdown: rows that sum up, match count_params, and follow the model's structure."""
from __future__ import annotations

from slimlib.measure.inspection import param_breakdown, param_summary
from slimlib.measure.metrics import count_params


def check_tree(rows):
    by_id = {r["id"]: r for r in rows}
    for row in rows:
        children = [r for r in rows if r["parent"] == row["id"]]
        if children:
            assert row["params"] == sum(c["params"] for c in children), row["id"]
        if row["parent"]:
            assert row["parent"] in by_id


def test_tiny_models(tiny):
    rows = param_breakdown(tiny.model)
    check_tree(rows)
    summary = param_summary(rows)
    assert summary["total"] == count_params(tiny.model) == rows[0]["params"]
    hidden = tiny.model[0].auto_model.config.hidden_size
    assert summary["embeddings"] >= 30522 * hidden
    assert [r["id"] for r in rows if r["parent"] == "model"][1:4] == ["layer 0", "layer 1", "layer 2"]


def test_minilm_word_embeddings_are_half_the_model(minilm):
    rows = param_breakdown(minilm.model)
    check_tree(rows)
    by_id = {r["id"]: r for r in rows}
    assert by_id["model"]["params"] == 22_713_216
    assert by_id["embeddings/word"]["params"] == 30522 * 384
    assert by_id["layer 0/ffn"]["params"] == 2 * 384 * 1536 + 1536 + 384
    assert by_id["layer 0/attention"]["params"] == 4 * (384 * 384 + 384) + 2 * 384  # Q, K, V, O + output norm


def test_after_a_recipe_counts_match(tiny):
    from slimlib.ops.pipeline import apply_recipe
    from slimlib.ops.recipe import Recipe, make_step

    compressed = apply_recipe(Recipe(tiny.path, [make_step("prune_ffn", keep=0.5, score="magnitude")]), tiny)
    rows = param_breakdown(compressed.st_model)
    check_tree(rows)
    assert param_summary(rows)["total"] == count_params(compressed.st_model)
    assert param_summary(rows)["ffn"] < param_summary(param_breakdown(tiny.model))["ffn"]

"""Grid files, objectives, the default search space and worker planning: pure logic, no models."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from slimlib.errors import RecipeError, SlimlibError
from slimlib.model.shape import ModelShape
from slimlib.sweep.engines import plan_for_hosts, plan_local
from slimlib.sweep.grid import build_steps, expand, load_grid, parse_grid
from slimlib.sweep.objectives import data_kind, default_objectives, objective_values, parse_objectives
from slimlib.sweep.space import default_axes, sample_assignment

ROOT = Path(__file__).resolve().parents[2]


def grid(**axes) -> dict:
    return {"format": "slimlib.grid/v1", "base_model": "m", "grid": axes}


def test_example_grid_expands_to_every_combination_in_canonical_order():
    spec = load_grid(ROOT / "examples" / "grid.json")
    recipes = expand(spec)
    assert len(recipes) == 3 * 3 * 2
    assert len({r.key() for _a, r in recipes}) == 18
    settings, recipe = next((a, r) for a, r in recipes
                            if a == {"prune_heads.per_layer": 2, "drop_layers.keep": 3, "quantize.bits": 8})
    assert [s.to_dict() for s in recipe.steps] == [
        {"op": "prune_heads", "per_layer": 2, "score": "taylor"},
        {"op": "drop_layers", "keep": 3, "choose": "auto"},
        {"op": "quantize", "bits": 8, "embeddings": True, "float16": "bf16", "group_size": 32},
    ]


def test_zero_or_null_leaves_the_op_out_but_a_valid_zero_is_kept():
    steps = build_steps({"prune_heads.per_layer": 0, "low_rank.rank": None, "drop_layers.keep": 2})
    assert [s.op for s in steps] == ["drop_layers"]
    steps = build_steps({"distill.seed": 0})  # seed 0 is a real setting
    assert steps[0].op == "distill" and steps[0].seed == 0


def test_keys_of_one_op_build_one_step_and_fixed_steps_join_every_recipe():
    spec = parse_grid({**grid(**{"prune_ffn.keep": [0.5, 0.25], "prune_ffn.score": ["magnitude"]}),
                       "steps": [{"op": "quantize", "bits": 8}]})
    recipes = expand(spec)
    assert len(recipes) == 2
    for _a, recipe in recipes:
        assert [s.op for s in recipe.steps] == ["prune_ffn", "quantize"]
        assert recipe.steps[0].score == "magnitude"


def test_same_recipe_from_two_combinations_runs_once():
    spec = parse_grid(grid(**{"prune_heads.per_layer": [0, None, 2]}))
    assert len(expand(spec)) == 2


def test_list_of_recipes_is_a_grid():
    recipe = {"format": "slimlib.recipe/v1", "base_model": "m", "steps": [{"op": "drop_layers", "keep": 2}]}
    spec = parse_grid([recipe, {**recipe, "steps": []}, recipe])
    assert spec.base_model == "m" and len(expand(spec)) == 2
    with pytest.raises(RecipeError, match="share one base_model"):
        parse_grid([recipe, {**recipe, "base_model": "other"}])
    with pytest.raises(RecipeError, match=r"^recipes\[1\]\.steps\[0\]\.op: 'nope' is not an op"):
        parse_grid([recipe, {"format": "slimlib.recipe/v1", "steps": [{"op": "nope"}]}])


@pytest.mark.parametrize("data, message", [
    ({"grid": {"x": [1]}}, r'format: expected "slimlib.grid/v1"'),
    (grid(prune_heads=[1]), r"grid\.prune_heads: keys are OP\.FIELD"),
    (grid(**{"shrink.amount": [1]}), r"grid\.shrink\.amount: 'shrink' is not an op"),
    (grid(**{"prune_heads.perlayer": [1]}), r"grid\.prune_heads\.perlayer: prune_heads has no field 'perlayer'"),
    (grid(**{"prune_heads.per_layer": []}), r"grid\.prune_heads\.per_layer: expected a non-empty list"),
    (grid(**{"prune_heads.per_layer": 2}), r"grid\.prune_heads\.per_layer: expected a non-empty list"),
    (grid(**{"prune_heads.per_layer": [2, -1]}), r"^grid\.prune_heads\.per_layer: -1 is below the minimum 1$"),
    (grid(**{"quantize.bits": [8, 5]}), r"^grid\.quantize\.bits: 5 is not allowed"),
    (grid(**{"prune_ffn.keep": [0.5], "prune_ffn.score": ["loud"]}), r"^grid\.prune_ffn\.score: 'loud' is not one of"),
    ({**grid(**{"quantize.bits": [8]}), "steps": [{"op": "quantize", "bits": 4}]}, r"both in grid and steps"),
    ({**grid(**{"quantize.bits": [8]}), "steps": [{"op": "distill", "lr": 5}]}, r"^steps\[0\]\.lr:"),
    ({**grid(**{"quantize.bits": [8]}), "extra": 1}, r"unknown key\(s\) \['extra'\]"),
    (grid(**{f"{op}": list(range(1, 12)) for op in ("drop_layers.keep", "low_rank.rank", "prune_heads.per_layer",
                                                     "factorize_embeddings.rank")}), r"^grid: the grid has 14641 combinations, above the limit of 5000"),
    ("not a grid", r"expected a list of recipes or an object"),
])
def test_grid_errors_are_one_line_naming_the_field(data, message):
    with pytest.raises(RecipeError, match=message) as info:
        parse_grid(data)
    assert "\n" not in str(info.value)


def test_load_grid_reports_file_problems(tmp_path):
    with pytest.raises(RecipeError, match="grid file not found"):
        load_grid(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(RecipeError, match=r"not valid JSON .* line 1"):
        load_grid(bad)


def test_grid_key_is_stable_and_content_based():
    a = parse_grid(json.loads(json.dumps(grid(**{"quantize.bits": [8, 4]}))))
    b = parse_grid(grid(**{"quantize.bits": [8, 4]}))
    c = parse_grid(grid(**{"quantize.bits": [8]}))
    assert a.key() == b.key() != c.key()


# Objectives ---------------------------------------------------------------------------------
def test_objectives_parse_with_default_directions():
    parsed = parse_objectives("size, speed:max ,sts:MAX", kind="pairs")
    assert [o.label for o in parsed] == ["size:min", "speed:max", "sts:max"]
    assert [o.optuna_direction for o in parsed] == ["minimize", "maximize", "maximize"]
    assert default_objectives(None) == default_objectives(False) == "size:min,speed:max,fidelity:max"
    assert default_objectives("pairs") == default_objectives(True) == "size:min,speed:max,sts:max"
    assert default_objectives("retrieval") == "size:min,speed:max,ndcg:max"
    assert [o.label for o in parse_objectives("size,ndcg", "retrieval")] == ["size:min", "ndcg:max"]
    assert [o.label for o in parse_objectives(default_objectives("retrieval"), "retrieval")][-1] == "ndcg:max"


@pytest.mark.parametrize("text, kind, message", [
    ("sts:max", "retrieval", r"sts needs labelled pairs \(--data PAIRS\), but --data is a retrieval folder; "
                             r"use ndcg:max.*\(allowed: size, params, speed, ndcg, fidelity\)"),
    ("ndcg", "pairs", r"ndcg needs a retrieval folder .*but --data is a labelled pair file; use sts:max.*"
                      r"\(allowed: size, params, speed, sts, fidelity\)"),
    ("size,ndcg:max", None, r"ndcg needs a retrieval folder .*but no --data is given; without data use fidelity:max"),
])
def test_the_accuracy_objective_must_match_the_kind_of_data(text, kind, message):
    with pytest.raises(SlimlibError, match=r"^--objectives: " + message):
        parse_objectives(text, kind)


def test_data_kind_is_read_from_the_data_argument(tmp_path):
    from slimlib.errors import DataFileError
    from beir_data import write_beir

    assert data_kind(None) is None and data_kind("") is None
    assert data_kind(str(write_beir(tmp_path / "beir"))) == "retrieval"
    assert data_kind("nanobeir:scifact") == "retrieval"  # named sets are retrieval folders once fetched
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("sentence1\tsentence2\tscore\na\tb\t1\n")
    assert data_kind(str(pairs)) == "pairs"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFileError, match=r"empty/corpus.jsonl: missing; a BEIR folder holds"):
        data_kind(str(tmp_path / "empty"))


@pytest.mark.parametrize("text, message", [
    ("sts:max", r"sts needs labelled pairs \(--data PAIRS\)"),
    ("size:up", r"direction 'up'; use min or max"),
    ("latency", r"'latency' is not a metric"),
    ("size,size:max", "size is given twice"),
    ("", "give at least one metric"),
])
def test_objective_errors(text, message):
    with pytest.raises(SlimlibError, match=message):
        parse_objectives(text, kind=None)


def test_objective_values_read_the_eval_json_and_explain_a_missing_metric():
    result = {"compressed": {"size_bytes": 100, "fidelity_cosine": 0.9}, "ratios": {"speedup": None},
              "labels": {"sentences_per_s": "not measured: no kernel"}}
    objectives = parse_objectives("size,fidelity", kind=None)
    assert objective_values(objectives, result) == ([100.0, 0.9], None)
    values, why = objective_values(parse_objectives("speed", kind=None), result)
    assert values is None and why == "speed has no value (not measured: no kernel)"


# Search space -------------------------------------------------------------------------------
MINILM_SHAPE = ModelShape(num_layers=6, heads=[12] * 6, head_dim=32, hidden=384, intermediate=[1536] * 6, vocab=30522)


def test_default_space_comes_from_the_ops_and_skips_training():
    everything = default_axes(MINILM_SHAPE)
    assert {k.split(".")[0] for k in everything} == {"trim_vocab", "prune_heads", "prune_ffn", "drop_layers",
                                                    "low_rank", "factorize_embeddings", "quantize"}
    assert everything["low_rank.rank"] == [0, 192, 96]
    assert everything["drop_layers.keep"] == [0, 5, 4, 3, 2, 1]
    assert everything["prune_heads.per_layer"] == [0, 3, 6, 9]


def test_every_default_choice_is_a_valid_step_that_fits_the_model():
    axes = default_axes(MINILM_SHAPE)
    for key, values in axes.items():
        for value in values:
            for step in build_steps({key: value}):
                step.check(MINILM_SHAPE)
    picks = sample_assignment(parse_grid(grid(**axes), limit=None), lambda _name, choices: choices[-1])
    assert picks["drop_layers.keep"] == 1


# Planning workers ---------------------------------------------------------------------------
def test_local_plan_fills_the_cores_and_clamps_oversubscription():
    assert (plan_local(2, None, None).workers, plan_local(2, None, None).threads) == (2, 1)
    plan = plan_local(2, 2, 2)
    assert (plan.workers, plan.threads) == (1, 2)
    assert "--workers 2 clamped to 1" in plan.messages[0]
    plan = plan_local(2, None, 4)
    assert (plan.workers, plan.threads) == (1, 2) and "clamped to 2" in plan.messages[0]
    with pytest.raises(SlimlibError, match="--workers: 0"):
        plan_local(2, 0, 1)


def test_cluster_plan_fits_threads_to_the_tightest_host():
    plan = plan_for_hosts([(2, 2), (1, 8)], threads=4)
    assert plan.workers == 3 and plan.threads == 1 and plan.messages
    assert plan_for_hosts([(1, 8)], threads=4).threads == 4

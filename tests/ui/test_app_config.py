"""The explorer's controls <-> recipe mapping, the shareable link and background jobs (no Streamlit run)."""
from __future__ import annotations

import time

import pytest

from slimlib.errors import Cancelled, RecipeError
from slimlib.report.presets import PRESETS
from slimlib.ops.recipe import Recipe
from slimlib.model.shape import ModelShape
from slimlib.ops.registry import op_specs
from ui.config import config_to_recipe, decode_recipe, default_config, encode_recipe, recipe_to_config
from ui.op_controls import control_for
from ui.op_controls.share_layers import share_groups
from ui.jobs import Job

SHAPE = ModelShape(num_layers=6, heads=[12] * 6, head_dim=32, hidden=384, intermediate=[1536] * 6, vocab=30522)

RECIPES = [
    {"steps": []},
    {"steps": [{"op": "prune_heads", "per_layer": 2}, {"op": "quantize", "bits": 8}]},
    {"steps": [{"op": "prune_heads", "heads": {"0": [1, 3], "5": [0]}, "score": "magnitude"}]},
    {"steps": [{"op": "drop_layers", "keep": 3}, {"op": "distill", "steps": 120, "lr": 5e-5}]},
    {"steps": [{"op": "distill", "teacher": "all-mpnet-base-v2", "projection": "dense", "base_weight": 1.0}]},
    {"steps": [{"op": "distill", "teacher": "all-mpnet-base-v2"}]},
    {"steps": [{"op": "distill", "teacher": "all-mpnet-base-v2", "loss": "similarity", "base_weight": 1.0, "lr": 1e-4}]},
    {"steps": [{"op": "distill", "teacher": "all-mpnet-base-v2", "loss": "mse", "projection": "dense"}]},
    {"steps": [{"op": "drop_layers", "layers": [1, 4]}, {"op": "prune_ffn", "keep": 0.5}]},
    {"steps": [{"op": "low_rank", "energy": 0.9, "targets": ["ffn_in"]}, {"op": "factorize_embeddings", "rank": 128}]},
    {"steps": [{"op": "trim_vocab", "max_tokens": 8000}, {"op": "share_layers", "groups": [[0, 1], [2, 3], [4, 5]]}]},
    {"steps": [{"op": "share_layers", "groups": [[1, 2]]}, {"op": "quantize", "bits": 4, "group_size": 64}]},
]


@pytest.mark.parametrize("steps", RECIPES, ids=lambda r: "+".join(s["op"] for s in r["steps"]) or "empty")
def test_recipe_survives_the_controls(steps):
    recipe = Recipe.from_dict({"format": "slimlib.recipe/v1", "base_model": "all-MiniLM-L6-v2", **steps}).canonical()
    back = config_to_recipe(recipe_to_config(recipe, SHAPE), SHAPE)
    assert back.to_dict() == recipe.to_dict()


def test_presets_survive_the_controls():
    for item in PRESETS:
        recipe = item.recipe("all-MiniLM-L6-v2")
        assert config_to_recipe(recipe_to_config(recipe, SHAPE), SHAPE).key() == recipe.key()


def with_ops(**values) -> dict:
    config = default_config()
    for op, changes in values.items():
        config["ops"][op].update(changes)
    return config


def test_controls_write_canonical_order():
    config = with_ops(quantize={"bits": 8}, prune_ffn={"keep": 0.5}, prune_heads={"mode": "fraction", "fraction": 0.25},
                      drop_layers={"dropped": [5]})
    recipe = config_to_recipe(config, SHAPE)
    assert [s.op for s in recipe.steps] == ["prune_heads", "prune_ffn", "drop_layers", "quantize"]


def test_every_op_has_a_control_that_is_off_by_default_and_inverts_its_example():
    assert config_to_recipe(default_config(), SHAPE).steps == []
    for spec in op_specs():
        control = control_for(spec.name)
        step = Recipe.from_dict({"format": "slimlib.recipe/v1", "steps": [spec.example_step()]}).steps[0].to_dict()
        step.pop("op")
        values = {**control.DEFAULTS, **control.from_step(step, SHAPE)}
        shown = control.to_step(values, SHAPE)
        assert shown, spec.name
        assert all(step[k] == v for k, v in shown.items()), spec.name


def test_invalid_control_values_raise_recipe_errors():
    with pytest.raises(RecipeError, match="low rank"):
        config_to_recipe(with_ops(low_rank={"mode": "rank", "targets": []}), SHAPE)


def test_share_groups():
    assert share_groups("pairs", 6) == [[0, 1], [2, 3], [4, 5]]
    assert share_groups("pairs", 5) == [[0, 1], [2, 3]]
    assert share_groups("all", 3) == [[0, 1, 2]]
    assert share_groups("off", 6) is None


def test_link_round_trip_and_damage():
    recipe = Recipe.from_dict({"format": "slimlib.recipe/v1", "base_model": "all-MiniLM-L6-v2",
                               "steps": [{"op": "prune_heads", "per_layer": 2}, {"op": "quantize", "bits": 8}]})
    token = encode_recipe(recipe)
    assert token.replace("-", "").replace("_", "").isalnum()  # URL-safe as is
    assert decode_recipe(token).to_dict() == recipe.to_dict()
    with pytest.raises(RecipeError, match="damaged"):
        decode_recipe(token[: len(token) // 2])


def test_job_reports_progress_result_and_stop():
    def work(progress, should_stop):
        for i in range(200):
            progress(f"step {i}", i / 200)
            if should_stop():
                raise Cancelled("stopped")
            time.sleep(0.01)
        return "never"

    job = Job("demo", work).start()
    time.sleep(0.1)
    assert not job.done and job.message.startswith("step")
    job.stop()
    assert job.wait(5)
    assert job.cancelled and job.result is None and job.error is None

    ok = Job("ok", lambda progress, should_stop: 42).start()
    assert ok.wait(5) and ok.result == 42

    def fail(progress, should_stop):
        raise RecipeError("steps[0].bits: 5 is not allowed")

    bad = Job("bad", fail).start()
    assert bad.wait(5) and bad.error == "steps[0].bits: 5 is not allowed" and bad.details is None


def test_the_distill_control_teaches_the_teachers_similarities_and_switches_back():
    values = {**control_for("distill").DEFAULTS, "on": True, "teacher": "all-mpnet-base-v2", "projection": "similarity"}
    (step,) = config_to_recipe(with_ops(distill=values), SHAPE).steps
    assert (step.loss, step.projection, step.base_weight) == ("similarity", "pca", 1.0)  # pca: the unused default
    config = recipe_to_config(Recipe.from_dict({"format": "slimlib.recipe/v1", "steps": [step.to_dict()]}), SHAPE)
    assert config["ops"]["distill"]["projection"] == "similarity"
    config["ops"]["distill"]["projection"] = "dense"
    (switched,) = config_to_recipe(config, SHAPE).steps
    assert (switched.loss, switched.projection) == ("mse+cosine", "dense")  # the loss does not linger

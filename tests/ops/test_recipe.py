"""The recipe format: parsing, validation messages, JSON round trips for every op."""
import json
import warnings

import pytest

from slimlib.errors import RecipeError
from slimlib.model.shape import ModelShape
from slimlib.ops.recipe import FORMAT, Recipe, make_step
from slimlib.ops.registry import op_specs

MINILM_SHAPE = ModelShape(num_layers=6, heads=[12] * 6, head_dim=32, hidden=384, intermediate=[1536] * 6, vocab=30522)

EXAMPLE_STEPS = {  # variants worth checking beyond each op's registered example
    "prune_heads": [{"per_layer": 4}, {"fraction": 0.25, "score": "magnitude"}, {"heads": {"0": [1, 2], "5": [0]}}],
    "drop_layers": [{"layers": [1, 4]}, {"keep": 3}],
    "prune_ffn": [{"keep": 0.5}, {"keep": 0.25, "score": "magnitude"}],
    "low_rank": [{"rank": 128}, {"energy": 0.9, "targets": ["ffn_in"]}],
    "factorize_embeddings": [{"rank": 128}],
    "trim_vocab": [{"max_tokens": 8000}, {"corpus": "default", "max_tokens": 16000}],
    "share_layers": [{"groups": [[0, 1], [2, 3]]}],
    "distill": [{"steps": 100, "lr": 2e-4, "batch_size": 16, "seed": 3}],
    "quantize": [{"bits": b} for b in (32, 16, 8, 4, 3, 2)] + [{"bits": 8, "embeddings": False}],
}


def recipe_dict(*steps, base="all-MiniLM-L6-v2"):
    return {"format": FORMAT, "base_model": base, "steps": list(steps)}


# Every registered op's own example, plus the variants above: a new op is covered without an edit here.
REGISTERED_EXAMPLES = [(spec.name, {k: v for k, v in spec.example_step().items() if k != "op"}) for spec in op_specs()]


@pytest.mark.parametrize("op,fields", REGISTERED_EXAMPLES + [(op, f) for op, many in EXAMPLE_STEPS.items() for f in many])
def test_round_trip_every_op(op, fields):
    recipe = Recipe.from_dict(recipe_dict({"op": op, **fields}))
    text = recipe.to_json()
    again = Recipe.from_json(text)
    assert again.to_dict() == recipe.to_dict()
    assert again.key() == recipe.key()
    assert json.loads(text)["steps"][0]["op"] == op
    recipe.check(MINILM_SHAPE)  # the examples fit MiniLM


def test_saved_json_is_sorted_and_indented(tmp_path):
    recipe = Recipe.from_dict(recipe_dict({"op": "quantize", "bits": 8}))
    path = tmp_path / "r.json"
    recipe.save(path)
    text = path.read_text()
    assert text.startswith("{\n  \"base_model\"")
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_empty_recipe_is_the_baseline():
    recipe = Recipe.from_dict(recipe_dict())
    assert recipe.steps == []
    assert recipe.check(MINILM_SHAPE) == MINILM_SHAPE


@pytest.mark.parametrize("steps,message", [
    ([{"op": "low_rank", "rank": 900}], r"steps\[0\]\.rank: 900 exceeds 384, the smallest dimension of the targeted layers"),
    ([{"op": "prune_ffn", "keep": 0.5}, {"op": "low_rank", "rank": 900}], r"steps\[1\]\.rank: 900 exceeds 384"),
    ([{"op": "quantize", "bits": 8}, {"op": "distill"}], r"steps\[1\]\.op: distill cannot follow quantize \(steps\[0\]\); quantize must be the last step"),
    ([{"op": "quantize", "bits": 5}], r"steps\[0\]\.bits: 5 is not allowed; choose one of 32, 16, 8, 4, 3, 2"),
    ([{"op": "prune_heads", "per_layer": 13}], r"steps\[0\]\.per_layer: 13 exceeds 12"),
    ([{"op": "prune_heads", "heads": {"0": [12]}}], r"steps\[0\]\.heads\.0: head ids \[12\] do not exist"),
    ([{"op": "prune_heads", "heads": {"7": [0]}}], r"steps\[0\]\.heads: layer 7 does not exist"),
    ([{"op": "drop_layers", "layers": [0, 1, 2, 3, 4, 5]}], r"steps\[0\]\.layers: would drop all 6 layers"),
    ([{"op": "drop_layers", "layers": [6]}], r"steps\[0\]\.layers: layers \[6\] do not exist"),
    ([{"op": "drop_layers", "keep": 0}], r"steps\[0\]\.keep: 0 is below the minimum 1"),
    ([{"op": "drop_layers", "keep": 7}], r"steps\[0\]\.keep: 7 exceeds 6"),
    ([{"op": "prune_ffn", "keep": 0}], r"steps\[0\]\.keep: 0 is outside the allowed range \(0, 1\]"),
    ([{"op": "low_rank", "rank": 0}], r"steps\[0\]\.rank: 0 is below the minimum 1"),
    ([{"op": "low_rank", "rank": 8, "targets": ["mlp"]}], r"steps\[0\]\.targets: \['mlp'\] not allowed"),
    ([{"op": "factorize_embeddings", "rank": 384}], r"steps\[0\]\.rank: 384 must be below the hidden size 384"),
    ([{"op": "trim_vocab", "max_tokens": 40000}], r"steps\[0\]\.max_tokens: 40000 exceeds the vocabulary size 30522"),
    ([{"op": "share_layers", "groups": [[0, 9]]}], r"steps\[0\]\.groups: layers \[9\] do not exist"),
    ([{"op": "share_layers", "groups": [[0, 1], [1, 2]]}], r"steps\[0\]\.groups: a layer appears in more than one group"),
    ([{"op": "distill", "lr": -1}], r"steps\[0\]\.lr: expected a learning rate"),
    ([{"op": "distill", "steps": "many"}], r"steps\[0\]\.steps: expected a whole number, got 'many'"),
    ([{"op": "prune_heads", "per_layer": 2, "fraction": 0.5}], r"steps\[0\]\.per_layer \| fraction \| heads: give exactly one"),
    ([{"op": "squeeze"}], r"steps\[0\]\.op: 'squeeze' is not an op; choose one of trim_vocab, prune_heads"),
    ([{"op": "low_rank", "rnak": 3}], r"steps\[0\]: unknown field\(s\) \['rnak'\] for op low_rank"),
    (["quantize"], r"steps\[0\]: expected an object"),
])
def test_validation_names_step_and_field(steps, message):
    with pytest.raises(RecipeError, match=message):
        Recipe.from_dict(recipe_dict(*steps)).check(MINILM_SHAPE)


def test_shape_checks_follow_earlier_steps():
    # After dropping to 2 layers, layer 3 no longer exists for the next step.
    recipe = Recipe.from_dict(recipe_dict({"op": "drop_layers", "layers": [0, 1, 2, 3]},
                                          {"op": "share_layers", "groups": [[0, 3]]}))
    with pytest.raises(RecipeError, match=r"steps\[1\]\.groups: layers \[3\] do not exist \(the model has layers 0-1\)"):
        recipe.check(MINILM_SHAPE)


@pytest.mark.parametrize("text,message", [
    ("{not json", r"r\.json: not valid JSON"),
    ("[1, 2]", r"expected a JSON object"),
    ('{"base_model": "x", "steps": []}', r'missing "format"'),
    ('{"format": "slimlib.recipe/v9", "steps": []}', r"format 'slimlib.recipe/v9' is not supported"),
    ('{"format": "slimlib.recipe/v1", "steps": {}}', r"steps must be a list"),
    ('{"format": "slimlib.recipe/v1", "base_model": 3, "steps": []}', r"base_model must be a model id or folder path"),
])
def test_bad_files(tmp_path, text, message):
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(RecipeError, match=message):
        Recipe.load(path)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(RecipeError, match="recipe file not found"):
        Recipe.load(tmp_path / "nope.json")
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(RecipeError, match="not UTF-8 text"):
        Recipe.load(path)


def test_unknown_top_level_keys_from_newer_versions_warn():
    data = recipe_dict({"op": "quantize", "bits": 8})
    data["created_by"] = "slimlib 9"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recipe = Recipe.from_dict(data)
    assert recipe.steps[0].bits == 8
    assert any("ignoring unknown keys ['created_by']" in str(w.message) for w in caught)


def test_canonical_order_and_make_step():
    recipe = Recipe(steps=[make_step("quantize", bits=8), make_step("drop_layers", keep=3),
                           make_step("prune_heads", per_layer=2)])
    assert [s.op for s in recipe.canonical().steps] == ["prune_heads", "drop_layers", "quantize"]
    assert recipe.canonical().key() != recipe.key()  # order is part of what a recipe does


def test_steps_built_in_python_are_named_by_position_when_checked():
    recipe = Recipe(steps=[make_step("prune_ffn", keep=0.5), make_step("low_rank", rank=900)])
    with pytest.raises(RecipeError, match=r"^steps\[1\]\.rank: 900 exceeds"):
        recipe.check(MINILM_SHAPE)


def test_explicit_heads_are_normalised():
    step = make_step("prune_heads", heads={"3": [2, 1, 2], "0": [5]})
    assert step.heads == {"0": [5], "3": [1, 2]}

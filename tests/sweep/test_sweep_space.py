"""The default search space only proposes recipes that fit the model."""
from __future__ import annotations

import concurrent.futures
import random

from slimlib.errors import RecipeError
from slimlib.model.shape import REFERENCE_SHAPE
from slimlib.ops.recipe import Recipe
from slimlib.sweep import store
from slimlib.sweep.driver import RunConfig, model_shape_of, run_search
from slimlib.sweep.grid import recipe_for
from slimlib.sweep.objectives import parse_objectives
from slimlib.sweep.samplers import make_sampler
from slimlib.sweep.space import default_space, fit_assignment, sample_assignment, sample_recipe


class RandomTrial:
    """What the driver asks of an Optuna trial: one categorical choice per key."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.params: dict = {}

    def suggest_categorical(self, name, choices):
        self.params[name] = self.rng.choice(choices)
        return self.params[name]


def fits(recipe: Recipe, shape) -> bool:
    try:
        recipe.check(shape)
        return True
    except RecipeError:
        return False


def test_200_samples_of_the_default_space_for_minilm_all_pass_check():
    space = default_space("all-MiniLM-L6-v2", REFERENCE_SHAPE)
    rng = random.Random(0)
    raw_unfit = 0
    for _ in range(200):
        trial = RandomTrial(rng)
        settings, recipe = sample_recipe(space, trial, REFERENCE_SHAPE)
        recipe.check(REFERENCE_SHAPE)  # raises if a proposed recipe does not fit
        assert recipe.key() == recipe_for(space, settings).key()  # the settings describe what runs
        raw_unfit += not fits(recipe_for(space, trial.params), REFERENCE_SHAPE)
        if settings != trial.params:  # only what did not fit changed, to the nearest choice that fits
            assert {k for k in settings if settings[k] != trial.params[k]} == {"low_rank.rank"}
    assert raw_unfit > 0  # the raw space does propose combinations that cannot run (rank 192 after pruning)


def test_an_unfit_rank_moves_to_the_nearest_choice_that_fits():
    space = default_space("all-MiniLM-L6-v2", REFERENCE_SHAPE)
    assignment = {key: values[0] for key, values in space.axes.items()}
    assignment.update({"prune_heads.per_layer": 9, "low_rank.rank": 192})  # attention left 3 x 32 = 96 wide
    settings, recipe = fit_assignment(space, assignment, REFERENCE_SHAPE)
    assert settings == {**assignment, "low_rank.rank": 96}
    assert recipe.find("low_rank").rank == 96 and recipe.find("prune_heads").per_layer == 9
    fitting = {**assignment, "prune_heads.per_layer": 3}
    assert fit_assignment(space, fitting, REFERENCE_SHAPE)[0] == fitting  # what fits is left alone


class InstantEngine:
    """Trials 'land' at once with made-up numbers: the driver, not the measurement, is under test."""

    capacity = 2
    plan = type("Plan", (), {"threads": 1})()

    def __init__(self):
        self.recipes: list[Recipe] = []

    def submit(self, fn, payload):
        self.recipes.append(Recipe.from_dict(payload["recipe"], "payload"))
        future = concurrent.futures.Future()
        size = 1e6 * (1 + len(self.recipes) % 7)
        future.set_result({"worker_pid": 1, "result": {"compressed": {"size_bytes": size, "fidelity_cosine": 0.9},
                                                        "ratios": {"speedup": 1.0}}})
        return future

    def wait(self, futures, timeout):
        return list(futures)

    def result(self, future):
        return future.result()

    def cancel(self, futures):
        pass


def test_a_default_space_search_wastes_no_trial_on_a_recipe_that_does_not_fit(tiny_bert_path, tmp_path):
    # The tiny model has the same trap: 3 of 4 heads pruned leaves attention 16 wide, below rank 32.
    shape = model_shape_of(str(tiny_bert_path))
    space = default_space(str(tiny_bert_path), shape)
    assert any(not fits(recipe_for(space, sample_assignment(space, lambda k, v, r=random.Random(i): r.choice(v))), shape)
               for i in range(200))
    engine = InstantEngine()
    cfg = RunConfig(study_name="fit", objectives=parse_objectives("size,speed,fidelity", kind=None),
                    storage_url=f"sqlite:///{tmp_path / 'fit.db'}")
    summary = run_search(space, 60, engine, cfg, make_sampler("random", 60, seed=3))
    assert summary.finished == 60 and summary.failed == 0
    assert all(fits(recipe, shape) for recipe in engine.recipes) and len(engine.recipes) == 60
    _meta, rows, _front = store.study_rows("fit", cfg.storage_url)
    assert all(r["state"] == "COMPLETE" for r in rows)
    import optuna

    trials = optuna.load_study(study_name="fit", storage=store.open_storage(cfg.storage_url)).get_trials()
    refitted = [t for t in trials if "sampled" in t.user_attrs]
    assert refitted  # the sampler did propose unfit ranks; they ran at the nearest rank that fits
    assert all(t.user_attrs["settings"]["low_rank.rank"] < t.user_attrs["sampled"]["low_rank.rank"] for t in refitted)

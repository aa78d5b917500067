"""The ask/tell loop shared by sweeps and searches.

The driver asks the study for a trial, turns it into a recipe (a queued grid recipe, or the
sampler's choices), ships the recipe as JSON to the engine, and keeps as many trials in flight as
the engine has slots. Each result is told to the study and handed to `on_result` the moment it
lands. Interrupting (Ctrl-C, or `should_stop` returning True) re-queues the trials in flight, so
running the same study again finishes the work without redoing what was stored.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import Cancelled, RecipeError, SlimlibError
from ..model.shape import ModelShape
from ..ops.recipe import Recipe
from . import store
from .grid import GridSpec, describe, expand
from .objectives import Objective, objective_values
from .space import sample_recipe

OnResult = Callable[[dict], None]
Log = Callable[[str], None]


@dataclass
class RunConfig:
    study_name: str
    objectives: list[Objective]
    data: str | None = None
    quick: bool = True
    speed_runs: int | None = None
    storage_url: str | None = None
    on_result: OnResult = lambda _row: None
    log: Log = lambda _m: None
    should_stop: Callable[[], bool] = lambda: False
    extra_meta: dict = field(default_factory=dict)

    def eval_options(self, threads: int) -> dict:
        options: dict[str, Any] = {"data": self.data, "threads": threads, "quick": self.quick}
        if self.speed_runs:
            options["speed_runs"] = self.speed_runs
        return options

    def meta(self, kind: str, base_model: str, space: dict) -> dict:
        return {"kind": kind, "objectives": [o.label for o in self.objectives], "base_model": base_model,
                "data": self.data, "quick": self.quick, "space": space, **self.extra_meta}


@dataclass
class RunSummary:
    study_name: str
    finished: int  # trials of this run that landed
    failed: int  # of which the recipe failed
    total_finished: int  # in the study, including earlier runs
    front: list[dict]  # Pareto-front rows
    interrupted: bool = False


def model_shape_of(base_model: str) -> ModelShape:
    from ..model.base import load_base
    from ..model.shape import model_shape

    base = load_base(base_model)
    return model_shape(base.model, base.arch)


def check_fits(recipes: list[tuple[dict, Recipe]], shape: ModelShape, skip_invalid: bool, log: Log):
    """Check every recipe against the model before anything runs; one line names the culprit."""
    ok, bad = [], []
    for assignment, recipe in recipes:
        try:
            recipe.check(shape)
            ok.append((assignment, recipe))
        except RecipeError as exc:
            bad.append((assignment, exc))
    if bad and not skip_invalid:
        assignment, exc = bad[0]
        raise RecipeError(f"{len(bad)} of {len(recipes)} grid recipes do not fit the model, e.g. "
                          f"{describe(assignment)}: {exc}; remove those settings or pass --skip-invalid")
    for assignment, exc in bad:
        log(f"skipped {describe(assignment)}: {exc}")
    return ok


def run_sweep(spec: GridSpec, engine, config: RunConfig, skip_invalid: bool = False) -> RunSummary:
    """Run every grid recipe not yet finished in the study."""
    shape = model_shape_of(spec.base_model)
    recipes = check_fits(expand(spec), shape, skip_invalid, config.log)
    directions = [o.optuna_direction for o in config.objectives]
    study = store.open_study(config.study_name, config.meta("sweep", spec.base_model, spec.to_dict()),
                             directions, config.storage_url)
    requeued = store.requeue_stale(study)
    done = {t.user_attrs.get("recipe_key") for t in store.finished_trials(study)}
    queued = {t.user_attrs.get("recipe_key") for t in study.get_trials(deepcopy=False)
              if t.state.name in ("WAITING", "RUNNING")}
    added = 0
    for assignment, recipe in recipes:
        if recipe.key() not in done and recipe.key() not in queued:
            study.enqueue_trial({}, user_attrs={"recipe": recipe.to_dict(), "recipe_key": recipe.key(),
                                                "settings": assignment})
            added += 1
    config.log(f"study {config.study_name}: {len(recipes)} recipes, {len(done & {r.key() for _a, r in recipes})} "
               f"already finished, {requeued} re-queued from a crashed run, {added} newly queued")

    def recipe_of(trial) -> tuple[dict, Recipe]:
        return trial.user_attrs.get("settings") or {}, Recipe.from_dict(trial.user_attrs["recipe"], "queued recipe")

    return _run(study, engine, config, recipe_of, remaining=lambda in_flight: store.waiting_count(study),
                shape=shape)


def run_search(space: GridSpec, n_trials: int, engine, config: RunConfig, sampler) -> RunSummary:
    """Ask the sampler for recipes until the study holds n_trials finished trials."""
    if n_trials < 1:
        raise SlimlibError(f"--n-trials: {n_trials} is not allowed; give 1 or more")
    if not space.axes:
        raise SlimlibError("the search space is empty: no training-free op is available (see python -m slimlib ops)")
    shape = model_shape_of(space.base_model)
    directions = [o.optuna_direction for o in config.objectives]
    study = store.open_study(config.study_name, config.meta("search", space.base_model, space.axes), directions,
                             config.storage_url, sampler=sampler)
    requeued = store.requeue_stale(study)
    already = len(store.finished_trials(study))
    config.log(f"study {config.study_name}: {already} of {n_trials} trials already finished"
               + (f", {requeued} re-queued from a crashed run" if requeued else ""))

    def recipe_of(trial) -> tuple[dict, Recipe]:
        if "recipe" in trial.user_attrs:  # a re-queued trial: same choices as before
            return trial.user_attrs.get("settings") or {}, Recipe.from_dict(trial.user_attrs["recipe"], "queued recipe")
        return sample_recipe(space, trial, shape)  # fitted to the model: no trial runs a recipe that cannot

    finished_before = already

    def remaining(in_flight: int) -> int:
        return n_trials - finished_before - state["finished"] - in_flight

    state = {"finished": 0}
    return _run(study, engine, config, recipe_of, remaining, shape, counter=state)


def _run(study, engine, config: RunConfig, recipe_of, remaining, shape: ModelShape,
         counter: dict | None = None) -> RunSummary:
    from .worker import run_trial

    counter = counter if counter is not None else {"finished": 0}
    counter.setdefault("failed", 0)
    in_flight: dict[Any, Any] = {}  # future -> optuna Trial
    options = config.eval_options(engine.plan.threads)
    interrupted = False

    def land(trial, row: dict) -> None:
        counter["finished"] += 1
        counter["failed"] += bool(row.get("error"))
        config.on_result(row)

    try:
        while True:
            if config.should_stop():
                raise Cancelled("stopped by the user")
            while len(in_flight) < engine.capacity and remaining(len(in_flight)) > 0:
                trial = study.ask()
                try:
                    settings, recipe = recipe_of(trial)
                    recipe.check(shape)
                except RecipeError as exc:  # a queued recipe, or fixed steps no choice fits: a finished, failed trial
                    land(trial, _tell_error(study, trial, str(exc), {}))
                    continue
                trial.set_user_attr("recipe", recipe.to_dict())
                trial.set_user_attr("recipe_key", recipe.key())
                trial.set_user_attr("settings", settings)
                refitted = {k: v for k, v in trial.params.items() if k in settings and settings[k] != v}
                if refitted:  # the sampler's choices that did not fit the model (settings has what ran)
                    trial.set_user_attr("sampled", refitted)
                store.heartbeat(study, trial)
                payload = {"trial": trial.number, "recipe": recipe.to_dict(), "options": options}
                in_flight[engine.submit(run_trial, payload)] = trial
            if not in_flight:
                break
            for future in engine.wait(list(in_flight), timeout=store.HEARTBEAT_S):
                trial = in_flight.pop(future)
                land(trial, _tell(study, trial, _outcome(engine, future), config.objectives))
            for trial in in_flight.values():
                store.heartbeat(study, trial)
    except (KeyboardInterrupt, Cancelled):
        interrupted = True
        for future in engine.wait(list(in_flight), timeout=0) if in_flight else []:  # keep what already landed
            trial = in_flight.pop(future)
            land(trial, _tell(study, trial, _outcome(engine, future), config.objectives))
        engine.cancel(list(in_flight))
        for trial in in_flight.values():
            _tell_interrupted(study, trial)
        config.log(f"interrupted: {len(in_flight)} trial(s) in flight re-queued; run the same study to resume")
    front = [store.trial_row(t) for t in study.best_trials] if any(
        t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False)) else []
    return RunSummary(config.study_name, counter["finished"], counter["failed"], len(store.finished_trials(study)),
                      front, interrupted)


def _outcome(engine, future) -> dict:
    try:
        return engine.result(future)
    except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the task killed every worker it ran on
        return {"error": f"the trial crashed its worker(s): {type(exc).__name__}: {str(exc)[:200]}"}


def _tell(study, trial, outcome: dict, objectives: list[Objective]) -> dict:
    from optuna.trial import TrialState

    for key in ("worker_pid", "worker_host", "seconds"):
        if outcome.get(key) is not None:
            trial.set_user_attr(key, outcome[key])
    if outcome.get("error"):
        return _tell_error(study, trial, outcome["error"], outcome)
    result = outcome["result"]
    trial.set_user_attr("result", result)
    values, missing = objective_values(objectives, result)
    if values is None:
        trial.set_user_attr("error", f"measured, but {missing}")
        study.tell(trial, state=TrialState.FAIL)
    else:
        study.tell(trial, values)
    return _landed_row(study, trial, outcome, result, values, trial.user_attrs.get("error"))


def _tell_error(study, trial, message: str, outcome: dict) -> dict:
    from optuna.trial import TrialState

    trial.set_user_attr("error", message)
    study.tell(trial, state=TrialState.FAIL)
    return _landed_row(study, trial, outcome, None, None, message)


def _landed_row(study, trial, outcome: dict, result: dict | None, values, error: str | None) -> dict:
    """What `--json` prints per trial: the eval JSON plus the trial id and the worker's pid."""
    row = dict(result or {})
    if result is None:
        row["recipe"] = trial.user_attrs.get("recipe")
    row.update({"study": study.study_name, "trial": trial.number, "worker_pid": outcome.get("worker_pid"),
                "worker_host": outcome.get("worker_host"), "seconds": outcome.get("seconds"),
                "settings": trial.user_attrs.get("settings"), "values": values, "error": error})
    return row


def _tell_interrupted(study, trial) -> None:
    from optuna.trial import TrialState

    frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == trial.number)
    store.requeue(study, frozen)
    trial.set_user_attr("interrupted", time.strftime("%Y-%m-%dT%H:%M:%S"))
    study.tell(trial, state=TrialState.FAIL)

"""Optuna samplers by name; NSGA-II is the default for multi-objective Pareto search."""
from __future__ import annotations

from ..errors import SlimlibError
from ..optional import require

SAMPLERS = ("nsga2", "tpe", "random")


def default_population(n_trials: int) -> int:
    """About five generations within the budget: NSGA-II's first generation is random."""
    return max(4, min(50, n_trials // 5))


def make_sampler(name: str, n_trials: int, population: int | None = None, seed: int | None = 0):
    optuna = require("optuna")

    if name == "nsga2":
        if population is not None and population < 2:
            raise SlimlibError(f"--population: {population} is not allowed; give 2 or more")
        return optuna.samplers.NSGAIISampler(population_size=population or default_population(n_trials), seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise SlimlibError(f"--sampler: {name!r} is not a sampler; choose one of {', '.join(SAMPLERS)}")

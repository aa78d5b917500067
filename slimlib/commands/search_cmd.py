"""`python -m slimlib search --n-trials N --objectives size:min,speed:max,sts:max [--data PAIRS|BEIR_FOLDER]`"""
from __future__ import annotations

import argparse
import time

SEARCH_HELP = """search space: by default every registered op's own search axes (`python -m slimlib ops`),
except ops that train, with settings scaled to the model; --space FILE gives your own in the grid format ({"format": "slimlib.grid/v1",
"base_model": ..., "grid": {"op.field": [choices]}}), each key's list being its choices.
Every proposed recipe is fitted to the model before it runs: a choice that does not fit the
shape the earlier steps leave (e.g. low_rank.rank 192 after head pruning left attention 96
wide) becomes the nearest choice of its list that does, and the trial's settings say so.
Sampler: NSGA-II (multi-objective genetic search) by default, asked and told by this driver.
--n-trials is the number of finished trials the study should hold: resuming a study runs
only the rest.
"""


def add_parser(sub) -> None:
    from ..sweep.options import ENGINE_HELP, add_run_arguments
    from ..sweep.store import GRACE_S

    p = sub.add_parser("search", help="Pareto search over recipes with Optuna (NSGA-II), in parallel",
                       description="Search recipes that trade size, speed and accuracy; every trial is one recipe "
                                   "measured like `eval` (quick unless --full).",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=SEARCH_HELP + "\n" + ENGINE_HELP.format(grace=GRACE_S))
    p.add_argument("--n-trials", type=int, default=50, help="finished trials wanted in the study (default 50)")
    p.add_argument("--model", default=None, help="base model (default: all-MiniLM-L6-v2, or --space's base_model)")
    p.add_argument("--space", help="search space file in the grid format (default: built from the available ops)")
    p.add_argument("--sampler", choices=("nsga2", "tpe", "random"), default="nsga2", help="Optuna sampler")
    p.add_argument("--population", type=int, help="NSGA-II population size (default: n-trials / 5, 4 to 50)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    add_run_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..ops.recipe import DEFAULT_MODEL
    from ..sweep.driver import RunConfig, model_shape_of, run_search
    from ..sweep.engines import make_engine
    from ..sweep.grid import load_grid
    from ..sweep.objectives import data_kind, default_objectives, parse_objectives
    from ..sweep.options import json_printer, log, print_summary, stop_on_sigint, text_printer
    from ..sweep.samplers import make_sampler
    from ..sweep.space import default_space

    kind = data_kind(args.data)  # pairs, a retrieval folder or none: which accuracy objective it allows
    objectives = parse_objectives(args.objectives or default_objectives(kind), kind)
    sampler = make_sampler(args.sampler, args.n_trials, args.population, args.seed)
    if args.space:
        space = load_grid(args.space, limit=None)
        if args.model:
            space.base_model = args.model
    else:
        base_model = args.model or DEFAULT_MODEL
        space = default_space(base_model, model_shape_of(base_model))
    log("search space: " + "; ".join(f"{k} in {v}" for k, v in space.axes.items()))
    config = RunConfig(study_name=args.study or time.strftime("search-%Y%m%d-%H%M%S"), objectives=objectives,
                       data=args.data, quick=not args.full, storage_url=args.storage,
                       on_result=json_printer if args.json else text_printer, log=log)
    engine = make_engine(args.engine, args.address, args.workers, args.threads_per_worker, log)
    try:
        with stop_on_sigint() as should_stop:
            config.should_stop = should_stop
            summary = run_search(space, args.n_trials, engine, config, sampler)
    finally:
        engine.close()
    print_summary(summary, args.json, objectives)
    return 130 if summary.interrupted else 0

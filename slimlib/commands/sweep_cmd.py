"""`python -m slimlib sweep GRID.json [--engine inline|local|dask] [--study NAME] [--json]`"""
from __future__ import annotations

import argparse

GRID_HELP = """grid file: a JSON list of recipes, or
  {"format": "slimlib.grid/v1", "base_model": "all-MiniLM-L6-v2",
   "grid": {"prune_heads.per_layer": [0, 2, 4], "drop_layers.keep": [0, 4, 3], "quantize.bits": [32, 8]},
   "steps": [{"op": "distill", "steps": 300}]}
Each "grid" key is OP.FIELD with the settings to try; every combination runs. Keys of one op
form one step. null, or 0 for a field that cannot be 0, leaves the op out ("no pruning").
"steps" (optional) go into every recipe. Steps are put in canonical order. Every recipe is
checked against the model before anything runs (--skip-invalid skips the ones that do not fit).
See examples/grid.json.
"""


def add_parser(sub) -> None:
    from ..sweep.options import ENGINE_HELP, add_run_arguments
    from ..sweep.store import GRACE_S

    p = sub.add_parser("sweep", help="measure every recipe of a grid, in parallel, into a resumable study",
                       description="Evaluate every recipe of GRID (quick measurements unless --full) and store "
                                   "each result as it lands.",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=GRID_HELP + "\n" + ENGINE_HELP.format(grace=GRACE_S))
    p.add_argument("grid", help="grid JSON file (see below)")
    add_run_arguments(p)
    p.add_argument("--skip-invalid", action="store_true", help="skip grid recipes that do not fit the model")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..sweep.driver import RunConfig, run_sweep
    from ..sweep.engines import make_engine
    from ..sweep.grid import load_grid
    from ..sweep.objectives import data_kind, default_objectives, parse_objectives
    from ..sweep.options import json_printer, log, print_summary, stop_on_sigint, text_printer

    spec = load_grid(args.grid)  # a bad grid fails here, before any cluster starts
    kind = data_kind(args.data)  # pairs, a retrieval folder or none: which accuracy objective it allows
    objectives = parse_objectives(args.objectives or default_objectives(kind), kind)
    config = RunConfig(study_name=args.study or f"sweep-{spec.key()}", objectives=objectives, data=args.data,
                       quick=not args.full, storage_url=args.storage,
                       on_result=json_printer if args.json else text_printer, log=log)
    engine = make_engine(args.engine, args.address, args.workers, args.threads_per_worker, log)
    try:
        with stop_on_sigint() as should_stop:
            config.should_stop = should_stop
            summary = run_sweep(spec, engine, config, skip_invalid=args.skip_invalid)
    finally:
        engine.close()
    print_summary(summary, args.json, objectives)
    return 130 if summary.interrupted else 0

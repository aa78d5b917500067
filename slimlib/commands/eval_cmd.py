"""`python -m slimlib eval RECIPE.json [--data PAIRS] [--threads N] [--json]`"""
from __future__ import annotations

from .common import load_recipe, print_json, tqdm_progress


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="apply a recipe and measure it against its baseline",
                       description="Apply RECIPE to a copy of its base model and measure params, size, speed, "
                                   "STS Spearman (with --data) and fidelity against the uncompressed baseline.")
    p.add_argument("recipe", help="recipe JSON file")
    p.add_argument("--data", help="labelled pair file (STS Benchmark TSV, or CSV/TSV with sentence1,sentence2,score)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--quick", action="store_true", help="measure on a subset (what the app shows live)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..workflows.evaluate import EvalOptions, evaluate
    from ..report.text import format_eval

    recipe = load_recipe(args.recipe)
    if args.threads is not None and args.threads < 1:
        from ..errors import SlimlibError

        raise SlimlibError(f"--threads: {args.threads} is not allowed; give 1 or more")
    result = evaluate(recipe, EvalOptions(data=args.data, threads=args.threads, quick=args.quick),
                      progress=tqdm_progress())
    if args.json:
        print_json(result)
    else:
        print(format_eval(result))
    return 0
